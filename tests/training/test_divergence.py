"""The loop's divergence check (genmodels/training/divergence.py); its per-step check: one pass over the gradients and one read decide exactly
what the total gradient norm of ``clip_grad_norm_`` would (a NaN/inf loss or norm stops the run)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.training import checkpoint as ckpt
from genmodels.training.local import train_local
from genmodels.training.divergence import TrainingDiverged, finite_or_raise, safe_square_sum, total_norm
from genmodels.training.loop import TrainJob

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))
JOB = TrainJob.create(name="m", family="vae", model_config={"hidden": [8], "latent_dim": 2}, fit={}, info=INFO, seed=0)


def with_grads(*grads: torch.Tensor) -> list[torch.nn.Parameter]:
    """Parameters whose ``.grad`` are ``grads`` (None: a parameter the loss did not reach)."""
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(3) if g is None else torch.zeros_like(g))
        p.grad = g
        params.append(p)
    return params


def check(loss: float | torch.Tensor, params: list[torch.nn.Parameter]) -> tuple[float, list[torch.Tensor]]:
    loss = loss if isinstance(loss, torch.Tensor) else torch.tensor(loss)
    return finite_or_raise(JOB, 2, 4, 9, "g", loss, params)


def test_a_finite_step_gives_the_loss_and_the_norms_of_clip_grad_norm() -> None:
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(s, generator=gen) * 10 for s in [(32, 8), (32,), (5, 3, 3), (1,)]]
    value, norms = check(torch.tensor(1.2345678), with_grads(*grads, None))
    assert value == torch.tensor(1.2345678).item()  # the float32 loss, exactly
    assert len(norms) == len(grads)
    assert torch.equal(total_norm(norms), torch.nn.utils.get_total_norm(grads))


def test_clipping_from_the_norms_equals_clip_grad_norm() -> None:
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(s, generator=gen) for s in [(16, 4), (4,)]]
    ours, reference = with_grads(*[g.clone() for g in grads]), with_grads(*[g.clone() for g in grads])
    _, norms = check(0.5, ours)
    torch.nn.utils.clip_grads_with_norm_(ours, 0.1, total_norm(norms))
    torch.nn.utils.clip_grad_norm_(reference, 0.1)
    for a, b in zip(ours, reference):
        assert torch.equal(a.grad, b.grad)


def test_a_total_norm_that_overflows_stops_although_every_tensor_norm_is_finite() -> None:
    grads = [torch.full((2,), 1e19), torch.full((2,), 1e19)]  # each norm 1.4e19; their squares sum past float32's max
    assert all(torch.isfinite(n) for n in torch._foreach_norm(grads))
    assert torch.isinf(torch.nn.utils.get_total_norm(grads))
    with pytest.raises(TrainingDiverged, match=r"^m diverged at epoch 2, step 5 of 9: the gradient norm of loss 'g' is inf \(loss 3\); lower fit.lr"):
        check(3.0, with_grads(*grads))


def test_above_the_safe_bound_the_exact_total_decides() -> None:
    grads = [torch.full((3,), 1e19)]  # sum of squares 3e38: past the bound, yet the float32 total 1.7e19 is finite
    assert 3e38 >= safe_square_sum(frozenset({torch.float32}))
    value, norms = check(1.0, with_grads(*grads))
    assert value == 1.0
    assert torch.equal(total_norm(norms), torch.nn.utils.get_total_norm(grads)) and torch.isfinite(total_norm(norms))


@pytest.mark.parametrize(
    ("loss", "grad", "message"),
    [
        (float("nan"), torch.ones(4), r"loss 'g' is nan"),
        (float("inf"), torch.ones(4), r"loss 'g' is inf"),
        (1.5, torch.tensor([1.0, float("nan"), 2.0]), r"the gradient norm of loss 'g' is nan \(loss 1.5\)"),
        (1.5, torch.tensor([1.0, float("inf")]), r"the gradient norm of loss 'g' is inf \(loss 1.5\)"),
        (1.5, torch.tensor([1.0, float("-inf")]), r"the gradient norm of loss 'g' is inf \(loss 1.5\)"),
    ],
)
def test_a_non_finite_loss_or_gradient_stops_with_its_value(loss: float, grad: torch.Tensor, message: str) -> None:
    with pytest.raises(TrainingDiverged, match=rf"^m diverged at epoch 2, step 5 of 9: {message}; lower fit.lr or set fit.grad_clip$"):
        check(loss, with_grads(torch.ones(2, 2), grad))


def test_the_bound_follows_the_gradients_dtype() -> None:
    big = torch.full((2,), 1e30, dtype=torch.float64)  # a float64 norm of 2e30 is finite (float32 would overflow)
    value, norms = check(torch.tensor(2.0, dtype=torch.float64), with_grads(big, big))
    assert value == 2.0 and total_norm(norms).item() == pytest.approx(2e30)
    huge = torch.full((2,), 1e160, dtype=torch.float64)
    with pytest.raises(TrainingDiverged, match="the gradient norm of loss 'g' is inf"):
        check(torch.tensor(2.0, dtype=torch.float64), with_grads(huge, huge))
    assert safe_square_sum(frozenset({torch.float16, torch.float32})) == torch.finfo(torch.float16).max / 2


def test_a_loss_that_reaches_no_parameter_is_still_checked() -> None:
    assert check(0.25, with_grads(None, None)) == (0.25, [])
    with pytest.raises(TrainingDiverged, match="loss 'g' is nan"):
        check(float("nan"), with_grads(None))


def test_a_clipped_run_trains_and_the_clipping_takes_effect(digits, tmp_path) -> None:
    def run(**fit) -> dict[str, torch.Tensor]:
        job = TrainJob.create(
            name="vae", family="vae", model_config={"hidden": [32], "latent_dim": 4}, fit={"epochs": 2, "batch_size": 32, **fit},
            info=INFO, seed=7,
        )  # fmt: skip
        folder = train_local(job, digits.train.x[:128], digits.train.y[:128], tmp_path / str(fit))
        history = ckpt.read_trainer_state(folder)["history"]
        assert len(history) == 2 and all(np.isfinite(r["loss/model"]) for r in history)
        return torch.load(folder / ckpt.MODEL_FILE, weights_only=True)

    clipped, free = run(grad_clip=1e-3), run()  # every step clipped, each by its own factor
    assert all(torch.isfinite(w).all() for w in clipped.values() if w.is_floating_point())
    assert any(not torch.equal(clipped[k], free[k]) for k in free)


class _Ctx:
    """A single-process worker context for driving one epoch by hand."""

    rank, world_size, device = 0, 1, torch.device("cpu")


def _epoch_state(family: str, model: dict, fit: dict, seed: int = 3):
    from genmodels.models.core.registry import build_model
    from genmodels.training.loop import _State, build_optimizers

    job = TrainJob.create(name=family, family=family, model_config=model, fit={"epochs": 3, "batch_size": 32, **fit}, info=INFO, seed=seed)
    torch.manual_seed(seed)
    net = build_model(job.family, job.model_config, job.info)
    optimizers, schedulers = build_optimizers(net, job.fit)
    return job, _State(net, optimizers, schedulers, history=[], start_epoch=0)


@pytest.mark.parametrize(
    ("family", "model", "fit"),
    [("vae", {"hidden": [16], "latent_dim": 2}, {}), ("vae", {"hidden": [16], "latent_dim": 2}, {"grad_clip": 1e-2}),
     ("gan", {"hidden": [16], "latent_dim": 4}, {})],
)  # fmt: skip
def test_the_epoch_checked_once_equals_the_epoch_checked_at_every_step(digits, family, model, fit) -> None:
    """The unchecked pass (loss sums on the device, one read at the end) trains exactly what the
    per-step check trains: the same weights, optimizer state and mean losses, bit for bit."""
    from genmodels.training.loop import _run_epoch

    x = torch.from_numpy(np.asarray(digits.train.x[:256], dtype=np.float32))
    results = []
    for checked in (True, False):
        job, state = _epoch_state(family, model, fit)
        torch.manual_seed(11)
        losses = [_run_epoch(job, state, e, x, None, _Ctx(), checked=checked) for e in range(2)]
        results.append((losses, state.model.state_dict(), [o.state_dict()["state"] for o in state.optimizers.values()]))
    (la, wa, oa), (lb, wb, ob) = results
    assert la == lb
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert all(torch.equal(sa[i][n], sb[i][n]) for sa, sb in zip(oa, ob) for i in sa for n in sa[i] if isinstance(sa[i][n], torch.Tensor))


def test_a_run_that_diverges_mid_epoch_is_replayed_and_stops_at_the_exact_step(digits, monkeypatch) -> None:
    """A NaN injected into the 5th batch's loss: the epoch ends with non-finite weights, is rolled
    back to its start and replayed with the per-step check, which names step 5, and the model
    is left at its state from before the epoch (nothing non-finite survives)."""
    from genmodels.models.vae.model import VAE
    from genmodels.training.loop import _train_epoch

    job, state = _epoch_state("vae", {"hidden": [16], "latent_dim": 2}, {})
    before = {k: v.clone() for k, v in state.model.state_dict().items()}
    calls = {"n": 0}
    original = VAE.training_losses

    def poisoned(self, xb, yb, gen):
        for group, loss in original(self, xb, yb, gen):
            calls["n"] += 1
            yield group, loss * float("nan") if calls["n"] % 8 == 5 else loss  # step 5 of each pass over 8 batches

    monkeypatch.setattr(VAE, "training_losses", poisoned)
    x = torch.from_numpy(np.asarray(digits.train.x[:256], dtype=np.float32))
    with pytest.raises(TrainingDiverged, match=r"^vae diverged at epoch 0, step 5 of 8: loss 'model' is nan"):
        _train_epoch(job, state, 0, x, None, _Ctx())
    assert calls["n"] == 8 + 5  # the whole unchecked pass, then the replay up to the bad step
    weights = state.model.state_dict()
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    # the replay stopped before step 5's update: steps 1-4 of the epoch were applied again from the snapshot
    assert any(not torch.equal(before[k], weights[k]) for k in before)
