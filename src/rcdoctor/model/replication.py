"""Replication as the servers report it (pure): a primary's `slaveN:` lines and where a replica is in its
sync with its primary.

A replica's own INFO says little during an initial sync: while the primary waits
`repl-diskless-sync-delay` (5 s by default on Redis 7) before it streams the RDB, the replica shows
`master_link_status:down`, `master_sync_in_progress:0` and `master_link_down_since_seconds:-1`, exactly
like a replica that cannot reach its primary at all. Only the primary tells them apart: it lists the
replica with `state=wait_bgsave` (preparing), then `send_bulk` (streaming), then `online`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rcdoctor.model.info import as_int

# Stages of a replica's link, in order; the first three are a sync in progress, not a broken link.
WAITING = "waiting"  # the primary prepares the RDB (wait_bgsave): repl-diskless-sync-delay, a BGSAVE
TRANSFER = "transfer"  # the RDB is on its way (send_bulk, master_sync_in_progress:1)
LOADING = "loading"  # the replica loads what it received
UP = "up"
CONNECTING = "connecting"  # down and never up since the replica started; the primary does not list it
DOWN = "down"
SYNCING = frozenset({WAITING, TRANSFER, LOADING})


@dataclass(frozen=True)
class ListedReplica:
    """One `slaveN:ip=…,port=…,state=…,offset=…,lag=…` line of a primary's INFO replication."""

    ip: str
    port: int | None
    state: str
    offset: int | None
    lag: int | None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


def listed_replicas(replication: Mapping[str, str] | object) -> list[ListedReplica]:
    if not isinstance(replication, Mapping):
        return []
    found = []
    for key, value in replication.items():
        if not (isinstance(key, str) and key.startswith("slave") and key[5:].isdigit() and isinstance(value, str)):
            continue
        parts = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
        found.append(
            ListedReplica(
                parts.get("ip", ""),
                as_int(parts.get("port")),
                parts.get("state", ""),
                as_int(parts.get("offset")),
                as_int(parts.get("lag")),
            )
        )
    return found


def behind(replication: Mapping[str, str]) -> list[ListedReplica]:
    """The replicas a primary lists (its INFO replication section) that have not acknowledged all it sent:
    offset short of `master_repl_offset`, or no acknowledgement for over a second. These are the ones a
    Valkey 8 primary waits for before it applies a CLUSTER SETSLOT."""
    primary_offset = as_int(replication.get("master_repl_offset")) or 0
    return [
        r
        for r in listed_replicas(replication)
        if (r.offset is not None and r.offset < primary_offset) or r.lag is None or r.lag > 1
    ]


def lagging_text(info_replication: str, names: Mapping[str, str] | None = None) -> str:
    """`behind` in words from a raw INFO replication reply, each replica by name where `names` (address ->
    name) knows it: what a NOREPLICAS report says."""
    section = dict(line.split(":", 1) for line in info_replication.splitlines() if ":" in line)
    section = {k: v.strip() for k, v in section.items()}
    primary_offset = section.get("master_repl_offset", "?")
    late = [
        f"{(names or {}).get(r.address, r.address)} (acknowledged offset {r.offset} of {primary_offset}, "
        f"last ack {'?' if r.lag is None else r.lag} s ago)"
        for r in behind(section)
    ]
    return ", ".join(late) if late else "a replica it counts as online"


@dataclass(frozen=True)
class SyncState:
    stage: str
    detail: str

    @property
    def syncing(self) -> bool:
        return self.stage in SYNCING


def sync_state(
    replica_info: Mapping[str, Mapping[str, str]],
    replica_address: str,
    primary_info: Mapping[str, Mapping[str, str]] | None,
) -> SyncState:
    """Where a replica is, from its own INFO and (when it answered) its primary's."""
    replication = replica_info.get("replication", {})
    if replication.get("master_link_status") == "up":
        return SyncState(UP, "link up")
    persistence = replica_info.get("persistence", {})
    if persistence.get("loading") == "1":
        done = persistence.get("loading_loaded_perc")
        return SyncState(LOADING, "loading the data set it received" + (f" ({done}%)" if done else ""))
    if replication.get("master_sync_in_progress") == "1":
        read, total = replication.get("master_sync_read_bytes"), replication.get("master_sync_total_bytes")
        shown = f" ({read} of {total} bytes)" if read and total and total != "-1" else ""
        return SyncState(TRANSFER, f"receiving the primary's data set{shown}")
    listed = _listing(primary_info, replica_address)
    if listed is not None and listed.state == "wait_bgsave":
        return SyncState(
            WAITING,
            "its primary prepares the data set to send (state wait_bgsave: repl-diskless-sync-delay, 5 s by "
            "default on Redis 7, or a BGSAVE)",
        )
    if listed is not None and listed.state == "send_bulk":
        return SyncState(TRANSFER, "its primary streams the data set (state send_bulk)")
    since = replication.get("master_link_down_since_seconds")
    if since == "-1" or since is None:
        return SyncState(CONNECTING, "down since it started: no sync with its primary has begun")
    return SyncState(DOWN, f"down for {since} s")


def _listing(primary_info: Mapping[str, Mapping[str, str]] | None, address: str) -> ListedReplica | None:
    if primary_info is None:
        return None
    listed = listed_replicas(primary_info.get("replication", {}))
    exact = [r for r in listed if r.address == address]
    if exact:
        return exact[0]
    # The primary records the IP the replica connected from: another one than the replica's own when it
    # dials from a different source address (Redis 7 without bind-source-addr). The port is its own.
    port = address.rpartition(":")[2]
    by_port = [r for r in listed if str(r.port) == port and r.state != "online"]
    return by_port[0] if len(by_port) == 1 else None
