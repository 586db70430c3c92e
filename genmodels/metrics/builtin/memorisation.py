"""The memorisation audit: C_T, the nearest-neighbour share and exact copies (see
:mod:`genmodels.metrics.memorisation`). C_T reads cached features; the nearest-neighbour
share is computed in data space, where training and test images are exchangeable (the
evaluator was trained on the training split, so in its features fresh images already sit
nearer to training images: 0.62 for held-out real images on digits instead of 0.5)."""

from __future__ import annotations

from genmodels.metrics import memorisation as mem
from genmodels.metrics.registry import EvalInputs, MetricKey, Undefined, register_metric

ORDER = 20  # where these keys stand among the built-ins' (see genmodels.metrics.builtin)

CT_CELLS = 20  # k-means cells on the training features (Meehan et al. 2020 use tens of cells)


@register_metric(
    "memorisation",
    [MetricKey("ct_stat", None, "C_T data-copying test on the evaluator's features (Meehan et al. 2020): strongly negative = samples closer to the training set than held-out data are (copying), ≈ 0 = no evidence, positive = farther"),
     MetricKey("nn_train_share", None, "share of samples whose nearest neighbour (in data space) is in a training subset the size of the test set rather than in the test set, mean over 10 seeded subsets: 0.5 = no copying; exact copies of training images score f + (1 - f)/2 for a subset holding a share f of the training set"),
     MetricKey("train_copies", "lower", "share of samples identical to a training row at the dataset's levels")],
    needs={"samples", "train", "test"},
)  # fmt: skip
def memorisation(inp: EvalInputs) -> dict:
    train, test, fake = inp.train_features, inp.real["features"], inp.fake["features"]
    cells = min(CT_CELLS, len(train) // 10, len(test) // 5)
    if cells < 2:
        raise Undefined(f"too few points for the C_T test ({len(train)} training, {len(test)} test)")
    out: dict = {
        "nn_train_share": mem.nn_train_share(inp.train_x, inp.test_x, inp.fake_x, inp.seed),
        "train_copies": mem.copy_share(inp.fake_x, inp.train_x, inp.info.levels),
    }
    try:
        out["ct_stat"] = mem.ct_statistic(train, test, fake, cells, inp.seed)
    except ValueError as exc:  # too few samples per cell (e.g. a small reference row): null with the reason
        out["ct_stat"], out["notes"] = None, {"ct_stat": str(exc)}
    return out
