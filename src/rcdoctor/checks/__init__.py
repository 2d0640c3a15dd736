"""The catalogue of checks. `default_registry()` builds it (validated, no collisions) from the modules below.

Adding a check: write a module with a `CHECK = Check(...)` in its family's package, list it here,
and regenerate the docs (`python scripts/gen_check_docs.py`); a test fails until you do.
"""

from __future__ import annotations

from functools import cache

from rcdoctor.checks.addresses import (
    bus_port,
    client_endpoints,
    hostnames,
    not_cluster,
    pods_moved,
    stale_own_address,
    stale_peer_address,
    unreachable,
)
from rcdoctor.checks.base import FAMILIES, SEVERITIES, Check, Finding, Issue, Registry
from rcdoctor.checks.config import (
    announce,
    differs,
    full_coverage,
    min_replicas,
    node_timeout,
    persistence,
    validity_factor,
)
from rcdoctor.checks.epochs import conflicting_claims, epoch_collision, minority_primary, partition
from rcdoctor.checks.membership import (
    cluster_merge,
    failed,
    ghosts,
    isolated,
    known_nodes,
    links,
    partial,
    separate_clusters,
    state_fail,
    suspected,
)
from rcdoctor.checks.placement import even_primaries, majority_domain, same_domain
from rcdoctor.checks.replication import cannot_failover, lag, link_down, no_replica, orphan
from rcdoctor.checks.slots import failed_owner, keys_elsewhere, open_slots, uncovered, views_disagree
from rcdoctor.model.node_ref import NodeRef

MODULES = (
    unreachable, bus_port, stale_peer_address, stale_own_address, hostnames, client_endpoints, pods_moved,
    not_cluster,
    failed, suspected, ghosts, partial, known_nodes, isolated, separate_clusters, state_fail, links, cluster_merge,
    uncovered, failed_owner, keys_elsewhere, open_slots, views_disagree,
    epoch_collision, conflicting_claims, minority_primary, partition,
    no_replica, link_down, lag, orphan, cannot_failover,
    even_primaries, same_domain, majority_domain,
    full_coverage, node_timeout, persistence, validity_factor, min_replicas, announce, differs,
)  # fmt: skip


@cache
def default_registry() -> Registry:
    return Registry.of(module.CHECK for module in MODULES)


__all__ = [
    "FAMILIES",
    "SEVERITIES",
    "Check",
    "Finding",
    "Issue",
    "NodeRef",
    "Registry",
    "default_registry",
]  # fmt: skip
