"""Normalizing-flow family: multi-scale RealNVP with an exact front end for few-level images.

Importing the package registers the family."""

from genmodels.models.flow.model import Flow, FlowConfig

__all__ = ['Flow', 'FlowConfig']
