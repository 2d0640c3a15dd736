from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.context import Context


def run(ctx: Context) -> Iterator[Issue]:
    # slot -> {"migrating": [(node, peer)], "importing": [(node, peer)]}
    slots: dict[int, dict[str, list[tuple[str, str]]]] = {}
    for sample in ctx.viewers:
        entry = sample.myself
        if entry is None or sample.node_id is None:
            continue
        for slot, peer in entry.migrating:
            slots.setdefault(slot, {"migrating": [], "importing": []})["migrating"].append((sample.node_id, peer))
        for slot, peer in entry.importing:
            slots.setdefault(slot, {"migrating": [], "importing": []})["importing"].append((sample.node_id, peer))
    for slot, sides in sorted(slots.items()):
        evidence = []
        ids: list[str] = []
        for node_id, peer in sides["migrating"]:
            evidence.append(f"{ctx.name(node_id)} MIGRATING to {ctx.name(peer)}, {_keys(ctx, node_id, slot)}")
            ids += [node_id, peer]
        for node_id, peer in sides["importing"]:
            evidence.append(f"{ctx.name(node_id)} IMPORTING from {ctx.name(peer)}, {_keys(ctx, node_id, slot)}")
            ids += [node_id, peer]
        halves = {(a, b) for a, b in sides["migrating"]} ^ {(b, a) for a, b in sides["importing"]}
        if halves:
            evidence.append("only one side has the slot open: a migration tool stopped between its two SETSLOT calls")
        yield Issue(
            title=f"slot {slot} is open for migration" + (" on one side only" if halves else ""),
            nodes=ctx.refs(ids),
            evidence=tuple(evidence),
        )


def _keys(ctx: Context, node_id: str, slot: int) -> str:
    sample = ctx.own.get(node_id)
    count = sample.keys_in_slot().get(slot) if sample is not None else None
    return "keys here: unknown" if count is None else f"keys here: {count}"


CHECK = Check(
    code="S004",
    name="open-slot",
    family="slots",
    severity="warning",
    summary="A slot is left MIGRATING/IMPORTING: a reshard was interrupted or is running.",
    explanation=(
        "Moving a slot sets it IMPORTING on the target and MIGRATING on the source, moves the keys with "
        "MIGRATE, then assigns the slot with CLUSTER SETSLOT NODE. A tool that died in between leaves the "
        "slot open with keys on both sides; clients get ASK redirections and multi-key commands fail with "
        "TRYAGAIN. If a resharding is running right now, this is expected."
    ),
    evidence=(
        "[slot->-id] / [slot-<-id] markers on each node's own CLUSTER NODES line; CLUSTER COUNTKEYSINSLOT on "
        "both sides."
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
