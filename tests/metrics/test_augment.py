"""The classifier's training augmentation: shapes, value ranges, the offsets drawn, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.metrics.extractors.augment import augment, random_rotate, random_shift


def _images(n: int = 32, c: int = 1, side: int = 8, seed: int = 0) -> torch.Tensor:
    """Grey levels 0..16 scaled to [0, 1], as the digits are stored."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 17, (n, c, side, side), generator=g).float() / 16


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(32, 1, 8, 8), (5, 3, 28, 20)])
def test_augmentation_keeps_shape_dtype_and_value_range(shape: tuple[int, int, int, int]) -> None:
    x = torch.rand(shape, generator=_gen(1))
    for out in (random_shift(x, 2, _gen()), random_rotate(x, 15.0, _gen()), augment(x, 2, 15.0, _gen())):
        assert out.shape == x.shape and out.dtype == x.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= float(x.max()) + 1e-6


def test_shift_moves_whole_pixels_and_keeps_the_grey_levels() -> None:
    x = _images()
    out = random_shift(x, 1, _gen())
    assert set(torch.unique(out).tolist()) <= set(torch.unique(x).tolist()) | {0.0}
    for i in range(len(x)):  # each output is its input translated by one offset in [-1, 1]^2, zeros shifted in
        pad = torch.nn.functional.pad(x[i], (1, 1, 1, 1))
        hits = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if torch.equal(out[i], pad[:, 1 - dy : 9 - dy, 1 - dx : 9 - dx])]
        assert hits, f"image {i} is not a translation of its input by at most one pixel"


def test_shift_draws_every_offset_and_a_single_pixel_lands_where_expected() -> None:
    x = torch.zeros(400, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0  # one bright pixel in the middle
    out = random_shift(x, 2, _gen())
    rows, cols = torch.nonzero(out[:, 0] == 1.0, as_tuple=True)[1:]
    assert len(rows) == len(x) and out.sum() == len(x)  # the pixel is never lost, nothing else appears
    offsets = set(zip((rows - 4).tolist(), (cols - 4).tolist(), strict=True))
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_rotation_by_up_to_a_small_angle_keeps_the_image_centred() -> None:
    x = torch.zeros(64, 1, 15, 15)
    x[:, 0, 5:10, 6:9] = 1.0  # a centred bar
    out = random_rotate(x, 20.0, _gen())
    grid = torch.arange(15.0)
    mass = out.sum((1, 2, 3))
    centre_r = (out[:, 0].sum(2) * grid).sum(1) / mass
    centre_c = (out[:, 0].sum(1) * grid).sum(1) / mass
    np.testing.assert_allclose(centre_r.numpy(), 7.0, atol=0.05)
    np.testing.assert_allclose(centre_c.numpy(), 7.0, atol=0.05)
    assert not torch.equal(out, x) and float((mass / 15.0 - 1).abs().max()) < 0.15  # moved, ink roughly kept


def test_off_is_the_identity_and_draws_are_seeded() -> None:
    x = _images()
    assert torch.equal(augment(x, 0, 0.0, _gen()), x)
    assert torch.equal(augment(x, 1, 10.0, _gen(3)), augment(x, 1, 10.0, _gen(3)))
    assert not torch.equal(augment(x, 1, 10.0, _gen(3)), augment(x, 1, 10.0, _gen(4)))
    assert augment(x[:0], 1, 10.0, _gen()).shape == (0, 1, 8, 8)


def test_negative_amounts_are_value_errors() -> None:
    x = _images(2)
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_shift(x, -1, _gen())
    with pytest.raises(ValueError, match="max_degrees must be >= 0"):
        random_rotate(x, -5.0, _gen())
