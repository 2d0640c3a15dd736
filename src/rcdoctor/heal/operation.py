"""heal as one operation: survey and plan, show the plan, run it when asked, judge the result.

`run(request, show, log) -> Healing`; the CLI only declares the options and renders. The verdict: exit 0
only when diagnose finds nothing above info and nothing is left to do or blocked; 1 when healed but
warnings heal cannot act on remain; 2 when not healed, something is blocked, or (dry run) steps are planned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from rcdoctor.execute.journal import opened
from rcdoctor.heal import session
from rcdoctor.heal.session import HealOutcome
from rcdoctor.model.address import Seed
from rcdoctor.plan.heal import Flags, HealPlan, plan_dict
from rcdoctor.transport.options import ConnectOptions

FORMAT = "rcdoctor.heal"
VERSION = 1


@dataclass(frozen=True)
class HealRequest:
    seeds: Sequence[Seed | str]
    options: ConnectOptions
    flags: Flags
    apply: bool = False
    journal_path: Path | None = None  # None: a new file under the default journal directory


@dataclass
class Healing:
    """What heal planned first and, when applied, what the run did and left."""

    applied: bool
    first: HealPlan
    report: Report | None = None  # diagnose's report when nothing was planned (what is left for a human)
    outcome: HealOutcome | None = None  # the run, when applied and something was planned
    journal: Path | None = None

    @property
    def left_for_a_human(self) -> list[str]:
        """Root causes above info, when nothing was planned."""
        return [] if self.report is None else session.left_for_a_human(self.report)

    @property
    def blocked(self) -> list[str]:
        final = self.outcome.final_plan if self.outcome is not None else None
        return list((final or self.first).blocked)

    @property
    def exit_code(self) -> int:
        if self.outcome is not None:
            return self.outcome.exit_code
        if not self.first.empty:
            return EXIT_CRITICAL  # a dry run with steps to take: not healthy yet
        report = self.report
        if self.first.blocked or (report is not None and report.worst == "critical"):
            return EXIT_CRITICAL
        return EXIT_WARNING if report is not None and not report.healthy else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "applied": self.applied}
        data["plan"] = plan_dict(self.first)
        data["blocked"] = self.blocked
        if self.report is not None:
            data["healthy"] = self.report.healthy
            data["remaining"] = self.left_for_a_human
        outcome = self.outcome
        if outcome is not None:
            data["rounds"] = [{"phase": r.phase, "done": r.done, "skipped": r.skipped} for r in outcome.rounds]
            data["journal"] = str(self.journal)
            data["healthy"] = outcome.healthy
            data["degraded"] = outcome.degraded
            if outcome.final_report is not None:
                data["remaining"] = outcome.remaining
        return data


def run(request: HealRequest, show: Callable[[HealPlan], None], log: Callable[[str], None]) -> Healing:
    """Survey and plan; `show` the plan; with `apply`, run it phase by phase, journaled, and judge."""
    snapshot, first = session.survey(request.seeds, request.options, request.flags)
    show(first)
    healing = Healing(request.apply, first)
    if first.empty:
        # Nothing heal can do is not the same as healthy: what diagnose still finds is for a human.
        healing.report = analyze(snapshot, default_registry())
        return healing
    if not request.apply:
        return healing
    with opened("heal", log, request.journal_path) as journal:
        healing.outcome = session.run(request.seeds, request.options, request.flags, journal, log, (snapshot, first))
    healing.journal = journal.path
    return healing
