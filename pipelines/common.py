"""Shared stage plumbing: the project root, params, atomic outputs, one-line errors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
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
    return load_params(root / (path or "params.yaml"))


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


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder beside ``final``; on success it replaces ``final`` at once."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        yield tmp
        from genmodels.training.checkpoint import replace_dir

        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


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
    from genmodels.training.checkpoint import info_from_dict

    card = load_card(root)
    return info_from_dict({k: card[k] for k in ("name", "kind", "shape", "levels", "num_classes", "value_range", "extra")})


def load_prepared(root: Path, splits: tuple[str, ...] = ("train", "test")) -> PreparedData:
    info = load_info(root)
    train = read_samples(root / paths.TRAIN) if "train" in splits else None
    test = read_samples(root / paths.TEST) if "test" in splits else None
    return PreparedData(train=train, test=test, info=info)  # type: ignore[arg-type]


def storage_path(root: Path, configured: str | None) -> str:
    """Checkpoint storage: ``scaling.storage_path`` (a URI, or a path made absolute) or ``.ray_runs/``."""
    if configured and "://" in configured:
        return configured
    return str((root / (configured or paths.RUNS)).resolve())
