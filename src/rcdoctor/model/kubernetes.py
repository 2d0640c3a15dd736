"""Kubernetes seeds (pure): the `k8s:NAMESPACE/SELECTOR[:PORT]` spec, and the pods and zones read from
`kubectl get pods -o json` / `kubectl get nodes -o json` documents. Never raises on a document's content:
a field missing or of the wrong type reads as unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rcdoctor.errors import UsageError
from rcdoctor.model.domain_files import ZONE_LABELS
from rcdoctor.model.sources import Pod

K8S_PREFIX = "k8s:"
DEFAULT_REDIS_PORT = 6379
# Container port names charts give the client port (bitnami: "redis", others "tcp-redis", "client").
REDIS_PORT_NAMES = ("redis", "tcp-redis", "client", "redis-client", "tcp-client")


@dataclass(frozen=True)
class KubeSelector:
    """The pods of one namespace matching a label selector, through kubectl (optionally --context)."""

    namespace: str
    selector: str
    port: int | None = None  # the :PORT given, which wins over the pods' declared ports
    context: str | None = None


def is_k8s_spec(text: str) -> bool:
    return text.strip().startswith(K8S_PREFIX)


def parse_k8s_spec(text: str) -> KubeSelector:
    """`k8s:NAMESPACE/SELECTOR[:PORT]`: NAMESPACE ends at the first `/` (label keys may hold more `/`);
    a trailing `:digits` is the port (label selectors never contain `:`)."""
    body = text.strip()[len(K8S_PREFIX) :]
    port: int | None = None
    head, sep, tail = body.rpartition(":")
    if sep:
        if not tail.isdigit() or not 0 < int(tail) < 65536:
            raise UsageError(f"bad seed {text!r}: the part after the last ':' must be a port from 1 to 65535")
        body, port = head, int(tail)
    namespace, slash, selector = body.partition("/")
    if not slash or not namespace or not selector.strip():
        raise UsageError(
            f"bad seed {text!r}: expected k8s:NAMESPACE/SELECTOR[:PORT], e.g. k8s:cache/app.kubernetes.io/name=redis"
        )
    return KubeSelector(namespace, selector.strip(), port)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def items_of(document: Any, kind: str) -> list[Mapping[str, Any]] | None:
    """The items of a kubectl List (or one object) of this kind; None when it is no such document."""
    if not isinstance(document, Mapping):
        return None
    if isinstance(document.get("items"), list):
        return [i for i in _list(document["items"]) if i.get("kind", kind) == kind]
    return [document] if document.get("kind") == kind else None


def node_zones(document: Any) -> dict[str, str]:
    """Kubernetes node name -> zone label, for the nodes of a `kubectl get nodes -o json` document."""
    zones: dict[str, str] = {}
    for item in items_of(document, "Node") or []:
        metadata = _mapping(item.get("metadata"))
        labels = _mapping(metadata.get("labels"))
        name = _text(metadata.get("name"))
        zone = next((labels[k] for k in ZONE_LABELS if _text(labels.get(k))), None)
        if name and zone:
            zones[name] = zone
    return zones


def redis_port(pod: Mapping[str, Any], given: int | None) -> int:
    """The port to dial on a pod: the :PORT given; else a container port named like the client port;
    else a declared containerPort 6379; else 6379."""
    if given is not None:
        return given
    ports = [p for c in _list(_mapping(pod.get("spec")).get("containers")) for p in _list(c.get("ports"))]
    numbers = [(str(p.get("name") or "").lower(), p.get("containerPort")) for p in ports]
    valid = [(name, n) for name, n in numbers if isinstance(n, int) and not isinstance(n, bool) and 0 < n < 65536]
    for wanted in REDIS_PORT_NAMES:
        found = next((n for name, n in valid if name == wanted), None)
        if found is not None:
            return found
    named = next((n for name, n in valid if "redis" in name and not any(w in name for w in ("bus", "metric"))), None)
    return named if named is not None else DEFAULT_REDIS_PORT


def pods_from(
    document: Any, namespace: str, given_port: int | None, zones: Mapping[str, str] | None
) -> tuple[Pod, ...] | None:
    """The pods of a `kubectl get pods -o json` document, by name; None when it is not a pod listing.
    `zones` (node -> zone) None means the nodes could not be listed: every zone is then None."""
    items = items_of(document, "Pod")
    if items is None:
        return None
    pods = []
    for item in items:
        metadata = _mapping(item.get("metadata"))
        spec = _mapping(item.get("spec"))
        status = _mapping(item.get("status"))
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in _list(status.get("conditions")))
        restarts = sum(
            r
            for r in (s.get("restartCount") for s in _list(status.get("containerStatuses")))
            if isinstance(r, int) and not isinstance(r, bool)
        )
        node = _text(spec.get("nodeName"))
        pods.append(
            Pod(
                name=_text(metadata.get("name")) or "?",
                namespace=_text(metadata.get("namespace")) or namespace,
                ip=_text(status.get("podIP")),
                port=redis_port(item, given_port),
                phase=_text(status.get("phase")) or "Unknown",
                ready=ready,
                restarts=restarts,
                node=node,
                zone=zones.get(node) if zones is not None and node else None,
            )
        )
    return tuple(sorted(pods, key=lambda p: p.name))
