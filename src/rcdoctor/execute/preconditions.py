"""Preconditions of heal steps, checked on the live cluster right before each step runs: this module
reads the node a condition asks about; plan/conditions.py decides (pure).

check() answers None (it holds: run the step), ("skipped", why) (the step's work is done or moot) or
("failed", why) (the plan no longer fits the cluster: stop). Conditions that gossip makes true a moment
after a MEET (Knows, OwnsNone) are polled for up to 15 s.
"""

from __future__ import annotations

import time

from rcdoctor.model.address import parse_hostport
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.plan.conditions import Condition, Sample
from rcdoctor.transport.errors import TransportError, classify
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import NodeClient, node_client

GOSSIP_WAIT_S = 15.0


def check(condition: Condition, options: ConnectOptions) -> tuple[str, str] | None:
    """None when the precondition holds; otherwise what to do instead of the step."""
    deadline = time.monotonic() + GOSSIP_WAIT_S
    while True:
        verdict = condition.holds(read(condition, options))
        if verdict.holds:
            return None
        # Only a not-yet is worth waiting for (a moot step is moot), and only where gossip can change it
        if verdict.outcome != "failed" or not condition.settles_by_gossip or time.monotonic() > deadline:
            return verdict.outcome, verdict.reason
        time.sleep(0.1)


def read(condition: Condition, options: ConnectOptions) -> Sample:
    """What the node at the condition's address answers now: its id, and its view or the one setting the
    condition needs. A node that does not answer (or has no address) is a Sample with no id."""
    if not condition.address:
        return Sample(condition.address, error="no address")
    try:
        with node_client(parse_hostport(condition.address), options, timeout=options.timeout_for("check")) as c:
            my_id = str(c.execute_command("CLUSTER", "MYID"))
            view = parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES"))).value if condition.reads_view else ()
            setting = condition.setting
            config = {setting: _config(c, setting)} if setting else {}
    except (TransportError, OSError) as exc:
        return Sample(condition.address, error=classify(exc).message)
    return Sample(condition.address, my_id, view=view, config=config)


def _config(c: NodeClient, setting: str) -> str:
    reply = c.execute_command("CONFIG", "GET", setting)
    if isinstance(reply, dict):  # RESP3 or a client that pairs the reply
        value = reply.get(setting, reply.get(setting.encode(), ""))
    else:
        value = reply[1] if isinstance(reply, list | tuple) and len(reply) > 1 else ""
    return (value.decode() if isinstance(value, bytes) else str(value)).strip()
