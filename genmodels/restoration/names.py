"""Task and reference-row names, checked without torch (``genmodels check`` validates them).

A task is ``<kind>-<strength>``; each built-in kind parses its strength here (the corruption
itself lives in :mod:`.tasks`, which uses these parsers). A kind registered by a plugin is
checked by its factory in :mod:`.tasks` instead (see :mod:`.config`).
"""

from __future__ import annotations

from genmodels.errors import ConfigError

#: The tasks of the restoration stage, in report order.
DEFAULT_TASKS = ("denoise-0.2", "denoise-0.5", "inpaint-square", "inpaint-half", "superres-2", "superres-4")
#: The classical reference rows (:mod:`.references`), in report order.
DEFAULT_REFERENCES = ("ref-tv", "ref-nlm", "ref-biharmonic", "ref-bicubic", "ref-nearest-train")
INPAINT_REGIONS = ("square", "half")


def split_task(name: str, kinds: tuple[str, ...]) -> tuple[str, str]:
    """``(kind, strength)`` of ``<kind>-<strength>``; a malformed name raises :class:`ConfigError`."""
    kind, sep, strength = str(name).partition("-")
    if not sep or not strength:
        raise ConfigError(f"restoration task {name!r}: expected <kind>-<strength> (e.g. denoise-0.2; kinds: {', '.join(kinds)})")
    return kind, strength


def _number(task: str, strength: str, cast: type) -> float | int:
    try:
        return cast(strength)
    except ValueError:
        raise ConfigError(f"restoration task {task}-{strength}: the strength must be a {cast.__name__}") from None


def denoise_sigma(strength: str) -> float:
    """The noise level of ``denoise-<sigma>``: a finite number > 0 (in [0, 1] units)."""
    sigma = float(_number("denoise", strength, float))
    if not 0.0 < sigma < float("inf"):
        raise ConfigError(f"restoration task denoise-{strength}: sigma must be a finite number > 0")
    return sigma


def inpaint_region(strength: str) -> str:
    """The missing region of ``inpaint-<region>``: ``square`` or ``half``."""
    if strength not in INPAINT_REGIONS:
        raise ConfigError(f"restoration task inpaint-{strength}: the region must be {' or '.join(INPAINT_REGIONS)}")
    return strength


def superres_factor(strength: str) -> int:
    """The pooling factor of ``superres-<f>``: an integer >= 2."""
    factor = int(_number("superres", strength, int))
    if factor < 2:
        raise ConfigError(f"restoration task superres-{strength}: the factor must be an integer >= 2")
    return factor


BUILTIN_KINDS = {"denoise": denoise_sigma, "inpaint": inpaint_region, "superres": superres_factor}


def task_key(name: str) -> str:
    """The metric-key prefix ``<kind>_<strength>`` of a task (``denoise_0.5``, ``inpaint_half``, ``superres_x4``)."""
    kind, strength = split_task(name, tuple(BUILTIN_KINDS))
    return f"{kind}_x{strength}" if kind == "superres" else f"{kind}_{strength}"


def score_names(name: str) -> tuple[str, ...]:
    """The scores of a task: psnr, ssim, accuracy, and fid of the completions for inpainting."""
    return ("psnr", "ssim", "accuracy", "fid") if split_task(name, tuple(BUILTIN_KINDS))[0] == "inpaint" else ("psnr", "ssim", "accuracy")


#: Scores with a bootstrap interval (``_ci_low`` / ``_ci_high``); the completions' FID has none.
INTERVAL_SCORES = ("psnr", "ssim", "accuracy")
#: Which way each score is better.
BETTER = {"psnr": "higher", "ssim": "higher", "accuracy": "higher", "fid": "lower"}


def metric_keys(name: str) -> list[str]:
    """Every key a task writes: ``<key>_<score>`` and the intervals, e.g. ``denoise_0.5_psnr_ci_low``."""
    key = task_key(name)
    out = []
    for score in score_names(name):
        out.append(f"{key}_{score}")
        if score in INTERVAL_SCORES:
            out += [f"{key}_{score}_ci_low", f"{key}_{score}_ci_high"]
    return out


def check_task_name(name: str) -> str:
    """``name`` when it is a valid task of a built-in kind (no torch); an unknown kind raises :class:`ConfigError`."""
    kind, strength = split_task(name, tuple(BUILTIN_KINDS))
    if kind not in BUILTIN_KINDS:
        raise ConfigError(f"restoration task {name!r}: unknown kind {kind!r} (known: {', '.join(BUILTIN_KINDS)})")
    BUILTIN_KINDS[kind](strength)
    return name
