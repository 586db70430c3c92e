"""Shared stage plumbing: the project root, params, the dataset card, one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer

from genmodels.config import Params, load_params
from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.samples import Samples, read_samples
from genmodels.errors import DEBUG_ENV, DataError, GenmodelsError, ModelConfigError, debugging
from pipelines import paths

F = TypeVar("F", bound=Callable[..., Any])


def project_root() -> Path:
    return Path(os.environ.get("GENMODELS_ROOT", ".")).resolve()


def params(root: Path, path: str | None = None) -> Params:
    return load_params(root / (path or paths.PARAMS))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# The command line's own control flow: help, usage errors (typer's click exceptions), exits.
CLI_EXCEPTIONS: tuple[type[Exception], ...] = (typer.Exit, typer.Abort, typer.TyperException)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, or its type's name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def one_line_errors(fn: F) -> F:
    """Errors become one line ``error: <message>`` on stderr, no traceback (unless :func:`debugging`).

    User errors (:class:`GenmodelsError`) exit with their code (2 for bad params or input
    files); a :class:`ModelConfigError` gets the command's ``model`` name in front of its key.
    Anything else is unexpected: its first line and exit code 1.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GenmodelsError as exc:
            if debugging():
                raise
            message = str(exc).strip().replace("\n", " ")
            if isinstance(exc, ModelConfigError) and isinstance(kwargs.get("model"), str):
                message = f"{kwargs['model']}.{message}"
            print(f"error: {message}", file=sys.stderr, flush=True)
            raise SystemExit(exc.exit_code) from None
        except CLI_EXCEPTIONS:
            raise
        except Exception as exc:
            if debugging():
                raise
            print(f"error: unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --debug for the traceback)", file=sys.stderr, flush=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def load_card(root: Path) -> dict[str, Any]:
    """``data/prepared/card.json``; DataError naming it when missing or not a JSON mapping."""
    path = root / paths.CARD
    if not path.is_file():
        raise DataError(f"dataset card not found: {path} (run the 'prepare' stage first)")
    return read_json_mapping(path, "dataset card", "run the 'prepare' stage again")


def read_json_mapping(path: Path, what: str, fix: str) -> dict[str, Any]:
    """The JSON object in ``path``; a DataError naming ``what`` and ``fix`` when it is not one."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict):
        raise DataError(f"{what} {path} is not a JSON mapping; {fix}")
    return data


def load_info(root: Path) -> DatasetInfo:
    """The prepared dataset's description from its card."""
    card = load_card(root)
    try:
        return DatasetInfo.from_json(card)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"dataset card {root / paths.CARD} lacks or garbles {first_line(exc)}; run the 'prepare' stage again") from None


def read_prepared(root: Path, rel: Path) -> Samples:
    """One prepared split; a missing one says which stage makes it."""
    if not (root / rel).is_file():
        raise DataError(f"samples file not found: {root / rel} (run the 'prepare' stage first)")
    return read_samples(root / rel)


def load_prepared(root: Path) -> PreparedData:
    read = lambda p: read_prepared(root, p)
    return PreparedData(train=read(paths.TRAIN), val=read(paths.VAL), test=read(paths.TEST), info=load_info(root))


EVALUATOR_RERUN = "run the 'evaluator' stage again on this data, or pass the evaluator built for it"


def data_facts(info: DatasetInfo) -> dict[str, Any]:
    """What an evaluator folder's card records about the data it was built for."""
    return {"dataset": info.name, "shape": list(info.shape), "levels": info.levels}


def evaluator_built_for(folder: Path) -> dict[str, Any]:
    """The data facts of an evaluator folder: its card's, else the input shape its extractor keeps ({} if unknown)."""
    from genmodels.metrics.features import CONFIG_FILE

    card_file, config_file = folder / paths.EVALUATOR_CARD.name, folder / CONFIG_FILE
    facts: dict[str, Any] = {}
    for f in (config_file, card_file):
        if not f.is_file():
            continue  # load_extractor names a missing extractor file
        data = read_json_mapping(f, "evaluator file", EVALUATOR_RERUN)
        if f == config_file:  # image extractors keep their input shape (folders from before the card had one)
            shape = (data.get("kwargs") or {}).get("shape")
            facts |= {"shape": list(shape)} if isinstance(shape, list) else {}
        else:
            facts |= {k: data[k] for k in ("dataset", "shape", "levels") if k in data}
    return facts


def _describe(facts: dict[str, Any]) -> str:
    parts = [repr(facts["dataset"])] if "dataset" in facts else []
    parts += [f"shape {facts['shape']}"] if "shape" in facts else []
    parts += [f"{facts['levels']} levels" if facts["levels"] else "continuous values"] if "levels" in facts else []
    return ", ".join(parts)


def check_evaluator(folder: Path, info: DatasetInfo) -> None:
    """DataError naming ``folder`` when it was built for other data than the prepared data (``info``)."""
    have, want = evaluator_built_for(folder), data_facts(info)
    if any(have[k] != want[k] for k in have):
        raise DataError(f"evaluator folder {folder} was built for {_describe(have)}, but the prepared data ({paths.CARD}) is {_describe(want)}; {EVALUATOR_RERUN}")


def check_sample_shape(folder: Path, shape: tuple[int, ...], source: Path) -> None:
    """DataError when the samples in ``source`` have another shape than ``folder``'s evaluator was built for."""
    have = evaluator_built_for(folder)
    if "shape" in have and list(have["shape"]) != list(shape):
        of = f"{have['dataset']!r} " if "dataset" in have else ""
        raise DataError(f"evaluator folder {folder} was built for {of}samples of shape {have['shape']}, but {source} holds samples of shape {list(shape)}; pass the evaluator built for this data")


def storage_path(root: Path, configured: str | None) -> str:
    """Checkpoint storage: ``scaling.storage_path`` (a URI, or a path made absolute) or ``.ray_runs/``."""
    if configured and "://" in configured:
        return configured
    return str((root / (configured or paths.RUNS)).resolve())
