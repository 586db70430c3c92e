"""The built-in metrics. The order below is registration order: the order of the keys in
``metrics/<model>.json`` and of the leaderboard's columns. A new built-in is one module
here plus one entry below."""

import importlib

MODULES = (
    "sample_quality",  # fid, kid, is, prdc, their intervals
    "memorisation",  # ct_stat, nn_train_share, train_copies
    "model_based",  # ppl, nll_bits_per_dim
    "diagnostics",  # modes, class_coverage, anomaly_auroc
    "cost",  # train_seconds, samples_per_second
)
for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
