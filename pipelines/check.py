"""Stage ``check``: validate the whole of params.yaml and resolve every default.

DVC reruns a stage only when a param it declares changes, so a misspelt top-level key (or a
section no stage reads) would otherwise pass silently. This stage depends on the whole file
(and the code that defines the defaults), so any edit reruns it; it writes
``build/params_resolved.json``: params.yaml with every default of the typed configs filled
in. The other stages declare their params from that file, so

- a stage reruns when an effective value it reads changes (an edit, or a new default);
- sections and keys may be omitted from params.yaml (DVC needs declared keys to exist);
- every stage runs after this one, and an invalid file stops ``dvc repro`` here.

The file is JSON, not YAML, and its name has one dot: DVC reads a stage's params file once per
stage when it checks whether the stage changed, choosing the parser by the name's suffix
(everything after the first dot, so ``.resolved.json`` would still be read as YAML), and its
YAML parser (pure Python) took 80 ms a read, about 3 s of every no-op ``dvc repro`` over the
pipeline's stages; JSON takes well under 1 ms.
"""

from __future__ import annotations

import json
from pathlib import Path

from genmodels.atomic import write_text
from genmodels.config import Params
from pipelines import paths
from pipelines.common import log, params


def resolved(p: Params) -> dict:
    """The effective params: every section with its defaults, each model's section validated."""
    out = p.model_dump(mode="json", exclude=set(p.model_extra or {}))
    for name in p.models:
        spec = p.spec(name)
        out[name] = {"model": spec.config.model_dump(mode="json"), "fit": spec.fit.model_dump(mode="json")}
    return out


def check_names(p: Params) -> None:
    """Names that registries resolve in later stages (the dataset, the feature extractor) must
    exist now, so a misspelt one stops ``dvc repro`` here with the known names listed."""
    from genmodels.data.registry import check_dataset_name

    check_dataset_name(p.data.name)
    if p.evaluator.extractor != "auto":  # "auto" depends on the data's kind, known after prepare
        from genmodels.metrics.build import resolve_extractor_name  # the extractors' modules: torch

        resolve_extractor_name(p.evaluator.extractor, "image")


def run(root: Path, params_file: str | None = None) -> dict:
    p = params(root, params_file)
    check_names(p)
    data = resolved(p)
    write_text(root / paths.PARAMS_RESOLVED, json.dumps(data, indent=2) + "\n")
    log(f"check: params valid ({len(p.models)} model(s): {', '.join(f'{n}={f}' for n, f in p.models.items())})")
    return data
