"""One replica's link to its primary, read live from both (see model.replication for what it means).

Heal waits on it after re-pointing replicas and before it calls a cluster healed; verify waits on it
before it expects a replica to hold a probe key. Both need the primary's INFO too: during the first
seconds of an initial sync only the primary tells "preparing the RDB" from "cannot reach it".
"""

from __future__ import annotations

from typing import Any

from rcdoctor.model.address import parse_hostport
from rcdoctor.model.replication import SyncState, sync_state
from rcdoctor.transport.errors import TransportError
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import node_client


def link_state(replica: str, primary: str | None, options: ConnectOptions) -> SyncState | None:
    """Where `replica` (host:port) is in its sync with `primary` (host:port, None when unknown).
    None when the replica (or the primary) does not answer."""
    try:
        with node_client(parse_hostport(replica), options) as c:
            mine = _sections(c.info("replication"), c.info("persistence"))
        theirs = None
        if primary is not None:
            with node_client(parse_hostport(primary), options) as c:
                theirs = _sections(c.info("replication"))
    except (TransportError, OSError):
        return None
    return sync_state(mine, replica, theirs)


def _sections(*parsed: dict[str, Any]) -> dict[str, dict[str, str]]:
    """redis-py's parsed INFO (numbers as int, slaveN as dicts) back to the text values the model reads;
    the fields sync_state reads do not collide between the two sections, so one map serves both."""
    flat: dict[str, str] = {}
    for fields in parsed:
        for key, value in fields.items():
            if isinstance(value, dict):
                flat[key] = ",".join(f"{k}={v}" for k, v in value.items())
            else:
                flat[key] = str(value)
    return {"replication": flat, "persistence": flat}
