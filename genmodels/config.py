"""``params.yaml`` as typed, validated config objects: the single source of defaults.

Each top-level section maps 1:1 onto a config class that lives beside what it configures
(``data/config.py``, ``training/config.py``, ``metrics/config.py``, ``sampling.py``,
``training/tune_config.py``, ``restoration/config.py``, each family's package); this module only composes them.
``models:`` maps each model's name to its family; every model may have a section of its own
(``model``, ``fit``) whose ``model`` mapping is validated by the family's config class. Any
unknown key, wrong type or out-of-range value raises :class:`ConfigError` with one line
naming the dotted key (and the closest known key for a misspelling).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from genmodels.configbase import StrictModel, key_text, validate
from genmodels.data.config import DataConfig
from genmodels.errors import ConfigError
from genmodels.metrics.config import EvaluateConfig, EvaluatorConfig
from genmodels.restoration.config import RestoreConfig
from genmodels.sampling import SampleConfig
from genmodels.training.config import FitConfig, ScalingConfig
from genmodels.training.tune_config import TuneConfig


@dataclass(frozen=True)
class ModelSpec:
    """One model of the pipeline, validated: its name, family, family config and fit config."""

    name: str
    family: str
    config: StrictModel  # the family's registered config class, validated
    fit: FitConfig


class ModelSection(StrictModel):
    model: dict[str, Any] = Field(default_factory=dict)  # the family's config (validated by it)
    fit: FitConfig = FitConfig()


def closest(key: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known key, or nothing."""
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class Params(StrictModel):
    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    experiment: str = "genmodels"  # MLflow experiment name
    seed: int = Field(0, ge=0)  # the root seed of every random choice
    # training seeds compared across (mean and sd per headline metric); the first is the root
    # seed, whose model is the main row; omitted: [seed], one model per name as before
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    models: dict[str, str] = Field(default_factory=lambda: {"vae": "vae"}, min_length=1)  # model name -> family, trained by the pipeline
    data: DataConfig = DataConfig()
    evaluator: EvaluatorConfig = EvaluatorConfig()
    scaling: ScalingConfig = ScalingConfig()
    sample: SampleConfig = SampleConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    tune: TuneConfig = TuneConfig()
    restore: RestoreConfig = RestoreConfig()  # the restoration stages (restore@<model>, restore-reference)

    @field_validator("models", mode="before")
    @classmethod
    def _models_mapping(cls, v: Any) -> Any:
        if isinstance(v, list):
            raise ValueError("a mapping of model name to family is needed, e.g. {vae: vae, gan: gan} (dvc.yaml tracks each model's family code)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _seeds_default_to_the_root_seed(cls, data: Any) -> Any:
        """Omitted (or null) ``seeds``: the root seed alone."""
        if isinstance(data, dict) and data.get("seeds") is None and isinstance(data.get("seed", 0), int):
            return {**data, "seeds": [data.get("seed", 0)]}
        return data

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, v: list[int]) -> list[int]:
        negative = [s for s in v if s < 0]
        if negative:
            raise ValueError(f"must be non-negative integers, got {negative[0]}")
        repeated = sorted({s for s in v if v.count(s) > 1})
        if repeated:
            raise ValueError(f"each seed once, {repeated[0]} is listed {v.count(repeated[0])} times")
        return v

    @model_validator(mode="after")
    def _seeds_start_at_the_root_seed(self) -> "Params":
        if self.seeds[0] != self.seed:
            raise ConfigError(f"seeds: the first seed trains the main row and must be the root seed {self.seed} (e.g. seeds: [{self.seed}, {', '.join(str(s) for s in self.seeds if s != self.seed)}]), got {self.seeds}")
        return self

    @model_validator(mode="after")
    def _check_model_sections(self) -> "Params":
        from genmodels.models.core.registry import model_config

        sections = dict(self.model_extra or {})
        known = [*type(self).model_fields, *self.models]
        for key in sections:
            if key not in self.models:
                raise ConfigError(f"{key_text(key)}: unknown top-level key{closest(str(key), known)}; a model section must be listed under models:")
        resolved = {}
        for name, family in self.models.items():
            try:
                config_cls = model_config(family)
            except KeyError as exc:
                raise ConfigError(f"models.{key_text(name)}: {exc.args[0]}") from None
            raw = sections.get(name)
            if not isinstance(raw, dict) and raw is not None:
                raise ConfigError(f"{key_text(name)}: a model section is a mapping with model and fit")
            section = validate(ModelSection, raw, name)
            config = validate(config_cls, section.model, f"{name}.model")
            resolved[name] = ModelSpec(name=name, family=family, config=config, fit=section.fit)
        object.__setattr__(self, "_specs", resolved)
        return self

    def spec(self, name: str) -> ModelSpec:
        """The validated model ``name`` (family, family config, fit config)."""
        specs: dict[str, ModelSpec] = self._specs  # type: ignore[attr-defined]
        if name not in specs:
            raise ConfigError(f"models: {name!r} is not listed (listed: {', '.join(specs)})")
        return specs[name]


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose impossible dates (``2001-13-45``) are YAML errors with a line, not ValueErrors."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a valid date ({exc}); quote it if it is text", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; every problem is one :class:`ConfigError` line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        raw = yaml.load(text, Loader=_Loader) or {}  # noqa: S506  (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"{path}{where}: invalid YAML" + (f" ({problem})" if problem else "")) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return validate(Params, raw)
