"""Failure-domain files (pure): what `--domains FILE` accepts, turned into {address or host: label}.

- a JSON or YAML map of strings: `{"10.0.0.5:6379": "node-a", "10.0.0.6": "zone-b"}`;
- what `kubectl get pods -o json` prints: each pod's IP is placed on its Kubernetes node (spec.nodeName);
- what `kubectl get nodes -o json` prints, given as well: each node is replaced by its zone label
  (topology.kubernetes.io/zone, or the older failure-domain.beta.kubernetes.io/zone) when it has one.
Several files are merged in the order given; `kubectl get pods,nodes -o json` (one List) works too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rcdoctor.errors import UsageError

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")


def parse_document(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            import yaml  # only for YAML files: most are JSON (kubectl -o json)

            return yaml.safe_load(text)
        except Exception as exc:  # PyYAML raises many kinds; all mean "not a usable file"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"--domains {name}: neither JSON ({json_error.msg}) nor YAML ({first})") from None


def _items(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if isinstance(document.get("items"), list):
        return [i for i in document["items"] if isinstance(i, Mapping)]
    return [document]


def is_kubernetes(document: Any) -> bool:
    return isinstance(document, Mapping) and ("items" in document or "kind" in document) and "apiVersion" in document


def domains_from(documents: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Merge parsed files (name, document) into one address/host -> label mapping."""
    plain: dict[str, str] = {}
    pod_nodes: dict[str, str] = {}  # pod IP -> node name
    zones: dict[str, str] = {}  # node name -> zone
    for name, document in documents:
        if is_kubernetes(document):
            for item in _items(document):
                kind = item.get("kind")
                if kind == "Pod":
                    node = (item.get("spec") or {}).get("nodeName")
                    status = item.get("status") or {}
                    ips = {status.get("podIP"), *((p or {}).get("ip") for p in status.get("podIPs") or [])}
                    for ip in ips:
                        if isinstance(ip, str) and ip and isinstance(node, str) and node:
                            pod_nodes[ip] = node
                elif kind == "Node":
                    metadata = item.get("metadata") or {}
                    labels = metadata.get("labels") or {}
                    zone = next((labels[k] for k in ZONE_LABELS if isinstance(labels.get(k), str)), None)
                    if isinstance(metadata.get("name"), str) and zone:
                        zones[metadata["name"]] = zone
            continue
        if not isinstance(document, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in document.items()
        ):
            raise UsageError(
                f"--domains {name}: expected a map of strings (address or IP -> domain) or the JSON of "
                '`kubectl get pods -o json` / `kubectl get nodes -o json`, e.g. {"10.0.0.5:6379": "node-a"}'
            )
        plain.update(document)
    mapping = dict(plain)
    for ip, node in pod_nodes.items():
        mapping.setdefault(ip, zones.get(node, node))
    if zones and not pod_nodes and not plain:
        raise UsageError("--domains: nodes without pods: also give `kubectl get pods -o json` (pod IP -> node)")
    return mapping
