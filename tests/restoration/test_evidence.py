import math

import torch

from genmodels.restoration.evidence import block_index, block_sums, clipped_gaussian_log_lik, level_evidence
from genmodels.restoration.tasks import get_task


def test_the_clipped_gaussian_is_a_probability_law_on_0_1() -> None:
    """Density inside plus the two end masses integrate to 1 (closed form: Phi terms)."""
    sigma, x = 0.3, torch.tensor(0.2, dtype=torch.float64)
    grid = torch.linspace(1e-12, 1 - 1e-12, 20001, dtype=torch.float64)
    inside = torch.trapezoid(clipped_gaussian_log_lik(grid, x, sigma).exp(), grid)
    ends = clipped_gaussian_log_lik(torch.tensor(0.0), x, sigma).exp() + clipped_gaussian_log_lik(torch.tensor(1.0), x, sigma).exp()
    assert math.isclose(float(inside + ends), 1.0, abs_tol=1e-6)


def test_mask_evidence_clamps_observed_pixels_only() -> None:
    x = torch.tensor([0, 0.5, 1, 0.5]).view(1, 1, 2, 2)
    obs = get_task("inpaint-half").corrupt(x, 0)
    log_e = level_evidence(obs, 3)[0]
    assert torch.equal(log_e[0], torch.tensor([0.0, -math.inf, -math.inf], dtype=torch.float64))
    assert torch.equal(log_e[1], torch.tensor([-math.inf, 0.0, -math.inf], dtype=torch.float64))
    assert (log_e[2:] == 0).all()


def test_block_sums_recover_the_level_sums() -> None:
    k = torch.randint(0, 17, (3, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    obs = get_task("superres-2").corrupt(k.float() / 16, 0)
    idx = block_index((1, 8, 8), 2)
    assert torch.equal(block_sums(obs, 17), k.reshape(3, -1)[:, idx].sum(-1))
