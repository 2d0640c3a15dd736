"""Observations with real commands, for integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from rcdoctor.lab import Lab
from rcdoctor.lab.state import LabNode
from rcdoctor.transport.errors import TransportError


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (redis.RedisError, TransportError, OSError) as exc:  # lab.client raises rcdoctor's
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f}s: {what}" + (f" (last error: {last})" if last else ""))


def cluster_state(lab: Lab, node: LabNode) -> str:
    with lab.client(node, timeout=1) as c:
        info = str(c.execute_command("CLUSTER", "INFO"))
    return info.split("cluster_state:")[1].split()[0]


def cluster_nodes(lab: Lab, node: LabNode) -> list[list[str]]:
    with lab.client(node, timeout=1) as c:
        return [line.split() for line in str(c.execute_command("CLUSTER", "NODES")).splitlines() if line.strip()]


def node_timeouts(lab: Lab, count: float) -> float:
    return lab.state.node_timeout_ms / 1000 * count


def write_keys(lab: Lab, count: int, prefix: str = "k") -> dict[str, str]:
    from redis.cluster import ClusterNode, RedisCluster

    client = RedisCluster(
        startup_nodes=[ClusterNode(n.ip, n.port) for n in lab.nodes],
        password=lab.password.reveal() if lab.password else None,
    )
    try:
        data = {f"{prefix}:{i}": f"v{i}" for i in range(count)}
        client.mset_nonatomic(data)
        return data
    finally:
        client.close()


def read_keys(lab: Lab, keys: list[str]) -> list[str | None]:
    from redis.cluster import ClusterNode, RedisCluster

    client = RedisCluster(
        startup_nodes=[ClusterNode(n.ip, n.port) for n in lab.nodes],
        decode_responses=True,
        password=lab.password.reveal() if lab.password else None,
    )
    try:
        return list(client.mget_nonatomic(keys))
    finally:
        client.close()
