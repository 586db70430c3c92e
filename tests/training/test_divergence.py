"""The loop's per-step finiteness check: one pass over the gradients and one read decide exactly
what the total gradient norm of ``clip_grad_norm_`` would (a NaN/inf loss or norm stops the run)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.training import checkpoint as ckpt
from genmodels.training.local import train_local
from genmodels.training.loop import TrainingDiverged, TrainJob, _finite_or_raise, _safe_square_sum, _total_norm

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
    return _finite_or_raise(JOB, 2, 4, 9, "g", loss, params)


def test_a_finite_step_gives_the_loss_and_the_norms_of_clip_grad_norm() -> None:
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(s, generator=gen) * 10 for s in [(32, 8), (32,), (5, 3, 3), (1,)]]
    value, norms = check(torch.tensor(1.2345678), with_grads(*grads, None))
    assert value == torch.tensor(1.2345678).item()  # the float32 loss, exactly
    assert len(norms) == len(grads)
    assert torch.equal(_total_norm(norms), torch.nn.utils.get_total_norm(grads))


def test_clipping_from_the_norms_equals_clip_grad_norm() -> None:
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(s, generator=gen) for s in [(16, 4), (4,)]]
    ours, reference = with_grads(*[g.clone() for g in grads]), with_grads(*[g.clone() for g in grads])
    _, norms = check(0.5, ours)
    torch.nn.utils.clip_grads_with_norm_(ours, 0.1, _total_norm(norms))
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
    assert 3e38 >= _safe_square_sum(frozenset({torch.float32}))
    value, norms = check(1.0, with_grads(*grads))
    assert value == 1.0
    assert torch.equal(_total_norm(norms), torch.nn.utils.get_total_norm(grads)) and torch.isfinite(_total_norm(norms))


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
    assert value == 2.0 and _total_norm(norms).item() == pytest.approx(2e30)
    huge = torch.full((2,), 1e160, dtype=torch.float64)
    with pytest.raises(TrainingDiverged, match="the gradient norm of loss 'g' is inf"):
        check(torch.tensor(2.0, dtype=torch.float64), with_grads(huge, huge))
    assert _safe_square_sum(frozenset({torch.float16, torch.float32})) == torch.finfo(torch.float16).max / 2


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
