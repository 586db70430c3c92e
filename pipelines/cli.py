"""The ``genmodels`` command line: every DVC stage, plus ``metrics`` for any two sample files,
``tune`` (a Ray Tune search) and ``ui`` (the MLflow UI).

Run from the project root (or set ``GENMODELS_ROOT``). Errors print one line
``error: ...`` and exit non-zero (2 for bad params, input files or usage, 1 otherwise);
``genmodels --debug <command>`` shows the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from pipelines.common import DEBUG_ENV, one_line_errors, project_root

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train, sample and evaluate generative models (the stages of dvc.yaml, runnable by hand).",
)


@app.callback()
def options(debug: bool = typer.Option(False, "--debug", help="on an error, show the full traceback instead of one line")) -> None:
    """Options that apply to every command."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # read by one_line_errors (and inherited by worker processes)


ParamsOpt = typer.Option(None, "--params", help="params file relative to the project root (default: params.yaml)")


@app.command()
@one_line_errors
def check(params: Optional[str] = ParamsOpt) -> None:
    """Validate the whole params file (every key, every model section) -> build/params_resolved.json, every default filled in."""
    from pipelines import check as stage

    stage.run(project_root(), params)


@app.command()
@one_line_errors
def prepare(params: Optional[str] = ParamsOpt) -> None:
    """Load the configured dataset -> data/prepared/{train,val,test}.parquet, card.json."""
    from pipelines import prepare as stage

    stage.run(project_root(), params)


@app.command()
@one_line_errors
def evaluator(params: Optional[str] = ParamsOpt) -> None:
    """Train the feature network and store the real test set's reference statistics."""
    from pipelines import evaluator as stage

    stage.run(project_root(), params)


@app.command()
@one_line_errors
def train(model: str = typer.Argument(..., help="a model section listed under models:"), params: Optional[str] = ParamsOpt) -> None:
    """Train one model (in-process or with Ray Train) -> models/<model>/."""
    from pipelines import train as stage

    stage.run(project_root(), model, params)


@app.command()
@one_line_errors
def sample(
    model: Optional[str] = typer.Argument(None, help="a model section listed under models: (or use --model-uri)"),
    params: Optional[str] = ParamsOpt,
    model_uri: Optional[str] = typer.Option(None, "--model-uri", help="a registered model, models:/<name>/<version>, to draw from instead"),
    n: int = typer.Option(1000, "--n", min=1, help="with --model-uri: how many samples"),
    out: Optional[Path] = typer.Option(None, "--out", help="with --model-uri: the samples file to write (.parquet)"),
    seed: int = typer.Option(0, "--seed", help="with --model-uri: the sampling seed"),
) -> None:
    """Draw samples -> samples/<model>.parquet, samples/<model>.png, figures/<model>/; or, with --model-uri, from a registered model -> --out."""
    from pipelines import sample as stage

    if model_uri is not None:
        if model is not None or out is None:
            raise typer.BadParameter("with --model-uri give --out F.parquet and no model name", param_hint="--model-uri")
        from pipelines.sample_uri import from_registry

        from_registry(project_root(), model_uri, n, out, seed)
        return
    if model is None:
        raise typer.BadParameter("name a model (a section under models:) or give --model-uri models:/<name>/<version>", param_hint="MODEL")
    stage.run(project_root(), model, params)


@app.command()
@one_line_errors
def evaluate(model: str = typer.Argument(...), params: Optional[str] = ParamsOpt) -> None:
    """Compute every registered metric -> metrics/<model>.json, resamples/<model>.npz (and MLflow); the restoration keys from restorations/<model>.json (genmodels restore)."""
    from pipelines import evaluate as stage

    stage.run(project_root(), model, params)


@app.command()
@one_line_errors
def reference(params: Optional[str] = ParamsOpt) -> None:
    """Score real images like samples -> metrics/ref-holdout.json (validation split), metrics/ref-train-copy.json (training images)."""
    from pipelines import reference as stage

    stage.run(project_root(), params)


@app.command()
@one_line_errors
def restore(model: str = typer.Argument(..., help="a model section listed under models:"), params: Optional[str] = ParamsOpt) -> None:
    """Restore seeded corruptions of test images -> restorations/<model>.json (results; genmodels evaluate writes their keys into metrics/<model>.json), restorations/<model>.npz, pictures in restorations/<model>/ (and MLflow)."""
    from pipelines import restore as stage

    stage.run(project_root(), model, params)


@app.command("restore-reference")
@one_line_errors
def restore_reference(
    rows: Optional[list[str]] = typer.Argument(None, help="reference rows (default: all: ref-tv ref-nlm ref-biharmonic ref-bicubic ref-nearest-train)"),
    params: Optional[str] = ParamsOpt,
) -> None:
    """The classical restorers on the same observations -> metrics/<row>.json (the restoration keys), restorations/<row>.json (results), restorations/<row>.npz, pictures in restorations/<row>/."""
    from pipelines import restore_reference as stage

    stage.run(project_root(), rows, params)


@app.command()
@one_line_errors
def report(params: Optional[str] = ParamsOpt) -> None:
    """Collect metrics/*.json -> reports/leaderboard.{csv,md} and the self-contained reports/index.html."""
    from pipelines import report as stage

    stage.run(project_root(), params)


@app.command()
@one_line_errors
def ui(
    port: int = typer.Option(5000, "--port", min=0, max=65535, help="port on 127.0.0.1 (0: any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
) -> None:
    """The MLflow UI over the project's tracking store (mlflow.db at the root, or MLFLOW_TRACKING_URI)."""
    from pipelines import ui as stage

    raise typer.Exit(stage.run(project_root(), host, port))


@app.command()
@one_line_errors
def metrics(
    real: Path = typer.Option(..., "--real", help="samples file of real data"),
    fake: Path = typer.Option(..., "--fake", help="samples file to evaluate"),
    evaluator: Path = typer.Option(..., "--evaluator", help="evaluator folder (models/evaluator)"),
    out: Path = typer.Option(..., "--out", help="metrics JSON to write"),
    features_out: Optional[Path] = typer.Option(None, "--features-out", help="folder for the features as .npy"),
    seed: int = typer.Option(0, "--seed", help="seed of KID's subsets"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="feature cache folder (default: $GENMODELS_CACHE or .genmodels_cache)"),
) -> None:
    """Sample metrics (IS, FID, KID, PRDC, diagnostics) between any two sample files."""
    import os

    from genmodels.config import EvaluateConfig
    from pipelines import metrics_cmd

    cache_dir = cache or Path(os.environ.get("GENMODELS_CACHE", ".genmodels_cache")) / "features"
    result = metrics_cmd.run(real, fake, evaluator, out, features_out, EvaluateConfig(), seed, cache_dir)
    shown = ", ".join(f"{k}={v:.4g}" for k, v in result.items() if isinstance(v, float))
    typer.echo(shown)


@app.command()
@one_line_errors
def compare(
    run: Optional[Path] = typer.Option(None, "--run", metavar="DIR", help="the run: a project folder or a folder of <model>.json (default: the working tree)"),
    baseline: Optional[Path] = typer.Option(None, "--baseline", metavar="DIR", help="the baseline as a folder like --run (default: committed at --rev)"),
    rev: Optional[str] = typer.Option(None, "--rev", metavar="REV", help="the git revision whose committed metrics/*.json are the baseline (default: HEAD)"),
    model: Optional[list[str]] = typer.Option(None, "--model", metavar="NAME", help="compare only this model (repeatable; 'evaluator' is the evaluator card)"),
    json_out: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
) -> None:
    """Compare a run's metrics/*.json (and models/evaluator/card.json) with a baseline's, the committed ones by default.

    Per model and metric: identical, within the baseline's interval, outside, or no interval; timings listed apart.
    Exit 0 when nothing is outside, 1 when something is.
    """
    from pipelines import compare as stage

    if baseline is not None and rev is not None:
        raise typer.BadParameter("give either --baseline DIR or --rev REV", param_hint="--baseline")
    raise typer.Exit(stage.run(project_root(), run, baseline, rev or "HEAD", model or (), json_out))


@app.command()
@one_line_errors
def tune(
    model: str = typer.Option(..., "--model", help="the model section to search"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: $RAY_ADDRESS or a local instance)"),
    num_samples: Optional[int] = typer.Option(None, "--num-samples", min=1, help="trials (default: tune.num_samples)"),
    resume: bool = typer.Option(False, "--resume", help="continue the interrupted search with the same params (a new one if there is none)"),
    overrides: bool = typer.Option(False, "--overrides", help="print the best configuration as `dvc exp run` options (-S ...) and exit"),
    params: Optional[str] = ParamsOpt,
) -> None:
    """Ray Tune search over the `tune.space` of one model, scored on the validation split; trials are MLflow child runs.

    Writes reports/tune-<model>.json and reports/tune-<model>.params.yaml; train the best configuration through the pipeline with: dvc exp run $(genmodels tune --model M --overrides)
    """
    from pipelines import tune as stage

    if overrides:
        typer.echo(" ".join(stage.overrides(project_root(), model)))
        return
    stage.run(project_root(), model, params, address, num_samples, resume)


def main() -> None:
    """Run the command line; a usage error (unknown option, missing argument) is one line too."""
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit (130 on Ctrl-C)
    except typer.Abort:
        print("Aborted!", file=sys.stderr, flush=True)
        code = 1
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # bare ``genmodels``: the help text
            typer.echo(ctx.get_help())
            sys.exit(getattr(exc, "exit_code", 2))
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {exc.format_message()}{hint}", file=sys.stderr, flush=True)
        code = getattr(exc, "exit_code", 2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
