"""Feature extractors: registry, save/load round trip, batch-size independence, layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.metrics.extractors.classifier import ClassifierExtractor, accuracy, n_blocks, train_classifier
from genmodels.metrics.extractors.toy2d import Toy2dExtractor
from genmodels.metrics.features import FEATURE_EXTRACTORS, extract, load_extractor, save_extractor


def test_builtins_are_registered() -> None:
    assert {"classifier", "toy2d"} <= set(FEATURE_EXTRACTORS.names())


@pytest.mark.parametrize(("side", "blocks"), [(8, 2), (16, 3), (28, 3), (32, 3), (4, 1)])
def test_block_plan(side: int, blocks: int) -> None:
    assert n_blocks(side, side) == blocks
    torch.manual_seed(0)
    net = ClassifierExtractor([1, side, side], 10, width=4, feature_dim=8)
    out = net(torch.rand(2, 1, side, side))
    assert out["features"].shape == (2, 8) and out["logits"].shape == (2, 10)
    assert net.perceptual_layers == tuple(f"block{i + 1}" for i in range(blocks))


def test_save_load_and_batch_independence(tmp_path) -> None:
    torch.manual_seed(0)
    net = ClassifierExtractor([1, 8, 8], 10, width=4, feature_dim=8)
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
