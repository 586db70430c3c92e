"""``params.yaml`` as typed, validated config objects: the single source of defaults.

Top-level sections map 1:1 onto the classes below; every model listed under ``models:``
has a section of its own (``family``, ``model``, ``fit``) whose ``model`` mapping is
validated by the family's registered config class. Any unknown key, wrong type or
out-of-range value raises :class:`ConfigError` with one line naming the dotted key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, model_validator

from genmodels.configbase import StrictModel, validate
from genmodels.data.config import DataConfig
from genmodels.errors import ConfigError
from genmodels.training.config import FitConfig, ScalingConfig


class EvaluatorConfig(StrictModel):
    extractor: str = "auto"  # feature extractor: auto (classifier for images, toy2d for points), classifier, inception-v3-compat
    epochs: int = Field(20, ge=1)  # classifier training epochs (digits: ~98% test accuracy)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0.0)  # AdamW peak learning rate, cosine-decayed per step
    width: int = Field(32, ge=4)  # channels of the classifier's first conv layer
    feature_dim: int = Field(128, ge=2)  # size of the penultimate features used by FID/KID/PRDC
    inception_weights: str | None = None  # local path of torch-fidelity's Inception-V3 weights (never downloaded)


class SampleConfig(StrictModel):
    n: int = Field(2000, ge=10)  # samples written to samples/<model>.parquet
    batch_size: int = Field(500, ge=1)
    temperature: float = Field(1.0, gt=0.0)  # latent/prior scale at sampling time
    grid: int = Field(100, ge=1)  # samples shown in samples/<model>.png


class EvaluateConfig(StrictModel):
    is_splits: int = Field(10, ge=1)  # Inception Score splits
    kid_subsets: int = Field(100, ge=1)
    kid_subset_size: int = Field(1000, ge=2)  # capped at the smaller sample count
    prdc_k: int = Field(5, ge=1)  # k of the k-NN manifolds
    ppl_samples: int = Field(2000, ge=10)  # latent pairs for PPL
    ppl_epsilon: float = Field(1e-4, gt=0.0)
    ppl_sampling: Literal["full", "end"] = "full"
    nll_max_samples: int | None = Field(None, ge=1)  # cap on test samples for likelihood (None: all)
    ood: Literal["permuted", "holdout-class"] = "permuted"  # out-of-distribution set for anomaly_auroc
    ood_class: int = Field(0, ge=0)  # the held-out class when ood = holdout-class
    throughput_samples: int = Field(1000, ge=10)  # samples timed for samples_per_second


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
    metric: str = "fid"  # fid, kid (sample metrics after every epoch) or a training loss such as loss/model
    mode: Literal["min", "max"] = "min"
    num_samples: int = Field(8, ge=1)  # trials
    max_concurrent_trials: int = Field(2, ge=1)
    scheduler: Literal["asha", "fifo"] = "asha"  # ASHA stops weak trials early (Li et al. 2020)
    grace_period: int = Field(3, ge=1)  # epochs before ASHA may stop a trial
    eval_samples: int = Field(500, ge=10)  # samples drawn per epoch for fid/kid
    cpus_per_trial: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0)
    # dotted keys inside the model's section -> distribution, e.g. {"fit.lr": {"loguniform": [1e-4, 1e-2]}}
    space: dict[str, SearchDim] = Field(
        default_factory=lambda: {"fit.lr": SearchDim(loguniform=(1e-4, 3e-3)), "fit.batch_size": SearchDim(choice=[32, 64, 128])}
    )


class ModelSection(StrictModel):
    family: str | None = None  # registered family; defaults to the section's name
    model: dict[str, Any] = Field(default_factory=dict)  # the family's config (validated by it)
    fit: FitConfig = FitConfig()


class Params(StrictModel):
    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    experiment: str = "genmodels"  # MLflow experiment name
    seed: int = Field(0, ge=0)  # the root seed of every random choice
    models: list[str] = Field(default_factory=lambda: ["vae"], min_length=1)  # sections trained by the pipeline
    data: DataConfig = DataConfig()
    evaluator: EvaluatorConfig = EvaluatorConfig()
    scaling: ScalingConfig = ScalingConfig()
    sample: SampleConfig = SampleConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    tune: TuneConfig = TuneConfig()

    @model_validator(mode="after")
    def _check_model_sections(self) -> "Params":
        from genmodels.models.core.registry import model_class

        sections = dict(self.model_extra or {})
        for name in self.models:
            sections.setdefault(name, {})
        for key in self.tune.space:
            if key.split(".")[0] not in ("model", "fit") or "." not in key:
                raise ConfigError(f"tune.space.{key}: keys are dotted paths inside a model section, starting with model. or fit.")
        resolved = {}
        for name, raw in sections.items():
            if not isinstance(raw, dict) and raw is not None:
                raise ConfigError(f"{name}: unknown key (model sections are mappings with family/model/fit)")
            section = validate(ModelSection, raw, name)
            family = section.family or name
            try:
                cls = model_class(family)
            except KeyError as exc:
                where = f"{name}.family" if section.family else name
                raise ConfigError(f"{where}: {exc.args[0]}") from None
            validate(cls.config_cls, section.model, f"{name}.model")
            resolved[name] = section.model_copy(update={"family": family})
        object.__setattr__(self, "_sections", resolved)
        return self

    def section(self, name: str) -> ModelSection:
        """The validated section of model ``name`` (family resolved)."""
        sections: dict[str, ModelSection] = self._sections  # type: ignore[attr-defined]
        if name not in sections:
            raise ConfigError(f"models: {name!r} has no section in params")
        return sections[name]


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; every problem is one :class:`ConfigError` line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return validate(Params, raw)
