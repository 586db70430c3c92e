"""Built-in feature extractors (each registers itself)."""

from genmodels.metrics.extractors import classifier, inception, toy2d  # noqa: F401
