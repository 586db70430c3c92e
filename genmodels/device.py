"""The device policy of every stage: a CUDA device when one is asked for and present, else the CPU."""

from __future__ import annotations

import sys

import torch


def resolve_device(use_gpu: bool, local_rank: int = 0) -> torch.device:
    """``cuda:<local_rank mod count>`` when ``use_gpu`` and CUDA is available, otherwise ``cpu``.

    Asking for a GPU where there is none is not an error (the same params run on a laptop),
    but it is said once on stderr so a CPU fallback never goes unnoticed.
    """
    if use_gpu and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if use_gpu:
        print("note: scaling.use_gpu is set but no CUDA device is available; running on the CPU", file=sys.stderr, flush=True)
    return torch.device("cpu")
