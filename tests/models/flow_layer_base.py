"""Shared checks for every flow layer: a layer's test class subclasses :class:`FlowLayerChecks`
and says how to build the layer and a batch of inputs; the checks come for free.

The checks run in float64 on a layer whose parameters were all perturbed (zero-initialised
coupling networks would otherwise make most layers the identity): the inverse undoes the
forward map and vice versa, the two log-dets cancel, and the forward log-det equals
``log |det J|`` of the Jacobian computed by ``torch.autograd.functional.jacobian``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genmodels.models.flow.layers import FlowLayer


class FlowLayerChecks:
    """Mixin of pytest checks; subclasses are named ``Test*`` so that pytest collects them."""

    #: absolute tolerance of every float64 comparison
    atol = 1e-6
    #: standard deviation of the noise added to every parameter before the checks
    perturb = 0.3
    #: batch size of the checks (the Jacobian check uses the first 3 samples)
    n = 5

    def make_layer(self) -> FlowLayer:
        """A fresh layer (built under ``torch.manual_seed(0)``)."""
        raise NotImplementedError

    def make_input(self, n: int, generator: torch.Generator) -> Tensor:
        """A float64 batch of ``n`` inputs inside the layer's domain."""
        raise NotImplementedError

    def layer(self) -> FlowLayer:
        torch.manual_seed(0)
        layer = self.make_layer().double()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(self.perturb * torch.randn(p.shape, generator=g, dtype=p.dtype))
        return layer.eval()

    def inputs(self, seed: int = 2) -> Tensor:
        return self.make_input(self.n, torch.Generator().manual_seed(seed)).double()

    def test_inverse_undoes_forward(self) -> None:
        layer, x = self.layer(), self.inputs()
        y, _ = layer(x)
        assert len(y) == len(x) and y.numel() == x.numel()  # dimension-preserving (a squeeze may reshape)
        back, _ = layer.inverse(y)
        torch.testing.assert_close(back, x, atol=self.atol, rtol=0)

    def test_forward_undoes_inverse(self) -> None:
        layer, x = self.layer(), self.inputs()
        y, _ = layer(x)
        y = y + 1e-3 * torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=y.dtype)  # not an output of forward
        y = self.clip_to_codomain(y)
        x2, _ = layer.inverse(y)
        again, _ = layer(x2)
        torch.testing.assert_close(again, y, atol=self.atol, rtol=0)

    def clip_to_codomain(self, y: Tensor) -> Tensor:
        """Keep a perturbed output inside the layer's range (override for bounded ranges)."""
        return y

    def test_log_dets_cancel(self) -> None:
        layer, x = self.layer(), self.inputs()
        y, log_det = layer(x)
        _, log_det_inv = layer.inverse(y)
        assert log_det.shape == (len(x),) and log_det_inv.shape == (len(x),)
        torch.testing.assert_close(log_det + log_det_inv, torch.zeros_like(log_det), atol=self.atol, rtol=0)

    def test_log_det_matches_autograd_jacobian(self) -> None:
        layer, x = self.layer(), self.inputs()
        _, log_det = layer(x)
        shape = x.shape[1:]
        for i in range(min(3, len(x))):
            f = lambda flat: layer(flat.view(1, *shape))[0].flatten()  # noqa: E731
            jac = torch.autograd.functional.jacobian(f, x[i].flatten())
            sign, logabs = torch.linalg.slogdet(jac)
            assert sign != 0
            torch.testing.assert_close(logabs, log_det[i], atol=1e-5, rtol=1e-6)
