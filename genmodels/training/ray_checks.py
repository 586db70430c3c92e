"""Fail fast, in one line, when a Ray cluster cannot run what was asked.

* :func:`probe_address`: an explicit Ray address (``RAY_ADDRESS`` or ``--address``) is tried
  with a plain TCP connection first (a few seconds), because ``ray.init`` against an address
  where nothing listens retries for minutes without a word.
* :func:`check_capacity`: the workers' CPUs and GPUs are compared with what the cluster has
  in total; a request that the cluster can never satisfy would otherwise wait for resources
  forever. A cluster that grows on demand (an autoscaler) sets ``GENMODELS_RAY_AUTOSCALING=1``
  to skip the check.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from genmodels.errors import GenmodelsError

PLACEMENT_FILE = "placement.json"  # the Ray node ID of each rank, exported beside the weights
CONNECT_TIMEOUT_S = 5.0
DEFAULT_GCS_PORT = 6379
DEFAULT_CLIENT_PORT = 10001


class RayUnavailable(GenmodelsError):
    """The Ray cluster is unreachable or too small for the request."""

    exit_code = 1


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a Ray address (``host:port``, ``ray://host[:port]``); None for ``auto``/``local``."""
    if address in ("auto", "local", ""):
        return None
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not port.isdigit():
        if port:
            raise RayUnavailable(f"Ray address {address!r} is not host:port")
        return host, DEFAULT_CLIENT_PORT if client else DEFAULT_GCS_PORT
    return host.strip("[]"), int(port)


def probe_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`RayUnavailable` when nothing accepts connections at ``address``."""
    target = split_address(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__.lower()
        raise RayUnavailable(
            f"no Ray cluster at {address} ({reason}); start one (`ray start --head`, or cluster/local.sh up) "
            "or unset RAY_ADDRESS to train on this machine"
        ) from None


def check_capacity(total: Mapping[str, float], nodes: int, num_workers: int, cpus_per_worker: float, use_gpu: bool) -> None:
    """Raise :class:`RayUnavailable` when ``num_workers`` workers can never be placed on a cluster with ``total`` resources."""
    if os.environ.get("GENMODELS_RAY_AUTOSCALING") == "1":
        return
    asks = {"CPU": num_workers * cpus_per_worker, **({"GPU": float(num_workers)} if use_gpu else {})}
    for resource, need in asks.items():
        have = float(total.get(resource, 0.0))
        if need > have:
            keys = "scaling.num_workers" + ("" if resource == "GPU" else " or scaling.cpus_per_worker")
            raise RayUnavailable(
                f"{num_workers} workers need {need:g} {resource}s, but the Ray cluster has {have:g} on {nodes} node(s); "
                f"lower {keys}, or add nodes (set GENMODELS_RAY_AUTOSCALING=1 on a cluster that grows on demand)"
            )
