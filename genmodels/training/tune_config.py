"""Typed config of the ``tune`` section: the search space, the searcher and the scheduler (no Ray import).

:func:`check_space` checks a space against the model it searches (every key exists in the
model's section, every value a trial may draw is valid there), so a bad space fails before
any trial starts, with one line naming the key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from genmodels.configbase import StrictModel, validate
from genmodels.errors import ConfigError

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")


class SearchDim(StrictModel):
    """One search dimension: exactly one of the keys below."""

    choice: list[Any] | None = None  # categorical values
    uniform: tuple[float, float] | None = None  # [low, high]
    loguniform: tuple[float, float] | None = None  # [low, high], low > 0
    randint: tuple[int, int] | None = None  # [low, high) integers

    @model_validator(mode="before")
    @classmethod
    def _known_distribution(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [k for k in data if k not in DISTRIBUTIONS]
            if unknown:
                raise ValueError(f"unknown distribution {unknown[0]!r} (known: {', '.join(DISTRIBUTIONS)})")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SearchDim:
        given = [k for k in DISTRIBUTIONS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(DISTRIBUTIONS)} (got {given or 'none'})")
        bounds = getattr(self, given[0])
        if given[0] != "choice" and not bounds[0] < bounds[1]:
            raise ValueError(f"{given[0]} needs low < high, got {list(bounds)}")
        if given[0] == "loguniform" and bounds[0] <= 0:
            raise ValueError("loguniform needs low > 0")
        if given[0] == "choice" and not bounds:
            raise ValueError("choice needs at least one value")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in DISTRIBUTIONS if getattr(self, k) is not None)

    def extremes(self) -> list[Any]:
        """Values a trial may draw that stand for the rest: every choice, or both ends (and a middle) of a range."""
        if self.choice is not None:
            return list(self.choice)
        low, high = getattr(self, self.kind)
        if self.kind == "randint":
            return [low, high - 1]
        return [low, low + (high - low) * 0.371, high]  # a non-integral draw too: an int key rejects it


class TuneConfig(StrictModel):
    metric: str = "fid"  # a per-epoch sample metric (see genmodels.metrics.registry.tune_objectives) or a training loss such as loss/model
    mode: Literal["min", "max"] = "min"
    num_samples: int = Field(8, ge=1)  # trials
    max_concurrent_trials: int = Field(2, ge=1)
    searcher: Literal["random", "optuna"] = "random"  # optuna: TPE through ray.tune.search.optuna (pip install genmodels[tune])
    scheduler: Literal["asha", "fifo"] = "asha"  # ASHA stops weak trials early (Li et al. 2020); fifo runs every trial to the end
    # epochs each trial trains (ASHA's max_t), replacing the model's fit.epochs inside the search
    # (the learning-rate schedule follows it); null: the model's own. A short budget ranks
    # configurations by their early form, the usual multi-fidelity trade: 8 VAE trials at the
    # default 200 epochs take ~15 min on 2 cores, at 30 a few minutes.
    epochs: int | None = Field(30, ge=1)
    grace_period: int = Field(3, ge=1)  # epochs before ASHA may stop a trial (its first rung)
    reduction_factor: int = Field(3, ge=2)  # ASHA keeps the top 1/reduction_factor of the trials at each rung
    eval_samples: int = Field(500, ge=10)  # samples drawn per epoch and scored against the validation split
    test_top_k: int = Field(1, ge=0)  # best trials whose samples are also scored against the test split at the end
    cpus_per_trial: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0)
    # dotted keys inside the model's section -> distribution, e.g. {"fit.lr": {"loguniform": [1e-4, 1e-2]}}
    space: dict[str, SearchDim] = Field(
        default_factory=lambda: {"fit.lr": SearchDim(loguniform=(1e-4, 3e-3)), "fit.batch_size": SearchDim(choice=[32, 64, 128])}
    )

    @model_validator(mode="after")
    def _dotted_keys(self) -> TuneConfig:
        if not self.space:
            raise ConfigError("tune.space: give at least one dimension, e.g. {fit.lr: {loguniform: [1.0e-4, 3.0e-3]}}")
        for key in self.space:
            if key.split(".")[0] not in ("model", "fit") or "." not in key:
                raise ConfigError(f"tune.space.{key}: keys are dotted paths inside a model section, starting with model. or fit.")
        return self


def set_dotted(section: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``{"model": {...}, "fit": {...}}`` with the dotted ``key`` set to ``value``."""
    out = {k: dict(v) for k, v in section.items()}
    head, *parents, leaf = key.split(".")
    target = out[head]
    for p in parents:
        target[p] = dict(target.get(p) or {})
        target = target[p]
    target[leaf] = value
    return out


def _field_exists(cls: type[BaseModel], path: list[str]) -> str | None:
    """None when the dotted ``path`` names a field of ``cls`` (descending into nested configs), else the missing part."""
    model: type[BaseModel] | None = cls
    for i, part in enumerate(path):
        if model is None:  # inside a plain mapping: any key goes
            return None
        field = model.model_fields.get(part)
        if field is None:
            return ".".join(path[: i + 1])
        inner = [t for t in (field.annotation, *getattr(field.annotation, "__args__", ())) if isinstance(t, type) and issubclass(t, BaseModel)]
        model = inner[0] if inner else None
        if model is None and i < len(path) - 1 and "dict" not in str(field.annotation):
            return ".".join(path[: i + 2])
    return None


def check_space(cfg: TuneConfig, name: str, model_config: StrictModel, fit: StrictModel) -> None:
    """Fail (:class:`ConfigError`, one line naming ``tune.space.<key>``) on a key the model's
    section lacks, or on a value a trial could draw that the section would reject."""
    from genmodels.metrics.registry import tune_objectives

    allowed = tune_objectives()
    if cfg.metric not in allowed and not cfg.metric.startswith("loss/"):
        raise ConfigError(f"tune.metric: {cfg.metric!r} is not a per-epoch sample metric ({', '.join(allowed)}) or a training loss (loss/<group>)")
    if cfg.metric in allowed and allowed[cfg.metric] != ("lower" if cfg.mode == "min" else "higher"):
        raise ConfigError(f"tune.mode: {cfg.metric} is better {allowed[cfg.metric]}, so mode must be {'min' if allowed[cfg.metric] == 'lower' else 'max'}")
    section = {"model": model_config.model_dump(mode="json", exclude_unset=False), "fit": fit.model_dump(mode="json")}
    classes = {"model": type(model_config), "fit": type(fit)}
    for key, dim in cfg.space.items():
        head, *path = key.split(".")
        missing = _field_exists(classes[head], path)
        if missing is not None:
            known = ", ".join(classes[head].model_fields)
            raise ConfigError(f"tune.space.{key}: {name}.{head} has no key {missing!r} (known: {known})")
        for value in dim.extremes():
            trial = set_dotted(section, key, value)
            try:
                validate(classes[head], trial[head], f"{name}.{head}")
            except ConfigError as exc:
                raise ConfigError(f"tune.space.{key}: {dim.kind} may draw {value!r}, which {name} rejects ({exc})") from None
