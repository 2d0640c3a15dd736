"""Prometheus HTTP service discovery: one target group per node the cluster knows (pure)."""

from __future__ import annotations

from rcdoctor.exporter.metrics import role_name
from rcdoctor.model.view import ClusterView


def sd_groups(ctx: ClusterView) -> list[dict[str, object]]:
    """`[{"targets": ["host:port"], "labels": {"__meta_rcdoctor_…": …}}]`, the format Prometheus's
    http_sd_configs reads. Nodes without an address (noaddr) cannot be a target and are left out."""
    groups: list[dict[str, object]] = []
    for node_id in ctx.ids:
        address = ctx.address(node_id)
        entry = ctx.entry(node_id)
        if address is None or entry is None:
            continue
        labels = {
            "__meta_rcdoctor_node_id": node_id,
            "__meta_rcdoctor_role": role_name(ctx, node_id),
            "__meta_rcdoctor_primary_id": entry.primary_id or "",
            "__meta_rcdoctor_domain": ctx.domain(node_id) or "",
            "__meta_rcdoctor_answered": "true" if node_id in ctx.answers_at else "false",
        }
        groups.append({"targets": [address], "labels": labels})
    return groups
