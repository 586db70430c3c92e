"""Building blocks of the 2015 TensorFlow Inception-V3 graph used for FID.

Inception-V3 is Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer
Vision"; the particular 2015-12-05 TensorFlow graph is the one Heusel et al. 2017 (FID)
and Salimans et al. 2016 (IS) computed their scores with. That graph differs from the
paper's (and torchvision's) network in two places, both reproduced here:

* every average pool inside a mixed block ignores the zero padding (TensorFlow's
  ``SAME`` pooling), i.e. ``count_include_pad=False``;
* the branch pool of the last 8x8 block (``Mixed_7c``) is a 3x3 *max* pool.

Attribute names (``Mixed_5b.branch5x5_1.conv.weight``, ``...bn.running_var``) are the
key names of torch-fidelity's converted weights file, so its state dict loads as is.
Every block is inference-only: batch norm always uses the stored statistics.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon in this graph


class FrozenBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that always normalises with its stored statistics (inference only).

    The state dict is that of ``nn.BatchNorm2d`` (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``num_batches_tracked``), as in the published weights file; a file
    without ``num_batches_tracked`` (torch-fidelity's own converter writes none) loads too.
    """

    def __init__(self, channels: int, eps: float = BN_EPS) -> None:
        super().__init__(channels, eps=eps)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        state_dict.setdefault(prefix + "num_batches_tracked", torch.zeros((), dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=self.eps)


class ConvBN(nn.Module):
    """Bias-free convolution, frozen batch norm, ReLU (keys ``conv.weight`` and ``bn.*``)."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = FrozenBatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: Tensor) -> Tensor:
    """3x3 stride-1 average over the valid (unpadded) neighbours, as TensorFlow's SAME pool."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class Mixed35(nn.Module):
    """35x35 block (``Mixed_5b..5d``): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 branches."""

    def __init__(self, cin: int, pool_channels: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool_same(x)),
            ],
            dim=1,
        )


class Reduce35to17(nn.Module):
    """Grid reduction 35 -> 17 (``Mixed_6a``): stride-2 3x3 | 1x1-3x3-3x3/2 | max pool."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            dim=1,
        )


class Mixed17(nn.Module):
    """17x17 block (``Mixed_6b..6e``) with 7x7 convolutions factorised into 1x7 and 7x1."""

    def __init__(self, cin: int, mid: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))  # (kernel, padding) pairs
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, mid, 1)
        self.branch7x7_2 = ConvBN(mid, mid, row[0], padding=row[1])
        self.branch7x7_3 = ConvBN(mid, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = ConvBN(cin, mid, 1)
        self.branch7x7dbl_2 = ConvBN(mid, mid, col[0], padding=col[1])
        self.branch7x7dbl_3 = ConvBN(mid, mid, row[0], padding=row[1])
        self.branch7x7dbl_4 = ConvBN(mid, mid, col[0], padding=col[1])
        self.branch7x7dbl_5 = ConvBN(mid, 192, row[0], padding=row[1])
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_same(x))], dim=1)


class Reduce17to8(nn.Module):
    """Grid reduction 17 -> 8 (``Mixed_7a``): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)


class Mixed8(nn.Module):
    """8x8 block (``Mixed_7b``, ``Mixed_7c``) with split 1x3/3x1 heads.

    ``pool="avg"`` (padding-excluding average, ``Mixed_7b``) or ``"max"`` (``Mixed_7c``
    in the 2015 graph) selects the branch-pool operation.
    """

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg_pool_same(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(s),
                self.branch3x3_2b(s),
                self.branch3x3dbl_3a(d),
                self.branch3x3dbl_3b(d),
                self.branch_pool(pooled),
            ],
            dim=1,
        )
