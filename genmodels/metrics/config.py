"""Typed configs of the ``evaluator`` and ``evaluate`` sections (defaults from :mod:`.defaults`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genmodels.configbase import StrictModel
from genmodels.metrics import defaults


class EvaluatorConfig(StrictModel):
    extractor: str = "auto"  # a registered feature extractor, or auto (the dataset's preferred one: classifier for labelled images, toy2d for points)
    epochs: int = Field(30, ge=1)  # classifier training epochs (with max_shift 0 on digits, 30 beats 20 in validation loss)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0.0)  # AdamW peak learning rate, cosine-decayed per step
    width: int = Field(32, ge=4)  # channels of the classifier's first conv layer
    feature_dim: int = Field(128, ge=2)  # size of the penultimate features used by FID/KID/PRDC
    # training augmentation (0: off). Off for the 8x8 digits (size-normalised and centred: a 1-pixel
    # shift raises the validation loss); 28x28 MNIST gains from shifts of up to 2 pixels, not from rotations
    max_shift: int = Field(0, ge=0)  # random translation by up to this many whole pixels per axis
    max_degrees: float = Field(0.0, ge=0.0, le=45.0)  # random rotation by up to this many degrees
    inception_weights: str | None = None  # local path of torch-fidelity's Inception-V3 weights (never downloaded)


class EvaluateConfig(StrictModel):
    is_splits: int = Field(defaults.IS_SPLITS, ge=1)  # Inception Score splits
    kid_subsets: int = Field(defaults.KID_SUBSETS, ge=1)
    kid_subset_size: int = Field(defaults.KID_SUBSET_SIZE, ge=2)  # capped at the smaller sample count
    prdc_k: int = Field(defaults.PRDC_K, ge=1)  # k of the k-NN manifolds
    prdc_repeats: int = Field(defaults.PRDC_REPEATS, ge=1)  # subsamples of the samples at M = N averaged for recall and coverage
    bootstrap: int = Field(defaults.BOOTSTRAP_RESAMPLES, ge=0)  # joint resamples for the 95 % intervals (0: no intervals)
    ci_level: float = Field(defaults.CI_LEVEL, gt=0.0, lt=1.0)  # coverage of the bootstrap intervals
    # largest real or sample set whose Gram matrices are held for KID, PRDC and the intervals
    # (about 48 n^2 bytes: 4.8 GB at 10 000); above it the blocked functions run, without intervals
    geometry_max_points: int = Field(defaults.GEOMETRY_MAX_POINTS, ge=0)
    ppl_samples: int = Field(defaults.PPL_SAMPLES, ge=10)  # latent pairs for PPL
    ppl_epsilon: float = Field(defaults.PPL_EPSILON, gt=0.0)
    ppl_sampling: Literal["full", "end"] = defaults.PPL_SAMPLING
    nll_max_samples: int | None = Field(None, ge=1)  # cap on test samples for likelihood (None: all)
    nll_dequant_samples: int = Field(defaults.NLL_DEQUANT_SAMPLES, ge=1)  # noise draws per image where the discrete NLL is estimated over dequantization
    throughput_samples: int = Field(defaults.THROUGHPUT_SAMPLES, ge=10)  # samples timed for samples_per_second
    # a class of the dataset: train@<m> also trains a copy without it (models/<m>/holdout/) and
    # anomaly_auroc_holdout_class scores that class's test images against the others (null: off)
    holdout_class: int | None = Field(None, ge=0)
    batch_size: int = Field(defaults.BATCH_SIZE, ge=1)  # batch of model and extractor calls
