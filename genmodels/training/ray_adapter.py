"""Ray Train (V2) backend: the same :func:`train_worker` inside ``TorchTrainer`` workers.

The run has a fixed ``name`` under a fixed ``storage_path``; Ray Train V2 restores its
checkpoint manager from there, so re-running an interrupted stage resumes from the last
reported checkpoint (``ray.train.get_checkpoint()``) instead of restarting. Within a run,
``FailureConfig(max_failures)`` restarts the worker group from that checkpoint when a worker
or its node dies.

What distribution costs: Ray Train's controller collects each ``ray.train.report`` when it
polls the workers (every ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``, 2 s by default), and a second
report waits for the first to be collected. So ranks report only with a checkpoint (every
``checkpoint_seconds`` and at the end, decided by rank 0 and broadcast so that every rank
reports together), rank 0 prints one line per epoch itself, and the driver polls every
0.2 s unless the user set that variable. Ray Train's own INFO chatter (a ``TrainingReport``
dump per report, worker-group lines) is off unless ``GENMODELS_DEBUG`` is set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmodels.device import resolve_device
from genmodels.errors import DEBUG_ENV, debugging
from genmodels.training.cadence import Cadence
from genmodels.training.loop import Restored, TrainJob, describe, restore_dir, train_worker
from genmodels.training.ray_checks import PLACEMENT_FILE, RayUnavailable, check_capacity, probe_address


#: How often Ray Train's controller collects reports, unless the user set it (Ray's default: 2 s).
POLL_ENV, POLL_SECONDS = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2"


class RayContext:
    """WorkerContext backed by ``ray.train``: every rank reports when a checkpoint is due
    (rank 0 writes it); rank 0 prints each epoch's line."""

    def __init__(self, checkpoint_seconds: float = 0.0) -> None:
        import ray
        import ray.train
        import torch.distributed as dist

        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        # Ray sets CUDA_VISIBLE_DEVICES to the worker's GPUs when it was given any
        self.device = resolve_device(os.environ.get("CUDA_VISIBLE_DEVICES", "") != "", context.get_local_rank())
        self.cadence = Cadence(checkpoint_seconds)
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

    def due(self, final: bool) -> bool:
        """Rank 0's cadence decides; the decision is broadcast so every rank reports together."""
        due = self.cadence.due(final)
        if self.world_size > 1:
            import torch.distributed as dist

            flag = torch.tensor([float(due)], device=self.device)
            dist.broadcast(flag, src=0)
            due = bool(flag.item())
        return due

    def save(self, metrics: dict[str, float], write: Callable[[Path], None], final: bool) -> None:
        import ray.train

        if self.rank == 0:  # not print(): Ray Train patches it into a logger, which echoes each line twice
            sys.stderr.write(describe(metrics) + "\n")
            sys.stderr.flush()
        if not self.due(final):
            return
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
    train_worker(job, x, y, config["context_cls"](config["checkpoint_seconds"]))


def setup_ray_worker() -> None:
    """Run in every Ray worker process of the job (``worker_process_setup_hook``)."""
    pin_ray_address()
    quiet_ray_logs()


def pin_ray_address() -> None:
    """Point ``RAY_ADDRESS`` in this worker at its own cluster. Ray Train's placement-group
    cleaner asks the state API without an address; with two local instances on one machine
    (two trainings side by side) Ray cannot tell which is meant and the cleaner dies with a
    "Found multiple active Ray instances" traceback on the user's console."""
    import ray

    os.environ.setdefault("RAY_ADDRESS", ray.get_runtime_context().gcs_address)


def quiet_ray_logs() -> None:
    """In every Ray worker process (see :func:`setup_ray_worker`) unless debugging:
    Ray Train's placement-group cleaner warns every few seconds that the state API is
    unavailable when the dashboard is off (it is, to start fast), and each worker logs a
    ``TrainingReport(...)`` dump per report on a logger named after its source file, which
    ``LoggingConfig`` does not reach."""
    if debugging():
        return
    logging.getLogger("ray.train.v2._internal.execution.controller.placement_group_cleaner").setLevel(logging.ERROR)
    try:
        from ray.train.v2._internal.execution import context
    except ImportError:  # another Ray layout: its chatter stays, nothing breaks
        return
    logging.getLogger(context.__file__).setLevel(logging.WARNING)


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` / ``RAY_ADDRESS`` if given (probed first: one line when nothing
    listens there), else start a new local instance.

    "Else" is Ray's ``address="local"``: a bare ``ray.init()`` would attach to the latest cluster
    that ``ray start`` left running on this machine, so a local run could land on it unasked."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address != "local":
        probe_address(address)
    try:
        _init(address)
    except ConnectionError as exc:  # e.g. "auto" with no cluster started on this machine
        raise RayUnavailable(f"cannot connect to a Ray cluster ({address}): {str(exc).splitlines()[0]}") from None


def _init(address: str) -> None:
    import ray

    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=True,
        configure_logging=True,
        logging_level="WARNING",
        runtime_env={
            "worker_process_setup_hook": setup_ray_worker,
            "env_vars": {DEBUG_ENV: os.environ[DEBUG_ENV]} if debugging() else {},
        },
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
    checkpoint_seconds: float = 0.0,
    max_failures: int = 0,
    context_cls: type[RayContext] = RayContext,
) -> Path:
    """Fit with ``TorchTrainer``; returns a local folder holding the final checkpoint (the
    selected epoch's weights under ``fit.select: best_val``: the last one reported).

    ``checkpoint_seconds``: see :class:`~genmodels.training.cadence.Cadence` (0: every epoch);
    ``max_failures``: worker-group restarts from the last checkpoint (Ray's ``FailureConfig``);
    ``context_cls``: the workers' context (a subclass can observe saves, as the benchmark does).
    """
    import ray
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    os.environ.setdefault(POLL_ENV, POLL_SECONDS)  # read by the controller, which Ray starts from the driver's env
    ensure_ray()
    check_capacity(ray.cluster_resources(), len([n for n in ray.nodes() if n.get("Alive")]), num_workers, cpus_per_worker, use_gpu)
    data_ref = ray.put((job, x, y))
    trainer = TorchTrainer(
        _worker_entry,
        train_loop_config={"data": data_ref, "checkpoint_seconds": checkpoint_seconds, "context_cls": context_cls},
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
            failure_config=FailureConfig(max_failures=max_failures),
            logging_config=LoggingConfig(log_level="INFO" if debugging() else "WARNING"),
        ),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {run_name} finished without a checkpoint")
    local = Path(tempfile.mkdtemp(prefix="genmodels-ckpt-"))
    result.checkpoint.to_directory(str(local))
    return local
