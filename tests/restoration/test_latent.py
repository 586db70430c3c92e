import torch

from genmodels.restoration.latent import latent_map, log_likelihood
from genmodels.restoration.tasks import get_task
from tests.restoration.enumerate import tiny_images


def test_linear_decoder_reaches_the_ridge_solution() -> None:
    """x = W z + b, y = x + N(0, s^2), z ~ N(0, I): the MAP is (W'W/s^2 + I)^-1 W'(y - b)/s^2."""
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(4, 2, generator=g) * 0.3, torch.full((4,), 0.5)
    obs = get_task("denoise-0.5").corrupt(tiny_images(), 0)
    y = obs.y.reshape(3, 4)
    decode = lambda z: (z @ w.T + b).view(-1, 1, 2, 2)  # noqa: E731
    objective = lambda x: -0.5 * ((x - obs.y) / 0.5).flatten(1).pow(2).sum(1)  # noqa: E731
    z, _ = latent_map(decode, lambda z: -0.5 * z.pow(2).sum(1), torch.zeros(3, 2), objective, 500, 0.05)
    s2 = 0.25
    expected = torch.linalg.solve(w.T @ w / s2 + torch.eye(2), ((y - b) @ w / s2).T).T
    assert torch.allclose(z, expected, atol=1e-3)


def test_nonlinear_one_dimensional_latent_finds_the_grid_optimum() -> None:
    """A 1-D latent enumerated on a fine grid: the search from near the best grid point lands on it."""
    decode = lambda z: torch.sigmoid(z * torch.tensor([1.0, -2.0, 0.5, 3.0])).view(-1, 1, 2, 2)  # noqa: E731
    obs = get_task("inpaint-half").corrupt(decode(torch.tensor([[0.7]])), 0)
    prior = lambda z: -0.5 * z.pow(2).sum(1)  # noqa: E731
    objective = lambda x: log_likelihood(obs, x, obs.y, 0.05)  # noqa: E731
    grid = torch.linspace(-3, 3, 60001)[:, None]
    values = objective(decode(grid)) + prior(grid)
    best = grid[values.argmax()]
    z, _ = latent_map(decode, prior, best[None] + 0.2, objective, 800, 0.01)
    assert abs(float(z) - float(best)) < 2e-3
