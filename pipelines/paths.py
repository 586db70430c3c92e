"""Every file the pipeline reads or writes, relative to the project root (see docs/design.md).

``dvc.yaml`` names the same paths; ``tests/pipelines/test_dvc_yaml.py`` checks that every
path a stage's code touches is declared there (and nothing else is).
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
PREPARED = Path("data/prepared")
TRAIN = PREPARED / "train.parquet"
VAL = PREPARED / "val.parquet"
TEST = PREPARED / "test.parquet"
CARD = PREPARED / "card.json"
EVALUATOR = Path("models/evaluator")
REFERENCE = EVALUATOR / "reference.npz"
EVALUATOR_CARD = EVALUATOR / "card.json"
REPORTS = Path("reports")
LEADERBOARD_CSV = REPORTS / "leaderboard.csv"
LEADERBOARD_MD = REPORTS / "leaderboard.md"
RESTORATION_CSV = REPORTS / "restoration.csv"  # the report's restoration table (its markdown is in leaderboard.md)
RUNS = Path(".ray_runs")  # Ray Train / local checkpoints (resume state), not a DVC output
PARAMS_RESOLVED = Path("build/params_resolved.json")  # the check stage: params.yaml with every default filled in; stages declare params from it
HISTORY_FILE = "history.json"  # per-epoch training history inside models/<model>/
RUN_FILE = "mlflow.json"  # inside models/<model>/: the id of the model's MLflow run (reference rows: .ray_runs/<row>.mlflow.json)


RESAMPLES = Path("resamples")
REFERENCE_ROWS = ("ref-holdout", "ref-train-copy")  # metrics/<row>.json written by the reference stage


def model_dir(name: str) -> Path:
    return Path("models") / name


HOLDOUT_SUBDIR = Path("holdout")  # models/<model>/holdout/: the copy trained without evaluate.holdout_class


def seed_subdir(seed: int) -> Path:
    """models/<model>/seeds/<seed>/: the model trained under an extra seed of ``seeds``."""
    return Path("seeds") / str(seed)


def samples_file(name: str) -> Path:
    return Path("samples") / f"{name}.parquet"


def samples_png(name: str) -> Path:
    return Path("samples") / f"{name}.png"


def figures_dir(name: str) -> Path:
    """figures/<model>/: the report's pictures of a model (sample@<model>) and its training curves."""
    return Path("figures") / name


INTERPOLATION_PNG = "interpolation.png"  # inside figures/<model>/: latent interpolation strip (families with a latent)
NEIGHBOURS_PNG = "neighbours.png"  # inside figures/<model>/: samples beside their nearest training images
CURVES_FILE = "training.json"  # inside figures/<model>/: the per-epoch history (DVC plots)
INDEX_HTML = REPORTS / "index.html"  # the self-contained report


def resamples_file(name: str) -> Path:
    """Per-resample bootstrap values of a row's sample metrics (paired comparisons in the report)."""
    return RESAMPLES / f"{name}.npz"


def metrics_file(name: str) -> Path:
    return Path("metrics") / f"{name}.json"


RESTORATIONS = Path("restorations")


def restore_results_file(name: str) -> Path:
    """restorations/<row>.json: what restore@<model> (or restore_reference) found for a row, the
    intermediate evaluate@<model> reads: the ``<task>_<strength>_<score>`` values, the reasons of
    the nulls, how each task was restored and how long it took. The keys' contract file is
    metrics/<row>.json (:func:`metrics_file`)."""
    return RESTORATIONS / f"{name}.json"


def restorations_file(name: str) -> Path:
    """restorations/<row>.npz: the restored means and completions per task, and the test indices restored."""
    return RESTORATIONS / f"{name}.npz"


def restore_figures_dir(name: str) -> Path:
    """restorations/<row>/: one picture per task (corrupted | restored | clean rows). Not under
    figures/<model>/, which sample@<model> writes whole (DVC outputs must not overlap)."""
    return RESTORATIONS / name
