"""Where the seeds came from (pure): the sources a collection expanded into endpoints, and what they say
about failure domains.

A source is what the user gave (`10.0.0.5:6379`, a DNS name, `k8s:NS/SELECTOR`, `@FILE`, the
RCDOCTOR_SEEDS variable) with the endpoints it produced at collection time. Kubernetes sources also carry
the pods they listed, so later readers (diagnose --from, the address checks) know pod names, nodes and
zones without asking the cluster again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

SOURCE_KINDS = ("address", "dns", "k8s", "file", "env")
_URL_PASSWORD = re.compile(r"^(rediss?://[^:/@\s]*):[^@\s]*@")


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    ip: str | None  # status.podIP; None while pending
    port: int  # the Redis port dialled
    phase: str  # status.phase
    ready: bool  # condition Ready == True
    restarts: int  # sum of containerStatuses[].restartCount
    node: str | None  # spec.nodeName
    zone: str | None  # the node's topology.kubernetes.io/zone label (failure-domain.beta... as fallback)

    @property
    def address(self) -> str | None:
        """The endpoint dialled for this pod (`ip:port`, `[v6]:port`), None while it has no IP."""
        if self.ip is None:
            return None
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class SeedSource:
    spec: str  # as the user gave it, with any password removed
    kind: str  # "address" | "dns" | "k8s" | "file" | "env"
    addresses: tuple[str, ...] = ()  # the host:port endpoints it produced (IPs)
    error: str | None = None
    pods: tuple[Pod, ...] = ()  # k8s only
    complete: bool = False  # k8s only: the listing succeeded and every pod has an IP (an inventory)


def redact(spec: str) -> str:
    """The spec without a URL password (`redis://user:pw@h:p` -> `redis://user@h:p`): sources are shared."""
    return _URL_PASSWORD.sub(r"\1@", spec.strip())


def pod_domains(sources: Iterable[SeedSource]) -> dict[str, str]:
    """Pod IP -> zone, else Kubernetes node, over the pods of these sources (the first listing wins).

    The failure domains when no --domains is given, so `diagnose --from FILE` sees the same placement as
    the live run that recorded the file ({} without k8s sources).
    """
    domains: dict[str, str] = {}
    for source in sources:
        for pod in source.pods:
            label = pod.zone or pod.node
            if pod.ip and label:
                domains.setdefault(pod.ip, label)
    return domains


def failure_domains(given: Mapping[str, str], sources: Iterable[SeedSource]) -> Mapping[str, str]:
    """The failure domains to analyze with: those given (--domains) win; else the pods' of the sources."""
    return given if given else MappingProxyType(pod_domains(sources))
