from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.journals import stamp
from rcdoctor.model.slots import format_ranges, to_ranges
from rcdoctor.model.view import ClusterView

# (source, target) -> slot -> which sides mark it: {"migrating", "importing"}
Pairs = dict[tuple[str, str], dict[int, set[str]]]


def open_pairs(ctx: ClusterView) -> Pairs:
    """Every slot open on a primary (its own view), folded into source -> target pairs. A replica's own
    markers (Valkey 8 replicates SETSLOT to replicas) are its primary's, not a migration of their own."""
    pairs: Pairs = {}
    for sample in ctx.viewers:
        entry = sample.myself
        if entry is None or sample.node_id is None or entry.is_replica:
            continue
        for slot, peer in entry.migrating:
            pairs.setdefault((sample.node_id, peer), {}).setdefault(slot, set()).add("migrating")
        for slot, peer in entry.importing:
            pairs.setdefault((peer, sample.node_id), {}).setdefault(slot, set()).add("importing")
    return pairs


def run(ctx: ClusterView) -> Iterator[Issue]:
    for (source, target), slots in sorted(open_pairs(ctx).items()):
        both = [s for s, sides in slots.items() if sides == {"migrating", "importing"}]
        migrating_only = [s for s, sides in slots.items() if sides == {"migrating"}]
        importing_only = [s for s, sides in slots.items() if sides == {"importing"}]
        evidence = [f"from {ctx.name(source)} to {ctx.name(target)}"]
        on_source, on_target = _keys(ctx, source, slots), _keys(ctx, target, slots)
        if both:
            evidence.append(f"{_slots(both)} MIGRATING on the source and IMPORTING on the target")
        if migrating_only:
            evidence.append(f"{_slots(migrating_only)} MIGRATING on the source only (the target is not IMPORTING)")
        if importing_only:
            evidence.append(f"{_slots(importing_only)} IMPORTING on the target only (the source is not MIGRATING)")
        counts = f"{_total(on_source, slots)} on the source, {_total(on_target, slots)} on the target"
        evidence.append(f"keys here: {counts}")
        # Keys clients cannot read: the source sends them to the target with ASK, and a target that is not
        # IMPORTING answers MOVED back (a loop); or the target holds keys of a slot whose owner does not
        # redirect at all (they read as missing).
        lost = sorted(s for s in migrating_only if on_target.get(s)) + sorted(
            s for s in importing_only if on_target.get(s)
        )
        if lost:
            keys = sum(on_target.get(s, 0) for s in lost)
            evidence.append(
                f"{plural(keys, 'key')} of {_slots(lost)} cannot be read by clients: on the target, which does not "
                "serve them (ASK then MOVED back, or never redirected to)"
            )
        halves = migrating_only or importing_only
        if halves:
            evidence.append("only one side has the slot open: a migration tool stopped between its two SETSLOT calls")
        every = sorted(slots)
        title = f"{_slots(every, verb=True)} open for migration" + (" on one side only" if not both else "")
        origin, fix = _origin(ctx, source, target, every)
        yield Issue(
            title=title,
            nodes=ctx.refs([source, target]),
            evidence=(*evidence, *origin),
            severity="critical" if lost else None,
            fix=fix,
        )
    yield from _atomic(ctx)


def _atomic(ctx: ClusterView) -> Iterator[Issue]:
    """Server-side atomic migrations in progress: the server moves the keys and hands the slots over
    itself, clients read every key throughout; worth knowing (no reshard or heal on those slots meanwhile),
    a warning only when the server reports an error and is retrying."""
    for move in ctx.atomic_moves:
        if not move.active:
            continue
        slots = [s for r in move.slots for s in r]
        command = "CLUSTER GETSLOTMIGRATIONS" if move.server == "valkey" else "CLUSTER MIGRATION STATUS ALL"
        source = ctx.name(move.source) if move.source else "a source the server does not name"
        target = ctx.name(move.target) if move.target else "a target the server does not name"
        evidence = [f"from {source} to {target}"]
        sides = ", ".join(f"{r.state} ({r.operation}) on {ctx.name(r.node_id)}" for r in move.reports)
        evidence.append(f"{command}: job {move.name[:12] or '?'}, {sides}")
        evidence.append(f"started {stamp(move.created)}")
        troubled = bool(move.message) or bool(move.retries) or any(r.state == "failed" for r in move.reports)
        if move.message:
            evidence.append(f"the server says: {move.message[:200]}")
        if move.retries:
            evidence.append(f"retried {plural(move.retries, 'time')}")
        evidence.append("the server copies the keys, pauses writes briefly and hands the slots over itself")
        yield Issue(
            title=f"{_slots(slots, verb=True)} moving by the server's atomic slot migration",
            nodes=ctx.refs([n for n in (move.source, move.target) if n]),
            evidence=tuple(evidence),
            severity="warning" if troubled else "info",
            fix=_atomic_fix(move.server, move.name),
        )


def _atomic_fix(server: str, name: str) -> str:
    if server == "valkey":
        follow, stop = (
            "`CLUSTER GETSLOTMIGRATIONS` on either primary",
            "`CLUSTER CANCELSLOTMIGRATIONS` on the source (it cancels every migration that node started)",
        )
    else:
        follow, stop = (
            "`CLUSTER MIGRATION STATUS ALL` on either primary",
            f"`CLUSTER MIGRATION CANCEL ID {name or '<id>'}` on the destination, then on the source",
        )
    return (
        f"Nothing to do while it progresses: the server finishes the move itself. Follow it with {follow}; "
        "run no rebalance, reshard or heal on these slots until it is done. To stop it: "
        f"{stop}."
    )


def _keys(ctx: ClusterView, node_id: str, slots: dict[int, set[str]]) -> dict[int, int]:
    sample = ctx.own.get(node_id)
    counted = sample.keys_in_slot() if sample is not None else {}
    return {s: counted[s] for s in slots if s in counted}


def _total(counts: dict[int, int], slots: dict[int, set[str]]) -> str:
    if not counts:
        return "unknown"
    total = str(sum(counts.values()))
    return total if len(counts) == len(slots) else f"{total} (counted in {len(counts)} of {len(slots)} slots)"


def _slots(slots: list[int], verb: bool = False) -> str:
    ranges = to_ranges(slots)
    if len(slots) == 1:
        return f"slot {slots[0]}" + (" is" if verb else "")
    return f"slots {format_ranges(ranges, limit=6)} ({len(slots)} slots)" + (" are" if verb else "")


def _origin(ctx: ClusterView, source: str, target: str, slots: list[int]) -> tuple[tuple[str, ...], str]:
    """Who opened these slots, as far as this machine knows (evidence lines), and the fix that follows."""
    seed = ctx.address(source) or ctx.address(target) or "HOST:PORT"
    local = ctx.settings.journals
    if local is None:  # journals not looked at (the exporter, a library caller): claim nothing
        return (), _fix(seed)
    found = local.explaining(source, target, slots)
    if found is None:
        where = local.directory
        return (
            (
                f"no unfinished rcdoctor journal on this machine names them ({local.read} journals read in "
                f"{where}): opened by redis-cli, another tool, rcdoctor on another machine, or an rcdoctor run given "
                "--journal elsewhere",
            ),
            "If that move is still running, let it finish. Else close them in the direction of their keys: "
            f"`rcdoctor heal {seed} --apply` (its slots phase; or `rcdoctor rebalance {seed} --resume --apply`, which "
            f"then also evens out the slots). {_BY_HAND}",
        )
    journal, covered = found
    if journal.ended:
        how = "it ended with them still open (slots it reported as failed)"
    else:
        how = f"it never ended: killed, or still running (last line {stamp(journal.last_written)})"
    share = "" if len(covered) == len(slots) else f" ({len(covered)} of these {len(slots)} slots)"
    evidence = (
        f"opened by rcdoctor {journal.command} started {stamp(journal.started)} on this machine{share}: "
        f"{how}; journal {journal.path}",
    )
    fix = (
        "If that run is still going, let it finish. Else see how each slot would be closed, in the direction "
        f"of its keys: `rcdoctor rebalance {seed} --resume --journal {journal.path}` (a dry run), then the same "
        "with `--apply` (rebalance then goes on to even out the slots; `rcdoctor heal "
        f"{seed} --apply` closes them without rebalancing). {_BY_HAND}"
    )
    return evidence, fix


_BY_HAND = (
    "By hand: move the remaining keys (`CLUSTER GETKEYSINSLOT <slot> 100` on the source, `MIGRATE … KEYS …`), "
    "then `CLUSTER SETSLOT <slot> NODE <target-id>` on the target, the source and every other primary."
)


def _fix(seed: str) -> str:
    return (
        f"If a reshard is running right now, let it finish. Else close them in the direction of their keys: "
        f"`rcdoctor rebalance {seed} --resume --apply` (or `rcdoctor heal {seed} --apply`); an interrupted "
        "rcdoctor run also left a journal under ~/.local/state/rcdoctor/journals/ naming the slots. " + _BY_HAND
    )


CHECK = Check(
    code="S004",
    name="open-slot",
    family="slots",
    severity="warning",
    summary="Slots are left MIGRATING/IMPORTING: a reshard was interrupted or is running (one finding per "
    "source -> target pair).",
    explanation=(
        "Moving a slot sets it IMPORTING on the target and MIGRATING on the source, moves the keys with "
        "MIGRATE, then assigns the slot with CLUSTER SETSLOT NODE. A tool that died in between leaves the "
        "slot open with keys on both sides; clients get ASK redirections and multi-key commands fail with "
        "TRYAGAIN. If a resharding is running right now, this is expected: a warning. Open slots are folded "
        "into one finding per source -> target pair, with the ranges, the keys on each side and whether "
        "clients can read every key. Critical when some cannot: MIGRATING on the source without IMPORTING on "
        "the target while the target holds keys (the source answers ASK, the target MOVED back: a loop), or "
        "IMPORTING on the target only with keys there (the owner never redirects to them: they read as "
        "missing). diagnose also reads rcdoctor's own journals on the machine it runs on and names the run "
        "that opened the slots (its journal, for `--resume --journal`), or says that none did. A server-side "
        "atomic slot migration (Valkey 9.0 CLUSTER MIGRATESLOTS, Redis 8.4 CLUSTER MIGRATION IMPORT) sets no "
        "markers; one in progress is reported here too, as info (the server moves the keys and hands the slots "
        "over itself), or a warning when the server reports an error and retries."
    ),
    evidence=(
        "[slot->-id] / [slot-<-id] markers on each node's own CLUSTER NODES line; CLUSTER COUNTKEYSINSLOT on "
        "both sides; the journals under ~/.local/state/rcdoctor/journals/ (diagnose only); CLUSTER "
        "GETSLOTMIGRATIONS (Valkey 9.0+) or CLUSTER MIGRATION STATUS ALL (Redis 8.4+)."
    ),
    why="A half-moved slot splits its keys over two nodes and blocks further reshards and `--cluster check`.",
    fix=(
        "Finish it: move the remaining keys (`CLUSTER GETKEYSINSLOT <slot> 100` on the source, then `MIGRATE "
        '<target> <port> "" 0 5000 KEYS ...`), then `CLUSTER SETSLOT <slot> NODE <target-id>` on the target, '
        "the source and every other primary. Or abort when the target has no keys of it: `CLUSTER SETSLOT "
        "<slot> STABLE` on both. `redis-cli --cluster fix` does one of these."
    ),
    heal=(
        "Yes (slots phase): the migration engine finishes or cancels the move towards the side that holds the "
        "keys, never deleting any."
    ),
    run=run,
)
