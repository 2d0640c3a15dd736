"""Every check's cases in one place: where it must fire and where it must stay silent.

Where a check must fire is what tests/scenarios.py's lab scenarios say (EXPECTED, REDIS7_ONLY): the live
integration test builds each one on every server and asserts it. SILENT names, per code, the scenarios
that look like its problem but are not (its near misses): on their snapshots recorded from real servers
(tests/data/scenario-<name>-<version>.json) the check must report nothing above info. Every check is
also silent on every healthy cluster (tests/data/healthy-*.json). tests/unit/test_check_cases.py holds
each code to its row.
"""

from __future__ import annotations

from tests.scenarios import EXPECTED, REDIS7_ALSO, REDIS7_ONLY

# code -> scenarios it must stay silent on (nothing above info), and why they are near misses
SILENT: dict[str, tuple[str, ...]] = {
    "A001": ("migration_in_flight", "announce_ip"),  # every node up; one announcing a wrong address answers
    "A002": ("announce_ip", "primary_down_no_failover"),  # a dead node is A001, not an unreachable bus port
    "A003": ("announce_ip", "moved_one_seed"),  # configured, not moved; moved but not listed stale (A007)
    "A004": ("migration_in_flight", "lost_nodes_conf"),
    "A005": ("announce_ip", "moved_one_seed"),  # addresses wrong, names not involved
    "A006": ("migration_in_flight", "slot_damage"),
    "A007": ("moved_ips_reused", "primary_down_no_failover"),  # old IPs answer as others; one dead node
    "A008": ("two_clusters", "all_alone"),  # cluster nodes all, however split
    "C001": ("bad_settings",),  # info only: never above
    "C002": ("announce_ip", "colocated"),
    "C003": ("announce_ip", "colocated"),
    "C004": ("announce_ip", "colocated"),
    "C005": ("migration_in_flight", "announce_ip"),  # the default min-replicas-to-write 0 is info
    "C006": ("moved_ips_reused", "moved_one_seed"),  # nodes moved: their configuration is not the cause
    "C007": ("announce_ip", "colocated"),
    "E001": ("lost_nodes_conf", "cluster_merge_late"),
    "E002": ("migration_in_flight", "lost_nodes_conf"),  # an open slot is not a second claim
    "E003": ("primary_down_no_failover", "moved_one_seed"),
    "E004": ("migration_in_flight", "ghost_and_forgotten"),
    "M001": ("moved_one_seed", "lost_nodes_conf"),  # moved or reset, not failed
    "M002": ("primary_down_no_failover", "migration_in_flight"),
    "M003": ("two_clusters", "all_alone"),  # nodes that know too few, not ghosts
    "M004": ("all_alone", "migration_in_flight"),
    "M005": ("ghost_and_forgotten", "two_clusters"),
    "M006": ("two_clusters", "cluster_merge"),  # whole clusters apart or merging, not one node alone
    "M007": ("cluster_merge", "cluster_merge_late", "all_alone"),  # merging or dissolved, not two clusters
    "M008": ("migration_in_flight", "announce_ip"),
    "M009": ("migration_in_flight", "all_alone"),
    "M010": ("two_clusters", "stale_copy_after_failover"),  # apart, or one history: not a merge
    "Q001": ("colocated", "migration_in_flight"),  # colocated replicas are Q002/Q003
    "Q002": ("migration_in_flight", "primary_down_no_failover"),
    "Q003": ("migration_in_flight", "primary_down_no_failover"),
    "R001": ("lost_nodes_conf", "primary_down_no_failover"),  # a dead primary's replica is R005's
    "R002": ("migration_in_flight", "moved_one_seed"),
    "R003": ("primary_down_no_failover", "migration_in_flight"),
    "R004": ("stale_copy_after_failover", "all_alone"),
    "R005": ("lost_nodes_conf", "stale_copy_after_failover"),
    "S001": ("migration_in_flight", "primary_down_no_failover"),  # on a failed primary is S002
    "S002": ("stale_copy_after_failover", "all_alone"),
    "S003": ("migration_in_flight", "migrating_source_only"),  # keys on both sides of an open slot
    "S004": ("ghost_and_forgotten", "lost_nodes_conf"),
    "S005": ("migration_in_flight", "ghost_and_forgotten"),
}


def fires_in(code: str) -> list[tuple[str, str]]:
    """The lab scenarios that must fire `code` (asserted live by test_diagnose), each with the server it
    is expected on ("" for every server)."""
    everywhere = [(name, "") for name, (must_fire, _) in EXPECTED.items() if code in must_fire]
    redis7 = [(name, "redis7") for name, (must_fire, _) in REDIS7_ONLY.items() if code in must_fire]
    redis7 += [(name, "redis7") for name, also in REDIS7_ALSO.items() if code in also]
    return sorted(everywhere + redis7)
