"""What the demo does to its lab, without the narration (cli/demo.py tells the story): write keys as an
application does, wait for the incident to show on every node, try a read as an application would."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rcdoctor.collect import collect
from rcdoctor.lab.cluster import Lab
from rcdoctor.transport.errors import client_class_name
from rcdoctor.transport.redis_py import app_cluster_client

BATCH = 500


def write_demo_keys(lab: Lab, count: int) -> None:
    """`demo:key:0` … through a cluster client, the way an application writes (not straight to owners)."""
    client = app_cluster_client([(n.ip, n.port) for n in lab.nodes], timeout=2)
    try:
        for start in range(0, count, BATCH):
            client.mset_nonatomic({f"demo:key:{i}": f"value-{i}" for i in range(start, min(count, start + BATCH))})
    finally:
        client.close()


def wait_all_fail(lab: Lab, limit: float) -> tuple[bool, dict[str, str | None], float]:
    """Poll until every live node reports cluster_state:fail, or `limit` seconds pass.

    Returns (all failed, address -> state, seconds waited)."""
    started = time.monotonic()
    states: dict[str, str | None] = {}
    while time.monotonic() - started < limit:
        snapshot = collect(lab.addresses, lab.options)
        # the old addresses are found in the views too; they refuse: only the live nodes count here
        states = {n.address: n.cluster_state for n in snapshot.nodes if n.address in lab.addresses}
        if all(state == "fail" for state in states.values()):
            break
        time.sleep(0.25)
    all_failed = bool(states) and all(state == "fail" for state in states.values())
    return all_failed, states, time.monotonic() - started


def client_read(addresses: Sequence[str]) -> str | None:
    """Read one key with a cluster client started on these addresses: None when it worked, else what the
    client raised, as an application's log would show it."""
    nodes = [(host, int(port)) for host, _, port in (a.rpartition(":") for a in addresses)]
    try:
        client = app_cluster_client(nodes, timeout=1, connect_timeout=1)
        try:
            client.get("demo:key:1")
            return None
        finally:
            client.close()
    except Exception as exc:  # whatever the client raises is what the application would see
        return f"{client_class_name(exc)}: {' '.join(str(exc).split())[:150]}"
