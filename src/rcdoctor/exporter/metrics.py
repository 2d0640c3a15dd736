"""Metrics from one snapshot and its report (pure).

Per node: the metrics redis_exporter (oliver006) exports for a cluster node, under the same names and with
the same meaning (`redis_up`, `redis_cluster_state` 1 = ok, `redis_cluster_slots_fail`, …), so existing
rules and dashboards keep working. Every node is labelled `addr` (host:port, never a URL or a secret),
`node_id` and `role` (master/slave, as INFO says).

Cluster-wide (`rcdoctor_…`): what needs every node's view at once — views that agree, uncovered and open
slots, nodes failed by quorum, stale addresses, a suspected split-brain, findings by code and severity,
placement risk — plus the exporter's own collection health.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from rcdoctor.analyze import Report
from rcdoctor.checks.base import SEVERITIES, Finding, severity_rank
from rcdoctor.model.info import parse_keyspace
from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import ClusterView, uncovered

NODE_LABELS = ("addr", "node_id", "role")

# INFO field -> redis_exporter's metric name (without the `redis_` prefix): gauges.
INFO_GAUGES = {
    "uptime_in_seconds": "uptime_in_seconds",
    "connected_clients": "connected_clients",
    "blocked_clients": "blocked_clients",
    "used_memory": "memory_used_bytes",
    "used_memory_rss": "memory_used_rss_bytes",
    "used_memory_peak": "memory_used_peak_bytes",
    "maxmemory": "memory_max_bytes",
    "mem_fragmentation_ratio": "mem_fragmentation_ratio",
    "loading": "loading_dump_file",
    "rdb_changes_since_last_save": "rdb_changes_since_last_save",
    "rdb_bgsave_in_progress": "rdb_bgsave_in_progress",
    "rdb_last_save_time": "rdb_last_save_timestamp_seconds",
    "rdb_last_bgsave_status": "rdb_last_bgsave_status",
    "aof_enabled": "aof_enabled",
    "aof_rewrite_in_progress": "aof_rewrite_in_progress",
    "aof_last_bgrewrite_status": "aof_last_bgrewrite_status",
    "aof_last_write_status": "aof_last_write_status",
    "connected_slaves": "connected_slaves",
    "master_repl_offset": "master_repl_offset",
    "repl_backlog_size": "replication_backlog_bytes",
    "sync_full": "replica_resyncs_full",
    "sync_partial_ok": "replica_partial_resync_accepted",
    "sync_partial_err": "replica_partial_resync_denied",
    "cluster_enabled": "cluster_enabled",
}
# INFO field -> counter name (prometheus_client adds `_total`).
INFO_COUNTERS = {
    "total_connections_received": "connections_received",
    "total_commands_processed": "commands_processed",
    "rejected_connections": "rejected_connections",
    "total_net_input_bytes": "net_input_bytes",
    "total_net_output_bytes": "net_output_bytes",
    "expired_keys": "expired_keys",
    "evicted_keys": "evicted_keys",
    "keyspace_hits": "keyspace_hits",
    "keyspace_misses": "keyspace_misses",
    "used_cpu_sys": "cpu_sys_seconds",
    "used_cpu_user": "cpu_user_seconds",
}
# CLUSTER INFO field -> gauge name; redis_exporter keeps the field name.
CLUSTER_GAUGES = (
    "cluster_state",
    "cluster_slots_assigned",
    "cluster_slots_ok",
    "cluster_slots_pfail",
    "cluster_slots_fail",
    "cluster_known_nodes",
    "cluster_size",
    "cluster_current_epoch",
    "cluster_my_epoch",
)
CLUSTER_COUNTERS = {
    "cluster_stats_messages_sent": "cluster_messages_sent",
    "cluster_stats_messages_received": "cluster_messages_received",
}
# Where a check's findings count towards a cluster-wide gauge.
STALE_ADDRESS_CODES = ("A003", "A004")
SPLIT_BRAIN_CODES = ("E002", "E003", "E004")
CLUSTER_MERGE_CODE = "M010"
PLACEMENT_FAMILY_PREFIX = "Q"
WORST = {"ok": 0, "info": 1, "warning": 2, "critical": 3}


@dataclass(frozen=True)
class CollectionStats:
    """The exporter's own record of its collections (state kept by the server, not in the snapshot)."""

    collections_ok: int = 0
    collections_failed: int = 0
    last_success_unix: float | None = None
    last_attempt_unix: float | None = None
    last_duration_s: float | None = None


def number(value: str | None) -> float | None:
    """An INFO value as redis_exporter reads it: ok/true are 1, err/fail/false are 0, else a float."""
    if value is None:
        return None
    if value in ("ok", "true"):
        return 1.0
    if value in ("err", "fail", "false"):
        return 0.0
    try:
        return float(value)
    except ValueError:
        return None


class Families:
    """Metric families by name, created on first use, in a stable order."""

    def __init__(self) -> None:
        self._by_name: dict[str, Metric] = {}

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        family = self._by_name.setdefault(name, GaugeMetricFamily(name, doc, labels=list(labels)))
        assert isinstance(family, GaugeMetricFamily)
        return family

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
        family = self._by_name.setdefault(name, CounterMetricFamily(name, doc, labels=list(labels)))
        assert isinstance(family, CounterMetricFamily)
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._by_name.values())


def families(report: Report, ctx: ClusterView, stats: CollectionStats) -> list[Metric]:
    out = Families()
    _collection(out, report, stats)
    ids = _ids_by_address(ctx)
    for sample in report.snapshot.nodes:
        _node(out, sample, ctx, ids.get(sample.address, ""))
    # Nodes the cluster lists without any address rcdoctor could dial (noaddr): down, as far as clients go.
    dialed = {s.address for s in report.snapshot.nodes}
    for node_id in sorted(ctx.unreachable):
        address = ctx.address(node_id)
        if address is None or address not in dialed:
            out.gauge("redis_up", "Could the node be reached (1) or not (0).", NODE_LABELS).add_metric(
                [address or "", node_id, role_name(ctx, node_id)], 0.0
            )
    if report.snapshot.answered:
        _cluster(out, report, ctx)
    return list(out)


def _ids_by_address(ctx: ClusterView) -> dict[str, str]:
    found = {a: i for i, addresses in ctx.answers_at.items() for a in addresses}
    for node_id in ctx.ids:
        address = ctx.address(node_id)
        if address is not None:
            found.setdefault(address, node_id)
    return found


def role_name(ctx: ClusterView, node_id: str) -> str:
    """master / slave (INFO's words, as redis_exporter labels them) as the cluster knows the node."""
    entry = ctx.entry(node_id)
    if entry is None:
        return "unknown"
    return "master" if entry.is_primary else "slave" if entry.is_replica else "unknown"


def _node(out: Families, sample: NodeSample, ctx: ClusterView, listed_id: str) -> None:
    node_id = sample.node_id or listed_id
    answered = sample.answered
    role = (sample.role or "unknown") if answered else (role_name(ctx, node_id) if node_id else "unknown")
    labels = [sample.address, node_id, role]
    out.gauge("redis_up", "Could the node be reached (1) or not (0).", NODE_LABELS).add_metric(labels, float(answered))
    if sample.duration_ms is not None:
        out.gauge("rcdoctor_node_collect_duration_seconds", "Time spent collecting this node.", NODE_LABELS).add_metric(
            labels, sample.duration_ms / 1000
        )
    if not answered:
        return
    info = {k: v for section in sample.info.values() for k, v in section.items()}
    for field, name in INFO_GAUGES.items():
        value = number(info.get(field))
        if value is not None:
            out.gauge(f"redis_{name}", f"INFO {field}", NODE_LABELS).add_metric(labels, value)
    for field, name in INFO_COUNTERS.items():
        value = number(info.get(field))
        if value is not None:
            out.counter(f"redis_{name}", f"INFO {field}", NODE_LABELS).add_metric(labels, value)
    for field in CLUSTER_GAUGES:
        value = number(sample.cluster_info.get(field))
        if value is not None:
            out.gauge(f"redis_{field}", f"CLUSTER INFO {field} (cluster_state: 1 ok, 0 fail)", NODE_LABELS).add_metric(
                labels, value
            )
    for field, name in CLUSTER_COUNTERS.items():
        value = number(sample.cluster_info.get(field))
        if value is not None:
            out.counter(f"redis_{name}", f"CLUSTER INFO {field}", NODE_LABELS).add_metric(labels, value)
    keyspace = sample.info.get("keyspace")
    if keyspace is not None:
        family = out.gauge("redis_db_keys", "Keys per database (INFO keyspace).", (*NODE_LABELS, "db"))
        for db, keys in sorted(parse_keyspace(keyspace).items()):
            family.add_metric([*labels, db], float(keys))
    _replication(out, labels, sample.info.get("replication", {}))
    _instance_info(out, labels, info, sample.identity)
    if sample.ping_ms is not None:
        out.gauge("rcdoctor_node_ping_seconds", "PING round trip seen by rcdoctor.", NODE_LABELS).add_metric(
            labels, sample.ping_ms / 1000
        )


def _replication(out: Families, labels: list[str], replication: dict[str, str]) -> None:
    host, port = replication.get("master_host"), replication.get("master_port")
    if host is not None and port is not None:
        master = (*NODE_LABELS, "master_host", "master_port")
        with_master = [*labels, host, port]
        out.gauge("redis_master_link_up", "Replica's link to its primary is up (1) or not (0).", master).add_metric(
            with_master, float(replication.get("master_link_status") == "up")
        )
        for field in ("master_sync_in_progress", "master_last_io_seconds_ago", "slave_repl_offset"):
            value = number(replication.get(field))
            if value is not None:
                out.gauge(f"redis_{field}", f"INFO {field}", master).add_metric(with_master, value)
    replica_labels = (*NODE_LABELS, "slave_ip", "slave_port", "slave_state")
    for field, text in sorted(replication.items()):
        if not (field.startswith("slave") and field[5:].isdigit()):
            continue
        parts = dict(p.split("=", 1) for p in text.split(",") if "=" in p)
        values = [*labels, parts.get("ip", ""), parts.get("port", ""), parts.get("state", "")]
        offset, lag = number(parts.get("offset")), number(parts.get("lag"))
        if offset is not None:
            out.gauge(
                "redis_connected_slave_offset_bytes", "Offset a replica acknowledged.", replica_labels
            ).add_metric(values, offset)
        if lag is not None:
            out.gauge(
                "redis_connected_slave_lag_seconds", "Seconds since a replica's last ACK.", replica_labels
            ).add_metric(values, lag)


def _instance_info(out: Families, labels: list[str], info: dict[str, str], identity: ServerIdentity | None) -> None:
    # redis_exporter's labels, filled from the server's identity: Valkey's redis_version field is always
    # 7.2.4 and it has server_mode instead of redis_mode, so the raw fields would mislabel every Valkey node.
    # server_name (redis or valkey) says whose version redis_version is.
    fields = ("os", "tcp_port", "run_id", "process_id")
    names = ("redis_version", "redis_mode", *fields, "server_name")
    values = [
        identity.version if identity else "",
        (identity.mode or "") if identity else "",
        *(info.get(f, "") for f in fields),
        identity.name if identity else "",
    ]
    family = out.gauge("redis_instance_info", "Information about the Redis or Valkey instance.", (*NODE_LABELS, *names))
    family.add_metric([*labels, *values], 1.0)


def _collection(out: Families, report: Report, stats: CollectionStats) -> None:
    snapshot = report.snapshot
    out.gauge("rcdoctor_up", "Some node answered the last collection (1) or none did (0).").add_metric(
        [], float(bool(snapshot.answered))
    )
    out.gauge("rcdoctor_collection_duration_seconds", "Duration of the last collection.").add_metric(
        [], stats.last_duration_s if stats.last_duration_s is not None else snapshot.duration_s
    )
    if stats.last_success_unix is not None:
        out.gauge(
            "rcdoctor_collection_last_success_timestamp_seconds",
            "Unix time of the last collection where some node answered.",
        ).add_metric([], stats.last_success_unix)
    results = out.counter("rcdoctor_collections", "Collections done, by result.", ("result",))
    results.add_metric(["ok"], float(stats.collections_ok))
    results.add_metric(["failed"], float(stats.collections_failed))
    endpoints = out.gauge(
        "rcdoctor_collection_endpoints", "Endpoints dialed in the last collection, by outcome.", ("outcome",)
    )
    endpoints.add_metric(["answered"], float(len(snapshot.answered)))
    endpoints.add_metric(["failed"], float(len(snapshot.failed)))


Gauge = Callable[[str, str, float], None]  # (name after rcdoctor_cluster_, help, value)


def _cluster(out: Families, report: Report, ctx: ClusterView) -> None:
    def gauge(name: str, doc: str, value: float) -> None:
        out.gauge(f"rcdoctor_cluster_{name}", doc).add_metric([], value)

    # per node: how many answering nodes flag it fail, and how many only fail? (PFAIL)
    flagged = {i: (len(ctx.reporters(i, "fail")), len(ctx.reporters(i, "fail?"))) for i in ctx.ids}
    _members(gauge, ctx, flagged)
    _slot_map(gauge, ctx)
    _verdicts(gauge, report)
    _by_code(
        out.gauge("rcdoctor_findings", "Findings by check code and severity.", ("code", "name", "severity")),
        report.findings,
        report,
    )
    _by_code(
        out.gauge(
            "rcdoctor_root_causes",
            "Findings no other finding explains (what to fix first), by check code and severity.",
            ("code", "name", "severity"),
        ),
        report.root_causes,
        report,
    )
    _per_node(out, ctx, flagged)


def _members(gauge: Gauge, ctx: ClusterView, flagged: Mapping[str, tuple[int, int]]) -> None:
    failed = [i for i, (fail, _) in flagged.items() if fail]
    suspected = [i for i, (fail, pfail) in flagged.items() if not fail and pfail]
    primaries = ctx.slot_primaries
    primaries_down = [i for i in primaries if ctx.is_down(i)]
    gauge("known_nodes", "Node ids known to any answering node (handshakes left out).", len(ctx.ids))
    gauge("nodes_answering", "Nodes that answered rcdoctor.", len(ctx.answers_at))
    gauge("nodes_unreachable", "Listed nodes that answered rcdoctor at no address.", len(ctx.unreachable))
    gauge("nodes_failed", "Nodes flagged FAIL (a majority of primaries agreed they are down).", len(failed))
    gauge("nodes_suspected", "Nodes flagged PFAIL (fail?) by some node but not FAIL.", len(suspected))
    gauge("primaries", "Slot-owning primaries in the slot map most nodes share.", len(primaries))
    gauge("primaries_down", "Slot-owning primaries down, failed or unreachable.", len(primaries_down))
    gauge(
        "primaries_majority_up",
        "A majority of slot-owning primaries is up, so failovers can still be authorized (1) or not (0).",
        float(bool(primaries) and len(primaries) - len(primaries_down) >= ctx.quorum),
    )


def _slot_map(gauge: Gauge, ctx: ClusterView) -> None:
    open_slots = {
        slot
        for sample in ctx.viewers
        if sample.myself is not None
        for slot, _ in (*sample.myself.migrating, *sample.myself.importing)
    }
    gauge("views_agree", "Every answering node has the same slot map (1) or not (0).", float(len(ctx.view_groups) <= 1))
    gauge("slot_maps", "Distinct slot maps among the answering nodes.", len(ctx.view_groups))
    gauge(
        "slots_uncovered",
        "Slots no primary owns in the majority slot map.",
        sum(r.end - r.start + 1 for r in uncovered(ctx.consensus)),
    )
    gauge("slots_open", "Slots some node has MIGRATING or IMPORTING.", len(open_slots))


def _verdicts(gauge: Gauge, report: Report) -> None:
    codes = {f.code for f in report.findings}
    stale = {n.id for f in report.findings if f.code in STALE_ADDRESS_CODES for n in f.nodes if n.id}
    gauge(
        "stale_addresses",
        "Nodes whose peers or clients are given an address where they are not (A003, A004).",
        len(stale),
    )
    gauge(
        "split_brain_suspected",
        "Conflicting slot claims, a minority primary or a partition was found (E002, E003, E004): 1, else 0.",
        float(bool(codes & set(SPLIT_BRAIN_CODES))),
    )
    # Its own gauge: a merge is visible for seconds only (the slot maps settle, the losers resync) and
    # deletes one cluster's keys, so an alert must not have to pick it out of the root causes by code.
    gauge(
        "merge_suspected",
        "A node of another cluster was met into this one: unrelated primaries claim the same slots (M010): 1, else 0.",
        float(CLUSTER_MERGE_CODE in codes),
    )
    risky = [
        f
        for f in report.findings
        if f.code.startswith(PLACEMENT_FAMILY_PREFIX) and severity_rank(f.severity) >= severity_rank("warning")
    ]
    gauge(
        "placement_risks",
        "Placement findings at warning or worse (Q001-Q003): shards or primaries sharing a failure domain.",
        len(risky),
    )
    gauge("healthy", "No finding worse than info (1), else 0.", float(report.healthy))
    gauge("worst_severity", "Worst finding: 0 none, 1 info, 2 warning, 3 critical.", WORST[report.worst])


def _per_node(out: Families, ctx: ClusterView, flagged: Mapping[str, tuple[int, int]]) -> None:
    nodes = out.gauge(
        "rcdoctor_node_flagged_by",
        "How many answering nodes flag this node, by flag (fail, pfail).",
        (*NODE_LABELS, "flag"),
    )
    for node_id, (fail, pfail) in flagged.items():
        labels = [ctx.address(node_id) or "", node_id, role_name(ctx, node_id)]
        nodes.add_metric([*labels, "fail"], float(fail))
        nodes.add_metric([*labels, "pfail"], float(pfail))
    topology = out.gauge(
        "rcdoctor_node_info",
        "Each known node: its primary (for replicas), failure domain and owned slots as labels; value 1.",
        (*NODE_LABELS, "primary_id", "domain"),
    )
    for node_id in ctx.ids:
        entry = ctx.entry(node_id)
        topology.add_metric(
            [
                ctx.address(node_id) or "",
                node_id,
                role_name(ctx, node_id),
                (entry.primary_id or "") if entry else "",
                ctx.domain(node_id) or "",
            ],
            1.0,
        )


def _by_code(family: GaugeMetricFamily, findings: Iterable[Finding], report: Report) -> None:
    """One series per check run and severity, zeros included, so a series never appears from nowhere."""
    counts = Counter((f.code, f.severity) for f in findings)
    for check in report.checks:
        for severity in SEVERITIES[1:]:
            family.add_metric([check.code, check.name, severity], float(counts.get((check.code, severity), 0)))
