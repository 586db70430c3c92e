"""The Ray Train V2 backend runs the same loop: DDP-style workers, resume, same numbers as local."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genmodels.training import checkpoint as ckpt
from genmodels.training.local import train_local
from tests.training.test_loop import job

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local():
    from genmodels.training.ray_adapter import ensure_ray

    ensure_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def data(digits) -> tuple[np.ndarray, np.ndarray]:
    return digits.train.x[:256], digits.train.y[:256]


@pytest.mark.slow  # two Ray workers and a resumed rerun: ~58 s, in make test-slow
def test_two_workers_train_and_a_rerun_resumes(ray_local, data, tmp_path) -> None:
    from genmodels.training.ray_adapter import train_ray

    final = train_ray(job(2), *data, str(tmp_path), "vae-two", num_workers=2, use_gpu=False, cpus_per_worker=1)
    history = ckpt.read_trainer_state(final)["history"]
    assert [int(r["epoch"]) for r in history] == [0, 1]
    assert all(np.isfinite(r["loss/model"]) for r in history)
    assert history[1]["loss/model"] < history[0]["loss/model"]
    # the same run name under the same storage path restores instead of retraining
    again = train_ray(job(2), *data, str(tmp_path), "vae-two", num_workers=2, use_gpu=False, cpus_per_worker=1)
    assert ckpt.read_trainer_state(again)["history"] == history
    a = torch.load(final / ckpt.MODEL_FILE, weights_only=True)
    b = torch.load(again / ckpt.MODEL_FILE, weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.slow  # starts Ray and one worker: ~36 s, in make test-slow (make test stays under 6 minutes)
def test_one_ray_worker_matches_the_in_process_backend(ray_local, data, tmp_path) -> None:
    from genmodels.training.ray_adapter import train_ray

    remote = train_ray(job(2), *data, str(tmp_path), "vae-one", num_workers=1, use_gpu=False, cpus_per_worker=1)
    local = train_local(job(2), *data, tmp_path / "local")
    a = torch.load(remote / ckpt.MODEL_FILE, weights_only=True)
    b = torch.load(local / ckpt.MODEL_FILE, weights_only=True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


@pytest.mark.slow  # two Ray workers, three validated epochs: ~29 s, in make test-slow
def test_ray_workers_get_the_validation_split_and_keep_the_best(ray_local, data, digits, tmp_path) -> None:
    from genmodels.training.ray_adapter import train_ray
    from genmodels.training.selection import VAL_KEY, best_so_far

    validated = replace(job(3), val=digits.val.x[:64])  # auto: best_val for the VAE once a split is given
    final = train_ray(validated, *data, str(tmp_path), "vae-val", num_workers=2, use_gpu=False, cpus_per_worker=1)
    history = ckpt.read_trainer_state(final)["history"]
    assert all(np.isfinite(r[VAL_KEY]) for r in history) and len(history) == 3
    assert best_so_far(history).value == min(r[VAL_KEY] for r in history)
    kept, best = torch.load(final / ckpt.MODEL_FILE, weights_only=True), ckpt.read_best(final)
    for k in kept:
        torch.testing.assert_close(kept[k], best[k], rtol=0, atol=0)


@pytest.mark.slow  # a Ray task in the module's local instance: a few seconds once Ray is up
def test_workers_name_their_own_cluster_so_two_local_instances_do_not_confuse_ray(ray_local) -> None:
    """The setup hook pins ``RAY_ADDRESS`` in every worker to its own GCS: Ray Train's placement-group
    cleaner asks the state API without an address and, with two local instances on the machine,
    would otherwise die with "Found multiple active Ray instances"."""

    @ray.remote
    def worker_address() -> str | None:
        import os

        return os.environ.get("RAY_ADDRESS")

    assert ray.get(worker_address.remote()) == ray.get_runtime_context().gcs_address
