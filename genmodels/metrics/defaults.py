"""The one table of metric defaults: the typed configs and the metric functions both read it.

Values follow torch-fidelity where it defines them, so numbers are comparable (docs/design.md,
"Metrics"); changing one here changes the pipeline, the CLI and the functions alike.
"""

from __future__ import annotations

IS_SPLITS = 10  # Inception Score: splits of the samples; mean and std over splits (Salimans et al. 2016)
KID_SUBSETS = 100  # KID: random subsets averaged (Binkowski et al. 2018)
KID_SUBSET_SIZE = 1000  # KID: samples per subset, capped at the smaller sample count
KID_DEGREE = 3  # KID: degree of the polynomial kernel (x.y/d + 1)^3
PRDC_K = 5  # precision/recall/density/coverage: k of the k-NN manifolds (Naeem et al. 2020)
PPL_SAMPLES = 2000  # PPL: latent pairs
PPL_EPSILON = 1e-4  # PPL: step of the finite difference (Karras et al. 2019)
PPL_SAMPLING = "full"  # PPL: t ~ U[0, 1] ("full") or t = 0 ("end")
PPL_PERCENTILES = (1.0, 99.0)  # PPL: distances outside these percentiles are discarded
BATCH_SIZE = 500  # batch of model and extractor calls during evaluation
THROUGHPUT_SAMPLES = 1000  # samples timed for samples_per_second
PRDC_REPEATS = 10  # PRDC at M = N: seeded subsamples of the samples averaged (Naeem et al. 2020)
BOOTSTRAP_RESAMPLES = 200  # joint resamples of real and sample features for the intervals
CI_LEVEL = 0.95  # coverage of the percentile bootstrap intervals
GEOMETRY_MAX_POINTS = 10_000  # cached Gram matrices up to this many points per set (memory ~ 48 n^2 bytes)
NLL_DEQUANT_SAMPLES = 16  # discrete NLL: draws of the dequantization noise per test image (importance sampling)
