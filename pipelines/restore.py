"""Stage ``restore@<model>``: the model restores seeded corruptions of test images (every task of
``restore.tasks``) -> restorations/<model>.json (the results evaluate@<model> writes into
metrics/<model>.json through the metric registry), restorations/<model>.npz and
.../<model>/<task>.png, the pictures logged to the model's MLflow run. See docs/restoration.md."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genmodels.restoration.base import restore
from genmodels.restoration.runner import run_tasks, undefined_row
from genmodels.restoration.tasks import Observation, Task
from genmodels.training.checkpoint import load_model
from pipelines import paths
from pipelines.common import log, params
from pipelines.restore_io import load_inputs, not_images, row_json, write_row


def run(root: Path, name: str, params_file: str | None = None) -> dict:
    from genmodels.tracking.runs import closed_run

    started = time.perf_counter()
    p = params(root, params_file)
    cfg = p.restore
    family = p.spec(name).family
    reason = not_images(root)
    if reason is not None:  # e.g. toy2d: every key null with the reason, so dvc repro goes on
        data = row_json(undefined_row(cfg.tasks, reason), 0, started, family=family)
        write_row(root, name, undefined_row(cfg.tasks, reason), None, 0, data)
        log(f"restore {name}: {reason}")
        return data
    inputs = load_inputs(root, cfg.n_images, p.seed, p.scaling.use_gpu)
    model = load_model(root / paths.model_dir(name), inputs.device)
    shared: dict = {}  # work the family keeps across tasks (the flow's prior draws: once per model)

    def restorer(task: Task, obs: Observation):  # noqa: ANN202
        log(f"restore {name}: {task.name}")
        return restore(model, obs, cfg, torch.Generator(device="cpu").manual_seed(p.seed), shared)

    result = run_tasks(restorer, inputs.clean, cfg.tasks, p.seed, inputs.labels, inputs.classify, inputs.features)
    data = row_json(result, len(inputs.clean), started, family=family)
    pictures = write_row(root, name, result, inputs, cfg.pictures, data)
    with closed_run(root, p.experiment, name, root / paths.model_dir(name) / paths.RUN_FILE) as mlrun:  # the keys: evaluate@<model>
        mlrun.log_artifact(root / paths.restore_results_file(name), "restorations")
        for picture in pictures:
            mlrun.log_artifact(picture, "restorations")
    done = ", ".join(f"{k}={result.metrics.get(k + '_psnr') or float('nan'):.2f} dB ({s:.1f} s)" for k, s in result.seconds.items())
    log(f"restore {name}: {done}; {data['restore_seconds']:.1f} s in all")
    return data
