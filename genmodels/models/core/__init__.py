"""What every family shares: the model contract, the registry, building blocks (nets, priors,
dequantization). Code here may rerun every family's DVC stages; a family's own code lives in
its package ``genmodels/models/<family>/`` and reruns only that family's stages."""
