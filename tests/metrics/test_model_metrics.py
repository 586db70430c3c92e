"""The suite's model metrics with real small models: a GMM fitted to toy points (exact
likelihood, no latent) and an untrained tiny VAE on digits (likelihood bound, a latent).

Each case runs :func:`genmodels.metrics.suite.evaluate` once (module fixtures); the tests
then check the model metrics against hand computations and the null-with-reason rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from genmodels.data import PreparedData, load_dataset
from genmodels.data.config import DataConfig
from genmodels.metrics.config import EvaluateConfig
from genmodels.metrics.extractors.classifier import ClassifierExtractor
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.features import FeatureExtractor, extract
from genmodels.metrics.registry import NEEDS, metric_keys, metric_of_key
from genmodels.metrics.suite import MetricReport, evaluate, real_layers
from genmodels.models import build_model
from genmodels.models.core.base import GenerativeModel
from genmodels.models.core.dequantize import bits_per_dim, dequantize

SEED = 5
HISTORY = [{"epoch": 0.0, "loss/model": 1.0, "epoch_seconds": 1.5, "train_seconds": 1.5},
           {"epoch": 1.0, "loss/model": 0.5, "epoch_seconds": 1.75, "train_seconds": 3.25}]  # fmt: skip
#: The model metrics named by the suite's contract (each needs the model).
MODEL_KEYS = ("ppl", "nll_bits_per_dim", "anomaly_auroc", "train_seconds", "samples_per_second")


def small_config() -> EvaluateConfig:
    """Cheap settings (fields this version of EvaluateConfig does not have are left out)."""
    wanted = {"kid_subsets": 5, "kid_subset_size": 32, "is_splits": 2, "ppl_samples": 10, "throughput_samples": 10,
              "bootstrap": 0, "prdc_repeats": 1, "batch_size": 1000}  # fmt: skip
    return EvaluateConfig.model_validate({k: v for k, v in wanted.items() if k in EvaluateConfig.model_fields})


@dataclass
class Case:
    data: PreparedData
    model: GenerativeModel
    extractor: FeatureExtractor
    report: MetricReport
    cfg: EvaluateConfig


def run(
    data: PreparedData, model: GenerativeModel | None, extractor: FeatureExtractor, history: list | None, sampler: GenerativeModel | None = None
) -> MetricReport:
    """``evaluate`` on 64 samples of ``sampler`` (default: the model), with or without the model itself."""
    real = extract(extractor, data.test.x, real_layers(extractor))
    with torch.no_grad():
        fake_x = (sampler or model).sample(64, torch.Generator().manual_seed(0)).numpy()
    report, _ = evaluate(real, fake_x, extractor, data.info, small_config(), SEED, real_labels=data.test.y, model=model,
                         test_x=None if model is None else data.test.x, history=history)  # fmt: skip
    return report


@pytest.fixture(scope="module")
def toy_data() -> PreparedData:
    return load_dataset(DataConfig.model_validate({"name": "toy2d", "toy2d": {"n_train": 400, "n_test": 64}}), 0)


@pytest.fixture(scope="module")
def gmm(toy_data: PreparedData) -> Case:
    """A GMM fitted to 8-Gaussians points, evaluated with a training history."""
    torch.manual_seed(0)
    model = build_model("gmm", {"n_components": 8, "n_init": 1}, toy_data.info)
    model.fit_direct(torch.from_numpy(toy_data.train.x), None, torch.Generator().manual_seed(0))
    model.eval()
    extractor, _ = Toy2dExtractor.build(toy_data, None, 0, torch.device("cpu"))
    return Case(toy_data, model, extractor, run(toy_data, model, extractor, HISTORY), small_config())


@pytest.fixture(scope="module")
def vae(digits) -> Case:
    """An untrained tiny VAE on 64 test digits, evaluated without a history."""
    data = PreparedData(train=digits.train, test=type(digits.test)(digits.test.x[:64], digits.test.y[:64]), info=digits.info)
    torch.manual_seed(0)
    model = build_model("vae", {"hidden": [32], "latent_dim": 4, "prior_components": 5, "iw_samples": 4}, data.info).eval()
    extractor = ClassifierExtractor(list(data.info.shape), data.info.num_classes, width=4, feature_dim=8).eval()
    return Case(data, model, extractor, run(data, model, extractor, None), small_config())


@pytest.fixture(scope="module")
def samples_only(gmm: Case) -> MetricReport:
    """The same points and samples as the GMM case, but no model."""
    return run(gmm.data, None, gmm.extractor, HISTORY, sampler=gmm.model)


def test_every_registered_key_is_present_and_every_null_has_a_reason(gmm: Case, vae: Case, samples_only: MetricReport) -> None:
    for report in (gmm.report, vae.report, samples_only):
        assert set(metric_keys()) <= set(report.metrics)
        out = report.as_json()
        assert set(metric_keys()) <= set(out)
        for key in metric_keys():
            value = out[key]
            if value is None:
                assert out["notes"].get(key), f"{key} is null without a reason"
            else:
                assert isinstance(value, float) and math.isfinite(value), (key, value)


def hand_bits(case: Case, generators: tuple[int, int]) -> float:
    """Mean bits/dim of the test split: seeded dequantization, the model's log-likelihood, the convention."""
    info = case.data.info
    x = torch.from_numpy(case.data.test.x)
    v = dequantize(x, info.levels, torch.Generator().manual_seed(SEED + generators[0]))
    with torch.no_grad():
        ll = case.model.log_likelihood(v, torch.Generator().manual_seed(SEED + generators[1])).double()
    return float(bits_per_dim(ll, math.prod(info.shape), info.levels).mean())


def test_nll_of_an_exact_model_on_points_is_its_mean_log_density_in_bits(gmm: Case) -> None:
    info = gmm.data.info
    assert info.levels is None  # continuous: no dequantization, bits = -log p / (D ln 2)
    with torch.no_grad():
        ll = gmm.model.log_likelihood(torch.from_numpy(gmm.data.test.x), torch.Generator()).double()
    expected = float((-ll / (2 * math.log(2.0))).mean())
    assert gmm.report.metrics["nll_bits_per_dim"] == pytest.approx(expected, rel=1e-6)
    assert gmm.report.metrics["nll_bits_per_dim"] == pytest.approx(hand_bits(gmm, (1, 2)), rel=1e-6)
    assert gmm.report.notes["nll_bits_per_dim"].startswith("exact")


def hand_discrete_bits(case: Case, generator: int) -> float:
    """Mean discrete NLL (bits/dim) of the test split on its levels, from the model's ``discrete_log_prob``."""
    info = case.data.info
    with torch.no_grad():
        lp = case.model.discrete_log_prob(torch.from_numpy(case.data.test.x), torch.Generator().manual_seed(SEED + generator), case.cfg.nll_dequant_samples)
    return float((-lp.double() / (math.prod(info.shape) * math.log(2.0))).mean())


def test_nll_of_a_vae_is_its_discrete_bound_and_the_dequantized_figure_is_kept(vae: Case) -> None:
    """Same seeds as the suite (dequantization: seed + 1; the IW estimators: seed + 2; one batch)."""
    assert vae.cfg.batch_size >= len(vae.data.test)
    expected = hand_discrete_bits(vae, 2)
    assert vae.report.metrics["nll_bits_per_dim"] == pytest.approx(expected, rel=1e-6)
    assert hand_discrete_bits(vae, 12) != pytest.approx(expected, rel=1e-9)  # the seeds matter: the match is not luck
    assert "upper bound" in vae.report.notes["nll_bits_per_dim"]
    dequant = hand_bits(vae, (1, 2))
    assert vae.report.extra["nll_dequant_bits_per_dim"] == pytest.approx(dequant, rel=1e-6)
    assert 0.0 < expected < dequant < 20.0  # integrating the decoder over each cell beats one point of it
    assert vae.report.metrics["nll_bits_per_dim_low"] is None and "no two-sided bound" in vae.report.notes["nll_bits_per_dim_low"]


def test_ppl_is_null_with_the_reason_without_a_latent_and_a_number_with_one(gmm: Case, vae: Case) -> None:
    assert gmm.model.latent_dim is None
    assert gmm.report.metrics["ppl"] is None and "no latent decoder" in gmm.report.notes["ppl"]
    assert vae.model.latent_dim == 4
    value = vae.report.metrics["ppl"]
    assert isinstance(value, float) and math.isfinite(value) and value >= 0.0
    assert vae.report.extra["ppl_median"] >= 0.0  # reported beside the trimmed mean


def test_ppl_is_null_for_a_quantized_decoder(digits) -> None:  # noqa: ANN001
    """The flow's front end on the grey levels makes its inverse jump between cells: no PPL."""
    data = PreparedData(train=digits.train, test=type(digits.test)(digits.test.x[:64], digits.test.y[:64]), info=digits.info)
    torch.manual_seed(0)
    model = build_model("flow", {"front_hidden": [16], "conv_width": 4}, data.info).eval()
    assert model.latent_dim == 64 and not model.continuous_decoder
    extractor = ClassifierExtractor(list(data.info.shape), data.info.num_classes, width=4, feature_dim=8).eval()
    report = run(data, model, extractor, None)
    assert report.metrics["ppl"] is None and "discontinuous" in report.notes["ppl"]
    assert build_model("flow", {"front_max_levels": 0, "conv_width": 4}, data.info).continuous_decoder  # plain RealNVP: defined


def test_anomaly_auroc_is_an_auroc_and_separates_noise_for_a_fitted_model(gmm: Case, vae: Case) -> None:
    for case in (gmm, vae):
        value = case.report.metrics["anomaly_auroc"]
        assert value is not None and 0.0 <= value <= 1.0
    # 8 narrow Gaussians vs uniform noise over the data's range: a fitted density separates them
    assert gmm.report.metrics["anomaly_auroc"] > 0.95


def test_costs_come_from_the_history_and_the_sampler(gmm: Case, vae: Case) -> None:
    assert gmm.report.metrics["train_seconds"] == HISTORY[-1]["train_seconds"]
    assert vae.report.metrics["train_seconds"] is None and vae.report.notes["train_seconds"] == NEEDS["history"]
    for case in (gmm, vae):
        assert case.report.metrics["samples_per_second"] > 0


def test_without_the_model_its_metrics_are_null_with_the_reason(samples_only: MetricReport) -> None:
    have = {"samples", "features", "logits", "labels", "history"}  # what the samples-only case supplies
    needing = [k for k in metric_keys() if "model" in metric_of_key(k).needs]
    assert set(MODEL_KEYS) <= set(needing)
    for key in needing:  # the reason is the first missing need, in NEEDS order
        first_missing = next(n for n in NEEDS if n in metric_of_key(key).needs and n not in have)
        assert samples_only.metrics[key] is None and samples_only.notes[key] == NEEDS[first_missing], key
    for key in MODEL_KEYS:
        assert samples_only.notes[key] == NEEDS["model"] == "needs the model, not only samples", key
    assert samples_only.metrics["fid"] is not None  # the sample metrics still ran
