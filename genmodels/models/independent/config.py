"""The independent baseline's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config


@register_model_config("independent")
class IndependentConfig(StrictModel):
    alpha: float = Field(1.0, gt=0.0)  # additive smoothing of each level count (1: Laplace's rule)
    min_std: float = Field(1e-3, gt=0.0)  # floor of each Gaussian's std (continuous data)
