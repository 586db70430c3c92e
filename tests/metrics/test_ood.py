"""The out-of-distribution sets: what each one is, and that a per-pixel model separates only the easy one."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.metrics.builtin.diagnostics import HOLDOUT_KEY
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.diagnostics import auroc
from genmodels.metrics.ood import HARD, holdout_class_split, ood_sets
from genmodels.metrics.registry import EvalInputs, metric_of_key
from genmodels.models import build_model
from genmodels.models.core.dequantize import dequantize

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))


def test_each_set_is_what_it_says(digits) -> None:  # noqa: ANN001
    x = digits.test.x
    sets = ood_sets(x, INFO, seed=0)
    assert set(sets) == {"permuted", *HARD}
    assert all(s.shape == x.shape and s.dtype == np.float32 for s in sets.values())
    np.testing.assert_array_equal(sets["hflip"], x[:, :, :, ::-1])
    np.testing.assert_array_equal(sets["vflip"], x[:, :, ::-1, :])
    np.testing.assert_array_equal(np.sort(sets["permuted"].reshape(len(x), -1), 1), np.sort(x.reshape(len(x), -1), 1))
    levels = sets["shapes"] * 16
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-5)  # on the dataset's 17 levels
    assert sets["shapes"].max() == 1.0 and sets["shapes"].mean() != x.mean()  # another dataset, not a transform of the test set
    np.testing.assert_array_equal(ood_sets(x, INFO, seed=0)["shapes"], sets["shapes"])  # seeded


def test_points_get_uniform_noise_in_the_value_range() -> None:
    info = DatasetInfo("toy2d", "points", (2,), None, 8, (-2.0, 3.0))
    (noise,) = ood_sets(np.zeros((500, 2), np.float32), info, seed=1).values()
    assert noise.shape == (500, 2) and noise.min() >= -2.0 and noise.max() <= 3.0


def test_a_per_pixel_model_separates_permuted_digits_but_not_mirror_images(digits) -> None:  # noqa: ANN001
    """Why the hard sets exist: pixel-independent likelihoods already reach ~1.0 on permutations."""
    model = build_model("independent", {}, INFO)
    model.fit_direct(torch.from_numpy(digits.train.x), None, torch.Generator())
    score = lambda a: -model.log_likelihood(dequantize(torch.from_numpy(a), 17, torch.Generator().manual_seed(0)), None).numpy()  # noqa: E731
    sets = ood_sets(digits.test.x, INFO, seed=0)
    inside = score(digits.test.x)
    assert auroc(inside, score(sets["permuted"])) > 0.95
    assert auroc(inside, score(sets["hflip"])) < auroc(inside, score(sets["permuted"])) - 0.1


def test_the_holdout_class_split_takes_one_class_out_of_the_test_set() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1, 2, 1, 0, 1])
    inliers, outliers = holdout_class_split(x, y, 1)
    np.testing.assert_array_equal(outliers, x[[1, 3, 5]])
    np.testing.assert_array_equal(inliers, x[[0, 2, 4]])
    for labels, cls, message in [(None, 1, "needs class labels"), (y, 7, "class 7 has no test images (classes present: 0, 1, 2)"),
                                 (np.ones(6, int), 1, "no inliers"), (y[:3], 1, "3 test labels for 6 test images")]:  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(message)):
            holdout_class_split(x, labels, cls)


class Scorer(torch.nn.Module):
    """A stand-in model whose anomaly score is ``sign * x[:, 0]``."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def anomaly_score(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.sign * x[:, 0]


def holdout_inputs(holdout_class: int | None, holdout_model: torch.nn.Module | None, test_y: np.ndarray | None) -> EvalInputs:
    info = DatasetInfo("toy2d", "points", (2,), None, 3, (-1.0, 20.0))
    test_x = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [2.5, 0], [10, 0]], np.float32)
    cfg = EvaluateConfig(holdout_class=holdout_class)
    return EvalInputs(real={}, fake={}, fake_x=test_x, info=info, cfg=cfg, seed=0, extractor=None, model=Scorer(-1.0),
                      test_x=test_x, test_y=test_y, holdout_model=holdout_model)  # fmt: skip


def test_the_holdout_class_auroc_is_scored_by_the_copy_trained_without_the_class() -> None:
    """Outliers (class 2) at x0 = 2.5 and 10 against inliers at 0..3: the copy (score x0) ranks 7 of the 8 pairs right."""
    labels = np.array([0, 1, 0, 1, 2, 2])
    compute = metric_of_key(HOLDOUT_KEY).compute
    out = compute(holdout_inputs(2, Scorer(1.0), labels))
    assert out[HOLDOUT_KEY] == pytest.approx(7 / 8)
    assert HOLDOUT_KEY not in out["notes"]
    assert out["anomaly_auroc"] == compute(holdout_inputs(None, None, labels))["anomaly_auroc"]  # not part of the mean
    assert compute(holdout_inputs(2, Scorer(-1.0), labels))[HOLDOUT_KEY] == pytest.approx(1 / 8)  # the copy scores, not the main model
    for cls, model, y, reason in [(None, None, labels, "off: set evaluate.holdout_class"), (2, None, labels, "no copy of the model trained without class 2"),
                                  (2, Scorer(1.0), None, "the held-out-class set needs class labels")]:  # fmt: skip
        out = compute(holdout_inputs(cls, model, y))
        assert out[HOLDOUT_KEY] is None and out["notes"][HOLDOUT_KEY].startswith(reason)


def test_a_per_pixel_model_trained_without_a_class_finds_that_class_unusual(digits) -> None:  # noqa: ANN001
    """The real case: digits without the zeros; the zeros' test images score as out-of-distribution."""
    train, test = digits.train, digits.test
    model = build_model("independent", {}, INFO)
    model.fit_direct(torch.from_numpy(train.x[train.y != 0]), None, torch.Generator())
    score = lambda a: -model.log_likelihood(dequantize(torch.from_numpy(a), 17, torch.Generator().manual_seed(0)), None).numpy()  # noqa: E731
    inliers, zeros = holdout_class_split(test.x, test.y, 0)
    assert auroc(score(inliers), score(zeros)) > 0.8
