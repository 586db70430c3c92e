"""genmodels: train, sample and evaluate generative models reproducibly.

The library (data, models, metrics, training loop) depends only on torch, numpy and
friends; Ray, MLflow and DVC are used only by ``genmodels.training.ray_adapter``,
``genmodels.tracking`` and the ``pipelines`` package.
"""

__version__ = "0.1.0"
