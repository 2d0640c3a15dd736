"""heal: print the plan (phases, steps, preconditions, risks, what is blocked); with --apply, run it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcdoctor.cli import output
from rcdoctor.cli.common import Target
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from rcdoctor.plan.heal import Flags, HealPlan, Phase, Step

if TYPE_CHECKING:
    from rcdoctor.analyze import Report

FORMAT = "rcdoctor.heal"
VERSION = 1


def run_heal(t: Target, flags: Flags, apply: bool, journal_path: str | None, fmt: str) -> int:
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.execute.journal import Journal, new_path
    from rcdoctor.heal import session

    survey = session.survey(t.seeds, t.options, flags)
    first = survey[1]
    if fmt == "text":
        render_plan(first, apply)
    data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "applied": apply, "plan": plan_dict(first)}
    data["blocked"] = list(first.blocked)  # what is left for a human or a flag; replaced by the run's own
    code = EXIT_OK if first.empty and not first.blocked else EXIT_CRITICAL
    if first.empty:
        # Nothing heal can do is not the same as healthy: say what diagnose still finds, for a human.
        code = _verdict_without_plan(analyze(survey[0], default_registry()), first, data, fmt)
    if apply and not first.empty:
        path = Path(journal_path) if journal_path else new_path("heal")
        journal = Journal(path)
        log = output.info if fmt == "json" else output.console().print
        log(f"journal: {path}")
        try:
            outcome = session.run(t.seeds, t.options, flags, journal, log, survey)
        finally:
            journal.close()
        data["rounds"] = [{"phase": r.phase, "done": r.done, "skipped": r.skipped} for r in outcome.rounds]
        data["journal"] = str(path)
        data["healthy"] = outcome.healthy
        data["degraded"] = outcome.degraded
        if outcome.final_report is not None:
            data["remaining"] = outcome.remaining
        if outcome.final_plan is not None:
            data["blocked"] = list(outcome.final_plan.blocked)
        if fmt == "text":
            console = output.console()
            if outcome.healthy:
                console.print(
                    "[bold green]healed[/]: diagnose finds nothing above info; run `rcdoctor verify` to prove it"
                )
            elif outcome.degraded:
                console.print("[bold yellow]healed, with warnings heal cannot act on[/]:")
                for line in data.get("remaining", []):
                    console.print(f"  {line}")
            else:
                console.print("[bold red]not healed[/]:")
                for line in [*data.get("remaining", []), *data.get("blocked", [])]:
                    console.print(f"  {line}")
        code = outcome.exit_code
    if fmt == "json":
        output.emit_json(data)
    return code


def _indented(console: Any, text: str, indent: int = 5, style: str = "") -> None:
    """One line of a step, wrapped under its own start (not at column 0) when the terminal is narrow; plain
    text, so a "[" in a reason is never read as markup."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid()
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("", Text(text, style=style))
    console.print(grid)


def _verdict_without_plan(report: Report, plan: HealPlan, data: dict[str, Any], fmt: str) -> int:
    """Exit code and text when heal plans no step: 0 only if diagnose finds nothing above info; else the
    root causes left for a human (2 when one is critical, 1 for warnings only; 2 whenever a step is blocked)."""
    left = [f"{f.code} {f.title}" for f in report.root_causes if f.severity != "info"]
    data["healthy"] = report.healthy
    data["remaining"] = left
    if fmt == "text" and left:
        console = output.console()
        severity = "critical" if report.worst == "critical" else "warnings"
        console.print(f"[bold red]not healthy ({severity})[/], and nothing here heal can repair; left for a human:")
        for line in left:
            console.print(f"  {line}")
        console.print("  (`rcdoctor diagnose` shows the evidence and fix of each)")
    if plan.blocked or report.worst == "critical":
        return EXIT_CRITICAL
    return EXIT_WARNING if not report.healthy else EXIT_OK


def step_dict(step: Step) -> dict[str, Any]:
    return {
        "node": step.node,
        "command": list(step.command),
        "why": step.why,
        "answers": list(step.answers),
        "preconditions": [e.describe() for e in step.expect],
        "risk": step.risk,
        "salvage": None
        if step.salvage is None
        else {
            "owner": step.salvage.owner,
            "owner_address": step.salvage.owner_address,
            "slots": len(step.salvage.slots),
            "allow_conflicts": step.salvage.allow_conflicts,
        },
    }


def plan_dict(plan: HealPlan) -> dict[str, Any]:
    return {
        "phases": [
            {
                "name": p.name,
                "parallel": p.parallel,
                "hold_failovers": p.hold_failovers,
                "steps": [step_dict(s) for s in p.steps],
                "open_slots": [c.__dict__ for c in p.closings],
                "stray_keys": [s.__dict__ for s in p.strays],
            }
            for p in plan.phases
        ],
        "blocked": list(plan.blocked),
    }


def _phase_header(console: Any, index: int, phase: Phase) -> None:
    later = " (planned from the facts now; re-planned after the phases before it)" if index > 1 else ""
    console.print(f"[bold]phase {index}: {phase.name}[/]{later}")
    if phase.hold_failovers and not phase.empty:
        # Done by the run around the phase, not a step of its own: shown so the dry run says all it does.
        _indented(
            console,
            "first, on every replica: CONFIG SET cluster-replica-no-failover yes, put back as it was after the "
            "phase (a replica must not take over from a primary that is only reconnecting)",
            indent=2,
        )


def render_plan(plan: HealPlan, apply: bool, compact: bool = False, console: Any = None) -> None:
    """Every step with why, preconditions and risk; `compact`: one line per step, six per phase."""
    from rich.markup import escape

    console = console or output.console()
    if plan.empty and not plan.blocked:
        console.print("[bold green]nothing to heal[/]: no finding heal acts on")
        return
    number = 0
    for index, phase in enumerate(plan.phases, 1):
        _phase_header(console, index, phase)
        for shown, step in enumerate(phase.steps):
            number += 1
            if compact and shown >= 6:
                console.print(f"  … and {len(phase.steps) - 6} more like these")
                number += len(phase.steps) - 7
                break
            console.print(f"  {number}. {escape(step.describe())}   [dim]answers {', '.join(step.answers)}[/]")
            if compact:
                _indented(console, "why: " + step.why)
                continue
            _indented(console, "why: " + step.why)
            for expect in step.expect:
                _indented(console, "checked first: " + expect.describe())
            if step.salvage is not None:
                _indented(
                    console,
                    f"first: keys only this node holds are copied to {step.salvage.owner_address}; every key "
                    "it holds that the owner lacks or holds differently is written to a salvage file",
                )
            if step.risk:
                _indented(console, "can lose data: " + step.risk, style="red")
            else:
                console.print("     loses nothing")
        for closing in phase.closings:
            if closing.action != "stuck":
                number += 1
                console.print(
                    f"  {number}. slot {closing.slot}: {closing.action} the migration ({escape(closing.reason)})"
                )
                console.print("     loses nothing: keys move with MIGRATE, nothing is deleted")
        for stray in phase.strays:
            number += 1
            console.print(
                f"  {number}. slot {stray.slot}: return ~{stray.keys} stray key(s) from {escape(stray.holder_address)} "
                f"to the owner {escape(stray.owner_address)}   [dim]answers S003[/]"
            )
            console.print(
                "     loses nothing: a key the owner lacks is MIGRATEd, an identical copy dropped, a different "
                "one kept on both and reported"
            )
    for line in plan.blocked:
        console.print(f"[yellow]not done[/]: {escape(line)}")
    if not apply:
        console.print("[bold]dry run[/]: nothing changed. Add --apply to heal.")
