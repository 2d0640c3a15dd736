"""Synthetic healthy snapshots of big clusters, built from a real node's replies.

    python bench/synthetic.py NODES -o FILE.json[.gz] [--replies minimal|full]

N/2 primaries with one replica each, every node answering with the same consistent view. The replies
of a real Redis 7.0 node (tests/data/healthy-redis7.json) are the template: INFO, CLUSTER INFO and
CONFIG GET as recorded, CLUSTER NODES, CLUSTER MYID and CLUSTER SLOTS generated.

- `minimal` (the shape issue 17 first measured): no CLUSTER SHARDS or CLUSTER LINKS (as on Redis 6.2);
  every view's lines identical across viewers (ping/pong times 0 and 1).
- `full` (as a real 7.x cluster answers): CLUSTER SHARDS and CLUSTER LINKS (two links per peer)
  generated to match, and each viewer's ping/pong times its own, so no two views are byte-identical.

The snapshot is in the documented format (docs/snapshot.md); `-o` writes it (gzip when the name ends in
`.gz`). Run by bench/scale.py, imported by bench/diagnose.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.model.snapshot import (
    CLUSTER_INFO,
    CLUSTER_LINKS,
    CLUSTER_MYID,
    CLUSTER_NODES,
    CLUSTER_SHARDS,
    CLUSTER_SLOTS,
    NodeSample,
    PortCheck,
    Snapshot,
)

TEMPLATE = Path(__file__).parent.parent / "tests" / "data" / "healthy-redis7.json"
EPOCH_MS = 1795308860000


def synthetic(count: int, replies: str = "minimal") -> Snapshot:
    """`count` nodes (half primaries, one replica each), every one answering with the same consistent view."""
    full = replies == "full"
    template = next(n for n in Snapshot.load(TEMPLATE).nodes if n.answered)
    primaries = count // 2
    ids = [f"{i:040x}" for i in range(count)]
    ips = [f"10.{i // 250}.{i % 250}.1" for i in range(count)]
    per = SLOT_COUNT // primaries
    ranges = [(i * per, SLOT_COUNT - 1 if i == primaries - 1 else (i + 1) * per - 1) for i in range(primaries)]

    def line(i: int, viewer: int) -> str:
        ping, pong = (0, EPOCH_MS + (viewer * 7 + i * 13) % 1000) if full else (0, 1)
        if i == viewer:
            ping, pong = 0, EPOCH_MS if full else 1
        me = "myself," if i == viewer else ""
        if i < primaries:
            start, end = ranges[i]
            return f"{ids[i]} {ips[i]}:6379@16379 {me}master - {ping} {pong} {i + 1} connected {start}-{end}"
        primary = i - primaries
        return f"{ids[i]} {ips[i]}:6379@16379 {me}slave {ids[primary]} {ping} {pong} {primary + 1} connected"

    slots = [
        [start, end, [ips[i], 6379, ids[i]], [ips[i + primaries], 6379, ids[i + primaries]]]
        for i, (start, end) in enumerate(ranges)
    ]
    shards = [
        {
            "slots": [start, end],
            "nodes": [_shard_node(ids[j], ips[j], "master" if j == i else "replica") for j in (i, i + primaries)],
        }
        for i, (start, end) in enumerate(ranges)
    ]
    info = _cluster_info(template.replies.get(CLUSTER_INFO), count, primaries)
    nodes = []
    for i in range(count):
        view = "\n".join(line(j, i) for j in range(count)) + "\n"
        sample_replies = {
            k: v for k, v in template.replies.items() if k not in (CLUSTER_SHARDS, CLUSTER_LINKS, CLUSTER_INFO)
        }
        sample_replies.update({CLUSTER_NODES: view, CLUSTER_MYID: ids[i], CLUSTER_SLOTS: slots, CLUSTER_INFO: info})
        if full:
            sample_replies[CLUSTER_SHARDS] = shards
            sample_replies[CLUSTER_LINKS] = [
                _link(ids[j], direction, EPOCH_MS - 60000 + (i * 31 + j * 17) % 5000)
                for j in range(count)
                if j != i
                for direction in ("to", "from")
            ]
        nodes.append(
            NodeSample(
                address=f"{ips[i]}:6379",
                origin="seed" if i == 0 else "view",
                announced_by=(),
                data_port=PortCheck(True, 0.1),
                bus_port=PortCheck(True, 0.1),
                bus_port_number=16379,
                replies=MappingProxyType(sample_replies),
            )
        )
    return Snapshot("2026-01-01T00:00:00Z", 1.0, (nodes[0].address,), 3.0, tuple(nodes), tool_version="synthetic")


def _shard_node(node_id: str, ip: str, role: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "port": 6379,
        "ip": ip,
        "endpoint": ip,
        "role": role,
        "replication-offset": 1000,
        "health": "online",
    }


def _link(node_id: str, direction: str, created: int) -> dict[str, Any]:
    return {
        "direction": direction,
        "node": node_id,
        "create-time": created,
        "events": "r",
        "send-buffer-allocated": 0,
        "send-buffer-used": 0,
    }


def _cluster_info(text: object, count: int, primaries: int) -> str:
    """The template's CLUSTER INFO with this cluster's size."""
    lines = str(text or "").split("\r\n")
    wanted = {"cluster_known_nodes": str(count), "cluster_size": str(primaries)}
    out = []
    for item in lines:
        key, sep, _ = item.partition(":")
        out.append(f"{key}:{wanted[key]}" if sep and key in wanted else item)
    return "\r\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("nodes", type=int)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--replies", choices=("minimal", "full"), default="minimal")
    args = parser.parse_args()
    synthetic(args.nodes, args.replies).save(args.output)


if __name__ == "__main__":
    main()
