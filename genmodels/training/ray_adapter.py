"""Ray Train (V2) backend: the same :func:`train_worker` inside ``TorchTrainer`` workers.

The run has a fixed ``name`` under a fixed ``storage_path``; Ray Train V2 restores its
checkpoint manager from there, so re-running an interrupted stage resumes from the last
reported checkpoint (``ray.train.get_checkpoint()``) instead of restarting.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmodels.device import resolve_device
from genmodels.training.loop import Restored, TrainJob, restore_dir, train_worker
from genmodels.training.ray_checks import PLACEMENT_FILE, RayUnavailable, check_capacity, probe_address


class RayContext:
    """WorkerContext backed by ``ray.train``: report on every rank, checkpoint on rank 0."""

    def __init__(self) -> None:
        import ray
        import ray.train
        import torch.distributed as dist

        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        # Ray sets CUDA_VISIBLE_DEVICES to the worker's GPUs when it was given any
        self.device = resolve_device(os.environ.get("CUDA_VISIBLE_DEVICES", "") != "", context.get_local_rank())
        node = ray.get_runtime_context().get_node_id()
        self.placement: list[str] = [node]
        if self.world_size > 1:  # TorchTrainer has formed the process group before the loop runs
            if self.device.type == "cuda":  # NCCL gathers objects through the current device
                torch.cuda.set_device(self.device)
            self.placement = [""] * self.world_size
            dist.all_gather_object(self.placement, node)

    def restore(self) -> Restored | None:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as d:
            return restore_dir(Path(d), self.device)

    def save(self, metrics: dict[str, float], write: Callable[[Path], None]) -> None:
        import ray.train

        if self.rank != 0:
            ray.train.report(metrics, checkpoint=None)
            return
        with tempfile.TemporaryDirectory() as d:
            write(Path(d))
            (Path(d) / PLACEMENT_FILE).write_text(json.dumps(self.placement))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))


def _worker_entry(config: dict[str, Any]) -> None:
    import ray

    job, x, y = ray.get(config["data"])  # the job carries the validation split
    train_worker(job, x, y, RayContext())


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS`` if given (probed first: one line when nothing
    listens there), else start a local instance."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        probe_address(address)
    try:
        _init(address)
    except ConnectionError as exc:  # e.g. "auto" with no cluster started on this machine
        raise RayUnavailable(f"cannot connect to a Ray cluster ({address}): {str(exc).splitlines()[0]}") from None


def _init(address: str | None) -> None:
    import ray

    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=True,
        configure_logging=True,
        logging_level="WARNING",
    )


def train_ray(
    job: TrainJob,
    x: np.ndarray,
    y: np.ndarray | None,
    storage_path: str,
    run_name: str,
    num_workers: int,
    use_gpu: bool,
    cpus_per_worker: float,
) -> Path:
    """Fit with ``TorchTrainer``; returns a local folder holding the final checkpoint (the
    selected epoch's weights under ``fit.select: best_val``: the last one reported)."""
    import ray
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    ensure_ray()
    check_capacity(ray.cluster_resources(), len([n for n in ray.nodes() if n.get("Alive")]), num_workers, cpus_per_worker, use_gpu)
    data_ref = ray.put((job, x, y))
    trainer = TorchTrainer(
        _worker_entry,
        train_loop_config={"data": data_ref},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": cpus_per_worker, **({"GPU": 1} if use_gpu else {})},
        ),
        run_config=RunConfig(
            name=run_name,
            storage_path=storage_path,
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {run_name} finished without a checkpoint")
    local = Path(tempfile.mkdtemp(prefix="genmodels-ckpt-"))
    result.checkpoint.to_directory(str(local))
    return local
