"""Model selection on the validation split: config, the best epoch, early stopping, resume."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.configbase import validate
from genmodels.errors import ConfigError
from genmodels.models.core.registry import build_model
from genmodels.training import checkpoint as ckpt
from genmodels.training import selection
from genmodels.training.config import FitConfig
from genmodels.training.local import LocalContext, train_local
from genmodels.training.loop import TrainJob, train_worker
from genmodels.training.selection import VAL_KEY, Best, best_so_far, resolve_select, stops, validates
from tests.training.test_loop import INFO, Crash, CrashingContext

VAE = {"hidden": [32], "latent_dim": 4, "prior": "standard", "iw_samples": 4}


@pytest.fixture(scope="module")
def data(digits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return digits.train.x[:128], digits.train.y[:128], digits.val.x[:48]


def job(val: np.ndarray | None, epochs: int = 4, **fit) -> TrainJob:
    fit = {"epochs": epochs, "batch_size": 32, "lr": 1e-3, **fit}
    return TrainJob.create("vae", "vae", VAE, fit, INFO, seed=5, val=val)


class Recording(LocalContext):
    """The local backend, remembering the weights of every saved epoch."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir, torch.device("cpu"), log=lambda s: None)
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def save(self, metrics, write, final) -> None:
        super().save(metrics, write, final)
        self.weights[int(metrics["epoch"])] = weights(self.checkpoints()[-1])


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / ckpt.MODEL_FILE, weights_only=True)


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for k, v in a.items():
        torch.testing.assert_close(b[k], v, rtol=0, atol=0, msg=lambda m, k=k: f"{k}: {m}")


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    """``scripted(values)``: validations return ``values`` in turn (shared across runs: resume continues it)."""

    def install(values: list[float]) -> Iterator[float]:
        it = iter(values)
        monkeypatch.setattr(selection, "validation_nll", lambda *a, **k: next(it))
        return it

    return install


def row(epoch: int, val: float | None = None) -> dict[str, float]:
    return {"epoch": float(epoch)} | ({} if val is None else {VAL_KEY: val})


# ------------------------------------------------------------------ config and resolution


def test_fit_config_validates_the_selection_keys() -> None:
    fit = FitConfig()
    assert (fit.select, fit.val_every, fit.patience, fit.val_samples) == ("auto", 1, None, 1)
    with pytest.raises(ConfigError, match=r"^flow.fit.select: Input should be 'auto', 'last' or 'best_val'"):
        validate(FitConfig, {"select": "best"}, "flow.fit")
    with pytest.raises(ConfigError, match=r"^flow.fit.val_every: "):
        validate(FitConfig, {"val_every": 0}, "flow.fit")
    with pytest.raises(ConfigError, match=r"^flow.fit.patience: "):
        validate(FitConfig, {"patience": 0}, "flow.fit")
    with pytest.raises(ConfigError, match=r"^flow.fit: patience needs validation"):
        validate(FitConfig, {"select": "last", "patience": 3}, "flow.fit")


@pytest.mark.parametrize(
    ("family", "select", "has_val", "expected"),
    [("flow", "auto", True, "best_val"), ("vae", "auto", True, "best_val"), ("vae", "auto", False, "last"),
     ("rbm", "auto", True, "last"), ("rbm", "best_val", True, "best_val"), ("gan", "auto", True, "last"),
     ("gmm", "auto", True, "last"), ("flow", "last", True, "last")],
)  # fmt: skip
def test_auto_validates_families_with_an_exact_or_bounded_likelihood(family: str, select: str, has_val: bool, expected: str) -> None:
    assert resolve_select("m", family, FitConfig(select=select), has_val) == expected


@pytest.mark.parametrize(
    ("family", "has_val", "message"),
    [("gan", True, r"^m.fit.select: best_val needs a likelihood, but family 'gan' has none"),
     ("gmm", True, r"^m.fit.select: best_val needs epochs to choose from, but family 'gmm' is fitted in closed form"),
     ("flow", False, r"^m.fit.select: best_val needs the validation split")],
)  # fmt: skip
def test_best_val_where_it_cannot_work_is_one_clear_error(family: str, has_val: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_select("m", family, FitConfig(select="best_val"), has_val)


def test_the_job_rejects_an_impossible_selection_when_built(data) -> None:
    with pytest.raises(ConfigError, match="family 'gan' has none"):
        TrainJob.create("gan", "gan", {}, {"select": "best_val"}, INFO, 0, val=data[2])


def test_the_validation_split_is_part_of_the_job_identity(data) -> None:
    val = data[2]
    assert job(val).fingerprint() == job(val.copy()).fingerprint() != job(val[1:]).fingerprint() != job(None).fingerprint()


# ------------------------------------------------------------------ the best epoch from the history


def test_best_so_far_takes_the_lowest_and_the_earliest_of_ties() -> None:
    assert best_so_far([row(0), row(1)]) is None
    history = [row(0, 3.0), row(1), row(2, 2.0), row(3, 2.5), row(4, 2.0), row(5, math.nan)]
    assert best_so_far(history) == Best(epoch=2, value=2.0, since=3)
    assert best_so_far([row(0, math.nan), row(1, 9.0)]) == Best(1, 9.0, 0)


def test_validation_epochs_and_patience() -> None:
    fit = FitConfig(epochs=7, val_every=3, patience=2)
    assert [e for e in range(7) if validates(e, fit)] == [2, 5, 6]
    assert not stops([row(0, 2.0), row(1, 2.1)], fit)
    assert stops([row(0, 2.0), row(1, 2.1), row(2, 2.0)], fit)
    assert not stops([row(0, 2.0), row(1, 2.1), row(2, 2.0)], FitConfig(epochs=7))


def test_validation_nll_is_the_seeded_mean_discrete_nll_in_bits(data) -> None:
    model = build_model("vae", VAE, INFO).eval()
    x = torch.from_numpy(data[2])
    value = selection.validation_nll(model, x, selection.val_generator(5, 0, torch.device("cpu")), samples=1)
    again = selection.validation_nll(model, x, selection.val_generator(5, 0, torch.device("cpu")), samples=1)
    with torch.no_grad():
        ll = model.discrete_log_prob(x, selection.val_generator(5, 0, torch.device("cpu")), 1)
    assert value == again == pytest.approx(float(-ll.double().mean() / (64 * math.log(2))), rel=1e-12)
    assert 0 < value < 10


# ------------------------------------------------------------------ the trainer


def test_best_val_keeps_the_epoch_with_the_lowest_validation_nll(data, tmp_path, scripted) -> None:
    x, y, val = data
    scripted([3.0, 2.0, 2.5, 2.4])
    ctx = Recording(tmp_path / "best")
    history = train_worker(job(val), x, y, ctx)
    assert [r[VAL_KEY] for r in history] == [3.0, 2.0, 2.5, 2.4]
    final = ctx.checkpoints()[-1]
    assert final.name == "checkpoint_000003"
    assert_same(ctx.weights[3], ctx.weights[1])  # the last save holds epoch 1's weights
    assert_same(ckpt.read_best(final), weights(final))
    # validation does not disturb training: the same trajectory as a run that never validates
    last = Recording(tmp_path / "last")
    plain = train_worker(job(val, select="last"), x, y, last)
    assert [r["loss/model"] for r in plain] == [r["loss/model"] for r in history]
    assert_same(last.weights[1], ctx.weights[1])
    assert not any(VAL_KEY in r for r in plain)


def test_val_every_validates_some_epochs_and_always_the_last(data, tmp_path, scripted) -> None:
    x, y, val = data
    scripted([2.0, 1.5, 1.7])
    history = ckpt.read_trainer_state(train_local(job(val, epochs=5, val_every=2), x, y, tmp_path))["history"]
    assert [int(r["epoch"]) for r in history if VAL_KEY in r] == [1, 3, 4]
    assert best_so_far(history) == Best(3, 1.5, 1)


def test_patience_stops_early_and_keeps_the_best(data, tmp_path, scripted) -> None:
    x, y, val = data
    scripted([3.0, 2.0, 2.5, 2.6, 1.0, 1.0])
    ctx = Recording(tmp_path)
    history = train_worker(job(val, epochs=6, patience=2), x, y, ctx)
    assert [int(r["epoch"]) for r in history] == [0, 1, 2, 3]
    assert_same(weights(ctx.checkpoints()[-1]), ctx.weights[1])
    # a rerun finds the stopped run and neither trains nor writes again
    stamp = (ctx.checkpoints()[-1] / ckpt.MODEL_FILE).stat().st_mtime_ns
    assert train_worker(job(val, epochs=6, patience=2), x, y, ctx) == history
    assert (ctx.checkpoints()[-1] / ckpt.MODEL_FILE).stat().st_mtime_ns == stamp


def test_resume_keeps_the_best_so_far(data, tmp_path, scripted) -> None:
    x, y, val = data
    scripted([3.0, 2.0, 2.5, 2.4])
    straight = train_local(job(val), x, y, tmp_path / "straight")
    scripted([3.0, 2.0, 2.5, 2.4])  # epoch 1 is the best, and the crash comes after epoch 2
    with pytest.raises(Crash):
        train_worker(job(val), x, y, CrashingContext(tmp_path / "resumed", crash_after=3))
    resumed = train_local(job(val), x, y, tmp_path / "resumed")
    history = ckpt.read_trainer_state(resumed)["history"]
    assert [(r["epoch"], r[VAL_KEY]) for r in history] == [(0, 3.0), (1, 2.0), (2, 2.5), (3, 2.4)]
    assert_same(weights(straight), weights(resumed))


def test_a_resumed_run_validates_to_the_same_numbers(data, tmp_path) -> None:
    x, y, val = data
    straight = ckpt.read_trainer_state(train_local(job(val, epochs=3), x, y, tmp_path / "a"))
    with pytest.raises(Crash):
        train_worker(job(val, epochs=3), x, y, CrashingContext(tmp_path / "b", crash_after=1))
    resumed_dir = train_local(job(val, epochs=3), x, y, tmp_path / "b")
    resumed = ckpt.read_trainer_state(resumed_dir)
    assert [r[VAL_KEY] for r in resumed["history"]] == [r[VAL_KEY] for r in straight["history"]]
    assert all(math.isfinite(r[VAL_KEY]) for r in resumed["history"])
    assert_same(weights(tmp_path / "a" / "checkpoint_000002"), weights(resumed_dir))


def test_closed_form_families_ignore_auto(data, tmp_path) -> None:
    x, y, val = data
    fitted = TrainJob.create("independent", "independent", {}, {"epochs": 3}, INFO, 0, val=val)
    assert fitted.select == "last"
    history = ckpt.read_trainer_state(train_local(fitted, x, y, tmp_path))["history"]
    assert len(history) == 1 and VAL_KEY not in history[0]
