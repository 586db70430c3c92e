"""The KDE family's typed config (pydantic only: validating params needs no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from genmodels.configbase import StrictModel
from genmodels.models.core.registry import register_model_config


@register_model_config("kde")
class KDEConfig(StrictModel):
    # auto: diagonal for data on levels (exact discrete NLL; digits val 2.19 vs 2.42 bits/dim for pca), pca otherwise
    kernel: Literal["auto", "pca", "diagonal"] = "auto"
    n_components: int | float = 24  # PCA dims under the KDE: an int count, or a float in (0, 1] = explained-variance fraction
    whiten: bool = False  # scale PCA scores to unit variance before the (isotropic) kernel
    residual: Literal["isotropic", "diagonal"] = "diagonal"  # Gaussian on the discarded dims (diagonal: -0.07 bits/dim on digits)
    bandwidth_min: float = Field(0.01, gt=0.0)  # smallest candidate bandwidth, as a multiple of Scott's rule
    bandwidth_max: float = Field(2.0, gt=0.0)  # largest candidate bandwidth, as a multiple of Scott's rule
    n_bandwidths: int = Field(24, ge=1)  # log-spaced candidates between the two
    cv_folds: int = Field(5, ge=2)  # folds of the cross-validated bandwidth search (shuffled, seeded)
    cv_max_points: int | None = Field(4000, ge=2)  # bandwidth search on a seeded subset this large (None: all points)

    @field_validator("n_components")
    @classmethod
    def _check_components(cls, v: int | float) -> int | float:
        if isinstance(v, bool):
            raise ValueError("must be an int >= 1 or a float fraction in (0, 1]")
        if isinstance(v, int) and v < 1:
            raise ValueError(f"an int count must be >= 1, got {v}")
        if isinstance(v, float) and not 0.0 < v <= 1.0:
            raise ValueError(f"a float fraction must be in (0, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _check_grid(self) -> KDEConfig:
        if self.bandwidth_min > self.bandwidth_max:
            raise ValueError(f"bandwidth_min ({self.bandwidth_min}) must not exceed bandwidth_max ({self.bandwidth_max})")
        return self
