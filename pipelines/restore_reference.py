"""Stage ``restore_reference``: the classical restorers (scikit-image's TV, non-local means,
biharmonic inpainting, bicubic upsampling, and the nearest training image; the rows of
:data:`genmodels.restoration.names.DEFAULT_REFERENCES`) on the same observations as restore@<model>,
each parameter chosen on the validation split -> metrics/<row>.json (the restoration keys through
the metric registry, every other key null: no model, no samples), restorations/<row>.json (the
results: methods, parameters, seconds), restorations/<row>.npz and pictures per row, and an MLflow
run per row. One process for every row: the stage's cost is mostly start-up (imports), paid once."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from genmodels.atomic import write_json
from genmodels.config import Params
from genmodels.data import read_samples
from genmodels.metrics.builtin.restoration import restoration_entries
from genmodels.metrics.registry import metric_keys
from genmodels.restoration.names import DEFAULT_REFERENCES
from genmodels.restoration.references import check_reference_name, choose_parameters, run_reference
from genmodels.restoration.runner import restore_subset, run_tasks, undefined_row
from genmodels.restoration.tasks import Observation, Task
from pipelines import paths
from pipelines.common import log, params
from pipelines.restore_io import Inputs, load_inputs, not_images, row_json, write_row

NO_MODEL = "reference row: a classical restorer, no model"
NO_SAMPLES = "reference row: a classical restorer, no model or samples (restoration keys only)"


def reference_metrics(results: dict) -> dict:
    """metrics/<row>.json of a restoration reference row: every registered key, the restoration
    ones from ``results`` (:func:`restoration_entries`, as evaluate@<model> writes them), the
    others null with :data:`NO_SAMPLES`."""
    entries = restoration_entries(results)
    notes = entries.pop("notes")
    out = {**{k: None for k in metric_keys()}, **entries}
    return {**out, "notes": {**{k: NO_SAMPLES for k, v in out.items() if v is None and k not in entries}, **notes}}


def write_metrics(root: Path, name: str, results: dict) -> dict:
    data = reference_metrics(results)
    write_json(root / paths.metrics_file(name), data)
    return data


def run(root: Path, rows: list[str] | None = None, params_file: str | None = None) -> dict[str, dict]:
    """Every row of ``rows`` (default: :data:`DEFAULT_REFERENCES`, the stage's outputs)."""
    rows = list(rows or DEFAULT_REFERENCES)
    for name in rows:
        check_reference_name(name)
    p = params(root, params_file)
    cfg = p.restore
    reason = not_images(root)
    if reason is not None:  # e.g. toy2d: every key null with the reason, so dvc repro goes on
        data = {name: row_json(undefined_row(cfg.tasks, reason), 0, time.perf_counter(), family="(reference)") for name in rows}
        for name in rows:
            write_row(root, name, undefined_row(cfg.tasks, reason), None, 0, data[name])
            write_metrics(root, name, data[name])
        log(f"restore-reference: {reason}")
        return data
    inputs = load_inputs(root, cfg.n_images, p.seed, p.scaling.use_gpu)
    train = torch.as_tensor(read_samples(root / paths.TRAIN).x, dtype=torch.float32)
    val = read_samples(root / paths.VAL).x
    val = torch.as_tensor(val[restore_subset(len(val), cfg.n_images, p.seed)], dtype=torch.float32)
    return {name: run_row(root, name, p, inputs, train, val) for name in rows}


def run_row(root: Path, name: str, p: Params, inputs: Inputs, train: torch.Tensor, val: torch.Tensor) -> dict:
    """One reference row: parameters chosen on ``val`` per task, restored, scored, written, logged."""
    from genmodels.tracking.runs import model_run

    started = time.perf_counter()
    cfg = p.restore
    chosen: dict[str, dict] = {}

    def restorer(task: Task, obs: Observation):  # noqa: ANN202
        chosen[task.key] = choose_parameters(name, task, val, train, p.seed)  # raises Undefined outside its tasks
        return run_reference(name, obs, train, chosen[task.key])

    result = run_tasks(restorer, inputs.clean, cfg.tasks, p.seed, inputs.labels, inputs.classify, inputs.features)
    data = row_json(result, len(inputs.clean), started, family="(reference)", parameters=chosen)
    pictures = write_row(root, name, result, inputs, cfg.pictures, data)
    metrics = write_metrics(root, name, data)
    with model_run(root, p.experiment, name, root / paths.RUNS / f"{name}.{paths.RUN_FILE}", new=True) as mlrun:
        mlrun.set_tags({"genmodels.reference": "true", "genmodels.note": NO_MODEL})
        mlrun.log_metrics({k: v for k, v in metrics.items() if k != "notes"})
        mlrun.log_artifact(root / paths.metrics_file(name), "metrics")
        mlrun.log_artifact(root / paths.restore_results_file(name), "restorations")
        for picture in pictures:
            mlrun.log_artifact(picture, "restorations")
    log(f"restore-reference {name}: {len(result.seconds)} task(s), {data['restore_seconds']:.1f} s")
    return data
