"""``genmodels tune``: a Ray Tune search over one model, recorded in MLflow.

Trials are scored each epoch on fresh samples against the **validation** split's features
(computed here once with the evaluator network); the test split scores only the best
``tune.test_top_k`` trial(s), at the end. One parent run per search, one child run per trial
(through an ``mlflow server``, started here over the project's store unless
``MLFLOW_TRACKING_URI`` already names one). The search lives under
``.ray_runs/tune-<model>-<hash>``; ``--resume`` continues an interrupted one in the same
parent run, keeping finished trials. Outputs: ``reports/tune-<model>.json`` (every trial)
and ``reports/tune-<model>.params.yaml`` (the best configuration as a params.yaml fragment;
``genmodels tune --model M --overrides`` prints it as ``dvc exp run -S`` options).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from genmodels.atomic import write_json
from genmodels.data import read_samples
from genmodels.device import resolve_device
from genmodels.errors import ConfigError, DataError, GenmodelsError
from genmodels.metrics.features import extract, load_extractor
from genmodels.metrics.reference import load_reference, real_features
from genmodels.metrics.registry import tune_objectives
from genmodels.training.tune_config import TuneConfig, check_space
from pipelines import paths
from pipelines.common import check_evaluator, log, params, stable_hash, storage_path
from pipelines.jobs import prepared_job


class SearchInterrupted(GenmodelsError):
    """The search was stopped (Ctrl-C) before every trial ended; its state is saved."""

    exit_code = 130


def report_json(model: str) -> Path:
    return paths.REPORTS / f"tune-{model}.json"


def params_fragment(model: str) -> Path:
    return paths.REPORTS / f"tune-{model}.params.yaml"


def search_config(root: Path, params_file: str | None, model: str, num_samples: int | None) -> tuple[Any, TuneConfig]:
    """Params and the tune section (with ``--num-samples``), the space checked against the model: no trial starts on a bad one."""
    p = params(root, params_file)
    cfg = p.tune if num_samples is None else p.tune.model_copy(update={"num_samples": num_samples})
    spec = p.spec(model)
    check_space(cfg, model, spec.config, spec.fit)
    if cfg.searcher == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ConfigError("tune.searcher: optuna is not installed (pip install 'genmodels[tune]')") from None
        scalar = (type(None), bool, int, float, str)
        for key, dim in cfg.space.items():
            if dim.choice is not None and not all(isinstance(v, scalar) for v in dim.choice):
                raise ConfigError(f"tune.space.{key}: optuna's choices must be numbers, strings or booleans (got {dim.choice})")
    return p, cfg


def validation_features(extractor: Any, val_x: np.ndarray | None) -> dict[str, np.ndarray]:
    """The evaluator's features (and logits) of the validation split: the objective's reference."""
    if val_x is None or len(val_x) < 2:
        raise DataError(f"tune needs the validation split {paths.VAL} with at least 2 rows (run the 'prepare' stage)")
    return extract(extractor, val_x, ("features", "logits") if extractor.has_logits else ("features",))


def outcome(result: Any) -> str | None:
    """completed / stopped_early / failed, or None for a trial the interruption left unfinished."""
    from genmodels.training.tune_adapter import COMPLETE_KEY

    metrics = result.metrics or {}
    if result.error is not None:
        return "failed"
    if metrics.get(COMPLETE_KEY) == 1.0:
        return "completed"
    return "stopped_early" if metrics.get("done") else None


def trial_params(path: str) -> dict[str, Any]:
    """A trial's configuration from its ``params.json`` (a trial that failed before reporting has no result to carry it)."""
    try:
        return json.loads((Path(path) / "params.json").read_text())
    except (OSError, ValueError):
        return {}


def trial_rows(results: Any, metric: str) -> list[dict[str, Any]]:
    """One row per trial: id, configuration, last objective value, epochs trained, outcome."""
    rows = []
    for r in results:
        m = r.metrics or {}
        value = m.get(metric)
        config = {k: v.item() if isinstance(v, np.generic) else v for k, v in (r.config or trial_params(r.path)).items()}
        row = {"trial": Path(r.path).name, "config": config, metric: None if value is None else float(value),
               "epochs": int(m.get("training_iteration", 0)), "outcome": outcome(r)}  # fmt: skip
        if r.error is not None:
            row["error"] = str(r.error).strip().splitlines()[-1][:300] if str(r.error).strip() else type(r.error).__name__
        rows.append(row)
    return rows


def ranked(rows: list[dict[str, Any]], metric: str, mode: str) -> list[dict[str, Any]]:
    """Trials that were not failed and have a finite objective, best first."""
    ok = [r for r in rows if r["outcome"] != "failed" and r[metric] is not None and math.isfinite(r[metric])]
    return sorted(ok, key=lambda r: r[metric], reverse=mode == "max")


def write_fragment(root: Path, model: str, best: dict[str, Any], metric: str) -> Path:
    """``reports/tune-<model>.params.yaml``: the model's section holding the best configuration."""
    section: dict[str, Any] = {}
    for key, value in sorted(best["config"].items()):
        target = section
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    head = (f"# best configuration of `genmodels tune --model {model}`: {metric} {best[metric]:.6g} on the validation split\n"
            f"# (trial {best['trial']}; every trial in reports/tune-{model}.json). Train it through the pipeline with\n"
            f"#   dvc exp run $(genmodels tune --model {model} --overrides)\n")  # fmt: skip
    path = root / params_fragment(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(head + yaml.safe_dump({model: section}, sort_keys=True, default_flow_style=False))
    tmp.replace(path)
    return path


def overrides(root: Path, model: str) -> list[str]:
    """``-S ++<model>.<key>=<value>`` options of ``dvc exp run`` from the fragment (shell-safe: no spaces).

    ``++`` is Hydra's add-or-override (DVC parses ``-S`` with Hydra): a tuned key that
    params.yaml leaves at its default is added, one it sets is overridden.
    """
    path = root / params_fragment(model)
    if not path.is_file():
        raise DataError(f"{path} not found (run genmodels tune --model {model} first)")
    section = (yaml.safe_load(path.read_text()) or {}).get(model) or {}

    def walk(d: dict[str, Any], prefix: str) -> list[str]:
        out = []
        for k, v in d.items():
            if isinstance(v, dict):
                out += walk(v, f"{prefix}{k}.")
            else:
                out.append(f"-S ++{prefix}{k}={json.dumps(v, separators=(',', ':')) if isinstance(v, (list, bool)) or v is None else v}")
        return out

    return walk(section, f"{model}.")


def score_on_test(root: Path, results: Any, top: list[dict[str, Any]], extractor: Any, cfg: TuneConfig, p: Any) -> dict[str, dict[str, float]]:
    """Every per-epoch sample metric of the top trials' final checkpoints against the test split (``test_<key>``)."""
    from genmodels.training.tune_adapter import score_checkpoint

    if not top or cfg.metric not in tune_objectives():
        return {}
    test = real_features(load_reference(root / paths.REFERENCE))
    by_trial = {Path(r.path).name: r for r in results}
    out = {}
    for row in top:
        checkpoint = by_trial[row["trial"]].checkpoint
        if checkpoint is None:
            continue
        with checkpoint.as_directory() as d:
            scores = score_checkpoint(Path(d), tuple(tune_objectives()), extractor, test, cfg.eval_samples, p.seed, p.evaluate)
        out[row["trial"]] = {f"test_{k}": v for k, v in scores.items()}
    return out


def make_tuner(trainable: Any, cfg: TuneConfig, seed: int, epochs: int, name: str, storage: str, restore: str | None) -> Any:
    """A new Tuner for the search ``name``, or (``restore``: its folder) the saved one: unfinished
    trials continue from their checkpoints, finished and errored ones are kept as they ended."""
    from ray import tune

    from genmodels.training.tune_adapter import make_scheduler, make_searcher, search_space, trial_dirname

    if restore is not None:
        return tune.Tuner.restore(restore, trainable=trainable, resume_unfinished=True, resume_errored=False, restart_errored=False)
    return tune.Tuner(
        trainable,
        param_space=search_space(cfg.space),
        tune_config=tune.TuneConfig(
            metric=cfg.metric,
            mode=cfg.mode,
            num_samples=cfg.num_samples,
            search_alg=make_searcher(cfg, seed),
            scheduler=make_scheduler(cfg, epochs),
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(name=name, storage_path=storage, checkpoint_config=tune.CheckpointConfig(num_to_keep=1), verbose=1),
    )


def record(
    root: Path, model: str, results: Any, tracking: dict[str, str], uri: str, cfg: TuneConfig, p: Any, extractor: Any, exp_path: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """End every child run by its trial's outcome, score the best trial(s) on test, end the parent run; returns (rows, best).

    An interrupted search (a trial neither ended nor errored) is marked so and raises
    :class:`SearchInterrupted`; so does a tracking server that a Ctrl-C stopped.
    """
    from genmodels.tracking.store import reachable
    from genmodels.tracking.tune_runs import finish_search, finish_trials, interrupt_search, log_trial_metrics

    rows = trial_rows(results, cfg.metric)
    ends = {r["trial"]: (r["outcome"], {"genmodels.epochs_run": r["epochs"], **({"error": r["error"]} if "error" in r else {})}) for r in rows if r["outcome"]}
    if any(r["outcome"] is None for r in rows):
        done = len(ends)
        if reachable(uri):  # a Ctrl-C stops the server started here too; --resume finds the parent by its tag
            finish_trials(tracking, ends, None)
            interrupt_search(tracking)
        else:
            log(f"tune {model}: the tracking server stopped with the interruption; the runs stay RUNNING until --resume")
        raise SearchInterrupted(
            f"tune {model}: interrupted with {done} of the {len(rows)} trials started so far ended; state saved in {exp_path}; rerun with --resume to continue"
        )
    if not reachable(uri):  # a Ctrl-C after the last trial ended stops the server started here before the results are recorded
        raise SearchInterrupted(
            f"tune {model}: the tracking server stopped before the results were recorded; state saved in {exp_path}; rerun with --resume to record them"
        )
    best_rows = ranked(rows, cfg.metric, cfg.mode)
    if not best_rows:
        finish_trials(tracking, ends, None)
        finish_search(tracking)
        raise GenmodelsError(f"tune {model}: no trial reported a finite {cfg.metric!r} (see {exp_path})")
    best = best_rows[0]
    tests = score_on_test(root, results, best_rows[: cfg.test_top_k], extractor, cfg, p)
    for row in rows:
        row["test"] = tests.get(row["trial"])
    finish_trials(tracking, ends, best["trial"])
    for trial, scores in tests.items():
        log_trial_metrics(tracking, trial, scores)
    finish_search(tracking, {f"best_{cfg.metric}": best[cfg.metric], **(best["test"] or {})}, best["config"])
    return rows, best


def run(root: Path, model: str, params_file: str | None, address: str | None, num_samples: int | None, resume: bool) -> dict:
    from ray import tune

    from genmodels.tracking.server import tracking_server
    from genmodels.tracking.tune_runs import child_run, start_search
    from genmodels.training.ray_adapter import ensure_ray
    from genmodels.training.tune_adapter import trial_fn

    p, cfg = search_config(root, params_file, model, num_samples)
    job = prepared_job(root, p, model)
    if cfg.epochs is not None and job.fit.epochs != cfg.epochs:
        job = replace(job, fit=job.fit.model_copy(update={"epochs": cfg.epochs}))
    train = read_samples(root / paths.TRAIN)
    extractor = load_extractor(root / paths.EVALUATOR)
    check_evaluator(root / paths.EVALUATOR, job.info)
    real = validation_features(extractor, job.val)
    spec = {"name": extractor.name, "kwargs": extractor.kwargs, "state": {k: v.cpu() for k, v in extractor.state_dict().items()}}
    name = f"tune-{model}-{stable_hash([*job.fingerprint(), cfg.model_dump(mode='json')])[:12]}"
    storage = storage_path(root, p.scaling.storage_path)
    exp_path = f"{storage}/{name}"
    exists = tune.Tuner.can_restore(exp_path)
    if exists and not resume:
        raise GenmodelsError(f"a search with these params exists at {exp_path}: pass --resume to continue it (or remove the folder)")

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")  # one checkpoint per epoch is intended
    ensure_ray(address)
    with tracking_server(root) as uri:
        section = {"model": job.model_config.model_dump(mode="json"), "fit": job.fit.model_dump(mode="json")}
        tracking = start_search(uri, root, p.experiment, name, model, {"tune": cfg.model_dump(mode="json"), model: section}, reuse=exists)
        gpus = cfg.gpus_per_trial if resolve_device(cfg.gpus_per_trial > 0).type == "cuda" or address else 0
        trainable = tune.with_resources(
            tune.with_parameters(
                trial_fn, job=job, data=(train.x, train.y), extractor_spec=spec, real=real, tune_cfg=cfg, eval_cfg=p.evaluate,
                trial_run=partial(child_run, tracking),  # each trial an MLflow child run under the search's parent
            ),
            {"cpu": cfg.cpus_per_trial, "gpu": gpus},
        )
        tuner = make_tuner(trainable, cfg, p.seed, job.fit.epochs, name, storage, exp_path if exists else None)
        if exists:
            log(f"tune {model}: resuming {exp_path} (finished trials are kept, errored ones are not rerun)")
        results = tuner.fit()
        rows, best = record(root, model, results, tracking, uri, cfg, p, extractor, exp_path)
    counts = {k: sum(r["outcome"] == k for r in rows) for k in ("completed", "stopped_early", "failed")}
    summary = {"model": model, "metric": cfg.metric, "mode": cfg.mode, "objective_split": "val", "search": exp_path, "mlflow_parent_run": tracking["parent_run_id"],
               "trial_epochs": sum(r["epochs"] for r in rows), "outcomes": counts, "best": best, "trials": rows}  # fmt: skip
    write_json(root / report_json(model), json.loads(json.dumps(summary, default=float)))
    write_fragment(root, model, best, cfg.metric)
    shown = ", ".join(f"{k}={v:.4g}" for k, v in (best["test"] or {}).items() if v is not None)
    log(
        f"tune {model}: best val {cfg.metric}={best[cfg.metric]:.4g} with {best['config']} ({counts}); test: {shown or '-'}"
        f" -> {report_json(model)}, {params_fragment(model)}"
    )
    return summary
