"""The status view: every node from every view on one screen (pure: Snapshot -> StatusReport).

Rows are keyed by node id, so a node that answers at a new address and is still listed at its old
one by its peers is one row with both addresses. Endpoints that never answered and that no answering
node names are rows of their own (id unknown).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rcdoctor.errors import EXIT_CANNOT_RUN, EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.slots import SlotRange, count_slots, format_ranges
from rcdoctor.model.snapshot import NodeError, NodeSample, Snapshot
from rcdoctor.model.view import ClusterView

STATUS_FORMAT = "rcdoctor.status"
STATUS_VERSION = 1
HEALTH_LEVELS = ("ok", "warning", "critical")
ROLE_FLAGS = {"myself", "master", "slave"}


@dataclass(frozen=True)
class StatusRow:
    node_id: str | None
    answered_at: str | None  # the address where this node answered us
    advertised_at: str | None  # the address it gives for itself (its `myself` line)
    listed_at: tuple[tuple[str, int], ...]  # (address, number of views listing it there)
    role: str | None  # "primary" / "replica" (own view first, else what most views say)
    primary_id: str | None
    slots: tuple[SlotRange, ...]
    cluster_state: str | None
    config_epoch: int | None
    current_epoch: int | None
    links: tuple[int, int]  # (views with link connected, views listing it)
    flags: tuple[tuple[str, int], ...]  # flag -> number of views reporting it (role flags left out)
    keys: int | None
    server: ServerIdentity | None  # Redis or Valkey and its own version, from its INFO server
    error: str | None  # why we could not ask it
    problems: tuple[str, ...] = field(default=())

    @property
    def version(self) -> str | None:
        return self.server.version if self.server else None

    @property
    def addresses(self) -> tuple[str, ...]:
        seen = dict.fromkeys(([self.answered_at] if self.answered_at else []) + [a for a, _ in self.listed_at])
        return tuple(seen)

    @property
    def health(self) -> str:
        return _worst(_problem_level(p) for p in self.problems)


@dataclass(frozen=True)
class StatusReport:
    rows: tuple[StatusRow, ...]
    endpoints: int
    answered: int
    collected_at: str
    duration_s: float

    @property
    def health(self) -> str:
        if self.answered == 0:
            return "critical"
        return _worst(row.health for row in self.rows)

    @property
    def servers(self) -> dict[str, int]:
        """ "Valkey 8.1.8" -> number of nodes running it, most common first."""
        return dict(Counter(str(r.server) for r in self.rows if r.server).most_common())

    @property
    def exit_code(self) -> int:
        if self.answered == 0:
            return EXIT_CANNOT_RUN
        return {"ok": EXIT_OK, "warning": EXIT_WARNING, "critical": EXIT_CRITICAL}[self.health]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATUS_FORMAT,
            "version": STATUS_VERSION,
            "collected_at": self.collected_at,
            "duration_s": self.duration_s,
            "health": self.health,
            "summary": {
                "endpoints": self.endpoints,
                "answered": self.answered,
                "nodes": len(self.rows),
                "servers": self.servers,
            },
            "nodes": [_row_dict(r) for r in self.rows],
        }


def build_status(snapshot: Snapshot) -> StatusReport:
    ctx = ClusterView(snapshot)  # which sample is a node's own, and its consensus line: shared with diagnose
    listings = _listings(snapshot, ctx, grouped=len(ctx.viewers) == len(snapshot.answered))
    # Where each node id really answers (a node may answer at several addresses: a DNS name and its IP).
    answers_at: dict[str, set[str]] = {}
    for sample in snapshot.answered:
        if sample.node_id:
            answers_at.setdefault(sample.node_id, set()).add(sample.address)
    ids = list(dict.fromkeys([*answers_at, *listings]))
    errors = {s.address: s.error for s in snapshot.nodes if s.error is not None}
    rows = [
        _row(
            node_id,
            ctx.own.get(node_id),
            ctx.entry(node_id),
            listings.get(node_id, []),
            answers_at.get(node_id, set()),
            errors,
        )
        for node_id in ids
    ]
    explained = {a for r in rows if r.node_id for a in (*(a for a, _ in r.listed_at), r.advertised_at) if a}
    for sample in snapshot.nodes:
        if not sample.answered and sample.address not in explained:
            rows.append(_unknown_row(sample))
    rows.sort(key=_sort_key)
    return StatusReport(
        tuple(rows), len(snapshot.nodes), len(snapshot.answered), snapshot.collected_at, snapshot.duration_s
    )


def _listings(snapshot: Snapshot, ctx: ClusterView, grouped: bool) -> dict[str, list[tuple[ClusterNode, int]]]:
    """node id -> (line, how many views list it so), over every answering sample's view.

    `grouped` (one sample per node): from the grouped index (checks/view_index), each distinct line once
    instead of every line of every view (a million on 1,000 nodes), the viewers' own lines added apart.
    Else (a node answered at several addresses: each of its samples is a view of its own here) the walk."""
    listings: dict[str, list[tuple[ClusterNode, int]]] = {}
    if grouped:
        for sample in ctx.viewers:
            if sample.myself is not None:
                listings.setdefault(sample.myself.id, []).append((sample.myself, 1))
        for node_id, items in ctx.index.listed.items():
            listings.setdefault(node_id, []).extend((x.entry, len(x.viewers)) for x in items)
        return listings
    for sample in snapshot.answered:
        for entry in sample.view.value:
            listings.setdefault(entry.id, []).append((entry, 1))
    return listings


def _row(
    node_id: str,
    own: NodeSample | None,
    entry: ClusterNode | None,  # its own line, else the line most of its peers have
    listed: list[tuple[ClusterNode, int]],  # each line with how many views have it
    answers_at: set[str],
    errors: dict[str, NodeError],
) -> StatusRow:
    others = [(e, n) for e, n in listed if not e.is_myself]
    views = sum(n for _, n in others)
    mine = own.myself if own else None
    flags: Counter[str] = Counter()
    listed_at: Counter[str] = Counter()
    for e, n in others:
        for flag in e.flags - ROLE_FLAGS:
            flags[flag] += n
        listed_at[e.address] += n
    connected = sum(n for e, n in others if e.link_state == "connected")
    role = None
    if entry is not None:
        role = "primary" if entry.is_primary else "replica" if entry.is_replica else None
    problems = list(_problems(own, flags, views, connected))
    advertised = mine.address if mine and mine.endpoint else None
    if own is not None:
        # An address is stale only if nothing answers there as this node.
        if advertised and advertised not in answers_at:
            problems.append(
                f"critical: advertises itself at {advertised} (its own CLUSTER NODES/SLOTS) but answers at "
                f"{own.address}: clients refreshing their slot map from it are sent to {advertised}"
            )
        stale = sorted(a for a in listed_at if a not in answers_at)
        if stale:
            problems.append(f"warning: answers at {own.address} but peers list it at {', '.join(stale)}")
    elif listed:
        why = "; ".join(f"{a}: {errors[a]}" for a in sorted(listed_at) if a in errors)
        addresses = ", ".join(sorted(listed_at)) or "?"
        problems.append(
            f"critical: listed by {views} node(s) at {addresses} but did not answer there"
            + (f" ({why})" if why else "")
        )
    return StatusRow(
        node_id=node_id,
        answered_at=own.address if own else None,
        advertised_at=advertised,
        listed_at=tuple(sorted(listed_at.items())),
        role=role,
        primary_id=entry.primary_id if entry else None,
        slots=entry.slots if entry else (),
        cluster_state=own.cluster_state if own else None,
        config_epoch=entry.config_epoch if entry else None,
        current_epoch=own.current_epoch if own else None,
        links=(connected, views),
        flags=tuple(sorted(flags.items())),
        keys=own.keys if own else None,
        server=own.identity if own else None,
        error=None,
        problems=tuple(problems),
    )


def _problems(own: NodeSample | None, flags: Counter[str], listed: int, connected: int) -> list[str]:
    problems = []
    if own is not None and own.cluster_state != "ok":
        problems.append(f"critical: its own cluster_state is {own.cluster_state}")
    if flags.get("fail"):
        problems.append(f"critical: flagged fail by {flags['fail']} node(s)")
    if flags.get("fail?"):
        problems.append(f"warning: suspected (fail?) by {flags['fail?']} node(s)")
    for flag in ("handshake", "noaddr"):
        if flags.get(flag):
            problems.append(f"warning: {flag} in {flags[flag]} view(s)")
    if listed and connected < listed:
        problems.append(f"warning: bus link disconnected in {listed - connected} of {listed} view(s)")
    return problems


def _unknown_row(sample: NodeSample) -> StatusRow:
    error = str(sample.error) if sample.error else "no CLUSTER NODES reply"
    return StatusRow(
        node_id=sample.node_id,
        answered_at=None,
        advertised_at=None,
        listed_at=((sample.address, len(sample.announced_by)),),
        role=None,
        primary_id=None,
        slots=(),
        cluster_state=None,
        config_epoch=None,
        current_epoch=None,
        links=(0, 0),
        flags=(),
        keys=None,
        server=None,
        error=error,
        problems=(f"critical: {sample.address}: {error}",),
    )


def _sort_key(row: StatusRow) -> tuple[int, int, str]:
    # primaries by first slot, replicas after, unknowns last
    first_slot = row.slots[0].start if row.slots else 99999
    rank = {"primary": 0, "replica": 1}.get(row.role or "", 2)
    return rank, first_slot, row.addresses[0] if row.addresses else ""


def _problem_level(problem: str) -> str:
    return problem.partition(":")[0]


def _worst(levels: Any) -> str:
    worst = "ok"
    for level in levels:
        if HEALTH_LEVELS.index(level) > HEALTH_LEVELS.index(worst):
            worst = level
    return worst


def _row_dict(row: StatusRow) -> dict[str, Any]:
    return {
        "id": row.node_id,
        "addresses": list(row.addresses),
        "answered_at": row.answered_at,
        "advertised_at": row.advertised_at,
        "listed_at": {a: n for a, n in row.listed_at},
        "role": row.role,
        "primary_id": row.primary_id,
        "slots": [[r.start, r.end] for r in row.slots],
        "slot_count": count_slots(row.slots),
        "slot_ranges": format_ranges(row.slots, limit=1000),
        "cluster_state": row.cluster_state,
        "config_epoch": row.config_epoch,
        "current_epoch": row.current_epoch,
        "links": {"connected": row.links[0], "views": row.links[1]},
        "flags": {f: n for f, n in row.flags},
        "keys": row.keys,
        "server": row.server.name if row.server else None,
        "version": row.version,
        "mode": row.server.mode if row.server else None,
        "error": row.error,
        "health": row.health,
        "problems": list(row.problems),
    }
