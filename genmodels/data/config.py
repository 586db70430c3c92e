"""Typed config of the ``data`` section of params.yaml (the single source of defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel


class Toy2dOptions(StrictModel):
    kind: Literal["8gaussians", "25gaussians", "moons", "checkerboard"] = "8gaussians"  # which distribution
    n_train: int = Field(20000, ge=10)  # samples drawn for the train split
    n_test: int = Field(5000, ge=10)  # samples drawn for the test split


class ShapesOptions(StrictModel):
    size: int = Field(16, ge=8, le=256)  # image side in pixels
    n_train: int = Field(4000, ge=10)  # images drawn for the train split
    n_test: int = Field(1000, ge=10)  # images drawn for the test split


class FolderOptions(StrictModel):
    # where labels come from: "subfolders" = the immediate subfolder of each image (sorted
    # names -> 0, 1, ...); "none" = unlabelled; "auto" = subfolders when every image lies in
    # one and there are at least two of them, else none
    labels: Literal["auto", "subfolders", "none"] = "auto"


class DataConfig(StrictModel):
    name: str = "digits"  # a registered dataset: digits, mnist5k, toy2d, shapes, mnist, fashion-mnist, cifar10, folder
    path: str | None = None  # local directory for file-backed datasets (mnist, cifar10, folder)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)  # share held out for test, where the source has no split
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)  # share of the training split held out for validation (seeded, stratified by label)
    limit: int | None = Field(None, ge=2)  # cap on the training source before the validation split is held out (None: all)
    toy2d: Toy2dOptions = Toy2dOptions()  # options of the ``toy2d`` dataset
    shapes: ShapesOptions = ShapesOptions()  # options of the ``shapes`` dataset
    folder: FolderOptions = FolderOptions()  # options of the ``folder`` (PNG directory) dataset
