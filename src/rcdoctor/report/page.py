"""The incident report's content as plain data, built from what diagnose, status and heal already
computed (pure: nothing here talks to a node). The templates only lay it out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcdoctor.analyze import Report
from rcdoctor.checks.base import Finding
from rcdoctor.model.slots import SLOT_COUNT, SlotRange, count_slots, format_ranges, to_ranges
from rcdoctor.model.view import ClusterView, runs, slot_array, uncovered
from rcdoctor.plan.steps import HealPlan
from rcdoctor.status import StatusReport
from rcdoctor.timeline.merge import Timeline

# Owner colours: distinct hues that stay apart in a greyscale print too (light/dark alternate).
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
    "#9c755f", "#ff9da7", "#1f5f8b", "#8cd17d", "#d37295", "#86bcb6",
)  # fmt: skip
UNCOVERED = "#d62728"
MAX_MATRIX = 60  # nodes shown in who-sees-whom; beyond, the odd ones first (see _matrix_ids)
BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})
MAX_TIMELINE = 2000  # events shown; the rest are counted (the JSON of `rcdoctor timeline` has them all)

# The matrix's cell states: (symbol, meaning). Order = legend order.
CELL_STATES = {
    "self": ("●", "the node itself"),
    "ok": ("✓", "listed, connected, no failure flag"),
    "disconnected": ("~", "listed, bus link not connected"),
    "stale": ("→", "listed at another address than where it answers (stale address)"),
    "pfail": ("?", "pfail: this node suspects it (fail?)"),
    "fail": ("✗", "fail: marked failing by a quorum"),
    "noaddr": ("∅", "noaddr: no address known for it"),
    "handshake": ("…", "handshake: being met, not yet a member"),
    "unlisted": ("·", "not listed: this node does not know it"),
    "unasked": ("–", "could not ask this node"),
}


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    owner: str | None  # node id; None: no owner (uncovered)
    label: str
    colour: str

    @property
    def count(self) -> int:
        return self.end - self.start + 1

    @property
    def ranges(self) -> str:
        return format_ranges((SlotRange(self.start, self.end),))


@dataclass(frozen=True)
class Mark:
    start: int
    end: int
    kind: str  # "open", "contested" or "uncovered"
    detail: str

    @property
    def ranges(self) -> str:
        return format_ranges((SlotRange(self.start, self.end),))


@dataclass(frozen=True)
class SlotMap:
    segments: tuple[Segment, ...]
    marks: tuple[Mark, ...]
    legend: tuple[tuple[str, str, int], ...]  # (colour, owner label, slots)
    views: int  # how many distinct slot maps the nodes hold

    def count(self, kind: str) -> int:
        return sum(m.end - m.start + 1 for m in self.marks if m.kind == kind)


@dataclass(frozen=True)
class Cell:
    state: str
    title: str
    flag: str = ""  # a stale entry's failure flag ("pfail", "fail"), shown after its arrow

    @property
    def symbol(self) -> str:
        return CELL_STATES[self.state][0] + (CELL_STATES[self.flag][0] if self.flag else "")


@dataclass(frozen=True)
class Matrix:
    columns: tuple[str, ...]  # node labels
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]  # (viewer label, one cell per column)
    legend: tuple[tuple[str, str, str], ...]  # (state, symbol, meaning) of the states present
    left_out: int = 0  # nodes not shown (more than MAX_MATRIX, all seen ok by the ones shown)


@dataclass(frozen=True)
class MemberCard:
    label: str
    node_id: str | None
    address: str | None
    role: str
    state: str  # its cluster_state, or why it could not be asked
    health: str
    domain: str | None
    pod: str | None = None
    k8s_node: str | None = None
    zone: str | None = None
    slots: str = ""
    keys: int | None = None
    version: str | None = None


@dataclass(frozen=True)
class ShardCard:
    primary: MemberCard
    replicas: tuple[MemberCard, ...]
    slot_count: int
    domains: tuple[str, ...]  # the distinct failure domains of its copies
    colour: str  # its primary's colour in the slot map

    @property
    def one_domain(self) -> bool:
        return len(self.domains) == 1 and bool(self.replicas)


@dataclass(frozen=True)
class Folded:
    code: str
    name: str
    severity: str
    count: int
    title: str


@dataclass(frozen=True)
class CauseCard:
    finding: Finding
    folded: tuple[Folded, ...]


@dataclass(frozen=True)
class Header:
    title: str
    cluster: str
    collected_at: str
    generated_at: str
    source: str  # "collected live" or "snapshot FILE (age)"
    servers: tuple[str, ...]
    verdict: str  # healthy / warning / critical
    exit_code: int
    summary: str
    answered: int
    endpoints: int
    nodes: int
    tool_version: str


@dataclass(frozen=True)
class JournalLine:
    time: str  # ISO-8601 UTC, or "" when the line has none
    event: str
    summary: str
    failed: bool = False


@dataclass(frozen=True)
class JournalCard:
    path: str
    lines: tuple[JournalLine, ...]
    more: int = 0  # lines left out (MAX_JOURNAL)


MAX_JOURNAL = 500


def journal_lines(path: str, entries: Iterable[Mapping[str, Any]]) -> JournalCard:
    """A heal or rebalance journal (`rcdoctor.execute.journal` lines) as readable lines: one per phase,
    step, slot batch opened/closed, failover held/released; `step-start` lines are left out (each step
    has its outcome line)."""
    found: list[JournalLine] = []
    total = 0
    for entry in entries:
        event = str(entry.get("event", "?"))
        if event == "step-start":
            continue
        total += 1
        if len(found) >= MAX_JOURNAL:
            continue
        stamp = entry.get("t")
        when = (
            datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
            if isinstance(stamp, int | float) and 0 < stamp < 1e11
            else ""
        )
        found.append(JournalLine(when, event, _journal_summary(event, entry), _journal_failed(event, entry)))
    return JournalCard(path, tuple(found), total - len(found))


def _journal_summary(event: str, entry: Mapping[str, Any]) -> str:
    def short(value: object) -> str:
        return str(value)[:8] if value else "?"

    slots = entry.get("slots")
    ranges = format_ranges(to_ranges(s for s in slots if isinstance(s, int))) if isinstance(slots, list) else ""
    if event == "phase":
        steps = entry.get("steps")
        return f"phase {entry.get('name', '?')}: {len(steps) if isinstance(steps, list) else '?'} step(s)"
    if event == "step":
        detail = f" ({entry['detail']})" if entry.get("detail") else ""
        return f"{entry.get('status', '?')}: {entry.get('step', '?')}{detail}"
    if event in ("open", "closed"):
        keys = f", {entry['keys']} key(s)" if isinstance(entry.get("keys"), int) else ""
        return f"slots {ranges}: {short(entry.get('source'))} → {short(entry.get('target'))}{keys}"
    if event == "cancelled":
        return f"slots {ranges} cancelled"
    fields = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("t", "event") and not isinstance(v, list))
    return (fields + (f", slots {ranges}" if ranges else ""))[:300]


def _journal_failed(event: str, entry: Mapping[str, Any]) -> bool:
    return (event == "step" and entry.get("status") == "failed") or event in ("undone", "node-gone", "unacknowledged")


@dataclass(frozen=True)
class Page:
    header: Header
    slot_map: SlotMap
    matrix: Matrix
    shards: tuple[ShardCard, ...]
    others: tuple[MemberCard, ...]  # nodes in no shard: slotless primaries, unknown roles, unreachable
    causes: tuple[CauseCard, ...]
    notes: tuple[Finding, ...]
    not_seen: tuple[str, ...]
    plan: HealPlan | None = None
    timeline: Timeline | None = None
    timeline_more: int = 0
    journal: JournalCard | None = None
    codes: tuple[str, ...] = field(default=())  # every finding code in the report


def build_page(
    report: Report,
    status: StatusReport,
    ctx: ClusterView,
    source: str,
    plan: HealPlan | None = None,
    timeline: Timeline | None = None,
    now: datetime | None = None,
    journal: JournalCard | None = None,
    max_matrix: int = MAX_MATRIX,
) -> Page:
    labels = _labels(ctx)
    snap = report.snapshot
    roots = tuple(f for f in report.root_causes if f.severity != "info")
    notes = tuple(f for f in report.root_causes if f.severity == "info")
    verdict = "healthy" if report.healthy else report.worst
    servers = tuple(
        f"{name} ×{n}" if len(status.servers) > 1 else f"{name} on {n} node(s)" for name, n in status.servers.items()
    )
    summary = (
        "no problem found"
        if not roots
        else f"{len(roots)} root cause(s) explain {len(report.findings) - len(notes)} finding(s): "
        + ", ".join(f"{f.code} {f.check.name}" for f in roots)
    )
    cluster = ", ".join(s.spec for s in snap.sources) if snap.sources else ", ".join(snap.seeds)
    header = Header(
        title=f"rcdoctor incident report: {verdict}",
        cluster=cluster or "?",
        collected_at=snap.collected_at,
        generated_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        source=source,
        servers=servers,
        verdict=verdict,
        exit_code=report.exit_code,
        summary=summary,
        answered=report.answered,
        endpoints=len(snap.nodes),
        nodes=report.nodes,
        tool_version=snap.tool_version,
    )
    colours = {owner: PALETTE[i % len(PALETTE)] for i, owner in enumerate(dict.fromkeys(o for _, o in ctx.consensus))}
    shards, others = _topology(ctx, status, labels, colours)
    events = timeline.events if timeline else ()
    shown = (
        Timeline(events[:MAX_TIMELINE], timeline.nodes, timeline.lines, timeline.parsed, timeline.names)
        if (timeline)
        else None
    )
    return Page(
        header=header,
        slot_map=_slot_map(ctx, labels, colours),
        matrix=_matrix(ctx, labels, max_matrix),
        shards=shards,
        others=others,
        causes=tuple(CauseCard(f, _folded(report, f)) for f in roots),
        notes=notes,
        not_seen=report.not_seen,
        plan=plan,
        timeline=shown,
        timeline_more=max(0, len(events) - MAX_TIMELINE),
        journal=journal,
        codes=tuple(dict.fromkeys(f.code for f in report.findings)),
    )


def _labels(ctx: ClusterView) -> dict[str, str]:
    """node id -> `address (id8)`, the way findings name nodes."""
    return {i: ctx.name(i) for i in ctx.ids}


def _slot_map(ctx: ClusterView, labels: dict[str, str], colour: dict[str, str]) -> SlotMap:
    consensus = ctx.consensus
    owners = slot_array(consensus)
    order = list(colour)
    segments: list[Segment] = []
    start = 0
    for slot in range(1, SLOT_COUNT + 1):
        if slot == SLOT_COUNT or owners[slot] != owners[start]:
            owner = owners[start]
            label = labels.get(owner, owner[:8]) if owner else "no owner"
            segments.append(Segment(start, slot - 1, owner, label, colour[owner] if owner else UNCOVERED))
            start = slot
    marks: list[Mark] = [
        Mark(r.start, r.end, "uncovered", f"slots {format_ranges((r,))}: no node owns them")
        for r in (uncovered(consensus) if consensus else ())
    ]
    for r in to_ranges(sorted(ctx.open_slots)):
        marks.append(Mark(r.start, r.end, "open", f"slots {format_ranges((r,))}: MIGRATING/IMPORTING (open)"))
    for other, viewers in ctx.view_groups[1:]:
        who = ", ".join(v.address for v in viewers[:4]) + (" …" if len(viewers) > 4 else "")
        for r, mine, theirs in runs(owners, slot_array(other)):
            if theirs is None:
                continue  # that view knows no owner (a node alone, a lost nodes.conf): no rival claim
            detail = (
                f"slots {format_ranges((r,))}: most views say {labels.get(mine, mine) if mine else 'no owner'}, "
                f"{who} say {labels.get(theirs, theirs) if theirs else 'no owner'}"
            )
            marks.append(Mark(r.start, r.end, "contested", detail))
    held = Counter[str | None]()
    for segment in segments:
        held[segment.owner] += segment.count
    legend = tuple((colour[o], labels.get(o, o[:8]), held[o]) for o in order)
    if held[None]:
        legend += ((UNCOVERED, "no owner (uncovered)", held[None]),)
    return SlotMap(tuple(segments), tuple(sorted(marks, key=lambda m: m.start)), legend, len(ctx.view_groups))


def _matrix(ctx: ClusterView, labels: dict[str, str], limit: int) -> Matrix:
    ids = _matrix_ids(ctx, limit)
    viewers = [s for s in ctx.snapshot.nodes if s.node_id is not None or s.answered]
    rows: list[tuple[str, tuple[Cell, ...]]] = []
    present: set[str] = set()
    for node_id in ids:
        sample = ctx.own.get(node_id)
        label = labels.get(node_id, node_id[:8])
        if sample is None or not sample.answered:
            cells = tuple(Cell("unasked", f"{label} could not be asked") for _ in ids)
            rows.append((label, cells))
            present.add("unasked")
            continue
        entries = {e.id: e for e in sample.view.value or ()}
        row = []
        for other in ids:
            cell = _cell(ctx, entries.get(other), other, node_id, labels)
            present.add(cell.state)
            row.append(cell)
        rows.append((label, tuple(row)))
    # endpoints that answered with no cluster id (not a cluster node) or refused: a row each, unasked
    for sample in viewers:
        if sample.node_id is None and sample.answered:
            rows.append((sample.address, tuple(Cell("unasked", "no cluster view") for _ in ids)))
            present.add("unasked")
    present.update(c.flag for _, cells in rows for c in cells if c.flag)
    legend = tuple((s, sym, meaning) for s, (sym, meaning) in CELL_STATES.items() if s in present)
    return Matrix(tuple(labels.get(i, i[:8]) for i in ids), tuple(rows), legend, len(ctx.ids) - len(ids))


def _matrix_ids(ctx: ClusterView, limit: int) -> list[str]:
    """Every node up to MAX_MATRIX; beyond, the nodes in something other than an ok cell first (not asked,
    flagged, listed at a stale address or with a link down, by any node or in their own view): a
    1,000-node matrix is a million cells no one reads, while the odd ones are what the reader looks for."""
    ids = list(ctx.ids)
    if len(ids) <= limit:
        return ids
    # how odd each node looks: not asked at all, then how many views show it in an odd cell; the viewers
    # of those cells come next (a node that sees many others failing may be the cut-off one)
    odd = Counter[str]()
    seeing = Counter[str]()
    for node_id in ids:
        sample = ctx.own.get(node_id)
        if sample is None or not sample.answered:
            odd[node_id] += len(ids) * len(ids)
            continue
        for entry in sample.view.value or ():
            if entry.is_myself:
                continue
            answers = ctx.answers_at.get(entry.id, frozenset())
            stale = bool(answers) and entry.address not in answers
            if stale or entry.flags & BAD_FLAGS or entry.link_state != "connected" or entry.endpoint is None:
                odd[entry.id] += len(ids)
                seeing[node_id] += 1
    order = {node_id: index for index, node_id in enumerate(ids)}
    ranked = sorted(ids, key=lambda i: (-(odd[i] + seeing[i]), order[i]))
    return ranked[:limit]


def _cell(ctx: ClusterView, entry: object, other: str, viewer: str, labels: dict[str, str]) -> Cell:
    from rcdoctor.model.cluster_nodes import ClusterNode

    name = labels.get(other, other[:8])
    if not isinstance(entry, ClusterNode):
        return Cell("unlisted", f"{labels.get(viewer, viewer[:8])} does not list {name}")
    flags = entry.flags
    where = f"listed at {entry.address}" if entry.endpoint else "no address"
    if "myself" in flags:
        return Cell("self", name)
    if "handshake" in flags:
        return Cell("handshake", f"{name}: handshake, {where}")
    if "noaddr" in flags or entry.endpoint is None:
        return Cell("noaddr", f"{name}: noaddr")
    flag = "fail" if "fail" in flags else "pfail" if "fail?" in flags else ""
    answers = ctx.answers_at.get(other, frozenset())
    if answers and entry.address not in answers:
        # The address first: the seed incident's every fail? is only this node dialling the old address.
        state = f", {flag}" if flag else ""
        return Cell("stale", f"{name}: {where}, answers at {', '.join(sorted(answers))}{state}", flag)
    if flag == "fail":
        return Cell("fail", f"{name}: fail, {where}")
    if flag == "pfail":
        return Cell("pfail", f"{name}: fail? (pfail), {where}")
    if entry.link_state != "connected":
        return Cell("disconnected", f"{name}: {where}, link {entry.link_state}")
    return Cell("ok", f"{name}: ok, {where}")


def _member(ctx: ClusterView, status: StatusReport, node_id: str, labels: dict[str, str]) -> MemberCard:
    row = next((r for r in status.rows if r.node_id == node_id), None)
    address = ctx.address(node_id)
    pod = next(
        (p for s in ctx.snapshot.sources for p in s.pods if p.address and p.address == address),
        None,
    )
    return MemberCard(
        label=labels.get(node_id, node_id[:8]),
        node_id=node_id,
        address=address,
        role=(row.role if row and row.role else "?"),
        state=(row.cluster_state or row.error or "no answer") if row else "no answer",
        health=row.health if row else "critical",
        domain=ctx.domain(node_id),
        pod=pod.name if pod else None,
        k8s_node=pod.node if pod else None,
        zone=pod.zone if pod else None,
        slots=(f"{format_ranges(row.slots)} ({count_slots(row.slots)})" if row and row.slots else ""),
        keys=row.keys if row else None,
        version=row.version if row else None,
    )


def _topology(
    ctx: ClusterView, status: StatusReport, labels: dict[str, str], colours: dict[str, str]
) -> tuple[tuple[ShardCard, ...], tuple[MemberCard, ...]]:
    replicas = ctx.replicas_of
    shards = []
    placed: set[str] = set()
    for primary in ctx.slot_primaries:
        members = [_member(ctx, status, i, labels) for i in replicas.get(primary, ())]
        head = _member(ctx, status, primary, labels)
        placed.update([primary, *replicas.get(primary, ())])
        domains = tuple(dict.fromkeys(d for d in [head.domain, *(m.domain for m in members)] if d))
        slots = count_slots(ctx.owned_slots(primary))
        shards.append(ShardCard(head, tuple(members), slots, domains, colours.get(primary, "#999")))
    others = tuple(_member(ctx, status, i, labels) for i in ctx.ids if i not in placed)
    return tuple(shards), others


def _folded(report: Report, finding: Finding) -> tuple[Folded, ...]:
    found: list[Finding] = []

    def walk(f: Finding) -> None:
        for child in report.children(f):
            found.append(child)
            walk(child)

    walk(finding)
    counts = Counter(f.code for f in found)
    firsts: dict[str, Finding] = {}
    for f in found:
        firsts.setdefault(f.code, f)
    return tuple(
        Folded(code, firsts[code].check.name, firsts[code].severity, n, firsts[code].title)
        for code, n in counts.items()
    )
