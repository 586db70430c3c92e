"""Generator and discriminator networks of the GAN family.

Images: a DCGAN-style pair (Radford et al. 2016) sized from the data shape with
:func:`genmodels.models.core.nets.conv_plan`: the generator maps ``z`` to ``(w 2^k, h0, w0)``
maps and doubles the resolution k times with transposed convolutions while halving the
channels; the discriminator mirrors it with stride-2 convolutions. ReLU in G, LeakyReLU(0.2)
in D, as in DCGAN. MLPs (same activations) for points and small images.
The discriminator may wrap every weight in spectral normalisation (Miyato et al. 2018),
``W / sigma_max(W)`` with one power iteration per training forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from genmodels.models.core.nets import conv_plan

LEAK = 0.2  # negative slope of the LeakyReLUs (Radford et al. 2016)


def _sn(layer: nn.Module, enabled: bool) -> nn.Module:
    return _spectral_norm(layer) if enabled else layer


def _check_image_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"gan.arch=conv needs image data (C, H, W), got shape {list(shape)}")
    c, h, w = (int(s) for s in shape)
    return c, h, w


class ConvGenerator(nn.Module):
    """``z -> Linear -> (ch, h0, w0) -> [ConvT 4x4/2 + ReLU] * halvings -> Conv 3x3``.

    Returns pre-sigmoid values of shape ``(n, C, H, W)``; channels halve at every doubling
    of the resolution (the last stage has ``width`` channels). ReLU in G and LeakyReLU in D
    as in DCGAN; no batch norm, so training and sampling behave alike and the weight
    average of the sampler needs no re-estimated statistics.
    """

    def __init__(self, latent_dim: int, shape: Sequence[int], width: int) -> None:
        super().__init__()
        c, h, w = _check_image_shape(shape)
        halvings = conv_plan(h, w)
        ch = width * 2**halvings
        self.start = (ch, h >> halvings, w >> halvings)
        self.fc = nn.Sequential(nn.Linear(latent_dim, ch * self.start[1] * self.start[2]), nn.ReLU())
        layers: list[nn.Module] = []
        for _ in range(halvings):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), nn.ReLU()]
            ch //= 2
        layers.append(nn.Conv2d(ch, c, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(-1, *self.start))


class ConvDiscriminator(nn.Module):
    """``x -> Conv 3x3 -> [Conv 4x4/2 + act] * halvings -> Linear -> one logit per image``."""

    def __init__(self, shape: Sequence[int], width: int, spectral: bool) -> None:
        super().__init__()
        c, h, w = _check_image_shape(shape)
        halvings = conv_plan(h, w)
        layers: list[nn.Module] = [_sn(nn.Conv2d(c, width, 3, padding=1), spectral), nn.LeakyReLU(LEAK)]
        ch = width
        for _ in range(halvings):
            layers += [_sn(nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), spectral), nn.LeakyReLU(LEAK)]
            ch *= 2
        out_dim = ch * (h >> halvings) * (w >> halvings)
        self.net = nn.Sequential(*layers, nn.Flatten(), _sn(nn.Linear(out_dim, 1), spectral))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


class MLPGenerator(nn.Module):
    """``z -> [Linear + ReLU] * len(hidden) -> Linear -> (n, *shape)`` (pre-output values)."""

    def __init__(self, latent_dim: int, shape: Sequence[int], hidden: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        dim = 1
        for s in self.shape:
            dim *= s
        layers: list[nn.Module] = []
        sizes = [latent_dim, *hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    """``x -> flatten -> [Linear + LeakyReLU] * len(hidden) -> Linear -> one logit``."""

    def __init__(self, shape: Sequence[int], hidden: Sequence[int], spectral: bool) -> None:
        super().__init__()
        dim = 1
        for s in shape:
            dim *= int(s)
        layers: list[nn.Module] = [nn.Flatten()]
        sizes = [dim, *hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [_sn(nn.Linear(a, b), spectral), nn.LeakyReLU(LEAK)]
        layers.append(_sn(nn.Linear(sizes[-1], 1), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)

