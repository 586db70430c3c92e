"""The GMM family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config


@register_model_config("gmm")
class GMMConfig(StrictModel):
    n_components: int = Field(40, ge=1)  # mixture components K (40 diag is the best held-out bits/dim on digits)
    covariance_type: Literal["full", "diag"] = "diag"  # per-component covariance; full needs reg_covar ~1e-3 on digits
    reg_covar: float = Field(1e-4, gt=0.0)  # added to every covariance diagonal, in data units squared
    n_init: int = Field(3, ge=1)  # EM restarts (k-means initialisations), the best kept; 3: -0.02 bits/dim on digits
    max_iter: int = Field(200, ge=1)  # EM iterations per restart
    tol: float = Field(1e-3, gt=0.0)  # EM stops when the mean log-likelihood gains less than this
