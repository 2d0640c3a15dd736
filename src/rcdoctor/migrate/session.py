"""Reading a cluster for a move, refusing unsafe ones, and running plans or resumptions (I/O glue)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rcdoctor.collect import collect
from rcdoctor.errors import DoctorError
from rcdoctor.execute.journal import InFlight, Journal
from rcdoctor.migrate import method
from rcdoctor.migrate.atomic import AtomicEngine
from rcdoctor.migrate.engine import Engine, MigrationOutcome, MigrationSettings, Progress
from rcdoctor.migrate.method import Method
from rcdoctor.model.address import Seed
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.plan import resume as resuming
from rcdoctor.plan.moves import MovePlan, Transfer
from rcdoctor.plan.topology import Topology, describe_slots, topology
from rcdoctor.transport.errors import TransportError, nothing_answered
from rcdoctor.transport.link import Link
from rcdoctor.transport.options import ConnectOptions


class UnsafeClusterError(DoctorError):
    """The cluster is not in a state where moving slots is safe (nodes down, maps differ, slots open)."""


@dataclass
class Resumed:
    closings: list[resuming.Closing] = field(default_factory=list)
    outcome: MigrationOutcome | None = None


def read(seeds: Sequence[Seed], options: ConnectOptions) -> tuple[Snapshot, Topology]:
    snapshot = collect(seeds, options, count_open_slot_keys=False)
    if not snapshot.answered:
        raise nothing_answered(snapshot)
    return snapshot, topology(snapshot)


def require_safe(top: Topology, allow_open: bool = False) -> None:
    problems = list(top.problems)
    if top.open_slots and not allow_open:
        problems.append(
            f"slots {describe_slots([o.slot for o in top.open_slots])} are open from an earlier move "
            "(run the same command with --resume to close them first)"
        )
    if problems:
        raise UnsafeClusterError(
            "refusing to move slots: "
            + "; ".join(problems[:4])
            + (" …" if len(problems) > 4 else "")
            + " (see `rcdoctor diagnose`)"
        )


def count_keys(
    top: Topology, wanted: Mapping[str, Sequence[int]], options: ConnectOptions
) -> dict[str, dict[int, int | None]]:
    """node id -> slot -> keys it holds in that slot (CLUSTER COUNTKEYSINSLOT, O(1) per slot, one pipeline
    per node, nodes in parallel); None where the node did not answer."""

    def count(node_id: str) -> dict[int, int | None]:
        slots = list(wanted[node_id])
        try:
            link = Link(top.nodes[node_id].endpoint, options, timeout=options.timeout_for("bulk"))
        except (TransportError, OSError):
            return dict.fromkeys(slots)
        try:
            replies = link.run([("CLUSTER", "COUNTKEYSINSLOT", s) for s in slots])
            return {s: r if isinstance(r, int) else None for s, r in zip(slots, replies, strict=True)}
        except (TransportError, OSError):
            return dict.fromkeys(slots)
        finally:
            link.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(zip(wanted, pool.map(count, wanted), strict=True))


def slot_key_counts(top: Topology, options: ConnectOptions) -> dict[int, int]:
    """Keys in every slot, asked of its owner (for --by keys|memory)."""
    counts = count_keys(top, {n.node_id: n.slots for n in top.primaries if n.slots}, options)
    result: dict[int, int] = {}
    for node_id, per_slot in counts.items():
        for slot, keys in per_slot.items():
            if keys is None:
                raise UnsafeClusterError(f"could not count the keys of slot {slot} on {top.nodes[node_id].short}")
            result[slot] = keys
    return result


def estimate_keys(top: Topology, plan: MovePlan) -> int:
    """Keys a plan moves, from each source's key count and share of slots moved (exact enough to print)."""
    total = 0.0
    for t in plan.transfers:
        node = top.nodes[t.source]
        if node.keys and node.slots:
            total += node.keys * len(t.slots) / len(node.slots)
    return int(total)


def execute(
    top: Topology,
    transfers: Sequence[Transfer],
    options: ConnectOptions,
    settings: MigrationSettings,
    journal: Journal,
    progress: Progress | None = None,
    how: Method | None = None,
) -> MigrationOutcome:
    """Move the slots the way `how` says (chosen from the servers when not given: see method.choose)."""
    how = how or method.choose(top, options, settings.method)
    if how.name == "atomic" and how.dialect is not None:
        return AtomicEngine(top, options, journal, how.dialect, settings, progress).run(transfers)
    return Engine(top, options, journal, settings, progress).run(transfers)


def resume(
    top: Topology,
    options: ConnectOptions,
    settings: MigrationSettings,
    journal: Journal,
    flights: Sequence[InFlight] = (),
    apply: bool = False,
    progress: Progress | None = None,
) -> Resumed:
    """Decide how to close every open slot; with `apply`, close them (forward moves through the engine)."""
    known = [f for f in flights if f.source in top.nodes and f.target in top.nodes]
    slots = resuming.slots_to_close(top, known)
    if not slots:
        return Resumed()
    per_node = count_keys(top, {n.node_id: slots for n in top.primaries}, options)
    closings = resuming.decide(top, {s: {i: c[s] for i, c in per_node.items()} for s in slots}, known)
    result = Resumed(closings)
    if apply:
        result.outcome = close(top, closings, options, settings, journal, progress)
    return result


def close(
    top: Topology,
    closings: Sequence[resuming.Closing],
    options: ConnectOptions,
    settings: MigrationSettings,
    journal: Journal,
    progress: Progress | None = None,
) -> MigrationOutcome:
    """Carry out decided closings: "forward" ones finish the move through the engine, "cancel" ones give
    the slot back to its source; "stuck" ones are left alone."""
    engine = Engine(top, options, journal, settings, progress)
    forward: dict[tuple[str, str], list[int]] = {}
    for c in closings:
        if c.action == "forward" and c.source and c.target:
            forward.setdefault((c.source, c.target), []).append(c.slot)
    cancels = [c.slot for c in closings if c.action == "cancel"]
    outcome = engine.run([Transfer(s, t, tuple(v)) for (s, t), v in forward.items()], resume=True)
    outcome.failures.extend(engine.cancel(cancels))
    return outcome
