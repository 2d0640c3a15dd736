"""The slot migration engine: moves slots key by key with MIGRATE, many at a time.

How a batch of slots moves from S to T (the order the Redis Cluster specification gives, pipelined):
  1. T: CLUSTER SETSLOT s IMPORTING S        for every slot of the batch, one round trip
  2. S: CLUSTER SETSLOT s MIGRATING T        and GETKEYSINSLOT s n, one round trip
  3. S: MIGRATE T "" 0 timeout KEYS k…       one per slot with keys, each followed by GETKEYSINSLOT s n,
                                             in rounds bounded by an adaptive byte budget
  4. T, then S, then every other primary: CLUSTER SETSLOT s NODE T
Clients keep working throughout: S answers for keys it still has, ASK-redirects the others to T.

A primary that replicates SETSLOT (Valkey 8+, `model.server.replicates_setslot`) applies each one only
after its replicas acknowledge it, so its SETSLOTs go with `TIMEOUT` and spread over several connections
(they then wait for the replicas together), the first of a batch alone: when the replicas do not
acknowledge it (NOREPLICAS: not applied on the primary), the rest are not sent, each would wait the
whole timeout in turn. What NOREPLICAS leaves is always a state clients can use: IMPORTING refused ->
nothing was opened; MIGRATING refused -> the IMPORTING just set is undone; NODE refused on the target -> the
slot stays open both ways with its keys on the target (served through ASK; `--resume` closes it); NODE
refused on the source -> the target owns the slot already and Valkey's source drops its MIGRATING state
when the target's claim reaches it by gossip, which is waited for. The source is never given NODE while
the target does not own the slot (a MOVED loop). Such a node's replica is named in the report and no new
batch starts with that node. There the source is given NODE only where gossip has not done it (waited for),
and other primaries are not told (the target's claim reaches them by gossip; telling them costs a replica
round trip each; the run waits for their slot maps to agree before it returns). Never inside MULTI:
Valkey 8.1.8 stops with an assertion (multi.c 'c->flag.blocked == 0') on a SETSLOT that waits for
replicas there. Links (with their spread connections) are kept from one batch to the next.

Why it is faster than redis-cli: redis-cli sends each of these commands for one slot at a time, and every
SETSLOT makes the node rewrite and fsync nodes.conf before answering; pipelining a batch makes it one
rewrite per batch. Transfers that share no node run at the same time (`parallel`), each on its own
connections. MIGRATE takes keys of one slot only (CROSSSLOT otherwise), so a round pipelines one MIGRATE
per slot.

Errors stay local: a BUSYKEY, a timeout or an error on one slot leaves that slot open and reported, and
the rest goes on; a node that stops answering ends the transfers that involve it. Every batch is written
to the journal before it is opened and after it is closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rcdoctor import interrupts
from rcdoctor.execute.journal import Journal
from rcdoctor.model.cluster_nodes import ClusterNode, parse_cluster_nodes
from rcdoctor.model.replication import lagging_text
from rcdoctor.model.server import gossip_clears_migrating, replicates_setslot
from rcdoctor.plan.moves import Transfer
from rcdoctor.plan.topology import Node, Topology, describe_slots
from rcdoctor.transport.errors import ConnectionLost, ReplyTimeout, ServerError, TransportError, as_client_says
from rcdoctor.transport.link import Command, Link, migrate_auth, text
from rcdoctor.transport.options import ConnectOptions

MiB = 1024 * 1024


@dataclass(frozen=True)
class MigrationSettings:
    parallel: int = 4  # transfers at once (a node takes part in one at a time)
    batch_slots: int = 128  # slots opened together per transfer
    migrate_timeout_ms: int = 10_000  # MIGRATE's own I/O timeout between source and target
    round_bytes: int = 8 * MiB  # first byte budget of one pipelined round of MIGRATEs (adapted)
    round_seconds: float = 0.2  # what the budget aims for
    max_keys_per_sec: float | None = None
    overwrite_target_keys: bool = False  # on BUSYKEY with different values, keep the source's copy
    attempts: int = 5  # per slot, for retryable errors (timeouts, target busy)
    setslot_timeout_ms: int = 2000  # SETSLOT ... TIMEOUT where the server waits for replicas (Valkey's default)
    setslot_connections: int = 32  # SETSLOTs at once on such a server (one replica round trip for each lane)
    method: str = "auto"  # "auto": the servers' atomic slot migration where every primary has it; "keys"; "atomic"
    atomic_job_slots: int = 1024  # slots per atomic job: an interrupted job is rolled back whole
    atomic_poll_seconds: float = 0.2  # between two status reads of the jobs in flight


@dataclass(frozen=True)
class SlotFailure:
    slot: int
    source: str
    target: str
    reason: str


@dataclass
class MigrationOutcome:
    slots_moved: int = 0
    keys_moved: int = 0
    seconds: float = 0.0
    failures: list[SlotFailure] = field(default_factory=list)
    open_slots: list[int] = field(default_factory=list)  # left open (failed mid-way or interrupted)
    broken_nodes: dict[str, str] = field(default_factory=dict)  # node id -> why it was given up
    replaced_identical: int = 0  # BUSYKEY where both copies were equal
    overwritten: int = 0  # BUSYKEY with different values, replaced under --overwrite-target-keys
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)  # done, but something to know (a replica that lags)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.open_slots and not self.broken_nodes and not self.interrupted


Progress = Callable[[int, int], None]  # (slots just closed, keys just moved)


class _Throttle:
    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def take(self, keys: int) -> None:
        if not self.rate or keys <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + keys / self.rate
        if start > now:
            time.sleep(start - now)


class _Budget:
    """Bytes per round of MIGRATEs: grows while rounds are quick, shrinks when slow or timing out."""

    def __init__(self, settings: MigrationSettings) -> None:
        self.bytes = settings.round_bytes
        self.aim = settings.round_seconds

    def keys(self, per_key: float) -> int:
        return max(1, int(self.bytes / max(per_key, 1.0)))

    def observe(self, seconds: float, full: bool) -> None:
        if seconds > 2 * self.aim:
            self.bytes = max(64 * 1024, self.bytes // 2)
        elif full and seconds < self.aim / 2:
            self.bytes = min(256 * MiB, self.bytes * 2)

    def shrink(self) -> None:
        self.bytes = max(1024, self.bytes // 4)


_SETSLOT = ("CLUSTER", "SETSLOT")
# The answer put in place of SETSLOTs not sent once the first of their batch was not acknowledged.
_NOT_SENT = ServerError("NOREPLICAS not sent: the first SETSLOT of this batch was not acknowledged by the replicas")
_IDLE_REUSE = 10.0  # seconds a finished batch's links stay reusable
_GOSSIP_WAIT = 5.0  # for a source to hear the target's claim (the lab sees tens of milliseconds)
# For a target whose cluster is down to come up: Redis holds a master that rejoins from a minority in
# fail for its rejoin delay (node timeout, capped at 5 s), then gossip spreads the new state.
_DOWN_WAIT = 15.0


def _cluster_down(message: str) -> bool:
    return message.startswith("CLUSTERDOWN") or "cluster is down" in message.lower()


def _adopted(reply: ServerError) -> bool:
    message = str(reply)
    return "only with masters" in message or "only with primaries" in message or message.startswith("UNBLOCKED")


def _unacknowledged(reply: Any) -> bool:
    return isinstance(reply, ServerError) and str(reply).startswith("NOREPLICAS")


class NodeGone(Exception):
    def __init__(self, node: Node, exc: BaseException) -> None:
        super().__init__(f"{node.short}: {as_client_says(exc)}")
        self.node = node


@dataclass
class _Batch:
    """One batch of slots between one source and one target, as it goes through _move's steps."""

    src: Link
    dst: Link
    source: Node
    target: Node
    slots: tuple[int, ...]
    importing: set[int] = field(default_factory=set)  # found IMPORTING on the target when resuming
    migrating: set[int] = field(default_factory=set)  # found MIGRATING on the source when resuming
    failed: dict[int, str] = field(default_factory=dict)  # slot -> why
    reasons: dict[str, str] = field(default_factory=dict)  # one NOREPLICAS explanation per step
    live: list[int] = field(default_factory=list)  # slots IMPORTING on the target
    undone: list[int] = field(default_factory=list)  # IMPORTING set by this batch, then taken back

    @property
    def sid(self) -> str:
        return self.source.node_id

    @property
    def tid(self) -> str:
        return self.target.node_id


class Engine:
    def __init__(
        self,
        top: Topology,
        options: ConnectOptions,
        journal: Journal,
        settings: MigrationSettings | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.top = top
        self.options = options
        self.journal = journal
        self.settings = settings or MigrationSettings()
        self.progress = progress or (lambda slots, keys: None)
        self.outcome = MigrationOutcome()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._throttle = _Throttle(self.settings.max_keys_per_sec)
        self._resume = False
        self._auth = migrate_auth(options)
        self._idle: dict[str, list[tuple[Link, float]]] = {}  # node id -> links a finished batch left for the next one
        self._untold: dict[int, str] = {}  # slot -> new owner, closed where other primaries were not told

    # Scheduling

    def run(self, transfers: Sequence[Transfer], resume: bool = False) -> MigrationOutcome:
        """Move every transfer's slots; returns what was done and what was left, never raises for a node.
        `resume`: the slots may be half-moved already (states set, some keys on the target)."""
        self._resume = resume
        started = time.monotonic()
        # A target with no slots is in no client's CLUSTER SLOTS, and some clients cannot follow an ASK to a
        # node they do not know (redis-py <= 8.1, redis/redis-py#4015). One pilot slot per such target is moved
        # and closed first: the node then appears in CLUSTER SLOTS and clients that refresh learn it before
        # the bulk of the ASK redirections.
        slotless = {n.node_id for n in self.top.primaries if not n.slots}
        pilots: list[tuple[str, str, tuple[int, ...]]] = []
        units: list[tuple[str, str, tuple[int, ...]]] = []
        for t in transfers:
            slots = t.slots
            if t.target in slotless and slots:
                slotless.discard(t.target)
                pilots.append((t.source, t.target, slots[:1]))
                slots = slots[1:]
            step = self.settings.batch_slots
            units += [(t.source, t.target, tuple(slots[i : i + step])) for i in range(0, len(slots), step)]
        self.journal.write(
            "plan", transfers=[{"source": t.source, "target": t.target, "slots": len(t.slots)} for t in transfers]
        )
        busy: set[str] = set()
        done = threading.Condition()
        pending = list(units)
        futures: list[Future[None]] = []

        def work(unit: tuple[str, str, tuple[int, ...]]) -> None:
            try:
                self._unit(*unit, resume=self._resume)
            finally:
                with done:
                    busy.discard(unit[0])
                    busy.discard(unit[1])
                    done.notify_all()

        try:
            with ThreadPoolExecutor(
                max_workers=max(1, self.settings.parallel), thread_name_prefix="rcdoctor-move"
            ) as pool:
                try:
                    self._schedule(pool, pilots, busy, done, futures, work)
                    with done:
                        while busy:
                            done.wait(timeout=0.5)
                    self._schedule(pool, pending, busy, done, futures, work)
                except KeyboardInterrupt:
                    # Ctrl-C or SIGTERM: the batches in flight finish and close; nothing new starts, and a
                    # second signal cannot abort that half-way (it would leave their slots open)
                    interrupts.hold()
                    self.stop.set()
                    self.outcome.interrupted = True
                for future in futures:
                    future.result()
            try:
                self._converge()
            except KeyboardInterrupt:  # every slot is closed already; only the wait for gossip is cut short
                interrupts.hold()
                self.outcome.interrupted = True
        finally:
            with self._lock:
                for idle in self._idle.values():
                    for link, _ in idle:
                        link.close()
                self._idle.clear()
        self.outcome.seconds = time.monotonic() - started
        self.journal.write(
            "end",
            slots_moved=self.outcome.slots_moved,
            keys_moved=self.outcome.keys_moved,
            open_slots=self.outcome.open_slots,
            failures=len(self.outcome.failures),
        )
        return self.outcome

    def _schedule(
        self,
        pool: ThreadPoolExecutor,
        pending: list[tuple[str, str, tuple[int, ...]]],
        busy: set[str],
        done: threading.Condition,
        futures: list[Future[None]],
        work: Callable[[tuple[str, str, tuple[int, ...]]], None],
    ) -> None:
        with done:
            while pending:
                if self.stop.is_set():
                    self.outcome.interrupted = True
                    break
                pending[:] = [u for u in pending if not self._gave_up(u[0], u[1], u[2])]
                ready = [u for u in pending if u[0] not in busy and u[1] not in busy]
                if ready and len(busy) // 2 < self.settings.parallel:
                    # the pair with the most work left first: the long transfers set the wall time
                    left: dict[tuple[str, str], int] = {}
                    for u in pending:
                        left[(u[0], u[1])] = left.get((u[0], u[1]), 0) + len(u[2])
                    unit = max(ready, key=lambda u: left[(u[0], u[1])])
                    pending.remove(unit)
                    busy.update((unit[0], unit[1]))
                    futures.append(pool.submit(work, unit))
                elif pending:
                    done.wait(timeout=0.5)

    def _gave_up(self, source: str, target: str, slots: tuple[int, ...]) -> bool:
        gone = [n for n in (source, target) if n in self.outcome.broken_nodes]
        if gone:
            with self._lock:
                for slot in slots:
                    self.outcome.failures.append(
                        SlotFailure(slot, source, target, f"not started: {self.outcome.broken_nodes[gone[0]]}")
                    )
        return bool(gone)

    # One batch of slots between two nodes

    def _unit(self, source_id: str, target_id: str, slots: tuple[int, ...], resume: bool = False) -> None:
        source, target = self.top.nodes[source_id], self.top.nodes[target_id]
        links: dict[str, Link] = {}
        finished = False
        try:
            src = self._link(links, source)
            dst = self._link(links, target)
            self._move(src, dst, source, target, slots, resume, links)
            finished = True
        except NodeGone as gone:
            with self._lock:
                self.outcome.broken_nodes[gone.node.node_id] = str(gone)
                self.outcome.open_slots.extend(s for s in slots if s not in self.outcome.open_slots)
            self.journal.write("node-gone", node=gone.node.node_id, reason=str(gone), slots=list(slots))
        finally:
            for node_id, link in links.items():
                # Kept for the next batch with that node (its spread connections with it): opening them
                # again for every batch costs more than the SETSLOTs they carry. Not after anything unusual.
                if finished and node_id not in self.outcome.broken_nodes:
                    with self._lock:
                        self._idle.setdefault(node_id, []).append((link, time.monotonic()))
                else:
                    link.close()

    def _link(self, links: dict[str, Link], node: Node) -> Link:
        if node.node_id not in links:
            with self._lock:
                idle = self._idle.get(node.node_id, [])
                while idle:
                    link, since = idle.pop()
                    # not one a server's idle-client `timeout` may have closed meanwhile
                    if time.monotonic() - since < _IDLE_REUSE:
                        links[node.node_id] = link
                        return link
                    link.close()
            try:
                # MIGRATE rounds are bounded by the budget, but a big key can take a while to cross.
                links[node.node_id] = Link(
                    node.endpoint, self.options, timeout=max(30.0, self.settings.migrate_timeout_ms / 500)
                )
            except (TransportError, OSError) as exc:
                raise NodeGone(node, exc) from None
        return links[node.node_id]

    def _call(self, link: Link, node: Node, commands: Sequence[Command]) -> list[Any]:
        try:
            return link.run(commands)
        except (ConnectionLost, ReplyTimeout, OSError) as exc:
            raise NodeGone(node, exc) from None

    # SETSLOT, on servers that apply it at once and on those that wait for their replicas first

    def _setslots(self, link: Link, node: Node, groups: Sequence[Sequence[Command]]) -> list[list[Any]]:
        """Each group's replies (a group: one slot's SETSLOT and what must follow it on the same connection).
        Where the node waits for its replicas, SETSLOTs carry TIMEOUT, the first group goes alone and, when
        its replicas do not acknowledge it, the others are not sent (answered `_NOT_SENT`)."""
        if not groups:
            return []
        if not replicates_setslot(node.server):
            flat = self._call(link, node, [c for g in groups for c in g])
            out, at = [], 0
            for group in groups:
                out.append(flat[at : at + len(group)])
                at += len(group)
            return out
        timed = [
            [(*c, "TIMEOUT", self.settings.setslot_timeout_ms) if c[:2] == _SETSLOT else c for c in g] for g in groups
        ]
        first = self._call(link, node, timed[0])
        if any(_unacknowledged(r) for r in first):
            return [first, *([_NOT_SENT] * len(g) for g in timed[1:])]
        try:
            rest = link.spread(timed[1:], self.settings.setslot_connections) if len(timed) > 1 else []
        except (ConnectionLost, ReplyTimeout, OSError) as exc:
            raise NodeGone(node, exc) from None
        return [first, *rest]

    def _behind(self, link: Link, node: Node) -> str:
        """The replicas of `node` behind it (model.replication.behind), by name where the topology knows them."""
        try:
            (reply,) = self._call(link, node, [("INFO", "replication")])
        except NodeGone:
            return "a replica it counts as online"
        known = {n.address: n.short for n in (*self.top.nodes.values(), *self.top.silent.values())}
        return lagging_text(text(reply), known)

    def _lagging(self, link: Link, node: Node, what: str) -> str:
        """Why `node` refused `what` with NOREPLICAS, which replica held it up, and what to do."""
        return (
            f"{what}: {node.short} waited {self.settings.setslot_timeout_ms} ms for its replicas to acknowledge "
            f"CLUSTER SETSLOT and applied nothing (NOREPLICAS); behind: {self._behind(link, node)}. Bring that "
            "replica back (resume or restart it) or remove it (the primary stops waiting for it once "
            "repl-timeout passes without its acknowledgements), then run again with --resume"
        )

    def _view(self, link: Link, node: Node) -> tuple[ClusterNode | None, dict[int, str]]:
        """The node's own entry (its open-slot markers) and its slot map, from its CLUSTER NODES."""
        (reply,) = self._call(link, node, [("CLUSTER", "NODES")])
        entries = parse_cluster_nodes(text(reply)).value
        owner: dict[int, str] = {}
        for entry in entries:
            for r in entry.slots:
                owner.update(dict.fromkeys(range(r.start, r.end + 1), entry.id))
        return next((e for e in entries if e.is_myself), None), owner

    def _gossiped(self, link: Link, node: Node, slots: Sequence[int], tid: str, wait: float) -> set[int]:
        """The slots the source has let go by itself (the target owns them in its view, no MIGRATING marker
        left), polled for up to `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            me, owner = self._view(link, node)
            still = {s for s, _ in me.migrating} if me else set()
            done = {s for s in slots if owner.get(s) == tid and s not in still}
            if len(done) == len(slots) or time.monotonic() >= deadline:
                return done
            time.sleep(0.01)

    def _give_owner_back(
        self, dst: Link, target: Node, source: Node, slots: tuple[int, ...], owner: dict[int, str]
    ) -> None:
        """A target IMPORTING a slot ignores other nodes' claims to it; when the source it imports from
        fails over and turns replica, the target keeps the slot with the failed node, then drops it and
        sees nobody own it. It then refuses
        every key there (CLUSTERDOWN Hash slot not served), RESTORE-ASKING included, and its whole
        cluster state is fail. Telling it who owns the slot now (SETSLOT NODE, which leaves its IMPORTING
        state alone) lets the move go on."""
        # Nobody, or the failed node it still imports from (it drops the slot as soon as it hears that
        # node is a replica now): either way it answers CLUSTERDOWN for the slot's keys.
        orphaned = [s for s in slots if owner.get(s) not in (source.node_id, target.node_id)]
        if orphaned:
            self.journal.write("owner-told", node=target.node_id, owner=source.node_id, slots=orphaned)
            self._setslots(dst, target, [[("CLUSTER", "SETSLOT", s, "NODE", source.node_id)] for s in orphaned])

    def _move(
        self,
        src: Link,
        dst: Link,
        source: Node,
        target: Node,
        slots: tuple[int, ...],
        resume: bool,
        links: dict[str, Link],
    ) -> None:
        batch = _Batch(src, dst, source, target, slots)
        if resume:
            # What each side has open already is not set again. Setting it again would be harmless on Redis;
            # on Valkey it waits for the replicas, and a refusal there must not read as "not opened" (the
            # undo below would then drop the target's IMPORTING under a source still MIGRATING: a MOVED loop).
            me, owner = self._view(dst, target)
            self._give_owner_back(dst, target, source, slots, owner)
            batch.importing = {s for s, peer in me.importing if peer == batch.sid} if me else set()
            me, _ = self._view(src, source)
            batch.migrating = {s for s, peer in me.migrating if peer == batch.tid} if me else set()
        self.journal.write("open", source=batch.sid, target=batch.tid, slots=list(slots))
        keys = self._open(batch, resume)
        moved = self._drain(src, dst, source, target, keys, batch.failed)  # 3. keys, in rounds
        closable = self._close(batch)
        self._tell_others(closable, batch.sid, batch.tid, links)
        self._record(batch, closable, moved)

    def _refused(self, batch: _Batch, reply: ServerError, link: Link, node: Node, what: str) -> str:
        """Why a SETSLOT was refused; a first NOREPLICAS of a step names the lagging replicas, once."""
        if not _unacknowledged(reply):
            return f"{what}: {reply}"
        if what not in batch.reasons:
            batch.reasons[what] = self._lagging(link, node, what)
            with self._lock:  # no new batch with this node until its replicas answer
                self.outcome.broken_nodes.setdefault(node.node_id, batch.reasons[what])
            self.journal.write("unacknowledged", node=node.node_id, step=what, reason=batch.reasons[what])
        return batch.reasons[what]

    def _open(self, batch: _Batch, resume: bool) -> dict[int, list[bytes]]:
        """Steps 1 and 2: IMPORTING on the target, MIGRATING on the source; the first keys of each slot."""
        src, dst, source, target, failed = batch.src, batch.dst, batch.source, batch.target, batch.failed
        # 1. IMPORTING on the target first: from then on it accepts ASKING clients for these slots.
        opening = [s for s in batch.slots if s not in batch.importing]
        replies = self._setslots(dst, target, [[(*_SETSLOT, s, "IMPORTING", batch.sid)] for s in opening])
        for slot, (reply,) in zip(opening, replies, strict=True):
            if isinstance(reply, ServerError) and not (resume and "already the owner" in str(reply)):
                failed[slot] = self._refused(batch, reply, dst, target, "IMPORTING on the target")
        opened = {s for s in opening if s not in failed}  # IMPORTING set by this call
        batch.live = [s for s in batch.slots if s not in failed]

        # 2. MIGRATING on the source, and its first keys.
        keys: dict[int, list[bytes]] = {}
        first = 1000
        groups: list[list[Command]] = [
            [
                *([] if s in batch.migrating else [(*_SETSLOT, s, "MIGRATING", batch.tid)]),
                ("CLUSTER", "GETKEYSINSLOT", s, first),
            ]
            for s in batch.live
        ]
        for slot, got in zip(batch.live, self._setslots(src, source, groups), strict=True):
            state, found = (got[0] if len(got) == 2 else None), got[-1]
            if isinstance(state, ServerError) and not (resume and "not the owner" in str(state)):
                failed[slot] = self._refused(batch, state, src, source, "MIGRATING on the source")
            elif isinstance(found, ServerError):
                failed[slot] = f"GETKEYSINSLOT: {found}"
            else:
                keys[slot] = list(found)
        undone = [s for s in failed if s in opened]
        if undone:
            # undo the IMPORTING set just now where MIGRATING failed: a slot must not stay half-open because of
            # us (an IMPORTING found open on resuming is left as it was)
            replies = self._setslots(dst, target, [[(*_SETSLOT, s, "STABLE")] for s in undone])
            batch.undone = [s for s, (r,) in zip(undone, replies, strict=True) if not isinstance(r, ServerError)]
        return keys

    def _close(self, batch: _Batch) -> list[int]:
        """Step 4: NODE on the target, then the source (the rest of the primaries are told by the caller).

        The source only once the target owns the slot: given to the target on the source alone, it would send
        clients to a target that still names the source as owner, and back (a MOVED loop). Returns the slots
        closed."""
        src, dst, source, target, failed = batch.src, batch.dst, batch.source, batch.target, batch.failed
        closable = [s for s in batch.live if s not in failed]
        replies = self._setslots(dst, target, [[(*_SETSLOT, s, "NODE", batch.tid)] for s in closable])
        for slot, (reply,) in zip(closable, replies, strict=True):
            if isinstance(reply, ServerError):
                failed[slot] = self._refused(batch, reply, dst, target, "NODE on the target")
        closable = [s for s in closable if s not in failed]
        telling = closable
        if gossip_clears_migrating(source.server) and closable:
            # The target's claim reaches the source within milliseconds (its broadcast PONG) and the source
            # drops its MIGRATING state by itself: waited for, and SETSLOT NODE sent only where that has not
            # happened. Not sending it also avoids a Valkey 8.1.8 fault: a source given NODE for its last slot
            # replicates it, its replica then re-points itself to the new owner while applying it and stops
            # answering for seconds (its sync to the new primary stalls); by gossip it re-points cleanly.
            settled = self._gossiped(src, source, closable, batch.tid, wait=_GOSSIP_WAIT)
            telling = [s for s in closable if s not in settled]
        replies = self._setslots(src, source, [[(*_SETSLOT, s, "NODE", batch.tid)] for s in telling])
        unacknowledged: list[int] = []
        for slot, (reply,) in zip(telling, replies, strict=True):
            # A source that gave away its last slot turns into a replica of the new owner as soon as it
            # hears of the target's newer epoch (replica migration): it has adopted the new owner already.
            # On Valkey that can happen while the SETSLOT waits for its replicas: it is then answered
            # UNBLOCKED (valkey-cli accepts both answers too).
            if not isinstance(reply, ServerError) or _adopted(reply):
                continue
            if _unacknowledged(reply) and gossip_clears_migrating(source.server):
                unacknowledged.append(slot)
            else:
                failed[slot] = self._refused(batch, reply, src, source, "NODE on the source")
        if unacknowledged:
            self._settle_by_gossip(batch, unacknowledged)
        return [s for s in closable if s not in failed]

    def _settle_by_gossip(self, batch: _Batch, unacknowledged: list[int]) -> None:
        """The target owns these slots; the source lets them go when the claim reaches it by gossip. Not a
        failure when it does: nothing is left open, and its replicas learn the owner the same way."""
        src, source = batch.src, batch.source
        settled = self._gossiped(src, source, unacknowledged, batch.tid, wait=_GOSSIP_WAIT)
        if len(settled) < len(unacknowledged):
            why = self._lagging(src, source, "NODE on the source")
            for slot in unacknowledged:
                if slot not in settled:
                    batch.failed[slot] = f"{why}; the source still had it MIGRATING after {_GOSSIP_WAIT:.0f} s"
        if settled:
            which = f"{'slot' if len(settled) == 1 else 'slots'} {describe_slots(sorted(settled))}"
            note = (
                f"{which} closed, but {source.short}'s replicas did not "
                f"acknowledge SETSLOT NODE within {self.settings.setslot_timeout_ms} ms (behind: "
                f"{self._behind(src, source)}); the target owns the slots and the source let them go by "
                "gossip, as its replicas will once they answer again. Moving more slots out of that node "
                "waits for that replica: bring it back or remove it"
            )
            with self._lock:
                self.outcome.warnings.append(note)
            self.journal.write("unacknowledged", node=batch.sid, step="NODE on the source", slots=sorted(settled))

    def _record(self, batch: _Batch, closable: list[int], moved: int) -> None:
        """The batch's end in the journal, the outcome and the progress line."""
        sid, tid, failed = batch.sid, batch.tid, batch.failed
        self.journal.write("closed", source=sid, target=tid, slots=closable, keys=moved)
        if failed:
            self.journal.write(
                "failed", source=sid, target=tid, slots=sorted(failed), reasons=sorted(set(failed.values()))[:5]
            )
        with self._lock:
            self.outcome.slots_moved += len(closable)
            self.outcome.keys_moved += moved
            for slot, reason in sorted(failed.items()):
                self.outcome.failures.append(SlotFailure(slot, sid, tid, reason))
                # still open: opened here and not undone, or found open (resuming) and not closed
                if (
                    (slot in batch.live and slot not in batch.undone)
                    or slot in batch.importing
                    or slot in batch.migrating
                ):
                    self.outcome.open_slots.append(slot)
        self.progress(len(closable), 0)

    def _tell_others(self, slots: list[int], sid: str, tid: str, links: dict[str, Link]) -> None:
        """The rest of the primaries learn the new owner now instead of by gossip; a failure here is harmless
        (the target's higher config epoch wins, and it broadcasts its claim itself: Redis 6.2+ and Valkey)
        and only slows their clients' redirections. Not on primaries that would wait for their replicas
        (Valkey 8+): a replica round trip each, or the whole timeout behind a lagging replica, to save a
        redirection for the few milliseconds the target's broadcast takes."""
        if not slots:
            return
        for node in self.top.primaries:
            if node.node_id in (sid, tid) or node.node_id in self.outcome.broken_nodes:
                continue
            if replicates_setslot(node.server):
                with self._lock:
                    self._untold.update(dict.fromkeys(slots, tid))
                continue
            try:
                link = self._link(links, node)
                link.run([("CLUSTER", "SETSLOT", s, "NODE", tid) for s in slots])
            except (NodeGone, TransportError, OSError):
                continue

    def _converge(self) -> None:
        """Where other primaries were not told, wait (bounded) for them to learn the new owners by gossip, so
        that what the caller reads next is one slot map: the target's broadcast usually does it within
        milliseconds, but a target that owned the slot already (a move resumed after its NODE on the
        target) broadcasts nothing and periodic gossip takes up to half a node timeout. A primary still
        behind after `_GOSSIP_WAIT` is told directly (a failure there stays harmless, see `_tell_others`)."""
        if not self._untold:
            return
        deadline = time.monotonic() + _GOSSIP_WAIT
        for node in self.top.primaries:
            if node.node_id in self.outcome.broken_nodes:
                continue
            links: dict[str, Link] = {}
            try:
                link = self._link(links, node)
                while True:
                    _, owner = self._view(link, node)
                    behind = [s for s, t in sorted(self._untold.items()) if owner.get(s) != t and t != node.node_id]
                    if not behind or time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
                by_owner: dict[str, list[int]] = {}
                for slot in behind:
                    by_owner.setdefault(self._untold[slot], []).append(slot)
                for tid, slots in by_owner.items():
                    self._setslots(link, node, [[("CLUSTER", "SETSLOT", s, "NODE", tid)] for s in slots])
            except (NodeGone, TransportError, OSError):
                continue
            finally:
                for one in links.values():
                    one.close()

    def _drain(
        self,
        src: Link,
        dst: Link,
        source: Node,
        target: Node,
        keys: dict[int, list[bytes]],
        failed: dict[int, str],
    ) -> int:
        """MIGRATE until every live slot is empty on the source. Returns keys moved."""
        budget = _Budget(self.settings)
        per_key = self._bytes_per_key(src, source, keys)
        attempts: dict[int, int] = {}
        down_since: dict[int, float] = {}  # slot -> when its MIGRATE first met a cluster that is down
        replace: set[bytes] = set()
        moved = 0
        while True:
            pending = [s for s, k in keys.items() if k and s not in failed]
            if not pending:
                return moved
            allowance = budget.keys(per_key)
            commands: list[Command] = []
            sent: list[tuple[int, list[bytes]]] = []
            for slot in pending:
                batch = keys[slot][: max(1, allowance)]
                allowance -= len(batch)
                plain = [k for k in batch if k not in replace]
                forced = [k for k in batch if k in replace]
                for group, extra in ((plain, ()), (forced, ("REPLACE",))):
                    if group:
                        commands.append(self._migrate(target, group, extra))
                        sent.append((slot, group))
                commands.append(("CLUSTER", "GETKEYSINSLOT", slot, 1000))
                sent.append((slot, []))
                if allowance <= 0:
                    break
            self._throttle.take(sum(len(g) for _, g in sent))
            started = time.monotonic()
            replies = self._call(src, source, commands)
            budget.observe(time.monotonic() - started, allowance <= 0)
            round_moved = 0
            for (slot, group), reply in zip(sent, replies, strict=True):
                if not group:  # the GETKEYSINSLOT after this slot's MIGRATEs
                    if isinstance(reply, ServerError):
                        failed[slot] = f"GETKEYSINSLOT: {reply}"
                    else:
                        keys[slot] = list(reply)
                    continue
                if not isinstance(reply, ServerError):  # OK, or NOKEY when they were gone already
                    round_moved += len(group) if text(reply) == "OK" else 0
                    continue
                message = str(reply)
                attempts[slot] = attempts.get(slot, 0) + 1
                if "BUSYKEY" in message and attempts[slot] <= 4 * self.settings.attempts:
                    self._busy(src, dst, source, target, slot, group, replace, failed)
                elif _cluster_down(message) and time.monotonic() - down_since.setdefault(slot, started) < _DOWN_WAIT:
                    # The target refuses RESTORE while its cluster_state is fail: a heal that just covered
                    # a slot or MEET nodes back waits for it, up to the rejoin delay Redis adds (<= 5 s).
                    time.sleep(0.25)
                elif attempts[slot] >= self.settings.attempts:
                    failed[slot] = f"MIGRATE failed {attempts[slot]} times: {message}"
                else:
                    budget.shrink()  # a timeout usually means a round too big for the link or a big key
                    time.sleep(min(2.0, 0.05 * 2 ** attempts[slot]))
            moved += round_moved
            if round_moved:
                self.progress(0, round_moved)

    def _migrate(self, target: Node, group: list[bytes], extra: tuple[str, ...]) -> Command:
        e = target.endpoint
        return ("MIGRATE", e.host, e.port, "", 0, self.settings.migrate_timeout_ms, *extra, *self._auth, "KEYS", *group)

    def _bytes_per_key(self, src: Link, source: Node, keys: dict[int, list[bytes]]) -> float:
        sample = [k for ks in keys.values() for k in ks[:2]][:8]
        if not sample:
            return 100.0
        replies = self._call(src, source, [("MEMORY", "USAGE", k, "SAMPLES", 0) for k in sample])
        sizes = [int(r) for r in replies if isinstance(r, int)]
        return max(sizes) if sizes else 1024.0  # the largest: one big key must not blow the budget

    def _busy(
        self,
        src: Link,
        dst: Link,
        source: Node,
        target: Node,
        slot: int,
        group: list[bytes],
        replace: set[bytes],
        failed: dict[int, str],
    ) -> None:
        """BUSYKEY: some of these keys already exist on the target. Equal copies are replaced (nothing is
        lost); different copies stop the slot unless --overwrite-target-keys says the source's copy wins."""
        ours = self._call(src, source, [("DUMP", k) for k in group])
        theirs = self._call(dst, target, [c for k in group for c in (("ASKING",), ("DUMP", k))])[1::2]
        conflicts = []
        for key, mine, other in zip(group, ours, theirs, strict=True):
            if other is None or isinstance(other, ServerError) or mine is None:
                continue
            if mine == other:
                replace.add(key)
                with self._lock:
                    self.outcome.replaced_identical += 1
            elif self.settings.overwrite_target_keys:
                replace.add(key)
                with self._lock:
                    self.outcome.overwritten += 1
                self.journal.write(
                    "overwrite", slot=slot, key=text(key)[:200], source=source.node_id, target=target.node_id
                )
            else:
                conflicts.append(text(key))
        if conflicts:
            failed[slot] = (
                f"{len(conflicts)} key(s) exist on both nodes with different values (e.g. {conflicts[0][:60]!r}); "
                "slot left open: compare them, or rerun with --overwrite-target-keys to keep the source's copy"
            )

    def cancel(self, slots: Sequence[int]) -> list[SlotFailure]:
        """Clear MIGRATING/IMPORTING states (CLUSTER SETSLOT s STABLE) where every key is still on the owner."""
        failures = []
        by_slot = {o.slot: o for o in self.top.open_slots}
        per_node: dict[str, list[int]] = {}
        for slot in slots:
            opened = by_slot.get(slot)
            if opened is None:
                continue
            for node_id, _ in (*opened.migrating, *opened.importing):
                # A replica's marker where SETSLOT is replicated (Valkey 8) is cleared by STABLE on its primary,
                # which replicates it; a replica refuses SETSLOT itself ("only with masters").
                node = self.top.nodes.get(node_id)
                primary = self.top.nodes.get(node.primary_id or "") if node is not None and not node.primary else None
                if primary is not None and replicates_setslot(primary.server):
                    node_id = primary.node_id
                if slot not in per_node.setdefault(node_id, []):
                    per_node[node_id].append(slot)
        for node_id, node_slots in per_node.items():
            node = self.top.nodes[node_id]
            links: dict[str, Link] = {}
            try:
                link = self._link(links, node)
                replies = self._setslots(link, node, [[("CLUSTER", "SETSLOT", s, "STABLE")] for s in node_slots])
                refused = [(s, r) for s, (r,) in zip(node_slots, replies, strict=True) if isinstance(r, ServerError)]
                lagging = self._lagging(link, node, "STABLE") if any(_unacknowledged(r) for _, r in refused) else ""
                failures += [
                    SlotFailure(s, node_id, node_id, lagging if _unacknowledged(r) else f"STABLE: {r}")
                    for s, r in refused
                ]
            except NodeGone as gone:
                failures += [SlotFailure(s, node_id, node_id, str(gone)) for s in node_slots]
            finally:
                for one in links.values():
                    one.close()
        self.journal.write("cancelled", slots=sorted(set(slots) - {f.slot for f in failures}))
        return failures
