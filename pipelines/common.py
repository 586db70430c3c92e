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

from genmodels.config import Params, load_params
from genmodels.data.base import DatasetInfo, PreparedData
from genmodels.data.samples import read_samples
from genmodels.errors import DataError, GenmodelsError
from pipelines import paths

F = TypeVar("F", bound=Callable[..., Any])


def project_root() -> Path:
    return Path(os.environ.get("GENMODELS_ROOT", ".")).resolve()


def params(root: Path, path: str | None = None) -> Params:
    return load_params(root / (path or paths.PARAMS))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def one_line_errors(fn: F) -> F:
    """User errors become ``error: <message>`` on stderr and their exit code, no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GenmodelsError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(exc.exit_code) from None

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
    path = root / paths.CARD
    if not path.is_file():
        raise DataError(f"dataset card not found: {path} (run the 'prepare' stage first)")
    return json.loads(path.read_text())


def load_info(root: Path) -> DatasetInfo:
    return DatasetInfo.from_json(load_card(root))


def load_prepared(root: Path) -> PreparedData:
    read = lambda p: read_samples(root / p)  # noqa: E731
    return PreparedData(train=read(paths.TRAIN), val=read(paths.VAL), test=read(paths.TEST), info=load_info(root))


def storage_path(root: Path, configured: str | None) -> str:
    """Checkpoint storage: ``scaling.storage_path`` (a URI, or a path made absolute) or ``.ray_runs/``."""
    if configured and "://" in configured:
        return configured
    return str((root / (configured or paths.RUNS)).resolve())
