"""Small building blocks shared by the families: MLPs and a size-generic conv stack."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.SiLU, final_activation: bool = False) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` in between."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


def conv_plan(height: int, width: int, min_size: int = 4) -> int:
    """Number of stride-2 halvings that keep both sides even and at least ``min_size``."""
    n = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= min_size // 2 and height > min_size:
        height, width, n = height // 2, width // 2, n + 1
    return n


class ConvEncoder(nn.Module):
    """3x3 convs, each halving step doubling channels; ends in a flat vector."""

    def __init__(self, shape: Sequence[int], width: int) -> None:
        super().__init__()
        c, h, w = shape
        self.halvings = conv_plan(h, w)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, padding=1), nn.SiLU()]
        ch = width
        for _ in range(self.halvings):
            layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), nn.SiLU()]
            ch *= 2
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_channels = ch
        self.out_hw = (h >> self.halvings, w >> self.halvings)
        self.out_dim = ch * self.out_hw[0] * self.out_hw[1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: a vector to ``out_channels`` maps of the data size."""

    def __init__(self, in_dim: int, shape: Sequence[int], width: int, out_channels: int) -> None:
        super().__init__()
        enc = ConvEncoder(shape, width)  # only to reuse the size arithmetic
        ch, (h, w) = enc.out_channels, enc.out_hw
        self.start = (ch, h, w)
        self.fc = nn.Sequential(nn.Linear(in_dim, ch * h * w), nn.SiLU())
        layers: list[nn.Module] = []
        for _ in range(enc.halvings):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), nn.SiLU()]
            ch //= 2
        layers.append(nn.Conv2d(ch, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(-1, *self.start))
