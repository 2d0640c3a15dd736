"""Running a heal: collect, gather facts, plan, run the first phase, let the cluster settle, again.

Every step re-checks its precondition on the live cluster right before it acts (the plan may be seconds
old and a node may have moved or come back since), is written to the journal before and after, and the
run stops at the first step that fails. Re-running on a healthy cluster finds nothing to do; re-running
after an interruption plans from what the cluster is now, so it continues where it stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.collect import collect
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, DoctorError
from rcdoctor.execute import salvage, steps
from rcdoctor.execute.failovers import await_promotions, hold_failovers, release_failovers
from rcdoctor.execute.journal import Journal, default_dir
from rcdoctor.execute.links import UP_WITHIN_S, await_links, not_up, replicated
from rcdoctor.execute.steps import Fence, StepFailed
from rcdoctor.migrate import session as moving
from rcdoctor.migrate.engine import MigrationSettings
from rcdoctor.model.address import Seed
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView, uncovered
from rcdoctor.plan.config import undone
from rcdoctor.plan.heal import Facts, Flags, HealPlan, Phase, plan
from rcdoctor.plan.rejoin import lone, stale_copies
from rcdoctor.plan.resume import Closing
from rcdoctor.plan.topology import topology
from rcdoctor.transport.errors import nothing_answered
from rcdoctor.transport.options import ConnectOptions

MAX_ROUNDS = 12


class HealFailed(DoctorError):
    """A step failed or its precondition no longer held; the run stopped there (the cluster is still
    unhealthy: exit 2, not 3)."""

    exit_code = EXIT_CRITICAL


class HealStopped(HealFailed):
    """The caller's gate refused the next phase (the autopilot: a step its policy does not allow, or its
    lease lost); the phases before it ran. `outcome` holds what was done."""

    def __init__(self, reason: str, outcome: HealOutcome) -> None:
        super().__init__(reason)
        self.outcome = outcome


# Asked before each phase runs (the phase as planned from the live cluster, and that snapshot): None to go
# on, else why not (the run stops with HealStopped).
Gate = Callable[[Phase, Snapshot], str | None]


@dataclass
class Round:
    phase: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class HealOutcome:
    first_plan: HealPlan
    rounds: list[Round] = field(default_factory=list)
    final_plan: HealPlan | None = None
    final_report: Report | None = None

    # The verdict: healed only when diagnose finds nothing above info and nothing is left to do or blocked.

    @property
    def done(self) -> bool:
        left = self.final_plan
        return left is not None and left.empty and not left.blocked

    @property
    def healthy(self) -> bool:
        return self.final_report is not None and self.final_report.healthy and self.done

    @property
    def degraded(self) -> bool:
        """Healed but degraded: nothing critical left and nothing heal could still do (e.g. a shard that
        lost its only replica with its dead primary: diagnose's R001 warning)."""
        report = self.final_report
        return not self.healthy and self.done and report is not None and report.worst != "critical"

    @property
    def remaining(self) -> list[str]:
        """The root causes above info diagnose still finds."""
        return [] if self.final_report is None else left_for_a_human(self.final_report)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.healthy else EXIT_WARNING if self.degraded else EXIT_CRITICAL


def left_for_a_human(report: Report) -> list[str]:
    """The root causes above info diagnose finds: "CODE title" each."""
    return [f"{f.code} {f.title}" for f in report.root_causes if f.severity != "info"]


def survey(seeds: Sequence[Seed | str], options: ConnectOptions, flags: Flags) -> tuple[Snapshot, HealPlan]:
    """Collect (with key counts for open slots and sampled stray keys) and plan."""
    snapshot = collect(seeds, options)
    if not snapshot.answered:
        raise nothing_answered(snapshot)
    return snapshot, plan_for(snapshot, options, flags)


def remember_suspects(snapshot: Snapshot, flags: Flags) -> Flags:
    """Nodes that may have moved stay suspect for the whole run: once the MEETs repaired the nodes that
    answer, a silent one no longer looks moved (its old IP may even answer as another pod), yet it is
    as likely alive as before."""
    ctx = ClusterView(snapshot)
    found = {i for i in ctx.unreachable if ctx.may_be_elsewhere(i)}
    if not found - set(flags.suspects):
        return flags
    return replace(flags, suspects=tuple(sorted({*flags.suspects, *found})))


def plan_for(snapshot: Snapshot, options: ConnectOptions, flags: Flags) -> HealPlan:
    ctx = ClusterView(snapshot)
    return plan(ctx, gather(snapshot, ctx, options), flags)


def gather(snapshot: Snapshot, ctx: ClusterView, options: ConnectOptions) -> Facts:
    """Keys per slot where the plan depends on them (open and uncovered slots); replication offsets."""
    top = topology(snapshot)
    closings: tuple[Closing, ...] = ()
    if top.open_slots:
        closings = tuple(moving.resume(top, options, MigrationSettings(), Journal(None)).closings)
    holes = [s for r in uncovered(ctx.consensus) for s in r] if ctx.consensus else []
    counts: dict[int, dict[str, int | None]] = {}
    # Every answering node, replicas too: a replica may hold the only copy (its primary forgotten).
    everyone = list(top.nodes)
    if holes and everyone:
        per_node = moving.count_keys(top, dict.fromkeys(everyone, holes), options)
        counts = {s: {i: per_node[i][s] for i in everyone} for s in holes}
    offsets = {}
    for node_id, sample in ctx.own.items():
        value = sample.info.get("replication", {}).get("slave_repl_offset")
        if value and value.isdigit():
            offsets[node_id] = int(value)
    copies = {}
    for node_id, (owner, slots) in stale_copies(ctx).items():
        # Not compared (a node refused): the plan says so and leaves that node alone.
        with contextlib.suppress(DoctorError, OSError):  # salvage and transport errors are DoctorErrors
            copies[node_id] = salvage.tally(ctx.own[node_id].address, ctx.own[owner].address, slots, options)
    return Facts(closings, counts, offsets, copies)


def run(
    seeds: Sequence[Seed | str],
    options: ConnectOptions,
    flags: Flags,
    journal: Journal,
    log: Callable[[str], None],
    first: tuple[Snapshot, HealPlan] | None = None,
    gate: Gate | None = None,
    fence: Fence | None = None,
) -> HealOutcome:
    """Run the first phase of the plan, settle, plan again from the settled snapshot, until nothing is
    left. `first`: the survey the caller already printed (else one is made here). `gate` may refuse a
    phase (the run stops there), `fence` a single change (that step fails)."""
    addresses = list(seeds)
    snapshot, current = first or survey(addresses, options, flags)
    planned_from = snapshot  # the snapshot `current` was planned from
    outcome = HealOutcome(current)
    flags = remember_suspects(snapshot, flags)
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    ran: set[str] = set()  # steps of the last round that ran (their precondition held)
    waited_for_links = False
    for _ in range(MAX_ROUNDS):
        phase = next((p for p in current.phases if not p.empty), None)
        if phase is None:
            if waited_for_links:
                break
            # Nothing left to do, once what is still in flight has landed: a replica in its initial sync is
            # not yet a copy, and one loading a large RDB misses pings long enough to be flagged failing
            # (a "down" node heal would otherwise leave for a human). Wait (bounded), look again, and carry
            # on if the cluster now shows work.
            waited_for_links = True
            snapshot, quiet = _await_in_flight(addresses, options, journal, log)
            if quiet:
                break
            snapshot = _settle(addresses, options, want_healthy=True)
            flags = remember_suspects(snapshot, flags)
            current, planned_from = plan_for(snapshot, options, flags), snapshot
            continue
        # A step that ran and is needed again was undone. When a node's own announce setting undoes it
        # (it re-announces the configured address with every gossip packet) another round cannot help:
        # stop now, naming the setting. Anything else gets the general guard below (gossip may be slow).
        again = [s for s in phase.steps if s.describe() in ran]
        cause = undone(ClusterView(snapshot), again) if again else None
        if cause is not None:
            journal.write("undone", phase=phase.name, steps=[s.describe() for s in again], cause=cause)
            raise HealFailed(f"phase {phase.name}: {cause}; stopping")
        signature = (phase.name, tuple(s.describe() for s in phase.steps))
        seen[signature] = seen.get(signature, 0) + 1
        if seen[signature] > 2:
            raise HealFailed(f"phase {phase.name} planned the same steps three times without effect; stopping")
        refused = gate(phase, snapshot) if gate is not None else None
        refused = refused or (fence() if fence is not None else None)
        if refused is not None:
            journal.write("phase-refused", name=phase.name, steps=[s.describe() for s in phase.steps], reason=refused)
            raise HealStopped(f"phase {phase.name}: {refused}", outcome)
        how = [
            f"round {len(outcome.rounds) + 1}",
            *(["all at once"] if phase.parallel else []),
            *(["replicas' failovers held meanwhile"] if phase.hold_failovers else []),
        ]
        log(f"phase {phase.name}: {len(phase.steps) + len(phase.closings)} step(s) ({', '.join(how)})")
        journal.write("phase", name=phase.name, steps=[s.describe() for s in phase.steps])
        held = hold_failovers(phase.hold, options, journal, log) if phase.hold is not None else {}
        try:
            outcome.rounds.append(_run_phase(phase, addresses, options, journal, log, fence))
            ran = set(outcome.rounds[-1].done)
            if phase.promotes:
                await_promotions(phase, options, log)
            if replicated(phase):
                # Planning again before the syncs began would REPLICATE again and restart them
                primaries = {i: a for i, a in ((s.node_id, s.address) for s in snapshot.answered) if i}
                for line in await_links(replicated(phase), primaries, options, log):
                    journal.write("replica-not-up", detail=line)
            log("  waiting for the cluster to settle (gossip, failure reports), then planning again")
            snapshot = _settle(addresses, options)
        finally:
            release_failovers(held, options, journal, log)
        flags = remember_suspects(snapshot, flags)
        current, planned_from = plan_for(snapshot, options, flags), snapshot
    else:
        raise HealFailed(f"still not healed after {MAX_ROUNDS} rounds")
    if not waited_for_links:
        snapshot = _settle(addresses, options, want_healthy=True)
    # The verdict is on the last snapshot; the plan in hand may be from the one before the last settle,
    # and name blocks (a node flagged failing, a link still down) that this settle saw resolve.
    if planned_from is not snapshot:
        current = plan_for(snapshot, options, remember_suspects(snapshot, flags))
    outcome.final_plan = current
    outcome.final_report = analyze(snapshot, default_registry())
    return outcome


def _await_in_flight(
    addresses: Sequence[Seed | str], options: ConnectOptions, journal: Journal, log: Callable[[str], None]
) -> tuple[Snapshot, bool]:
    """Settle, then wait (bounded) for replica links still coming up and replicas still loading. Returns
    the settled snapshot and True when nothing was in flight (the verdict is made on it), else the last
    snapshot taken while waiting and False (the caller settles and plans again)."""
    log("nothing left to do: waiting for the cluster to settle before the verdict")
    snapshot = _settle(addresses, options, want_healthy=True)
    pending = not_up(snapshot)
    if not pending and not _loading(snapshot):
        return snapshot, True
    if pending:
        log(f"waiting for {len(pending)} replica link(s) to come up")
        primaries = {i: a for i, a in ((s.node_id, s.address) for s in snapshot.answered) if i}
        for line in await_links(pending, primaries, options, log):
            journal.write("replica-not-up", detail=line)
    # A replica loading the RDB of its sync answers only LOADING (and misses pings: its peers flag
    # it failing); wait for it to finish (bounded) rather than leave it as a "down" node.
    deadline = time.monotonic() + UP_WITHIN_S
    while _loading(snapshot) and time.monotonic() < deadline:
        log(f"  waiting {', '.join(_loading(snapshot))}: loading its data set")
        time.sleep(1.0)
        snapshot = collect(addresses, options)
    return snapshot, False


def _run_phase(
    phase: Phase,
    seeds: Sequence[Seed | str],
    options: ConnectOptions,
    journal: Journal,
    log: Callable[[str], None],
    fence: Fence | None = None,
) -> Round:
    """The phase's steps and stray-key returns (execute.steps), then its planned slot closings."""
    keep = journal.path.parent if journal.path is not None else default_dir()  # salvage files go beside it
    try:
        carried = steps.run_phase(phase, options, journal, log, keep, fence)
    except StepFailed as exc:
        raise HealFailed(str(exc)) from None
    record = Round(phase.name, carried.done, carried.skipped)
    if any(c.action != "stuck" for c in phase.closings):
        refused = fence() if fence is not None else None
        if refused is not None:
            raise HealFailed(f"closing open slots: {refused}")
        done, skipped = _close_slots(phase.closings, seeds, options, journal, log)
        record.done.extend(done)
        record.skipped.extend(skipped)
    return record


def _close_slots(
    planned: Sequence[Closing],
    seeds: Sequence[Seed | str],
    options: ConnectOptions,
    journal: Journal,
    log: Callable[[str], None],
) -> tuple[list[str], list[str]]:
    """The planned closings of open slots (forward through MIGRATE, or cancel), each one only if a fresh
    read still decides it the same way (its precondition); one that reads otherwise now is skipped and
    left to the next round's plan, never carried out as decided now: what runs is what the plan showed.
    Returns (done, skipped) lines."""
    snapshot = collect(seeds, options, count_open_slot_keys=False)
    top = topology(snapshot)
    now = {c.slot: c for c in moving.resume(top, options, MigrationSettings(), Journal(None)).closings}
    held, skipped = [], []
    for closing in (c for c in planned if c.action != "stuck"):
        if _same(now.get(closing.slot), closing):
            held.append(closing)
            continue
        line = f"slot {closing.slot}: planned to {closing.action}, now {_read(now.get(closing.slot))}"
        journal.write("closing-changed", slot=closing.slot, planned=closing.action, now=_read(now.get(closing.slot)))
        log(f"  skipped {line}")
        skipped.append(line)
    if not held:
        return [], skipped
    outcome = moving.close(top, held, options, MigrationSettings(), journal)
    done = [f"slot {c.slot}: {c.action} ({c.reason})" for c in held]
    for line in done:
        log(f"  ok      {line}")
    for warning in outcome.warnings:
        log(f"  note    {warning}")  # closed, but a replica is behind (Valkey: it did not acknowledge SETSLOT)
    if not outcome.ok:
        reasons = [f.reason for f in outcome.failures] or [*outcome.broken_nodes.values()] or ["slots left open"]
        raise HealFailed(f"closing open slots: {reasons[0]}")
    return done, skipped


def _same(now: Closing | None, planned: Closing) -> bool:
    # The reason's wording carries key counts that writes change; the decision is action, source and target.
    return now is not None and (now.action, now.source, now.target) == (planned.action, planned.source, planned.target)


def _read(closing: Closing | None) -> str:
    return "closed already" if closing is None else f"{closing.action} ({closing.reason})"


def _loading(snapshot: Snapshot) -> list[str]:
    """Nodes that answered LOADING: a data set on its way in (a replica's sync, a restart)."""
    return [s.address for s in snapshot.nodes if s.error is not None and s.error.kind == "loading"]


def _settle(seeds: Sequence[Seed | str], options: ConnectOptions, want_healthy: bool = False) -> Snapshot:
    """Until gossip has carried the changes (see `converged`), or a time proportional to the node timeout
    has passed; then the caller plans again from whatever the cluster says."""
    started = time.monotonic()
    last: tuple[str, ...] | None = None
    stable_since = started
    while True:
        snapshot = collect(seeds, options)  # key counts too: the next plan is made from it
        ctx = ClusterView(snapshot)
        limit = 10.0 + 4 * ctx.node_timeout_ms / 1000
        if converged(ctx):
            if not want_healthy:
                return snapshot
            report = analyze(snapshot, default_registry())
            if report.healthy:
                return snapshot
            # Not healthy but settled: the same findings for two node timeouts (a node that is down
            # stays down; waiting the whole limit would only delay the report).
            now = tuple(sorted(f"{f.code}:{f.title}" for f in report.root_causes))
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 2 * ctx.node_timeout_ms / 1000:
                return snapshot
        if time.monotonic() - started > limit:
            return snapshot
        time.sleep(0.2)


def converged(ctx: ClusterView) -> bool:
    """Every answering node lists every other one at the address where it answers, link connected, not
    flagged failing, no handshake entries, and all views agree on the slot map. Nodes that know only
    themselves and that no one lists are left out: gossip will not bring them in (the next plan does)."""
    outside = {s.node_id for s in lone(ctx) if not ctx.listings.get(s.node_id or "")}
    members = [i for i in ctx.answers_at if i not in outside]
    for node_id in members:
        listings = ctx.listings.get(node_id, ())
        if len(listings) != len(members) - 1:
            return False
        for _, entry in listings:
            if entry.address not in ctx.answers_at[node_id] or entry.link_state != "connected":
                return False
            if entry.flags & {"fail", "fail?", "handshake", "noaddr"}:
                return False
    handshakes = any("handshake" in e.flags for items in ctx.listings.values() for _, e in items)
    maps = {ctx.ownership(s) for s in ctx.viewers if s.node_id not in outside}
    return not handshakes and len(maps) <= 1
