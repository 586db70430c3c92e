"""Atomic writes: every file and folder the project produces appears whole or not at all.

A writer fills a temporary name beside the destination (same filesystem), then one
``os.replace`` (files) or a swap of folders puts it in place; a crash or an exception
leaves the old output untouched and removes the temporary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def staged_file(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` (same suffix); on success it replaces ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.stem}.tmp-", suffix=final.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_file(final: str | os.PathLike, write: Callable[[Path], Any]) -> None:
    """``write(tmp_path)`` then rename into place (for writers that take a path: Parquet, PNG, npz)."""
    with staged_file(final) as tmp:
        write(tmp)


def write_text(final: str | os.PathLike, text: str) -> None:
    write_file(final, lambda tmp: tmp.write_text(text))


def write_json(final: str | os.PathLike, data: Any) -> None:
    """Indented JSON with a trailing newline, written atomically."""
    write_text(final, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_npz(final: str | os.PathLike, arrays: dict[str, Any]) -> None:
    """Named arrays in one ``.npz`` file (``numpy.savez``; an empty file without arrays), written atomically."""
    import numpy as np

    write_file(final, lambda tmp: np.savez(tmp, **arrays))


def replace_dir(src: Path, dst: Path) -> None:
    """Move a finished folder into place, replacing ``dst`` (no half-written outputs)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.old-"))
        os.replace(dst, old / "x")
    shutil.move(str(src), str(dst))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final`` at once."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        yield tmp
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
