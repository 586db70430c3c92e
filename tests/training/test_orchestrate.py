"""One model's training start to end (genmodels.training.orchestrate): the backend, the
checkpoint run's name, fit on the in-process backend, the export, the interruption message."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.config import Params
from genmodels.data import Samples
from genmodels.data.base import DatasetInfo
from genmodels.errors import ModelConfigError
from genmodels.training import checkpoint as ckpt
from genmodels.training.config import ScalingConfig
from genmodels.training.interrupt import TrainingInterrupted
from genmodels.training.orchestrate import (
    RunStore,
    build_job,
    checkpoint_run,
    export_checkpoint,
    fit,
    interrupted,
    resolve_backend,
    run_digest,
    summarize,
)

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
PARAMS = Params.model_validate({"models": {"g": "gmm", "v": "vae"}, "g": {"model": {"n_components": 2}}, "v": {"fit": {"epochs": 2}}, "seed": 3})


@pytest.mark.parametrize(
    ("scaling", "env", "backend"),
    [
        ({}, {}, "local"),
        ({"num_workers": 2}, {}, "ray"),
        ({"use_gpu": True}, {}, "ray"),
        ({}, {"RAY_ADDRESS": "10.0.0.1:6379"}, "ray"),
        ({"backend": "local", "num_workers": 2}, {"RAY_ADDRESS": "x"}, "local"),
        ({"backend": "ray"}, {}, "ray"),
    ],
)
def test_auto_picks_ray_only_when_it_buys_something(scaling: dict, env: dict, backend: str) -> None:
    assert resolve_backend(ScalingConfig(**scaling), env) == backend


def test_build_job_takes_the_models_spec_and_the_root_seed() -> None:
    val = np.zeros((4, 64), dtype=np.float32)
    job = build_job(PARAMS, "g", INFO, val)
    assert (job.name, job.family, job.seed, job.model_config.n_components) == ("g", "gmm", 3, 2)
    assert job.val is val
    with pytest.raises(ModelConfigError):  # the data cannot take this model: stops before training
        build_job(Params.model_validate({"models": {"b": "bayesnet"}, "b": {"model": {"image_bins": 40}}}), "b", INFO, None)  # 17 levels


def test_the_checkpoint_run_is_the_canonical_json_digest_of_job_data_and_tag() -> None:
    job = build_job(PARAMS, "g", INFO, None)
    data_id = {"train.parquet": "ab" * 32}
    expected = hashlib.sha256(json.dumps([*job.fingerprint(), data_id], sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert checkpoint_run(job, data_id) == f"g-{expected}"  # names stay stable, so old runs resume
    assert run_digest([*job.fingerprint(), data_id]) == expected
    tagged = checkpoint_run(job, data_id, "holdout3")
    assert tagged.startswith("g-holdout3-") and tagged[-12:] != expected
    assert checkpoint_run(dataclasses.replace(job, seed=4), data_id) != checkpoint_run(job, data_id)
    assert checkpoint_run(job, {"train.parquet": "cd" * 32}) != checkpoint_run(job, data_id)


def test_fit_in_process_then_export(digits, tmp_path: Path) -> None:
    job = build_job(PARAMS, "v", digits.info, None)
    store = RunStore(storage=str(tmp_path / "ray"), local=tmp_path / "local")
    train = Samples(x=digits.train.x[:128], y=digits.train.y[:128])
    final = fit(job, train, ScalingConfig(checkpoint_seconds=0), store, "v-run", "local")
    assert final.parent == store.local_dir("v-run") and final.name.startswith("checkpoint_")
    dest = tmp_path / "out"
    history = export_checkpoint(final, dest, "local", "history.json")
    assert [int(r["epoch"]) for r in history] == [0, 1]
    assert json.loads((dest / "history.json").read_text()) == history
    assert {f.name for f in dest.iterdir()} == {ckpt.MODEL_FILE, ckpt.CONFIG_FILE, "history.json"}
    assert torch.load(dest / ckpt.MODEL_FILE, weights_only=True).keys() == torch.load(final / ckpt.MODEL_FILE, weights_only=True).keys()
    assert final.is_dir()  # the in-process run keeps its checkpoints (resume state)
    summary = summarize(history, wall=1.5)
    assert summary["epochs"] == 2 and summary["train_wall_seconds"] == 1.5

    exc = interrupted(TrainingInterrupted(signal.SIGINT), job, store, "v-run", "local", tmp_path)
    assert str(exc) == f"train v: interrupted by SIGINT, last checkpoint after epoch 2 of 2 ({final.relative_to(tmp_path)}); run the same command again to resume"
    none_yet = interrupted(TrainingInterrupted(signal.SIGTERM), job, store, "other-run", "local", tmp_path)
    assert "interrupted by SIGTERM, no checkpoint written yet" in str(none_yet)


def test_an_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    job = build_job(PARAMS, "g", INFO, None)
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'"):
        fit(job, Samples(x=np.zeros((2, 64), dtype=np.float32)), ScalingConfig(), RunStore("s", tmp_path), "r", "spark")
