"""Restoration scores of a model (docs/restoration.md): ``<task>_<strength>_<score>`` for every
task of :data:`~genmodels.restoration.names.DEFAULT_TASKS`, each with its bootstrap interval.

The keys derive from :mod:`genmodels.restoration.names` (PSNR, SSIM and the evaluator's class
accuracy of the restored test images; the FID of the inpainting completions). The work is done
by stage ``restore@<model>``, which writes its results to ``restorations/<model>.json``;
``evaluate@<model>`` loads that file into :attr:`EvalInputs.restoration` and this metric copies
its keys into ``metrics/<model>.json``. Without the file every key is null with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from genmodels.metrics.registry import NEEDS, EvalInputs, MetricKey, Undefined, register_metric
from genmodels.restoration.names import BETTER, DEFAULT_TASKS, INTERVAL_SCORES, score_names, task_key

ORDER = 45  # after the diagnostics, before the costs (see genmodels.metrics.builtin)

SCORE_DOCS = {
    "psnr": "restoration (docs/restoration.md): PSNR in dB of the restored test images (scikit-image, data range 1, capped at 100), "
            "mean over the `restore.n_images` seeded images; one key per task `<task>_<strength>` of `restore.tasks`",
    "ssim": "restoration: SSIM of the restored test images (scikit-image, 7x7 window, data range 1), mean over the images",
    "accuracy": "restoration: the evaluator's class accuracy on the restored test images (labelled data)",
    "fid": "restoration, inpainting only: Fréchet distance between the clean test images' features and the completions' "
           "(`restore.completions` per image)",
}  # fmt: skip
INTERVAL_DOC = "restoration: 95 % percentile bootstrap interval of the mean over the restored images (images resampled, seeded)"


def restoration_keys() -> list[MetricKey]:
    """The scores of every default task in task order, then their intervals (as the sample metrics)."""
    scores = [(task_key(t), s) for t in DEFAULT_TASKS for s in score_names(t)]
    out = [MetricKey(f"{prefix}_{score}", BETTER[score], SCORE_DOCS[score], column=False) for prefix, score in scores]
    out += [MetricKey(f"{prefix}_{score}_ci_{side}", None, INTERVAL_DOC, column=False)
            for prefix, score in scores if score in INTERVAL_SCORES for side in ("low", "high")]  # fmt: skip
    return out


KEYS = tuple(restoration_keys())
NOT_RUN = "not among restore.tasks"


def _number(value: object) -> bool:
    return value is None or isinstance(value, (int, float)) and not isinstance(value, bool)


def restoration_entries(results: Mapping) -> dict:
    """The entries of ``metrics/<row>.json`` from one row's restoration results (the file
    restore@<model> writes): every registered key (null where missing, with the reason under
    ``notes``) and, as supporting numbers, the row's other numeric entries (tasks outside the
    defaults, ``restore_seconds``, ``restore_images``)."""
    given = dict(results.get("notes") or {})
    out: dict = {}
    notes: dict[str, str] = {}
    for key in (k.name for k in KEYS):
        out[key] = results.get(key)
        if out[key] is None:
            notes[key] = given.get(key) or NOT_RUN
    registered = set(out)
    for key, value in results.items():
        if key not in registered and key != "notes" and _number(value):
            out[key] = value
            if value is None and key in given:
                notes[key] = given[key]
    return {**out, "notes": notes}


@register_metric("restoration", KEYS, needs={"restoration"})
def restoration(inp: EvalInputs) -> dict:
    if inp.restoration is None:
        raise Undefined(NEEDS["restoration"])
    return restoration_entries(inp.restoration)
