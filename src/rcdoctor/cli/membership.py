"""add-node and remove-node: steps printed first, run with --apply."""

from __future__ import annotations

from pathlib import Path

from rcdoctor.cli import output
from rcdoctor.cli.common import EngineArgs, Target
from rcdoctor.cli.migrate import run_move
from rcdoctor.errors import EXIT_OK
from rcdoctor.execute.journal import opened
from rcdoctor.migrate import add_node, membership, remove_node
from rcdoctor.plan.steps import Step


def _show(steps: list[Step], apply: bool) -> None:
    console = output.console()
    console.print("[bold]steps[/]:" if steps else "no steps")
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {membership.line(step)}")
    if not apply:
        console.print("[bold]dry run[/]: nothing changed. Add --apply to do it.")


def run_add(t: Target, new: str, replica_of: str | None, apply: bool) -> int:
    added = add_node.plan(t.seeds, t.options, new, replica_of)
    _show(list(added.steps), apply)
    if not apply:
        return EXIT_OK
    console = output.console()
    with opened("add-node", console.print) as journal:
        add_node.apply(added, t.options, console.print, journal)
    if added.primary is None:
        console.print("it owns no slots yet: `rcdoctor rebalance … --use-empty-primaries` gives it its share")
    return EXIT_OK


def run_remove(t: Target, which: str, args: EngineArgs) -> int:
    removal = remove_node.locate(t.seeds, t.options, which)
    if removal.drain_first:
        code = run_move("remove-node", t, "text", args, removal.drain_plan)
        if code != EXIT_OK:
            return code
        if args.apply:
            removal = remove_node.drained(t.seeds, t.options, removal)
    steps = removal.steps
    _show(steps, args.apply)
    if args.apply:
        log = output.console().print
        # Not "remove-node-…": remove-node --resume reads the newest of those for a drain left half-way.
        with opened("membership-remove-node", log, Path(args.journal_path) if args.journal_path else None) as journal:
            remove_node.apply(removal, t.options, log, journal)
        output.console().print(f"removed {removal.node.short}: every answering member forgot it")
    return EXIT_OK
