"""The out-of-distribution sets: what each one is, and that a per-pixel model separates only the easy one."""

from __future__ import annotations

import numpy as np
import torch

from genmodels.data.base import DatasetInfo
from genmodels.metrics.diagnostics import auroc
from genmodels.metrics.ood import HARD, ood_sets
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
