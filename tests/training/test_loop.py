"""The training loop: deterministic, resumable (an interrupted run ends where an uninterrupted one does)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.errors import GenmodelsError
from genmodels.training import checkpoint as ckpt
from genmodels.training.local import LocalContext, train_local
from genmodels.training.loop import TrainingDiverged, TrainJob, _read_only_tensor, train_worker

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))


def job(epochs: int = 4, model: dict | None = None, **fit) -> TrainJob:
    return TrainJob.create(
        name="vae",
        family="vae",
        model_config={"hidden": [32], "latent_dim": 4, **(model or {})},
        fit={"epochs": epochs, "batch_size": 32, "lr": 1e-3, **fit},
        info=INFO,
        seed=7,
    )


@pytest.fixture(scope="module")
def data(digits) -> tuple[np.ndarray, np.ndarray]:
    return digits.train.x[:256], digits.train.y[:256]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / ckpt.MODEL_FILE, weights_only=True)


class Crash(Exception):
    pass


class CrashingContext(LocalContext):
    """Saves like the local backend, then dies after ``crash_after`` epochs."""

    def __init__(self, run_dir: Path, crash_after: int) -> None:
        super().__init__(run_dir, torch.device("cpu"), log=lambda s: None)
        self.crash_after = crash_after

    def save(self, metrics, write, final) -> None:
        super().save(metrics, write, final)
        if int(metrics["epoch"]) + 1 >= self.crash_after:
            raise Crash


def test_same_seed_same_weights(data, tmp_path) -> None:
    a = train_local(job(2), *data, tmp_path / "a")
    b = train_local(job(2), *data, tmp_path / "b")
    for k, v in weights(a).items():
        torch.testing.assert_close(v, weights(b)[k], rtol=0, atol=0)


def test_interrupted_run_resumes_to_the_same_result(data, tmp_path) -> None:
    full = train_local(job(4), *data, tmp_path / "full")
    with pytest.raises(Crash):
        train_worker(job(4), *data, CrashingContext(tmp_path / "resumed", crash_after=2))
    assert len(list((tmp_path / "resumed").glob("checkpoint_*"))) == 2
    resumed = train_local(job(4), *data, tmp_path / "resumed")
    history = ckpt.read_trainer_state(resumed)["history"]
    assert [int(r["epoch"]) for r in history] == [0, 1, 2, 3]
    for k, v in weights(full).items():
        torch.testing.assert_close(v, weights(resumed)[k], rtol=0, atol=0)


def test_finished_run_is_not_retrained(data, tmp_path) -> None:
    first = train_local(job(2), *data, tmp_path / "r")
    stamp = (first / ckpt.MODEL_FILE).stat().st_mtime_ns
    again = train_local(job(2), *data, tmp_path / "r")
    assert again == first and (again / ckpt.MODEL_FILE).stat().st_mtime_ns == stamp


def test_loss_decreases_over_epochs(data, tmp_path) -> None:
    history = ckpt.read_trainer_state(train_local(job(6), *data, tmp_path / "r"))["history"]
    assert history[-1]["loss/model"] < history[0]["loss/model"]
    assert history[-1]["train_seconds"] >= history[0]["train_seconds"] > 0


def test_divergence_stops_with_a_clear_error(data, tmp_path) -> None:
    x, y = data
    poisoned = x.copy()
    poisoned[:, 0, 0, 0] = np.nan  # every batch sees a NaN: the loss is NaN at the first step
    with pytest.raises(TrainingDiverged, match=r"vae diverged at epoch 0, step 1 of 8: loss 'model' is nan; lower fit.lr"):
        train_local(job(2), poisoned, y, tmp_path / "r")


def test_unknown_group_lr_is_rejected(data, tmp_path) -> None:
    with pytest.raises(GenmodelsError, match="fit.group_lr: unknown optimizer group"):
        train_local(job(1, group_lr={"discriminator": 1e-3}), *data, tmp_path / "r")


def test_a_huge_learning_rate_stops_at_the_first_non_finite_gradient(data, tmp_path) -> None:
    """lr 1e8 blows the weights up after one step; with a standard normal prior the next
    step's loss is still finite but its gradient norm is not: the run stops there, before the
    optimizer applies it (with the VampPrior the loss itself is already inf, also caught)."""
    with pytest.raises(
        TrainingDiverged, match=r"^vae diverged at epoch 0, step 2 of 8: the gradient norm of loss 'model' is inf \(loss [0-9.e+]+\); lower fit.lr"
    ):
        train_local(job(2, model={"prior": "standard"}, lr=1e8), *data, tmp_path / "r")
    assert not list((tmp_path / "r").glob("checkpoint_*"))  # nothing of the diverged epoch is kept


def flow_job(epochs: int) -> TrainJob:
    """A tiny flow whose MADE front end uses dropout: it draws from the global torch RNG."""
    model = {"front_hidden": [32], "front_dropout": 0.5, "conv_width": 8, "scales": 1, "checker_layers": 1, "channel_layers": 0, "final_layers": 1}
    return TrainJob.create(name="flow", family="flow", model_config=model, fit={"epochs": epochs, "batch_size": 64, "select": "last"}, info=INFO, seed=3)


def test_a_resumed_run_continues_the_global_rng_so_dropout_draws_the_same_masks(data, tmp_path) -> None:
    full = train_local(flow_job(3), *data, tmp_path / "full")
    torch.manual_seed(12345)  # whatever the process did meanwhile, the checkpoint's RNG state wins
    with pytest.raises(Crash):
        train_worker(flow_job(3), *data, CrashingContext(tmp_path / "resumed", crash_after=1))
    torch.rand(1000)
    resumed = train_local(flow_job(3), *data, tmp_path / "resumed")
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_read_only_float32_array_is_trained_on_without_a_copy() -> None:
    """Ray hands each worker a read-only view of the object store's copy: the loop wraps it as is
    (one shared copy per node instead of a private one per worker), silently, and copies only
    what is not already contiguous in the wanted dtype."""
    shared = np.arange(12, dtype=np.float32).reshape(3, 4)
    shared.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = _read_only_tensor(shared, np.float32)
    assert t.data_ptr() == shared.ctypes.data and t.dtype == torch.float32
    converted = _read_only_tensor(shared.astype(np.float64), np.float32)
    assert converted.dtype == torch.float32 and torch.equal(converted, t)
    strided = _read_only_tensor(shared[:, ::2], np.float32)
    assert strided.is_contiguous() and torch.equal(strided, t[:, ::2])



def test_finish_training_runs_once_on_the_kept_weights(data, digits, tmp_path) -> None:
    """The model's finish_training (a VAE refitting its prior) runs after the last epoch, on the
    selected weights; its statistics and the finished model's validation NLL end the history,
    and the final checkpoint holds the finished model."""
    from genmodels.models import build_model

    j = TrainJob.create(
        name="vae", family="vae", model_config={"hidden": [32], "latent_dim": 4, "refit_prior": 2, "refit_draws": 2, "prior_components": 4},
        fit={"epochs": 3, "batch_size": 32, "select": "best_val"}, info=INFO, seed=7, val=digits.val.x[:64],
    )  # fmt: skip
    ctx = LocalContext(tmp_path / "run", torch.device("cpu"), log=lambda s: None)
    history = train_worker(j, *data, ctx)
    assert [("finish/prior_refit_iterations" in r) for r in history] == [False, False, True]
    assert np.isfinite(history[-1]["finish/val_nll_bits_per_dim"])
    model = build_model("vae", j.model_config, INFO)
    model.load_state_dict(weights(ctx.checkpoints()[-1]))
    assert bool(model.refit_fitted) and model.prior_components() is None
