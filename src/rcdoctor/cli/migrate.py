"""rebalance and reshard: read the cluster, plan, print the plan, and with --apply run it with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rcdoctor.cli import output
from rcdoctor.cli.common import EngineArgs, Target
from rcdoctor.errors import UsageError
from rcdoctor.migrate.engine import MigrationOutcome, Progress
from rcdoctor.migrate.method import Method
from rcdoctor.plan.moves import MovePlan
from rcdoctor.plan.resume import Closing
from rcdoctor.plan.topology import Topology, describe_slots


def run_move(
    command: str,
    t: Target,
    fmt: str,
    args: EngineArgs,
    planner: Callable[[Topology], MovePlan],
) -> int:
    """rebalance/reshard/remove-node's drain: the move operation, its plan printed, its outcome rendered."""
    from rcdoctor.migrate import move

    request = move.MoveRequest(command, args.apply, args.resume, args.settings, args.journal_path)
    shown = fmt == "text"
    done = move.run(
        request,
        t.seeds,
        t.options,
        planner,
        progress=lambda active, total: _progress(fmt, active, total),
        before_moving=(lambda m: _print_plan(m.top, m.plan, m.keys, m.closings, m.how)) if shown else None,
    )
    if fmt == "json":
        output.emit_json(done.to_dict())
    elif done.outcome is None:
        _print_plan(done.top, done.plan, done.keys, done.closings, done.how)
        if done.dry_run_changes:
            output.console().print("[bold]dry run[/]: nothing changed. Add --apply to do it.")
    else:
        _print_outcome(done.outcome, done.journal, command)
    return done.exit_code


@contextmanager
def _progress(fmt: str, active: bool, total: int = 0) -> Iterator[Progress | None]:
    if not active or fmt != "text" or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    counts = {"keys": 0}
    bar = Bar(
        TextColumn("moving slots"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} slots"),
        TextColumn("{task.fields[keys]} keys"),
        TextColumn("{task.fields[rate]} keys/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=output.console(stderr=True),
        transient=True,
    )
    import time

    started = time.monotonic()
    with bar:
        task = bar.add_task("move", total=total or None, keys=0, rate=0)

        def update(slots: int, keys: int) -> None:
            counts["keys"] += keys
            rate = int(counts["keys"] / max(0.001, time.monotonic() - started))
            bar.update(task, advance=slots, keys=f"{counts['keys']:,}", rate=f"{rate:,}")

        yield update


def _print_plan(top: Topology, plan: MovePlan, keys: int, closings: list[Closing], how: Method | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    console = output.console()
    if closings:
        console.print(f"[bold]open slots from an earlier run[/] ({len(closings)}):")
        for c in closings[:20]:
            console.print(f"  slot {c.slot}: {c.action} — {c.reason}")
        if len(closings) > 20:
            console.print(f"  … {len(closings) - 20} more")
    for warning in plan.warnings:
        console.print(Text("warning: " + warning, style="yellow"))
    if not plan.transfers:
        console.print(f"nothing to move: {plan.note}")
        return
    table = Table(title=f"plan: {plan.note}, about {keys:,} keys", title_justify="left")
    for column in ("from", "to", "slots", "ranges"):
        table.add_column(column)
    for t in plan.transfers:
        ranges = describe_slots(t.slots)
        table.add_row(
            top.nodes[t.source].short,
            top.nodes[t.target].short,
            str(len(t.slots)),
            ranges[:60] + ("…" if len(ranges) > 60 else ""),
        )
    console.print(table)
    if how is not None:
        console.print(f"method: {how.describe()}")
    loads = Table(title=f"load by {plan.by}", title_justify="left")
    for column in ("primary", "before", "after"):
        loads.add_column(column, justify="right" if column != "primary" else "left")
    for node_id in sorted(plan.before, key=lambda i: top.nodes[i].address):
        loads.add_row(top.nodes[node_id].short, f"{plan.before[node_id]:,.0f}", f"{plan.after.get(node_id, 0):,.0f}")
    console.print(loads)


def _print_outcome(outcome: MigrationOutcome, journal: Path | None, command: str) -> None:
    console = output.console()
    rate = outcome.keys_moved / outcome.seconds if outcome.seconds else 0
    console.print(
        f"moved {outcome.slots_moved} slots and {outcome.keys_moved:,} keys in {outcome.seconds:.1f}s "
        f"({rate:,.0f} keys/s); journal: {journal}"
    )
    if outcome.replaced_identical:
        console.print(f"{outcome.replaced_identical} key(s) already on the target with the same value were replaced")
    if outcome.overwritten:
        console.print(
            f"[yellow]{outcome.overwritten} key(s) on the target were overwritten (--overwrite-target-keys)[/]"
        )
    for warning in outcome.warnings:
        console.print(f"[yellow]note[/]: {warning}")
    for node_id, why in outcome.broken_nodes.items():
        console.print(f"[red]gave up on {node_id[:8]}[/]: {why}")
    for failure in outcome.failures[:10]:
        console.print(f"[red]slot {failure.slot}[/] {failure.source[:8]} → {failure.target[:8]}: {failure.reason}")
    if len(outcome.failures) > 10:
        console.print(f"… {len(outcome.failures) - 10} more failed slots (see --format json or the journal)")
    if outcome.open_slots:
        console.print(
            f"[red]{len(outcome.open_slots)} slot(s) left open[/] ({describe_slots(sorted(outcome.open_slots))}): "
            f"clients still reach every key through ASK; close them with `rcdoctor {command} … --resume --apply`"
        )
    if outcome.interrupted:
        console.print("[yellow]interrupted[/]: the batches in flight were finished; rerun to go on")


def parse_weights(values: tuple[str, ...], top: Topology) -> dict[str, float]:
    from rcdoctor.plan.moves import node_named

    weights: dict[str, float] = {}
    for value in values:
        for part in value.split(","):
            name, sep, number = part.strip().rpartition("=")
            if not sep or not name:
                raise UsageError(f"--weight {part!r}: expected NODE=WEIGHT (node id, id prefix or host:port)")
            try:
                weight = float(number)
            except ValueError:
                raise UsageError(f"--weight {part!r}: {number!r} is not a number") from None
            if weight < 0:
                raise UsageError(f"--weight {part!r}: weights cannot be negative")
            weights[node_named(top, name, "--weight node", lambda n: n.primary).node_id] = weight
    return weights
