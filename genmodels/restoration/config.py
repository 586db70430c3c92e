"""The restorers' typed config: the one source of their defaults."""

from __future__ import annotations

from pydantic import Field

from genmodels.configbase import StrictModel


class RestoreConfig(StrictModel):
    completions: int = Field(4, ge=1)  # posterior draws (or restarts, for MAP families) kept per image
    gibbs_burn_in: int = Field(100, ge=0)  # RBM: conditional Gibbs sweeps discarded before averaging
    gibbs_sweeps: int = Field(400, ge=1)  # RBM: sweeps averaged (Rao-Blackwellised where per-pixel)
    gibbs_chains: int = Field(4, ge=1)  # RBM: independent chains per image
    latent_steps: int = Field(300, ge=1)  # VAE/GAN/flow: Adam steps of the latent MAP
    latent_lr: float = Field(0.05, gt=0.0)  # Adam's learning rate on the latent
    importance_samples: int = Field(20000, ge=1)  # flow: prior draws weighted by the observation's likelihood
    exact_sigma: float = Field(0.05, gt=0.0)  # noise level that continuous families assume for exact observations (mask, pool)
    batch_size: int = Field(512, ge=1)  # images restored at once by the iterative restorers
