"""Feature extractors: the contract over every registered extractor (build, layers, batch-size
independence, save/load, ``auto``), then the built-ins' specifics."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from genmodels.data import PreparedData, Samples, load_dataset
from genmodels.data.base import DatasetInfo
from genmodels.data.config import DataConfig
from genmodels.errors import ConfigError
from genmodels.metrics.build import build_extractor, resolve_extractor_name
from genmodels.metrics.config import EvaluatorConfig
from genmodels.metrics.extractors.classifier import ClassifierExtractor, accuracy, constant_features, n_blocks, train_classifier
from genmodels.metrics.extractors.inception import OFFICIAL_WEIGHTS_NAME
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.features import CONFIG_FILE, FEATURE_EXTRACTORS, FeatureExtractor, extract, fingerprint, load_extractor, save_extractor
from tests.metrics.test_inception import random_inception

# ------------------------------------------------------------------ the contract, per extractor


@dataclass(frozen=True)
class Case:
    """How to build one extractor for the contract: on which data, with which ``evaluator`` fields."""

    data: str  # "digits" (labelled 8x8 images) or "toy2d" (2-D points)
    evaluator: Callable[[Path], dict[str, Any]] = lambda tmp: {}  # its fields; tmp: a folder for files it needs
    n: int = 64  # inputs extracted
    batches: tuple[int, int] = (7, 64)  # the two batch sizes compared
    atol: float = 1e-5  # batch-size independence tolerance (float32 convolutions)


def _inception_weights(tmp: Path) -> dict[str, Any]:
    path = tmp / OFFICIAL_WEIGHTS_NAME  # seeded random weights (no pretrained file offline)
    torch.save(random_inception().state_dict(), path)
    return {"inception_weights": str(path)}


CASES: dict[str, Case] = {
    "classifier": Case("digits", lambda tmp: {"epochs": 1, "width": 4, "feature_dim": 8}),
    "toy2d": Case("toy2d"),
    # 299x299 inputs cost seconds per image on a CPU: two images, batches of one and two
    "inception-v3-compat": Case("digits", _inception_weights, n=2, batches=(1, 2), atol=1e-4),
}


@pytest.fixture(scope="module")
def prepared(digits) -> dict[str, PreparedData]:
    small = PreparedData(
        train=Samples(digits.train.x[:256], digits.train.y[:256]), test=Samples(digits.test.x[:64], digits.test.y[:64]), info=digits.info,
        val=Samples(digits.val.x[:64], digits.val.y[:64]),
    )  # fmt: skip
    toy = load_dataset(DataConfig.model_validate({"name": "toy2d", "toy2d": {"n_train": 200, "n_test": 64}}), 0)
    return {"digits": small, "toy2d": toy}


@dataclass
class Built:
    extractor: FeatureExtractor
    card: dict[str, Any]
    x: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)  # every layer, at the larger batch size


@pytest.fixture(scope="module")
def built(prepared, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    """``built(name)``: the extractor made by ``build_extractor`` from its case (once per module)."""
    cache: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in CASES:
            pytest.fail(f"feature extractor {name!r} has no case in CASES of {Path(__file__).name}; add one")
        if name not in cache:
            case = CASES[name]
            data = prepared[case.data]
            cfg = EvaluatorConfig.model_validate({"extractor": name, **case.evaluator(tmp_path_factory.mktemp(name))})
            extractor, card = build_extractor(data, cfg, seed=0)
            x = data.test.x[: case.n]
            b = Built(extractor, card, x)
            b.features = extract(extractor, x, extractor.feature_layers, batch_size=case.batches[1])
            cache[name] = b
        return cache[name]

    return get


def test_every_registered_extractor_has_a_case() -> None:
    missing = [name for name in FEATURE_EXTRACTORS.names() if name not in CASES]
    assert not missing, f"feature extractor(s) {missing} registered without a case in CASES of {Path(__file__).name}"
    assert not set(CASES) - set(FEATURE_EXTRACTORS.names()), "CASES names an unregistered extractor"


@pytest.mark.parametrize("name", FEATURE_EXTRACTORS.names())
def test_build_gives_the_extractor_and_a_json_card(name: str, built) -> None:
    b = built(name)
    assert type(b.extractor) is FEATURE_EXTRACTORS.get(name) and b.extractor.name == name
    assert not b.extractor.training
    assert b.card["extractor"] == name
    json.dumps(b.card)  # written as the evaluator's card


@pytest.mark.parametrize("name", FEATURE_EXTRACTORS.names())
def test_extract_returns_every_declared_layer(name: str, built) -> None:
    b = built(name)
    layers = b.extractor.feature_layers
    assert "features" in layers and set(b.extractor.perceptual_layers) <= set(layers)
    assert b.extractor.has_logits == ("logits" in layers)
    assert set(b.features) == set(layers)
    for layer, arr in b.features.items():
        assert arr.dtype == np.float32 and arr.ndim == 2 and len(arr) == len(b.x), (layer, arr.shape)
        assert np.isfinite(arr).all(), layer
    assert b.features["features"].std() > 0
    if b.extractor.has_logits:
        assert b.features["logits"].shape[1] >= 2
    with pytest.raises(ValueError, match="has no layer"):
        extract(b.extractor, b.x, ("no-such-layer",))


@pytest.mark.parametrize("name", FEATURE_EXTRACTORS.names())
def test_features_do_not_depend_on_the_batch_size(name: str, built) -> None:
    b, case = built(name), CASES[name]
    small = extract(b.extractor, b.x, b.extractor.feature_layers, batch_size=case.batches[0])
    for layer in b.extractor.feature_layers:
        np.testing.assert_allclose(small[layer], b.features[layer], rtol=1e-4, atol=case.atol, err_msg=layer)


@pytest.mark.parametrize("name", FEATURE_EXTRACTORS.names())
def test_save_and_load_give_identical_features(name: str, built, tmp_path: Path) -> None:
    b, case = built(name), CASES[name]
    save_extractor(b.extractor, tmp_path)
    loaded = load_extractor(tmp_path)
    assert type(loaded) is type(b.extractor) and loaded.kwargs == b.extractor.kwargs and not loaded.training
    assert loaded.feature_layers == b.extractor.feature_layers
    assert fingerprint(loaded) == fingerprint(b.extractor)
    again = extract(loaded, b.x, loaded.feature_layers, batch_size=case.batches[1])
    for layer in loaded.feature_layers:
        np.testing.assert_array_equal(again[layer], b.features[layer], err_msg=layer)


DATA_KINDS = typing.get_args(typing.get_type_hints(DatasetInfo)["kind"])


@pytest.mark.parametrize("kind", DATA_KINDS)
def test_auto_picks_the_first_registered_extractor_declaring_the_kind(kind: str, prepared, tmp_path: Path) -> None:
    declaring = [n for n in FEATURE_EXTRACTORS.ordered() if kind in FEATURE_EXTRACTORS.get(n).auto_for]
    assert declaring, f"no registered extractor is the default for {kind} data"
    assert resolve_extractor_name("auto", kind) == declaring[0]
    for name in FEATURE_EXTRACTORS.names():  # a name is taken as it is
        assert resolve_extractor_name(name, kind) == name
    with pytest.raises(ConfigError, match="unknown feature extractor 'nope'"):
        resolve_extractor_name("nope", kind)
    case = CASES.get(declaring[0])
    if case is not None and prepared[case.data].info.kind == kind:  # build_extractor follows auto too
        fields = case.evaluator(tmp_path)
        extractor, _ = build_extractor(prepared[case.data], EvaluatorConfig.model_validate({**fields, "extractor": "auto"}), seed=0)
        assert type(extractor) is FEATURE_EXTRACTORS.get(declaring[0])


def test_auto_without_a_default_for_the_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no registered extractor is the default for sounds data"):
        resolve_extractor_name("auto", "sounds")


# ------------------------------------------------------------------ built-in specifics


def test_builtins_are_registered() -> None:
    assert {"classifier", "toy2d"} <= set(FEATURE_EXTRACTORS.names())


@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize(("side", "blocks"), [(8, 2), (16, 3), (28, 3), (32, 3), (4, 1)])
def test_block_plan(side: int, blocks: int, norm: bool) -> None:
    assert n_blocks(side, side) == blocks
    torch.manual_seed(0)
    net = ClassifierExtractor([1, side, side], 10, width=4, feature_dim=8, norm=norm).eval()
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules()) == norm
    out = net(torch.rand(2, 1, side, side))
    assert out["features"].shape == (2, 8) and out["logits"].shape == (2, 10)
    assert net.perceptual_layers == tuple(f"block{i + 1}" for i in range(blocks))


@pytest.mark.parametrize("norm", [True, False])
def test_save_load_and_batch_independence(tmp_path, norm: bool) -> None:
    torch.manual_seed(0)
    net = ClassifierExtractor([1, 8, 8], 10, width=4, feature_dim=8, norm=norm)
    if norm:  # running statistics away from their initial values, as after training
        net.train()
        net(torch.rand(16, 1, 8, 8) * 3)
        net.eval()
    save_extractor(net, tmp_path)
    loaded = load_extractor(tmp_path)
    x = np.random.default_rng(0).random((37, 1, 8, 8), dtype=np.float32)
    a = extract(net, x, ("features", "logits"), batch_size=5)
    b = extract(loaded, x, ("features", "logits"), batch_size=100)
    np.testing.assert_allclose(a["features"], b["features"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a["logits"], b["logits"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has no layer"):
        extract(net, x, ("pool9",))


def test_classifier_learns_digits(digits) -> None:
    model = train_classifier(digits.train.x, digits.train.y, 10, epochs=6, batch_size=64, lr=2e-3, width=32, feature_dim=64, seed=0)
    assert accuracy(model, digits.test.x, digits.test.y) > 0.9


def test_toy2d_logits_are_the_mixture_posterior() -> None:
    from genmodels.data.toy2d import mixture_posterior

    means = [[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]]
    ex = Toy2dExtractor(means, 0.5, [0.2, 0.3, 0.5])
    x = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    out = extract(ex, x, ("features", "logits"))
    np.testing.assert_allclose(out["features"], x)
    np.testing.assert_allclose(np.exp(out["logits"]), mixture_posterior(x, np.array(means), 0.5, np.array([0.2, 0.3, 0.5])), atol=1e-5)
    assert Toy2dExtractor(None).feature_layers == ("features",)


def test_feature_cache_hits_and_misses(tmp_path) -> None:
    from genmodels.metrics.features import extract_cached, fingerprint

    torch.manual_seed(0)
    net = ClassifierExtractor([1, 8, 8], 10, width=4, feature_dim=8)
    x = np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32)
    first = extract_cached(net, x, ("features",), tmp_path)
    assert len(list(tmp_path.glob("classifier-*.npz"))) == 1
    again = extract_cached(net, x, ("features",), tmp_path)
    np.testing.assert_array_equal(first["features"], again["features"])
    assert len(list(tmp_path.glob("*.npz"))) == 1  # a hit writes nothing
    extract_cached(net, x[:10], ("features",), tmp_path)  # other data: a new entry
    before = fingerprint(net)
    with torch.no_grad():
        net.classify.bias += 1  # other weights: other fingerprint, a new entry
    assert fingerprint(net) != before
    extract_cached(net, x, ("features",), tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_trained_features_have_unit_rms(digits) -> None:
    model = train_classifier(digits.train.x[:200], digits.train.y[:200], 10, epochs=1, batch_size=64, lr=2e-3, width=8, feature_dim=16, seed=0)
    feats = extract(model, digits.train.x[:200], ("features",))["features"]
    assert np.sqrt(np.mean(feats**2)) == pytest.approx(1.0, rel=1e-4)


def test_a_folder_without_the_norm_key_loads_the_plain_network(tmp_path) -> None:
    torch.manual_seed(0)
    plain = ClassifierExtractor([1, 8, 8], 10, width=4, feature_dim=8)
    save_extractor(plain, tmp_path)
    config = tmp_path / CONFIG_FILE
    meta = json.loads(config.read_text())
    del meta["kwargs"]["norm"]
    config.write_text(json.dumps(meta))
    loaded = load_extractor(tmp_path)
    assert "norm" not in loaded.kwargs or loaded.kwargs["norm"] is False
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.modules())
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(extract(loaded, x, ("logits",))["logits"], extract(plain, x, ("logits",))["logits"])


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small labelled image set: class k is a bright 3x3 square in the k-th quadrant of an 8x8 image, on noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.random((n, 1, 8, 8), dtype=np.float32) * 0.3
    for i, k in enumerate(y):
        r, c = 4 * (k // 2) + rng.integers(0, 2), 4 * (k % 2) + rng.integers(0, 2)
        x[i, 0, r : r + 3, c : c + 3] = 1.0
    return x, y


TINY = {"epochs": 8, "batch_size": 32, "lr": 3e-3, "width": 4, "feature_dim": 16, "max_shift": 1, "max_degrees": 10.0}


def test_classifier_training_is_deterministic_for_a_seed() -> None:
    x, y = _blobs(96, 0)
    a, b, c = (train_classifier(x, y, 4, seed=s, **{**TINY, "epochs": 2}) for s in (0, 0, 1))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_trained_classifier_has_no_constant_features_and_learns_the_blobs() -> None:
    x, y = _blobs(256, 0)
    held_x, held_y = _blobs(128, 1)
    model = train_classifier(x, y, 4, seed=0, **TINY)
    feats = extract(model, held_x, ("features",))["features"]
    assert feats.min() >= 0.0  # after the ReLU, as Inception's pool3 features
    assert feats.std(axis=0).min() > 1e-3
    assert constant_features(model, held_x) == 0 and constant_features(model, x) == 0
    assert accuracy(model, held_x, held_y) > 0.9


def test_constant_features_counts_dead_units() -> None:
    x, _ = _blobs(64, 2)
    torch.manual_seed(0)
    net = ClassifierExtractor([1, 8, 8], 4, width=4, feature_dim=8).eval()
    linear = net.head[1]
    already = int((extract(net, x, ("features",))["features"][:, 2:].std(axis=0) < 1e-6).sum())
    with torch.no_grad():  # units 0 and 1 dead: weights 0, bias below 0, the ReLU gives 0 on every input
        linear.weight[:2] = 0.0
        linear.bias[:2] = -1.0
    assert constant_features(net, x) == 2 + already
    assert constant_features(net, x, tol=1e9) == 8
    with pytest.raises(ValueError, match="at least 2 inputs"):
        constant_features(net, x[:1])


def test_classifier_card_records_accuracies_and_constant_features(built, prepared) -> None:
    b = built("classifier")
    data = prepared["digits"]
    assert {"val_accuracy", "test_accuracy", "constant_features", "feature_dim"} <= set(b.card)
    assert b.card["val_accuracy"] == accuracy(b.extractor, data.val.x, data.val.y)
    assert b.card["test_accuracy"] == accuracy(b.extractor, data.test.x, data.test.y)
    assert b.card["constant_features"] == constant_features(b.extractor, data.test.x)
    assert 0 <= b.card["constant_features"] <= b.card["feature_dim"]


def test_classifier_card_without_a_validation_split(prepared) -> None:
    data = prepared["digits"]
    no_val = PreparedData(train=data.train, test=data.test, info=data.info)
    cfg = EvaluatorConfig.model_validate(CASES["classifier"].evaluator(Path(".")))
    _, card = build_extractor(no_val, cfg, seed=0)
    assert card["val_accuracy"] is None and 0.0 <= card["test_accuracy"] <= 1.0
