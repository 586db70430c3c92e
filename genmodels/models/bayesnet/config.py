"""The Bayesian network family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config


@register_model_config("bayesnet")
class BayesNetConfig(StrictModel):
    # states per pixel; None: one per grey level (exact discrete NLL) where pixels x levels fit the
    # pair-count limit, else the most states that fit (784 pixels x 256 levels: 20 states)
    image_bins: int | None = Field(None, ge=2)
    # how fewer states than levels split them: "even" runs of adjacent levels, or "ends": levels 0
    # and K-1 (the black background and saturated ink, most pixels of a real image) keep a state
    # each and the even runs split the levels between them
    image_binning: Literal["even", "ends"] = "ends"
    point_bins: int = Field(96, ge=1)  # equal-width bins per coordinate of continuous data (plus 2 tail states)
    margin: float = Field(0.05, gt=0.0)  # continuous data: fraction of each coordinate's range added on both sides
    prior_ess: float = Field(100.0, gt=0.0)  # BDeu equivalent sample size per table (digits: 0.35 pseudo-counts a cell)
