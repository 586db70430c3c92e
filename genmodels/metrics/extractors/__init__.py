"""Built-in feature extractors (each registers itself)."""

from genmodels.metrics.extractors import classifier, toy2d  # noqa: F401
