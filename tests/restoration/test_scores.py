import math

import numpy as np
import pytest
import torch

from genmodels.restoration.scores import PSNR_CAP, accuracy_per_image, completion_fid, mean_interval, psnr_per_image, ssim_per_image, task_scores


def test_psnr_of_a_known_mse() -> None:
    clean = torch.zeros(2, 1, 8, 8)
    restored = torch.cat([torch.full((1, 1, 8, 8), 0.1), clean[:1]])  # MSE 0.01 -> 20 dB; identical -> the cap
    assert np.allclose(psnr_per_image(clean, restored), [20.0, PSNR_CAP])


def test_ssim_is_one_for_identical_images_and_below_for_noise() -> None:
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert np.allclose(ssim_per_image(x, x), 1.0)
    assert (ssim_per_image(x, (x + 0.3 * torch.rand(3, 1, 8, 8)).clamp(0, 1)) < 0.95).all()


def test_accuracy_and_bootstrap_interval() -> None:
    acc = accuracy_per_image(lambda images: torch.tensor([0, 1, 1, 3]), torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
    assert acc.tolist() == [1, 1, 0, 1]
    mean, low, high = mean_interval(np.r_[np.zeros(50), np.ones(50)], seed=0)
    assert mean == 0.5 and low < 0.5 < high and math.isclose(high - low, 2 * 1.96 * 0.05, rel_tol=0.25)
    assert mean_interval(np.full(10, 3.0), seed=0) == (3.0, 3.0, 3.0)


def test_task_scores_keys_and_fid_of_identical_sets() -> None:
    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    feats = lambda images: images.reshape(len(images), -1)[:, :3]  # noqa: E731
    out = task_scores("inpaint_half", x, x, 0, torch.zeros(20), lambda images: torch.zeros(len(images)), x[:, None], feats)
    assert set(out) == {f"inpaint_half_{s}{e}" for s in ("psnr", "ssim", "accuracy") for e in ("", "_ci_low", "_ci_high")} | {"inpaint_half_fid"}
    assert out["inpaint_half_accuracy"] == 1.0 and abs(out["inpaint_half_fid"]) < 1e-8
    assert completion_fid(feats, x, x[:, None] + 1.0) == pytest.approx(3.0, rel=1e-6)  # shifted means: ||1||^2 over 3 dims
