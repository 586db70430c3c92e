"""Typed config of the ``data`` section of params.yaml (the single source of defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel


class Toy2dOptions(StrictModel):
    kind: Literal["8gaussians", "25gaussians", "moons", "checkerboard"] = "8gaussians"
    n_train: int = Field(20000, ge=10)  # samples drawn for the train split
    n_test: int = Field(5000, ge=10)  # samples drawn for the test split


class ShapesOptions(StrictModel):
    size: int = Field(16, ge=8, le=256)  # image side in pixels
    n_train: int = Field(4000, ge=10)
    n_test: int = Field(1000, ge=10)


class DataConfig(StrictModel):
    name: str = "digits"  # a registered dataset: digits, toy2d, shapes, mnist, fashion-mnist, cifar10, folder
    path: str | None = None  # local directory for file-backed datasets (mnist, cifar10, folder)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)  # share held out for test, where the source has no split
    limit: int | None = Field(None, ge=2)  # cap on training samples (None: all)
    toy2d: Toy2dOptions = Toy2dOptions()
    shapes: ShapesOptions = ShapesOptions()
