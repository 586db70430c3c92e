"""The torch-fidelity-compatible Inception-V3 extractor: layout, resize, loading, errors.

No pretrained weights are available offline, so a seeded random network is written under
the official file name and loaded through the same path users take (``build_extractor``
with ``evaluator.inception_weights``). The expected state-dict keys below are written out
from torch-fidelity's module layout and weight converter, not derived from our module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genmodels.errors import ConfigError, DataError
from genmodels.metrics.build import build_extractor
from genmodels.metrics.config import EvaluatorConfig
from genmodels.metrics.extractors.inception import (
    OFFICIAL_WEIGHTS_NAME,
    InceptionV3Extractor,
    load_inception,
    resize_bilinear_tf1,
    to_pixels,
)
from genmodels.metrics.features import FEATURE_EXTRACTORS, extract, fingerprint, load_extractor, save_extractor

# --- the official file's layout: 94 conv+BN units, then the 1008-way fc ---------------
STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
MIXED_35 = ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool"]
REDUCE_35 = ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]
MIXED_17 = ["branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2",
            "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"]  # fmt: skip
REDUCE_17 = ["branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"]
MIXED_8 = ["branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2",
           "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"]  # fmt: skip
BLOCKS = {
    "Mixed_5b": MIXED_35, "Mixed_5c": MIXED_35, "Mixed_5d": MIXED_35, "Mixed_6a": REDUCE_35,
    "Mixed_6b": MIXED_17, "Mixed_6c": MIXED_17, "Mixed_6d": MIXED_17, "Mixed_6e": MIXED_17,
    "Mixed_7a": REDUCE_17, "Mixed_7b": MIXED_8, "Mixed_7c": MIXED_8,
}  # fmt: skip
UNITS = STEM + [f"{block}.{branch}" for block, branches in BLOCKS.items() for branch in branches]
# each unit: conv.weight + bn.{weight,bias,running_mean,running_var,num_batches_tracked}
# (the published file was saved from a torchvision-style module: loaders of it report and
# handle its num_batches_tracked entries, e.g. pytorch-fid issue #34)
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
OFFICIAL_KEYS = [k for u in UNITS for k in (f"{u}.conv.weight", *(f"{u}.bn.{s}" for s in BN_KEYS))] + ["fc.weight", "fc.bias"]


def random_inception(seed: int = 0) -> InceptionV3Extractor:
    """A seeded random network whose activations neither vanish nor explode (He init)."""
    torch.manual_seed(seed)
    net = InceptionV3Extractor()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.9, 1.1)
    torch.nn.init.normal_(net.fc.bias, std=1.0)  # a visible bias, to check logits exclude it
    return net


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inception") / OFFICIAL_WEIGHTS_NAME
    torch.save(random_inception().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def built(weights_file: Path, digits) -> tuple[InceptionV3Extractor, dict]:
    cfg = EvaluatorConfig(extractor="inception-v3-compat", inception_weights=str(weights_file))
    return build_extractor(digits, cfg, seed=0)


def test_registered_with_its_layers() -> None:
    assert "inception-v3-compat" in FEATURE_EXTRACTORS.names()
    net = FEATURE_EXTRACTORS.get("inception-v3-compat")
    assert set(net.perceptual_layers) <= set(net.feature_layers) and {"features", "logits"} <= set(net.feature_layers)


def test_state_dict_has_exactly_the_official_keys_and_shapes() -> None:
    state = InceptionV3Extractor().state_dict()
    assert len(OFFICIAL_KEYS) == 94 * 6 + 2
    assert sorted(state) == sorted(OFFICIAL_KEYS)
    assert state["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert state["Mixed_6b.branch7x7_2.conv.weight"].shape == (128, 128, 1, 7)
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["fc.weight"].shape == (1008, 2048) and state["fc.bias"].shape == (1008,)
    # 23,834,568 parameters for a 1000-class Inception-V3 without the auxiliary head
    assert sum(p.numel() for p in InceptionV3Extractor().parameters()) == 23_834_568 + 8 * 2048 + 8


def test_file_without_num_batches_tracked_loads(tmp_path: Path) -> None:
    """torch-fidelity's converter script writes a plain dict without num_batches_tracked."""
    net = random_inception(1)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / OFFICIAL_WEIGHTS_NAME)
    loaded = load_inception(tmp_path / OFFICIAL_WEIGHTS_NAME)
    assert torch.equal(loaded.Mixed_7c.branch_pool.bn.running_var, net.Mixed_7c.branch_pool.bn.running_var)


def test_resize_matches_tf1_resize_bilinear_by_hand() -> None:
    ramp = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    # align_corners=False, no half-pixel centres: source coords 0, 0.5, 1, 1.5 (clamped)
    expected = torch.tensor([[0.0, 0.5, 1.0, 1.0], [1.0, 1.5, 2.0, 2.0], [2.0, 2.5, 3.0, 3.0], [2.0, 2.5, 3.0, 3.0]])
    torch.testing.assert_close(resize_bilinear_tf1(ramp, (4, 4))[0, 0], expected, rtol=0, atol=0)
    # align_corners=True: source coords 0, 0.5, 1 -> the corners stay put
    expected = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]])
    torch.testing.assert_close(resize_bilinear_tf1(ramp, (3, 3), align_corners=True)[0, 0], expected, rtol=0, atol=0)
    # downsampling 4 -> 2 reads source pixels 0 and 2 (scale 2), no averaging
    row = torch.arange(4.0).view(1, 1, 1, 4)
    torch.testing.assert_close(resize_bilinear_tf1(row, (1, 2))[0, 0, 0], torch.tensor([0.0, 2.0]), rtol=0, atol=0)
    # 8 -> 299 (the digits case): a constant stays exactly constant, the output is 299 x 299
    const = torch.full((2, 3, 8, 8), 77.0)
    out = resize_bilinear_tf1(const, (299, 299))
    assert out.shape == (2, 3, 299, 299) and bool((out == 77.0).all())
    with pytest.raises(ValueError, match="floating"):
        resize_bilinear_tf1(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), (4, 4))


def tf1_resize_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Pixel-by-pixel TF1 resize_bilinear (align_corners=False, legacy coordinates)."""
    in_h, in_w = img.shape
    out = np.empty((out_h, out_w))
    for i in range(out_h):
        y = i * in_h / out_h
        y0, y1 = int(np.floor(y)), min(int(np.floor(y)) + 1, in_h - 1)
        for j in range(out_w):
            x = j * in_w / out_w
            x0, x1 = int(np.floor(x)), min(int(np.floor(x)) + 1, in_w - 1)
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * (x - x0)
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * (x - x0)
            out[i, j] = top + (bottom - top) * (y - y0)
    return out


@pytest.mark.parametrize(("size_in", "size_out"), [((3, 5), (7, 4)), ((8, 8), (29, 29)), ((9, 6), (4, 13))])
def test_resize_matches_a_pixel_by_pixel_reference(size_in: tuple[int, int], size_out: tuple[int, int]) -> None:
    img = np.random.default_rng(0).random(size_in) * 255
    ours = resize_bilinear_tf1(torch.tensor(img, dtype=torch.float32).view(1, 1, *size_in), size_out)[0, 0].numpy()
    np.testing.assert_allclose(ours, tf1_resize_reference(img, *size_out), rtol=0, atol=1e-3)


def test_pixels_round_trip_8bit_levels_and_grey_is_replicated() -> None:
    levels = torch.arange(256.0)
    assert torch.equal(to_pixels(levels / 255), levels)  # u / 255 gives back u exactly
    assert to_pixels(torch.tensor([0.5, -0.2, 1.3, 0.7 / 255, 0.3 / 255])).tolist() == [128.0, 0.0, 255.0, 1.0, 0.0]
    net = InceptionV3Extractor()
    grey = torch.randint(0, 256, (2, 1, 8, 8), generator=torch.Generator().manual_seed(0)) / 255.0  # on the 8-bit grid
    x = net.preprocess(grey)
    assert x.shape == (2, 3, 299, 299) and float(x.min()) >= -1.0 and float(x.max()) <= 127 / 128
    torch.testing.assert_close(x, net.preprocess(grey.repeat(1, 3, 1, 1)), rtol=0, atol=0)
    # quantize=True: a sub-level change (0.0255 of a level) is invisible; quantize=False sees it
    assert torch.equal(net.preprocess(grey), net.preprocess(grey + 1e-4))
    assert not torch.equal(InceptionV3Extractor(quantize=False).preprocess(grey + 1e-4), net.preprocess(grey))
    with pytest.raises(ValueError, match="C = 1 or 3"):
        net.preprocess(torch.rand(1, 2, 8, 8))


def test_build_loads_the_configured_file(built, weights_file: Path) -> None:
    net, card = built
    assert isinstance(net, InceptionV3Extractor) and not net.training
    assert card["extractor"] == "inception-v3-compat" and card["weights"] == str(weights_file) and len(card["weights_sha256"]) == 64
    expected = torch.load(weights_file, weights_only=True)
    for key in ("Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_mean", "fc.bias"):
        assert torch.equal(net.state_dict()[key], expected[key])


def test_forward_shapes_grey_8x8_and_rgb_32x32(built, digits) -> None:
    net, _ = built
    grey = digits.test.x[:2]  # (2, 1, 8, 8) real digits
    out = extract(net, grey, net.feature_layers)
    assert out["features"].shape == (2, 2048) and out["logits"].shape == (2, 1008)
    assert out["block1"].shape == (2, 64 * 73 * 73) and out["block4"].shape == (2, 2048 * 8 * 8)  # flattened by extract
    assert np.isfinite(out["features"]).all() and (out["features"] >= 0).all() and out["features"].std() > 0
    # logits are torch-fidelity's logits_unbiased: pool3 @ W^T, no bias
    w = net.fc.weight.double().numpy()
    np.testing.assert_allclose(out["logits"], out["features"].astype(np.float64) @ w.T, rtol=1e-4, atol=1e-5)
    rgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        acts = net(rgb)
    assert acts["features"].shape == (2, 2048) and acts["logits"].shape == (2, 1008)
    assert acts["block2"].shape == (2, 192, 35, 35) and acts["block3"].shape == (2, 768, 17, 17)


def test_missing_or_bad_weights_fail_clearly(tmp_path: Path, digits) -> None:
    missing = tmp_path / "nowhere" / OFFICIAL_WEIGHTS_NAME
    cfg = EvaluatorConfig(extractor="inception-v3-compat", inception_weights=str(missing))
    with pytest.raises(DataError) as err:
        build_extractor(digits, cfg, seed=0)
    message = str(err.value)
    assert str(missing) in message and "evaluator.inception_weights" in message and "nothing is downloaded" in message
    with pytest.raises(ConfigError, match="evaluator.inception_weights"):
        build_extractor(digits, EvaluatorConfig(extractor="inception-v3-compat"), seed=0)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read"):
        load_inception(garbage)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, wrong)
    with pytest.raises(DataError, match="Missing key"):
        load_inception(wrong)


def test_save_and_load_extractor_round_trip(built, tmp_path: Path) -> None:
    net, _ = built
    save_extractor(net, tmp_path)
    loaded = load_extractor(tmp_path)
    assert isinstance(loaded, InceptionV3Extractor) and loaded.kwargs == {"quantize": True}
    assert fingerprint(loaded) == fingerprint(net)


def test_perceptual_activations_skip_rounding() -> None:
    from genmodels.metrics.extractors.inception import InceptionV3Extractor

    torch.manual_seed(0)
    net = InceptionV3Extractor()
    x = torch.full((1, 1, 8, 8), 0.5)
    a = net.perceptual_activations(x)
    b = net.perceptual_activations(x + 1e-4)  # far below one 8-bit step
    assert net.quantize  # restored
    assert not torch.equal(a[0], b[0])
    assert torch.equal(net(x)["block1"], net(x + 1e-4)["block1"])  # the rounded path cannot see it
