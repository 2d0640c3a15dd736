"""`rcdoctor split-brain diff|restore`: save what two claimants of the same slots disagree on, then put
back the writes an operator chooses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rcdoctor.cli import common, output
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK

if TYPE_CHECKING:
    from rcdoctor.splitbrain.restore import Applied, Choice


@click.group("split-brain")
def split_brain() -> None:
    """Split-brain data: which keys differ between the two sides, and restoring the chosen ones."""


@split_brain.command("diff", epilog=common.SEEDS_HELP)
@common.cluster_options
@click.option(
    "-o", "--output-dir", default=".", show_default=True, help="Directory for the divergence files (one per shard)."
)
@common.format_option
def diff(seeds: tuple[str, ...], output_dir: str, fmt: str, reach: common.Reach) -> int:
    """While both claimants of contested slots answer (the old primary cut off on the minority side and the
    replica the majority promoted), write every key that differs between them, with both DUMPs, TTLs and
    idle times, to a divergence file — before the old primary rejoins and Redis drops its side.

    Exit 0 when no slot is contested, 2 when differences were saved (restore them with `split-brain
    restore FILE`), 3 when the comparison could not be made (one side unreachable).
    """
    from rcdoctor.cli.common import collect_with_progress
    from rcdoctor.splitbrain.diff import diff_all, to_dict
    from rcdoctor.transport.failures import nothing_answered

    t = common.target(seeds, reach)
    snapshot = collect_with_progress(t)
    if not snapshot.answered:
        raise nothing_answered(snapshot)
    results = diff_all(snapshot, t.options, Path(output_dir))
    if fmt == "json":
        output.emit_json(to_dict(results))
    else:
        console = output.console()
        if not results:
            console.print("no contested slots: no primary claims slots the majority gives to another")
        for r in results:
            console.print(r.contest.describe(), markup=False)
            if r.error:
                console.print(f"  [red]could not compare: {r.error}[/]")
                continue
            console.print(
                f"  {r.tally.only_a} key(s) only on the old primary (minority writes Redis will drop), "
                f"{r.tally.differ} with different values (conflicts), {r.tally.only_b} only on the new primary, "
                f"{r.tally.identical} identical",
                markup=False,
            )
            if r.path:
                console.print(f"  saved to {r.path}  (rcdoctor split-brain restore {r.path} …)", markup=False)
    if any(r.error for r in results):
        return 3
    return EXIT_CRITICAL if any(r.tally.only_a or r.tally.differ for r in results) else EXIT_OK


@split_brain.command("restore", epilog=common.SEEDS_HELP)
@click.argument("file")
@common.cluster_options
@click.option(
    "--only", "keys", multiple=True, help="Restore only these keys (repeatable); default: every minority-only key."
)
@click.option(
    "--overwrite-conflicts",
    is_flag=True,
    help="RISK: for keys named with --only that both sides hold, replace the cluster's current value with "
    "the old primary's (the current value is lost).",
)
@click.option("--apply", is_flag=True, help="Do it. Without --apply the choice is printed and nothing changes.")
@common.format_option
def restore(
    file: str, seeds: tuple[str, ...], keys: tuple[str, ...], overwrite_conflicts: bool, apply: bool, fmt: str,
    reach: common.Reach,
) -> int:  # fmt: skip
    """Put back keys of a divergence file (from `split-brain diff`) into the cluster of SEEDS.

    By default the minority-only keys: writes the cut-off primary acknowledged that the majority never
    saw. They are restored without REPLACE, so a key written since is never overwritten (reported as a
    conflict). Keys both sides hold with different values are listed for a human decision; name them
    with --only and add --overwrite-conflicts to restore the old primary's value. Exit 0 done (or nothing
    to do), 1 conflicts left for a decision, 2 some keys could not be restored.
    """
    from rcdoctor.splitbrain import restore as restoring

    chosen = restoring.prepare(Path(file), keys, overwrite_conflicts)
    if apply:
        t = common.target(seeds, reach)
        restoring.run(chosen, [s.endpoint for s in common.expanded(t)[0]], t.options)
    if fmt == "json":
        output.emit_json(chosen.to_dict())
    elif chosen.done is None:
        _render_dry_run(chosen.choice)
    else:
        _render_restored(chosen.choice, chosen.done)
    return chosen.exit_code


def _render_dry_run(choice: Choice) -> None:
    from rcdoctor.splitbrain.restore import names

    console = output.console()
    console.print(f"would restore {len(choice.restore)} key(s): {names(d.key for d in choice.restore)}", markup=False)
    if choice.conflicts:
        console.print(
            f"conflicts (both sides differ, a human decides): {names(d.key for d in choice.conflicts)}", markup=False
        )
    console.print("dry run: nothing changed (add --apply)")


def _render_restored(choice: Choice, done: Applied) -> None:
    from rcdoctor.divergence import report
    from rcdoctor.splitbrain.restore import names

    console = output.console()
    console.print(f"restored {len(done.restored)} key(s)", markup=False)
    if done.busy:
        console.print(f"written meanwhile, left alone (now conflicts): {names(done.busy)}", markup=False)
    if done.expired:
        console.print(f"expired since the diff, skipped: {names(done.expired)}", markup=False)
    for key, error in done.failed:
        console.print(f"[red]failed[/] {report.key_text(key)}: {error}")
    if choice.conflicts:
        console.print(f"conflicts left for a decision: {names(d.key for d in choice.conflicts)}", markup=False)
