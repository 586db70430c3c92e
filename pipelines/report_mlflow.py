"""What the ``report`` stage records in MLflow: the experiment's description (the headline
leaderboard, shown above the runs), the pipeline run's tags on every model run, a ``report``
run holding ``reports/index.html`` and the leaderboard, and the best model of each family in
the model registry (``<experiment>-<family>``, its metrics as tags and description).

Nothing happens when no model has a run in the store (a report over hand-written metrics).
A queued DVC experiment (its temporary workspace) records its report run and tags its model
runs, but leaves the experiment's description and the registry to the project's own
pipeline: they describe what the repository publishes, not every trial (``dvc exp apply
<name>``, then ``dvc repro --force --single-item report``, publishes an experiment's results).
"""

from __future__ import annotations

from pathlib import Path

from pipelines import paths
from pipelines.common import log
from pipelines.summary import headline

REFERENCE_FAMILY = "(reference)"
REGISTERED_KEYS = ("fid", "fid_ci_low", "fid_ci_high", "nll_bits_per_dim", "is", "precision", "recall", "ppl", "kid")
CHECKPOINT_ARTIFACT = "checkpoint"  # where train@<m> logs models/<m>/ in its run


def registered_name(experiment: str, family: str) -> str:
    """The registry name of a family's best model: ``<experiment>-<family>``."""
    return f"{experiment}-{family}"


def best_per_family(table: list[dict], key: str = "fid") -> dict[str, dict]:
    """Per family, the row with the lowest ``key`` (rows without it are skipped)."""
    best: dict[str, dict] = {}
    for r in table:
        if r["family"] == REFERENCE_FAMILY or r.get(key) is None:
            continue
        if r["family"] not in best or r[key] < best[r["family"]][key]:
            best[r["family"]] = r
    return best


def publish(root: Path, experiment: str, table: list[dict], board_md: str) -> dict[str, str]:
    """Describe the experiment, tag the runs, log the report run, register each family's best.

    Returns ``{registered name: version}``."""
    run_files = {r["model"]: root / paths.model_dir(r["model"]) / paths.RUN_FILE for r in table if r["family"] != REFERENCE_FAMILY}
    if not any(f.is_file() for f in run_files.values()):
        return {}
    from genmodels.tracking.presentation import experiment_tags, pipeline_tags
    from genmodels.tracking.publish import describe_experiment, log_report_run, register_version, tag_runs
    from genmodels.tracking.store import in_temporary_workspace

    tags = pipeline_tags(root)
    trial = in_temporary_workspace(root)
    if not trial:
        intro = ("Generative models trained, sampled and evaluated by the genmodels pipeline. Headline metrics "
                 "(reports/leaderboard.md has every column; reports/index.html the pictures):\n\n")  # fmt: skip
        describe_experiment(root, experiment, intro + board_md)
    run_ids = tag_runs(root, experiment, run_files, tags)
    files = [root / f for f in (paths.INDEX_HTML, paths.LEADERBOARD_MD, paths.LEADERBOARD_CSV) if (root / f).is_file()]
    log_report_run(root, experiment, files, tags)
    if trial:
        name = experiment_tags().get("dvc.exp_name", "?")
        log(f"report: DVC experiment {name} recorded; the experiment's description and the model registry are left to the "
            f"project's pipeline (dvc exp apply {name}, then dvc repro --force --single-item report, publishes it)")  # fmt: skip
        return {}
    versions = {}
    for family, row in sorted(best_per_family(table).items()):
        if row["model"] not in run_ids:
            continue
        name = registered_name(experiment, family)
        meta = {"genmodels.model": row["model"], "genmodels.family": family, **tags, **{k: row.get(k) for k in REGISTERED_KEYS}}
        version, new = register_version(root, name, run_ids[row["model"]], CHECKPOINT_ARTIFACT, meta, f"{row['model']}: {headline(row)}")
        versions[name] = version
        log(f"report: {'registered' if new else 'kept'} models:/{name}/{version} ({row['model']}, fid={row['fid']:.4g})")
    return versions
