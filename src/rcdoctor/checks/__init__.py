"""The catalogue of checks. `default_registry()` builds it (validated, no collisions) from the modules below.

Adding a check: write a module with a `CHECK = Check(...)` in its family's package, list it here,
and regenerate the docs (`python scripts/gen_check_docs.py`); a test fails until you do.
"""

from __future__ import annotations

from functools import cache

from rcdoctor.checks.addresses import (
    a001_node_unreachable,
    a002_bus_port_unreachable,
    a003_stale_peer_address,
    a004_stale_own_address,
    a005_hostname_problem,
    a006_client_endpoints_unreachable,
    a007_pods_moved,
    a008_not_a_cluster_node,
)
from rcdoctor.checks.base import FAMILIES, SEVERITIES, Check, Finding, Issue, Registry
from rcdoctor.checks.config import (
    c001_full_coverage_required,
    c002_node_timeout_extreme,
    c003_persistence_off,
    c004_replica_validity_factor,
    c005_min_replicas_to_write,
    c006_announce_mismatch,
    c007_config_differs,
)
from rcdoctor.checks.epochs import (
    e001_config_epoch_collision,
    e002_conflicting_slot_claims,
    e003_minority_primary,
    e004_partition,
)
from rcdoctor.checks.membership import (
    m001_node_failed,
    m002_node_suspected,
    m003_ghost_node,
    m004_membership_differs,
    m005_known_nodes_differ,
    m006_isolated_node,
    m007_separate_clusters,
    m008_cluster_state_fail,
    m009_bus_link_down,
    m010_cluster_merge,
)
from rcdoctor.checks.placement import (
    q001_even_primaries,
    q002_primary_replica_same_domain,
    q003_primaries_concentrated,
)
from rcdoctor.checks.replication import (
    r001_primary_without_replica,
    r002_replica_link_down,
    r003_replica_lagging,
    r004_replica_of_missing_primary,
    r005_shard_cannot_failover,
)
from rcdoctor.checks.slots import (
    s001_slots_uncovered,
    s002_slots_on_failed_primary,
    s003_keys_on_non_owner,
    s004_open_slot,
    s005_views_disagree,
)
from rcdoctor.model.node_ref import NodeRef

MODULES = (
    a001_node_unreachable, a002_bus_port_unreachable, a003_stale_peer_address, a004_stale_own_address,
    a005_hostname_problem, a006_client_endpoints_unreachable, a007_pods_moved, a008_not_a_cluster_node,
    m001_node_failed, m002_node_suspected, m003_ghost_node, m004_membership_differs,
    m005_known_nodes_differ, m006_isolated_node, m007_separate_clusters, m008_cluster_state_fail,
    m009_bus_link_down, m010_cluster_merge, s001_slots_uncovered, s002_slots_on_failed_primary,
    s003_keys_on_non_owner, s004_open_slot, s005_views_disagree, e001_config_epoch_collision,
    e002_conflicting_slot_claims, e003_minority_primary, e004_partition, r001_primary_without_replica,
    r002_replica_link_down, r003_replica_lagging, r004_replica_of_missing_primary,
    r005_shard_cannot_failover, q001_even_primaries, q002_primary_replica_same_domain,
    q003_primaries_concentrated, c001_full_coverage_required, c002_node_timeout_extreme,
    c003_persistence_off, c004_replica_validity_factor, c005_min_replicas_to_write,
    c006_announce_mismatch, c007_config_differs,
)  # fmt: skip


@cache
def default_registry() -> Registry:
    return Registry.of(module.CHECK for module in MODULES)


# What other packages may import (the rest is internal): the registry and its types, and the config family
# (the heal planner reads C006's parse of an announce setting).
__all__ = [
    "FAMILIES",
    "SEVERITIES",
    "Check",
    "Finding",
    "Issue",
    "NodeRef",
    "Registry",
    "base",
    "config",
    "default_registry",
    "docs",
]
