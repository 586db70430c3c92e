"""genmodels: train, sample and evaluate generative models reproducibly.

The library (data, models, metrics, training loop) depends only on torch, numpy and
friends. Ray is imported only by the training adapters ``genmodels.training.ray_adapter``
and ``genmodels.training.tune_adapter`` and by ``pipelines.tune``; MLflow only by
``genmodels.tracking`` and ``pipelines.ui``; each inside the functions that use it. DVC runs
the stages of ``pipelines`` from the command line and is not imported.
"""

__version__ = "0.1.0"
