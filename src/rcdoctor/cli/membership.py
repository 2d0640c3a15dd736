"""add-node and remove-node: steps printed first, run with --apply."""

from __future__ import annotations

from rcdoctor.cli import output
from rcdoctor.cli.common import Target
from rcdoctor.cli.migrate import EngineArgs, run_move
from rcdoctor.errors import EXIT_OK, UsageError
from rcdoctor.migrate import add_node, membership, session
from rcdoctor.migrate.plan import drain


def _show(steps: list[membership.MembershipStep], apply: bool) -> None:
    console = output.console()
    console.print("[bold]steps[/]:" if steps else "no steps")
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {step.describe()}")
    if not apply:
        console.print("[bold]dry run[/]: nothing changed. Add --apply to do it.")


def run_add(t: Target, new: str, replica_of: str | None, apply: bool) -> int:
    added = add_node.plan(t.seeds, t.options, new, replica_of)
    _show(list(added.steps), apply)
    if not apply:
        return EXIT_OK
    console = output.console()
    add_node.apply(added, t.options, console.print)
    if added.primary is None:
        console.print("it owns no slots yet: `rcdoctor rebalance … --use-empty-primaries` gives it its share")
    return EXIT_OK


def run_remove(t: Target, which: str, args: EngineArgs) -> int:
    _, top = session.read(t.seeds, t.options)
    node = top.find(which, silent=True)
    if node is None:
        raise UsageError(f"{which!r} is not a node of this cluster (give an id, a unique id prefix or host:port)")
    node_id = node.node_id
    reachable = node_id in top.nodes
    if node.primary and node.slots:
        if not reachable:
            raise UsageError(
                f"{node.short} owns {len(node.slots)} slots and does not answer: its keys cannot be moved; "
                "fail over to a replica or heal it first"
            )
        code = run_move("remove-node", t, "text", args, lambda top: drain(top, node_id))
        if code != EXIT_OK:
            return code
        if args.apply:
            _, top = session.read(t.seeds, t.options)
            node = top.nodes[node_id]
            if node.slots:
                raise UsageError(f"{node.short} still owns {len(node.slots)} slots after the drain; not removing it")
    steps = membership.remove_steps(top, node, reachable)
    _show(steps, args.apply)
    if args.apply:
        membership.run_steps(steps, t.options, output.console().print)
        output.console().print(f"removed {node.short}: every answering member forgot it")
    return EXIT_OK
