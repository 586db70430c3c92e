"""Inception-V3 features compatible with torch-fidelity 0.4.0's ``inception-v3-compat``.

The network is the 2015-12-05 TensorFlow Inception-V3 graph (Szegedy et al. 2016) with
which FID (Heusel et al. 2017) and IS (Salimans et al. 2016) were defined, loaded from
the converted PyTorch weights torch-fidelity publishes as
``weights-inception-2015-12-05-6726825d.pth`` (pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth`` has the same layout). Nothing is downloaded
here: the file must already be on disk. The input pipeline reproduces torch-fidelity's:

1. **8-bit pixels.** torch-fidelity only accepts ``uint8`` images. Our images are float
   C x H x W in [0, 1]; they are clamped to [0, 1], scaled by 255 and (``quantize=True``,
   the default) rounded half up, ``floor(255 x + 0.5)``, the usual way a [0, 1] image is
   written to an 8-bit file (e.g. torchvision's ``save_image``). For data that came from
   8-bit files (x = u / 255) this gives back u exactly, so the features equal
   torch-fidelity's on the same images.
2. **Grey -> RGB.** One-channel images are replicated to three channels (after resizing,
   which is per-channel, so the result is the same and three times cheaper).
3. **Resize** to 299 x 299 with TensorFlow 1.x ``resize_bilinear`` (``align_corners=False``,
   no half-pixel centres): output pixel i samples input coordinate ``i * in / out``.
4. **Normalise** ``(x - 128) / 128``.

Layers: ``features`` = the 2048-d pool3 activations (FID, KID, PRDC); ``logits`` = the
1008 class logits *without* the fc bias, torch-fidelity's ``logits_unbiased`` that its IS
uses; ``block1..block4`` = the feature maps after the stem (64 x 73 x 73 and
192 x 35 x 35), after ``Mixed_6e`` (768 x 17 x 17) and after ``Mixed_7c`` (2048 x 8 x 8),
the perceptual layers for PPL. :meth:`InceptionV3Extractor.perceptual_activations` computes
them without pixel rounding, since PPL's epsilon = 1e-4 steps would otherwise measure rounding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genmodels.errors import ConfigError, DataError
from genmodels.metrics.extractors.inception_blocks import ConvBN, Mixed8, Mixed17, Mixed35, Reduce17to8, Reduce35to17
from genmodels.metrics.features import FeatureExtractor, register_feature_extractor

OFFICIAL_WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
INPUT_SIZE = 299  # Inception-V3's input side
NUM_CLASSES = 1008  # the 2015 graph's softmax: 1000 ImageNet classes + 8 unused


def to_pixels(x: Tensor, quantize: bool = True) -> Tensor:
    """[0, 1] images -> float32 pixel values in [0, 255], rounded half up when ``quantize``."""
    x = x.float().clamp(0.0, 1.0) * 255.0
    return torch.floor(x + 0.5) if quantize else x


def _source_coords(out_size: int, in_size: int, align_corners: bool, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """TF1 legacy source coordinates: (lower index, upper index, float32 fraction) per output pixel."""
    if align_corners:
        scale = (in_size - 1) / max(1, out_size - 1)
    else:
        scale = in_size / out_size
    # TF computes the scale and the coordinate in float32; so do we, for identical weights
    pos = torch.arange(out_size, dtype=torch.float32, device=device) * torch.tensor(scale, dtype=torch.float32, device=device)
    lo = pos.floor().long()
    hi = (lo + 1).clamp_max(in_size - 1)
    return lo, hi, pos - lo.float()


def resize_bilinear_tf1(x: Tensor, size: tuple[int, int], align_corners: bool = False) -> Tensor:
    """Bilinear resize of (N, C, H, W) floats as TensorFlow 1.x ``tf.image.resize_bilinear``.

    Output pixel (i, j) reads source coordinate (i * s_h, j * s_w) with s = in / out
    (``align_corners=False``) or (in - 1) / (out - 1) (``True``); neighbours past the
    last row/column are clamped to it; interpolation is ``a + (b - a) * t`` along the
    width, then along the height. Unlike ``F.interpolate`` there are no half-pixel
    centres, so e.g. a 2-pixel row [a, b] upsampled to 4 gives [a, (a+b)/2, b, b].
    """
    if x.dim() != 4 or not torch.is_floating_point(x):
        raise ValueError(f"expected a floating (N, C, H, W) tensor, got {x.dtype} of shape {tuple(x.shape)}")
    out_h, out_w = size
    if out_h < 1 or out_w < 1:
        raise ValueError(f"size must be positive, got {size}")
    ylo, yhi, dy = _source_coords(out_h, x.shape[2], align_corners, x.device)
    xlo, xhi, dx = _source_coords(out_w, x.shape[3], align_corners, x.device)
    dx, dy = dx.to(x.dtype), dy.to(x.dtype)
    left, right = x.index_select(3, xlo), x.index_select(3, xhi)
    rows = left + (right - left) * dx.view(1, 1, 1, out_w)  # every source row, width done
    top, bottom = rows.index_select(2, ylo), rows.index_select(2, yhi)
    return top + (bottom - top) * dy.view(1, 1, out_h, 1)


@register_feature_extractor("inception-v3-compat")
class InceptionV3Extractor(FeatureExtractor):
    """The FID Inception-V3 (Szegedy et al. 2016; Heusel et al. 2017), torch-fidelity-compatible.

    Attribute names equal the weights file's keys, so ``load_state_dict`` takes its state
    dict unchanged. Construct it untrained and load weights, or use :func:`load_inception`.
    """

    feature_layers = ("block1", "block2", "block3", "block4", "features", "logits")
    perceptual_layers = ("block1", "block2", "block3", "block4")

    max_batch_size = 32  # ~3.7 MB of maps per 299x299 image

    @classmethod
    def build(cls, data: Any, cfg: Any, seed: int, device: torch.device) -> tuple[FeatureExtractor, dict[str, Any]]:
        """Load the standard weights from ``evaluator.inception_weights`` (a local file; never downloaded)."""
        info = data.info
        if info.kind != "image" or len(info.shape) != 3 or info.shape[0] not in (1, 3):
            raise ConfigError(f"evaluator.extractor: 'inception-v3-compat' needs 1- or 3-channel images, got {info.kind} {list(info.shape)}")
        path = resolve_weights_path(cfg.inception_weights)
        model = load_inception(path, device=device)
        return model, {"extractor": cls.name, "weights": str(path), "weights_sha256": file_sha256(path)}

    def __init__(self, quantize: bool = True) -> None:
        super().__init__(quantize=bool(quantize))
        self.quantize = bool(quantize)
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = Mixed35(192, pool_channels=32)
        self.Mixed_5c = Mixed35(256, pool_channels=64)
        self.Mixed_5d = Mixed35(288, pool_channels=64)
        self.Mixed_6a = Reduce35to17(288)
        self.Mixed_6b = Mixed17(768, mid=128)
        self.Mixed_6c = Mixed17(768, mid=160)
        self.Mixed_6d = Mixed17(768, mid=160)
        self.Mixed_6e = Mixed17(768, mid=192)
        self.Mixed_7a = Reduce17to8(768)
        self.Mixed_7b = Mixed8(1280, pool="avg")
        self.Mixed_7c = Mixed8(2048, pool="max")
        self.fc = torch.nn.Linear(2048, NUM_CLASSES)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, x: Tensor) -> Tensor:
        """(N, C, H, W) in [0, 1], C in {1, 3} -> the network's (N, 3, 299, 299) input."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"inception-v3-compat needs (N, C, H, W) images with C = 1 or 3, got shape {tuple(x.shape)}")
        x = resize_bilinear_tf1(to_pixels(x, self.quantize), (INPUT_SIZE, INPUT_SIZE), align_corners=False)
        x = (x - 128.0) / 128.0
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def perceptual_activations(self, x: Tensor) -> list[Tensor]:
        """PPL's tiny steps must not be rounded away: the perceptual maps skip pixel rounding."""
        quantize, self.quantize = self.quantize, False
        try:
            out = self(x)
        finally:
            self.quantize = quantize
        return [out[name] for name in self.perceptual_layers]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        x = self.preprocess(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # 64 x 147 x 147
        out["block1"] = x = F.max_pool2d(x, kernel_size=3, stride=2)  # 64 x 73 x 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # 192 x 71 x 71
        out["block2"] = x = F.max_pool2d(x, kernel_size=3, stride=2)  # 192 x 35 x 35
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        out["block3"] = x  # 768 x 17 x 17
        out["block4"] = x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # 2048 x 8 x 8
        out["features"] = feats = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)  # pool3, 2048
        out["logits"] = feats.mm(self.fc.weight.T)  # torch-fidelity's logits_unbiased
        return out


def _missing_weights_message(path: Path) -> str:
    return (
        f"Inception-V3 weights not found at {path} (evaluator.inception_weights in params.yaml). "
        f"Put torch-fidelity's {OFFICIAL_WEIGHTS_NAME} (or pytorch-fid's "
        f"pt_inception-2015-12-05-6726825d.pth, same layout) at that path, or point "
        f"evaluator.inception_weights at your copy; nothing is downloaded."
    )


def resolve_weights_path(path: str | Path | None) -> Path:
    """The configured weights file, which must exist (ConfigError if unset, DataError if absent)."""
    if path is None or str(path).strip() == "":
        raise ConfigError(
            f"evaluator.inception_weights: required for extractor 'inception-v3-compat' "
            f"(the local path of {OFFICIAL_WEIGHTS_NAME}; nothing is downloaded)"
        )
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(_missing_weights_message(p))
    return p


def read_inception_weights(path: str | Path | None) -> dict[str, Tensor]:
    """The state dict stored at ``path``, read with ``torch.load(weights_only=True)`` on the CPU."""
    p = resolve_weights_path(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"cannot read Inception-V3 weights {p}: {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(f"Inception-V3 weights {p}: expected a state dict of tensors, got {type(state).__name__}")
    return state


def load_inception(path: str | Path | None, quantize: bool = True, device: str | torch.device = "cpu") -> InceptionV3Extractor:
    """Build :class:`InceptionV3Extractor` and load the weights file at ``path`` (strictly)."""
    state = read_inception_weights(path)
    model = InceptionV3Extractor(quantize=quantize)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:])
        raise DataError(f"Inception-V3 weights {path}: not the layout of {OFFICIAL_WEIGHTS_NAME}: {detail[:300]}") from None
    return model.to(device).eval()


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
