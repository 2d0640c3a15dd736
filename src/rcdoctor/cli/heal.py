"""heal: print the plan (phases, steps, preconditions, risks, what is blocked); with --apply, run it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcdoctor.cli import output
from rcdoctor.cli.common import Target
from rcdoctor.plan.heal import Flags, HealPlan, Phase

if TYPE_CHECKING:
    from rcdoctor.heal.operation import Healing


def run_heal(t: Target, flags: Flags, apply: bool, journal_path: str | None, fmt: str) -> int:
    from rcdoctor.heal import operation

    request = operation.HealRequest(t.seeds, t.options, flags, apply, Path(journal_path) if journal_path else None)
    log = output.info if fmt == "json" else output.console().print
    healing = operation.run(request, show=(lambda plan: render_plan(plan, apply)) if fmt == "text" else _quiet, log=log)
    if fmt == "json":
        output.emit_json(healing.to_dict())
    else:
        render_verdict(healing)
    return healing.exit_code


def _quiet(plan: HealPlan) -> None:
    return None


def render_verdict(healing: Healing) -> None:
    """After the plan: what diagnose still finds when nothing was planned, or how the run ended."""
    console = output.console()
    outcome = healing.outcome
    if outcome is None:
        left = healing.left_for_a_human
        if healing.report is not None and left:
            severity = "critical" if healing.report.worst == "critical" else "warnings"
            console.print(f"[bold red]not healthy ({severity})[/], and nothing here heal can repair; left for a human:")
            for line in left:
                console.print(f"  {line}")
            console.print("  (`rcdoctor diagnose` shows the evidence and fix of each)")
        return
    if outcome.healthy:
        console.print("[bold green]healed[/]: diagnose finds nothing above info; run `rcdoctor verify` to prove it")
    elif outcome.degraded:
        console.print("[bold yellow]healed, with warnings heal cannot act on[/]:")
        for line in outcome.remaining:
            console.print(f"  {line}")
    else:
        console.print("[bold red]not healed[/]:")
        for line in [*(outcome.remaining if outcome.final_report is not None else []), *healing.blocked]:
            console.print(f"  {line}")


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


def _phase_header(console: Any, index: int, phase: Phase) -> None:
    later = " (planned from the facts now; re-planned after the phases before it)" if index > 1 else ""
    console.print(f"[bold]phase {index}: {phase.name}[/]{later}")
    if phase.hold is not None and phase.hold_failovers and not phase.empty:
        _indented(console, phase.hold.describe(), indent=2)


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
            if step.resolves_name is not None:
                _indented(console, f"first: {step.resolves_name} is resolved to its IP (CLUSTER MEET takes an IP only)")
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
