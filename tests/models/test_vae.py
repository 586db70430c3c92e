"""VAE specifics: the importance-weighted bound tightens with k and bounds the ELBO."""

from __future__ import annotations

import torch

from genmodels.data.base import DatasetInfo
from genmodels.models import build_model
from genmodels.models.dequantize import dequantize

INFO = DatasetInfo("digits", "image", (1, 8, 8), 17, 10, (0.0, 1.0))


def test_iwae_bound_increases_with_k(digits) -> None:
    torch.manual_seed(0)
    x = dequantize(torch.from_numpy(digits.test.x[:64]), 17, torch.Generator().manual_seed(0))
    vals = []
    for k in (1, 16, 256):
        torch.manual_seed(0)  # the same weights for every k
        model = build_model("vae", {"iw_samples": k}, INFO).eval()
        vals.append(float(model.log_likelihood(x, torch.Generator().manual_seed(1)).mean()))
    assert vals[0] < vals[1] < vals[2]


def test_conv_variant_trains_on_images(digits) -> None:
    torch.manual_seed(0)
    model = build_model("vae", {"arch": "conv", "conv_width": 8}, INFO)
    (group, loss), = list(model.training_losses(torch.from_numpy(digits.train.x[:16]), None, torch.Generator().manual_seed(0)))
    loss.backward()
    assert group == "model" and torch.isfinite(loss)
