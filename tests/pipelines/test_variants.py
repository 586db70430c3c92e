"""The extra trainings of ``seeds:`` and ``evaluate.holdout_class``: what they train and where.

A tiny prepared digits split in a temporary root; ``train.run`` fits a GMM (seeded) and the
per-pixel baseline (closed form) with seeds [0, 1] and class 0 held out.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from genmodels.config import load_params
from genmodels.data import Samples, read_samples
from genmodels.errors import ConfigError
from genmodels.models.core.base import GenerativeModel
from pipelines import jobs, paths, prepare, train, variants
from pipelines.common import load_info

PARAMS = {
    "data": {"name": "digits", "limit": 300},
    "scaling": {"backend": "local"},
    "models": {"g": "gmm", "ind": "independent"},
    "g": {"model": {"n_components": 2}},
    "seeds": [0, 1],
    "evaluate": {"holdout_class": 0},
}


def write_params(root: Path, **changes: object) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump({**PARAMS, **changes}))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("variants")
    write_params(root)
    prepare.run(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        train.run(root, "g")
        train.run(root, "ind")
    return root


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", weights_only=True)


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_extra_seed_and_the_holdout_copy_get_a_folder(root: Path) -> None:
    for name in ("g", "ind"):
        folder = root / paths.model_dir(name)
        assert {p.relative_to(folder).as_posix() for p in folder.rglob("model.pt")} == {"model.pt", "seeds/1/model.pt", "holdout/model.pt"}
        assert (folder / "seeds/1" / paths.HISTORY_FILE).is_file() and not (folder / "seeds/0").exists()
    assert not same(weights(root / "models/g"), weights(root / "models/g/seeds/1"))  # the seed matters


def test_seed_s_trains_what_a_run_with_seed_s_trains_on_the_same_split(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    shutil.copytree(root / paths.PREPARED, other / paths.PREPARED)  # the same split (prepare under seed 1 would draw another)
    write_params(other, seed=1, seeds=None, evaluate={})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    train.run(other, "g")
    assert same(weights(root / "models/g/seeds/1"), weights(other / "models/g"))
    seed_1 = dataclasses.replace(jobs.prepared_job(root, load_params(root / "params.yaml"), "g"), seed=1)
    assert jobs.run_name(root, seed_1) == jobs.run_name(other, jobs.prepared_job(other, load_params(other / "params.yaml"), "g"))  # one resumable run


def test_the_holdout_copy_never_saw_the_class(root: Path) -> None:
    """The per-pixel baseline is fitted in closed form: its copy equals a fit on the split without class 0."""
    from genmodels.models import build_model

    data = read_samples(root / paths.TRAIN)
    info = load_info(root)
    model = build_model("independent", {}, info)
    model.fit_direct(torch.from_numpy(data.x[data.y != 0]), None, torch.Generator())
    assert same(weights(root / "models/ind/holdout"), {k: v.cpu() for k, v in model.state_dict().items()})
    assert not same(weights(root / "models/ind/holdout"), weights(root / "models/ind"))


def test_drop_class() -> None:
    s = Samples(x=np.arange(8, dtype=np.float32).reshape(4, 2), y=np.array([0, 1, 0, 2]))
    kept = variants.drop_class(s, 0)
    np.testing.assert_array_equal(kept.x, s.x[[1, 3]])
    np.testing.assert_array_equal(kept.y, [1, 2])
    assert variants.drop_class(s, None) is s
    with pytest.raises(ConfigError, match="no class labels"):
        variants.drop_class(Samples(x=s.x), 0)


def test_a_class_the_data_lacks_is_one_clear_error(root: Path, tmp_path: Path) -> None:
    info = load_info(root)
    labels = read_samples(root / paths.TRAIN).y
    write_params(tmp_path, evaluate={"holdout_class": 12})
    p = load_params(tmp_path / "params.yaml")
    with pytest.raises(ConfigError, match=r"^evaluate.holdout_class: 12 is not a class of the training split \(classes: 0, 1, 2"):
        variants.holdout_variant(p, "g", info, labels)
    with pytest.raises(ConfigError, match="has no class labels"):
        variants.holdout_variant(p, "g", info, None)
    write_params(tmp_path, evaluate={})
    assert variants.holdout_variant(load_params(tmp_path / "params.yaml"), "g", info, labels) is None


def test_a_family_without_an_anomaly_score_gets_no_holdout_copy(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoScore(GenerativeModel):
        likelihood_kind = None

    monkeypatch.setattr(variants, "model_class", lambda family: NoScore)
    assert not variants.has_anomaly_score("any")
    p = load_params(root / "params.yaml")
    assert variants.holdout_variant(p, "g", load_info(root), read_samples(root / paths.TRAIN).y) is None
    monkeypatch.undo()
    assert variants.has_anomaly_score("gan") and variants.has_anomaly_score("gmm")
