"""A lab's node logs as timeline sources (`rcdoctor timeline --lab`, the demo), read with the timeline's
size caps."""

from __future__ import annotations

from pathlib import Path

from rcdoctor.lab.cluster import Lab
from rcdoctor.timeline.inputs import MAX_BYTES, read_lines
from rcdoctor.timeline.merge import Source


def lab_sources(name: str, directory: str | None, limit: int = MAX_BYTES) -> list[Source]:
    """Each node's redis.log of a lab, named as the lab names it (n1, n2, …) at its current address."""
    return node_logs(Lab.open(name, directory), limit)


def node_logs(lab: Lab, limit: int = MAX_BYTES) -> list[Source]:
    sources = []
    for node in lab.nodes:
        path = Path(node.dir) / "redis.log"
        if not path.exists():
            continue
        with path.open("rb") as stream:
            sources.append(Source(str(path), list(read_lines(stream, str(path), limit)), node.name, node.address))
    return sources
