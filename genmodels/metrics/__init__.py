"""Sample-quality metrics: pure functions on feature arrays (numpy or torch).

Definitions and defaults follow torch-fidelity (see DESIGN.md, "Metric definitions").
Only torch, numpy and scipy are imported here; add one line per new module.
"""

from genmodels.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from genmodels.metrics.inception_score import inception_score
from genmodels.metrics.kid import SubsetKernelSums, kid_from_features
from genmodels.metrics.ppl import normalized_activation_distance, perceptual_path_length, squared_euclidean_distance
from genmodels.metrics.prdc import prdc_from_features

__all__ = [
    "SubsetKernelSums",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid_from_features",
    "normalized_activation_distance",
    "perceptual_path_length",
    "prdc_from_features",
    "squared_euclidean_distance",
]
