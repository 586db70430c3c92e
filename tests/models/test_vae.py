"""VAE specifics: the importance-weighted bound tightens with k and bounds the ELBO."""

from __future__ import annotations

import copy

import pytest
import torch

from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.core.dequantize import dequantize

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))


def test_iwae_bound_increases_with_k(digits) -> None:
    torch.manual_seed(0)
    x = dequantize(torch.from_numpy(digits.test.x[:64]), 17, torch.Generator().manual_seed(0))
    vals = []
    for k in (1, 16, 256):
        torch.manual_seed(0)  # the same weights for every k
        model = build_model("vae", {"iw_samples": k, "prior": "standard"}, INFO).eval()
        vals.append(float(model.log_likelihood(x, torch.Generator().manual_seed(1)).mean()))
    assert vals[0] < vals[1] < vals[2]


def test_conv_variant_trains_on_images(digits) -> None:
    torch.manual_seed(0)
    model = build_model("vae", {"arch": "conv", "conv_width": 8}, INFO)
    (group, loss), = list(model.training_losses(torch.from_numpy(digits.train.x[:16]), None, torch.Generator().manual_seed(0)))
    loss.backward()
    assert group == "model" and torch.isfinite(loss)


def _with_prior(prior: str, **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("vae", {"prior": prior, "latent_dim": 1, "prior_components": 5, **extra}, INFO).eval()


@pytest.mark.parametrize("prior", ["standard", "mixture", "vamp"])
def test_prior_density_integrates_to_one(prior: str) -> None:
    model = _with_prior(prior)
    if prior == "mixture":
        with torch.no_grad():
            model.prior_mixture.log_std.uniform_(-1.0, 0.5)
            model.prior_mixture.logits.normal_()
    z = torch.linspace(-30, 30, 200001).unsqueeze(1)
    with torch.no_grad():
        mass = torch.trapezoid(model.log_prior(z).double().exp(), z.squeeze(1).double())
    assert float(mass) == pytest.approx(1.0, abs=1e-4)


def test_one_standard_component_gives_the_standard_bound() -> None:
    """A mixture prior of one N(0, I) component is the standard prior: same IW bound, same draws' law."""
    torch.manual_seed(0)
    standard = build_model("vae", {"prior": "standard", "latent_dim": 4}, INFO).eval()
    mixture = build_model("vae", {"prior": "mixture", "latent_dim": 4, "prior_components": 1}, INFO).eval()
    mixture.load_state_dict(standard.state_dict(), strict=False)
    with torch.no_grad():
        mixture.prior_mixture.means.zero_()
        mixture.prior_mixture.log_std.zero_()
    x = dequantize(torch.rand(32, 1, 8, 8), 17, torch.Generator().manual_seed(0))
    a = standard.log_likelihood(x, torch.Generator().manual_seed(1))
    b = mixture.log_likelihood(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_sample_latent_matches_mixture_moments() -> None:
    """Draws of a VampPrior have the mixture's mean sum_k w_k m_k and variance sum_k w_k (s_k^2 + m_k^2) - mean^2."""
    model = _with_prior("vamp")
    with torch.no_grad():
        means, log_std, log_w = (t.double() for t in model.prior_components())
        w = log_w.exp()
        mean = (w[:, None] * means).sum(0)
        var = (w[:, None] * ((2 * log_std).exp() + means**2)).sum(0) - mean**2
        z = model.sample_latent(200_000, torch.Generator().manual_seed(0)).double()
    assert float(z.mean()) == pytest.approx(float(mean), abs=4 * float(var.sqrt()) / 200_000**0.5)
    assert float(z.var()) == pytest.approx(float(var), rel=0.02)
    assert not model.gaussian_latent and _with_prior("standard").gaussian_latent


@pytest.mark.parametrize("prior", ["mixture", "vamp"])
def test_learned_prior_gets_gradients(prior: str, digits) -> None:
    model = _with_prior(prior)
    (_, loss), = list(model.training_losses(torch.from_numpy(digits.train.x[:32]), None, torch.Generator().manual_seed(0)))
    loss.backward()
    names = {"mixture": ["prior_mixture.means", "prior_mixture.log_std", "prior_mixture.logits"], "vamp": ["pseudo_inputs"]}[prior]
    params = dict(model.named_parameters())
    for name in names:
        grad = params[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("prior", "keys"),
    [("standard", []), ("mixture", ["prior_mixture.log_std", "prior_mixture.logits", "prior_mixture.means"]), ("vamp", ["pseudo_inputs"])],
)
def test_prior_parameters_keep_their_checkpoint_names(prior: str, keys: list[str]) -> None:
    """The prior strategies register their parameters on the VAE under the names older checkpoints use."""
    model = _with_prior(prior)
    prior_params = sorted(n for n, _ in model.named_parameters() if not n.startswith(("encoder.", "decoder.")))
    assert prior_params == keys == sorted(k for k in model.state_dict() if not k.startswith(("encoder.", "decoder.")))


@pytest.mark.parametrize("prior", ["mixture", "vamp"])
def test_prior_follows_copies_and_reloaded_parameters(prior: str) -> None:
    """The strategy reads the parameters of the model it belongs to: a deep copy's, or ones assigned by load_state_dict."""
    model = _with_prior(prior)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(0.5)
    z = torch.linspace(-3, 3, 7).unsqueeze(1)
    with torch.no_grad():
        assert not torch.equal(twin.log_prior(z), model.log_prior(z))
        fresh = _with_prior(prior)
        fresh.load_state_dict(twin.state_dict(), assign=True)
        assert torch.equal(fresh.log_prior(z), twin.log_prior(z))


def test_discrete_training_term_is_the_cell_mass_of_the_levels(digits) -> None:
    """``likelihood: discrete``: the reconstruction term is ``-sum_d log P(k_d | z)`` (cells with tails),
    in density units (``log p(v) = log P(k) + D log K``), so the loss is the negative discrete ELBO per dimension."""
    import math

    from genmodels.models.core.dequantize import level_edges, log_normal_cell_mass

    torch.manual_seed(0)
    model = build_model("vae", {"prior": "standard", "likelihood": "discrete"}, INFO)
    x = torch.from_numpy(digits.train.x[:32])
    (_, loss), = list(model.training_losses(x, None, torch.Generator().manual_seed(3)))
    g = torch.Generator().manual_seed(3)  # replay the same draws: dequantization, then eps
    v = dequantize(x, 17, g)
    mu, log_std = model.encode(v)
    z = mu + torch.randn(mu.shape, generator=g) * log_std.exp()
    _, mean, dec_log_std = model.decoder_mixture(z)  # one component: (n, 1, D)
    lo, hi = (e.flatten(1) for e in level_edges(x, 17))
    log_pk = log_normal_cell_mass(lo, hi, mean.flatten(1), dec_log_std.flatten(1)).sum(1)
    kl = 0.5 * (mu**2 + (2 * log_std).exp() - 1 - 2 * log_std).sum(1)
    expected = (-(log_pk + 64 * math.log(17)) + kl).mean() / 64
    torch.testing.assert_close(loss, expected.float(), rtol=1e-5, atol=1e-6)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_mixture_decoder_is_a_distribution_on_the_levels_and_draws_follow_it() -> None:
    """``decoder_components: 3``: at a fixed ``z`` the level probabilities of every image of a tiny
    space sum to 1, and the decoder's draws at the levels follow them."""
    import itertools

    info = DatasetInfo("tiny", "image", (1, 1, 2), 3, None, (0.0, 1.0))
    torch.manual_seed(0)
    model = build_model("vae", {"decoder_components": 3, "prior": "standard", "latent_dim": 2, "hidden": [8]}, info).eval()
    with torch.no_grad():
        for p in model.decoder.parameters():  # spread the components apart
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
        z = torch.zeros(1, 2)
        images = torch.tensor(list(itertools.product(range(3), repeat=2)), dtype=torch.float32).view(9, 1, 1, 2) / 2
        mixture = tuple(t.expand(9, -1, -1) for t in model.decoder_mixture(z))
        p = model.log_px_given_z(images, mixture, discrete=True).exp()
        assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)  # float32 weights
        draws = model.decode_sample(z.expand(20000, -1), torch.Generator().manual_seed(2)).view(-1, 2) * 2
        counts = torch.zeros(9)
        for a, b in draws.round().long().tolist():
            counts[3 * a + b] += 1
        assert torch.allclose(counts / 20000, p.float(), atol=0.015)


def test_refit_prior_replaces_the_prior_after_training(digits) -> None:
    """``refit_prior``: the trained prior until finish_training, then the EM mixture on the aggregate
    posterior, whose density the IW bound uses and whose draws sample() decodes."""
    from sklearn.mixture import GaussianMixture

    torch.manual_seed(0)
    model = build_model("vae", {"latent_dim": 2, "hidden": [16], "refit_prior": 3, "refit_draws": 4, "prior_components": 5}, INFO).eval()
    x = torch.from_numpy(digits.train.x[:200])
    z = torch.randn(7, 2)
    before = model.log_prior(z)
    assert torch.allclose(before, model.latent_prior.trained.log_prob(z))
    stats = model.finish_training(x, torch.Generator().manual_seed(0))
    assert bool(model.refit_fitted) and stats["prior_refit_converged"] == 1.0
    assert model.prior_components() is None
    # the prior is the mixture scikit-learn fits to the same draws
    gen = torch.Generator().manual_seed(0)
    from genmodels.models.core.mixture import sklearn_seed

    v = dequantize(x, 17, None)
    with torch.no_grad():
        mu, log_std = model.encode(v)
    draws = torch.cat([mu + log_std.exp() * torch.randn(mu.shape, generator=gen) for _ in range(4)])
    gm = GaussianMixture(3, covariance_type="full", reg_covar=1e-4, max_iter=500, random_state=sklearn_seed(gen)).fit(draws.double().numpy())
    torch.testing.assert_close(model.log_prior(z).double(), torch.from_numpy(gm.score_samples(z.double().numpy())), rtol=1e-5, atol=1e-5)
    # a checkpoint restores it; draws come from it
    clone = build_model("vae", model.config.model_dump(), INFO).eval()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.log_prior(z), model.log_prior(z))
    zs = model.sample_latent(20_000, torch.Generator().manual_seed(1))
    assert torch.allclose(zs.mean(0).double(), torch.from_numpy(gm.weights_ @ gm.means_), atol=0.05)
    assert torch.isfinite(model.log_likelihood(v[:8], torch.Generator().manual_seed(2))).all()


def test_anomaly_score_is_the_discrete_bound_on_levels(digits) -> None:
    """Trained on the levels, the VAE scores anomalies by -log P(k) (what its NLL reports),
    whatever the dequantization noise of the input; dequantized training keeps the density."""
    torch.manual_seed(0)
    model = build_model("vae", {"latent_dim": 2, "hidden": [16], "prior": "standard"}, INFO).eval()
    x = torch.from_numpy(digits.test.x[:16])
    v = dequantize(x, 17, torch.Generator().manual_seed(1))
    expected = -model.discrete_log_prob(x, torch.Generator().manual_seed(2))
    torch.testing.assert_close(model.anomaly_score(v, torch.Generator().manual_seed(2)), expected)
    torch.manual_seed(0)
    dense = build_model("vae", {"latent_dim": 2, "hidden": [16], "prior": "standard", "likelihood": "dequantized"}, INFO).eval()
    torch.testing.assert_close(dense.anomaly_score(v, torch.Generator().manual_seed(2)), -dense.log_likelihood(v, torch.Generator().manual_seed(2)))


def test_kl_warmup_ramps_the_kl_weight_over_its_steps_and_resumes_from_a_checkpoint(digits) -> None:
    """``kl_warmup_steps: N``: the KL weight is ``beta * min(1, (t + 1) / N)`` at training step t; evaluation
    does not advance it; the step count is saved with the weights; without it, no extra state."""
    assert "kl_steps" not in build_model("vae", {"latent_dim": 2}, INFO).state_dict()
    model = build_model("vae", {"latent_dim": 2, "beta": 0.5, "kl_warmup_steps": 4}, INFO).train()
    weights = [float(model.kl_weight()) for _ in range(3)]
    model.eval()
    assert float(model.kl_weight()) == float(model.kl_weight()) == pytest.approx(0.5 * 4 / 4)  # t = 3, not advanced
    model.train()
    weights += [float(model.kl_weight()) for _ in range(3)]
    assert weights == pytest.approx([0.5 * 1 / 4, 0.5 * 2 / 4, 0.5 * 3 / 4, 0.5, 0.5, 0.5])
    resumed = build_model("vae", {"latent_dim": 2, "beta": 0.5, "kl_warmup_steps": 8}, INFO).train()
    resumed.load_state_dict(build_model("vae", {"latent_dim": 2, "kl_warmup_steps": 8}, INFO).state_dict() | {"kl_steps": torch.tensor(5)})
    assert float(resumed.kl_weight()) == pytest.approx(0.5 * 6 / 8)
    x = torch.from_numpy(digits.train.x[:16])
    (_, loss), = list(model.training_losses(x, None, torch.Generator().manual_seed(0)))
    assert torch.isfinite(loss) and int(model.kl_steps) == 7


@pytest.mark.parametrize(("margin", "most"), [(0.0, 0.942), (0.5, 1.0)])
def test_mean_margin_lets_the_outer_level_take_a_pixels_whole_mass_at_256_levels(margin: float, most: float) -> None:
    """At 256 levels a decoder mean squashed into [0, 1] gives level 0 (the cell [0, 1/256) with its
    lower tail) at most Phi(a cell / the floor's sd) = Phi(0.0039 / 0.00248) = 0.942, whatever the
    training; ``mean_margin: 0.5`` (means in [-0.5, 1.5]) lets it reach 1."""
    info = DatasetInfo("tiny", "image", (1, 1, 1), 256, None, (0.0, 1.0))
    model = build_model("vae", {"prior": "standard", "latent_dim": 1, "hidden": [4], "mean_margin": margin}, info).eval()
    with torch.no_grad():
        last = model.decoder[-1] if isinstance(model.decoder, torch.nn.Sequential) else model.decoder.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([-1e3, -1e3]))  # mean as low as the squashing allows, sd at its floor
        mixture = model.decoder_mixture(torch.zeros(1, 1))
        p0 = float(model.log_px_given_z(torch.zeros(1, 1, 1, 1), mixture, discrete=True).exp())
        draws = model.decode_sample(torch.zeros(4000, 1), torch.Generator().manual_seed(0))
    assert p0 == pytest.approx(most, abs=0.01)
    assert float((draws == 0).float().mean()) == pytest.approx(p0, abs=0.03)
