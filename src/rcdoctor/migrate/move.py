"""Moving slots as an operation (rebalance, reshard, remove-node's drain): read the cluster, close what an
interrupted run left open (--resume), plan, choose the method, and (applied) run the plan, journaled.

The CLI gives a request and a planner, shows the plan and the progress it is handed, and renders the
`Move` it gets back; everything decided here is in that value (`to_dict()`, `exit_code`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK
from rcdoctor.execute.journal import Journal, in_flight, latest, new_path
from rcdoctor.migrate import session
from rcdoctor.migrate.engine import MigrationOutcome, MigrationSettings, Progress
from rcdoctor.migrate.method import Method
from rcdoctor.migrate.method import choose as choose_method
from rcdoctor.model.address import Seed
from rcdoctor.plan.moves import MovePlan
from rcdoctor.plan.resume import Closing
from rcdoctor.plan.topology import Topology, describe_slots
from rcdoctor.transport.options import ConnectOptions

FORMAT = "rcdoctor.migrate"
VERSION = 1

Planner = Callable[[Topology], MovePlan]
# (moving: True when slots are really moved, total slots) -> a context giving the engine's progress callback
ProgressFactory = Callable[[bool, int], AbstractContextManager[Progress | None]]


def no_progress(_active: bool, _total: int) -> AbstractContextManager[Progress | None]:
    return nullcontext(None)


@dataclass(frozen=True)
class MoveRequest:
    command: str  # rebalance, reshard, remove-node: names the journal
    apply: bool
    resume: bool
    settings: MigrationSettings
    journal_path: str | None = None


@dataclass
class Move:
    """What a move decided and did: the plan as read, what a resume closed, the outcome when applied."""

    request: MoveRequest
    top: Topology
    plan: MovePlan
    keys: int  # estimated keys the plan moves
    how: Method | None  # None: nothing to move
    closings: list[Closing] = field(default_factory=list)
    resumed: MigrationOutcome | None = None
    previous: Path | None = None  # the journal a resume read
    outcome: MigrationOutcome | None = None
    journal: Path | None = None  # written only when applied

    @property
    def exit_code(self) -> int:
        moved_failed = self.outcome is not None and not self.outcome.ok
        return EXIT_CRITICAL if _resume_failed(self.closings, self.resumed) or moved_failed else EXIT_OK

    @property
    def dry_run_changes(self) -> bool:
        """A dry run that would change something (slots to move or to close)."""
        return not self.request.apply and bool(self.plan.transfers or self.closings)

    def to_dict(self) -> dict[str, Any]:
        # "version" as every other document has it; "format_version" kept for readers of the first releases
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "format_version": VERSION}
        data |= {"command": self.request.command, "applied": self.request.apply}
        if self.request.resume:
            data["resume"] = {
                "journal": str(self.previous) if self.previous else None,
                "closings": [c.__dict__ for c in self.closings],
                "outcome": outcome_dict(self.resumed),
            }
        data["plan"] = plan_dict(self.top, self.plan, self.keys) | {"method": self.how.name if self.how else None}
        data["plan"]["method_why"] = self.how.describe() if self.how else None
        if self.outcome is not None:
            data["outcome"] = outcome_dict(self.outcome)
            data["journal"] = str(self.journal)
        return data


def run(
    request: MoveRequest,
    seeds: Sequence[Seed],
    options: ConnectOptions,
    planner: Planner,
    progress: ProgressFactory = no_progress,
    before_moving: Callable[[Move], None] | None = None,
) -> Move:
    """Read, resume, plan, and (applied) move. `before_moving` sees the plan just before slots move (the
    CLI prints it there, so the plan stands above the progress bar)."""
    _, top = session.read(seeds, options)
    path = Path(request.journal_path) if request.journal_path else new_path(request.command)
    previous = Path(request.journal_path) if request.journal_path else latest(request.command)  # before ours
    journal = Journal(path if request.apply else None)  # a dry run writes nothing
    try:
        return _run(request, seeds, options, planner, progress, before_moving, top, journal, previous)
    finally:
        journal.close()


def _run(
    request: MoveRequest,
    seeds: Sequence[Seed],
    options: ConnectOptions,
    planner: Planner,
    progress: ProgressFactory,
    before_moving: Callable[[Move], None] | None,
    top: Topology,
    journal: Journal,
    previous: Path | None,
) -> Move:
    closings: list[Closing] = []
    resumed: MigrationOutcome | None = None
    failed = False
    if request.resume:
        session.require_safe(top, allow_open=True)
        flights = in_flight(previous) if previous and previous.exists() else []
        with progress(request.apply, 0) as bar:
            done = session.resume(top, options, request.settings, journal, flights, request.apply, bar)
        closings, resumed = done.closings, done.outcome
        failed = _resume_failed(closings, resumed)
        if request.apply:
            _, top = session.read(seeds, options)  # re-read: the slots just closed changed owners
    if not failed and (not request.resume or request.apply or not closings):
        session.require_safe(top)
    plan = planner(top) if not failed and (not closings or request.apply) else MovePlan((), note="resume first")
    how = choose_method(top, options, request.settings.method) if plan.transfers else None
    move = Move(request, top, plan, session.estimate_keys(top, plan), how, closings, resumed)
    move.previous = previous if request.resume else None
    if request.apply and plan.transfers:
        if before_moving is not None:
            before_moving(move)
        with progress(True, plan.slot_count) as bar:
            move.outcome = session.execute(top, plan.transfers, options, request.settings, journal, bar, how)
        move.journal = journal.path
    return move


def _resume_failed(closings: Sequence[Closing], resumed: MigrationOutcome | None) -> bool:
    """A resume that failed to close a slot, or found one it cannot decide (stuck): nothing moves after it."""
    return (resumed is not None and not resumed.ok) or any(c.action == "stuck" for c in closings)


def plan_dict(top: Topology, plan: MovePlan, keys: int) -> dict[str, Any]:
    return {
        "by": plan.by,
        "note": plan.note,
        "warnings": list(plan.warnings),
        "slots": plan.slot_count,
        "keys_estimate": keys,
        "transfers": [
            {
                "source": {"id": t.source, "address": top.nodes[t.source].address},
                "target": {"id": t.target, "address": top.nodes[t.target].address},
                "slots": len(t.slots),
                "ranges": describe_slots(t.slots),
            }
            for t in plan.transfers
        ],
        "load_before": {i: round(v, 1) for i, v in plan.before.items()},
        "load_after": {i: round(v, 1) for i, v in plan.after.items()},
    }


def outcome_dict(outcome: MigrationOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "ok": outcome.ok,
        "slots_moved": outcome.slots_moved,
        "keys_moved": outcome.keys_moved,
        "seconds": round(outcome.seconds, 3),
        "keys_per_second": round(outcome.keys_moved / outcome.seconds) if outcome.seconds else 0,
        "open_slots": sorted(outcome.open_slots),
        "failures": [f.__dict__ for f in outcome.failures[:100]],
        "failures_total": len(outcome.failures),
        "unreachable": outcome.broken_nodes,
        "busykey_identical_replaced": outcome.replaced_identical,
        "busykey_overwritten": outcome.overwritten,
        "interrupted": outcome.interrupted,
        "warnings": outcome.warnings,
    }
