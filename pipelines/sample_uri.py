"""``genmodels sample --model-uri models:/<name>/<version>``: samples from a model in the MLflow
model registry (the ``report`` stage registers each family's best), no DVC stage involved."""

from __future__ import annotations

from pathlib import Path

from genmodels.data import Samples, write_samples
from genmodels.device import resolve_device
from genmodels.errors import DataError, GenmodelsError
from genmodels.sampling import draw_samples
from genmodels.training.checkpoint import load_model
from pipelines.common import first_line, log


def from_registry(root: Path, uri: str, n: int, out: Path, seed: int = 0, use_gpu: bool = False) -> Path:
    """Draw ``n`` samples from a model in the MLflow store (``models:/<name>/<version>``, or any
    artifact URI of a checkpoint folder) into the samples file ``out``."""
    import tempfile

    from genmodels.tracking.publish import download
    from genmodels.tracking.store import tracking_uri

    with tempfile.TemporaryDirectory(prefix="genmodels-model-") as tmp:
        try:
            folder = download(root, uri, Path(tmp))
        except GenmodelsError:
            raise
        except Exception as exc:  # MLflow's many errors for a missing name, version or artifact
            raise DataError(f"{uri}: cannot load it from the MLflow store {tracking_uri(root)} ({first_line(exc)}); "
                            "the report stage registers models:/<experiment>-<family>/<version> (see the Models page of genmodels ui)") from None  # fmt: skip
        model = load_model(folder, resolve_device(use_gpu))
    x = draw_samples(model, n, seed + 1)
    write_samples(out, Samples(x=x))
    log(f"sample {uri}: {len(x)} samples -> {out}")
    return out
