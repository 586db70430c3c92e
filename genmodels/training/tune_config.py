"""Typed config of the ``tune`` section: the search space and the scheduler (no Ray import)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from genmodels.configbase import StrictModel


class SearchDim(StrictModel):
    """One search dimension: exactly one of the keys below."""

    choice: list[Any] | None = None  # categorical values
    uniform: tuple[float, float] | None = None  # [low, high]
    loguniform: tuple[float, float] | None = None  # [low, high], low > 0
    randint: tuple[int, int] | None = None  # [low, high) integers

    @model_validator(mode="after")
    def _exactly_one(self) -> "SearchDim":
        given = [k for k in ("choice", "uniform", "loguniform", "randint") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of choice, uniform, loguniform, randint (got {given or 'none'})")
        bounds = getattr(self, given[0])
        if given[0] != "choice" and not bounds[0] < bounds[1]:
            raise ValueError(f"{given[0]} needs low < high, got {list(bounds)}")
        if given[0] == "loguniform" and bounds[0] <= 0:
            raise ValueError("loguniform needs low > 0")
        if given[0] == "choice" and not bounds:
            raise ValueError("choice needs at least one value")
        return self


class TuneConfig(StrictModel):
    metric: str = "fid"  # a per-epoch sample metric (see genmodels.metrics.registry.tune_objectives) or a training loss such as loss/model
    mode: Literal["min", "max"] = "min"
    num_samples: int = Field(8, ge=1)  # trials
    max_concurrent_trials: int = Field(2, ge=1)
    scheduler: Literal["asha", "fifo"] = "asha"  # ASHA stops weak trials early (Li et al. 2020)
    grace_period: int = Field(3, ge=1)  # epochs before ASHA may stop a trial
    eval_samples: int = Field(500, ge=10)  # samples drawn per epoch for a sample metric
    cpus_per_trial: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0)
    # dotted keys inside the model's section -> distribution, e.g. {"fit.lr": {"loguniform": [1e-4, 1e-2]}}
    space: dict[str, SearchDim] = Field(
        default_factory=lambda: {"fit.lr": SearchDim(loguniform=(1e-4, 3e-3)), "fit.batch_size": SearchDim(choice=[32, 64, 128])}
    )

    @model_validator(mode="after")
    def _dotted_keys(self) -> "TuneConfig":
        for key in self.space:
            if key.split(".")[0] not in ("model", "fit") or "." not in key:
                raise ValueError(f"space.{key}: keys are dotted paths inside a model section, starting with model. or fit.")
        return self
