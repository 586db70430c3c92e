"""CUDA paths of the training loop (marked ``gpu``: skipped without a CUDA device).

The in-process loop on one GPU, and Ray Train with one GPU per worker and NCCL (the latter
also needs Ray and at least two GPUs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.training import checkpoint as ckpt
from genmodels.training.local import train_local
from tests.training.test_loop import job

pytestmark = pytest.mark.gpu


def test_the_loop_trains_on_one_gpu_and_its_checkpoint_loads_on_the_cpu(digits, tmp_path) -> None:
    x, y = digits.train.x[:256], digits.train.y[:256]
    final = train_local(job(3), x, y, tmp_path, device="cuda")
    history = ckpt.read_trainer_state(final)["history"]
    assert len(history) == 3 and all(np.isfinite(r["loss/model"]) for r in history)
    assert history[-1]["loss/model"] < history[0]["loss/model"]
    state = torch.load(final / ckpt.MODEL_FILE, map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in state.values())


def test_two_ray_workers_on_two_gpus_train_with_nccl(digits, tmp_path) -> None:
    pytest.importorskip("ray")
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    from genmodels.training.ray_adapter import ensure_ray, train_ray

    ensure_ray()
    x, y = digits.train.x[:256], digits.train.y[:256]
    final = train_ray(job(3), x, y, str(tmp_path), "vae-nccl", num_workers=2, use_gpu=True, cpus_per_worker=1)
    history = ckpt.read_trainer_state(final)["history"]
    assert len(history) == 3 and history[-1]["loss/model"] < history[0]["loss/model"]
