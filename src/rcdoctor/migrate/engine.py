"""The slot migration engine: moves slots key by key with MIGRATE, many at a time.

How a batch of slots moves from S to T (the order the Redis Cluster specification gives, pipelined):
  1. T: CLUSTER SETSLOT s IMPORTING S        for every slot of the batch, one round trip
  2. S: CLUSTER SETSLOT s MIGRATING T        and GETKEYSINSLOT s n, one round trip
  3. S: MIGRATE T "" 0 timeout KEYS k…       one per slot with keys, each followed by GETKEYSINSLOT s n,
                                             in rounds bounded by an adaptive byte budget
  4. T, then S, then every other primary: CLUSTER SETSLOT s NODE T
Clients keep working throughout: S answers for keys it still has, ASK-redirects the others to T.

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

import redis
from redis.exceptions import ResponseError

from rcdoctor.collect.connection import ConnectOptions
from rcdoctor.migrate.journal import Journal
from rcdoctor.migrate.link import Command, Link, migrate_auth, text
from rcdoctor.migrate.plan import Transfer
from rcdoctor.migrate.topology import Node, Topology

MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    parallel: int = 4  # transfers at once (a node takes part in one at a time)
    batch_slots: int = 128  # slots opened together per transfer
    migrate_timeout_ms: int = 10_000  # MIGRATE's own I/O timeout between source and target
    round_bytes: int = 8 * MiB  # first byte budget of one pipelined round of MIGRATEs (adapted)
    round_seconds: float = 0.2  # what the budget aims for
    max_keys_per_sec: float | None = None
    overwrite_target_keys: bool = False  # on BUSYKEY with different values, keep the source's copy
    attempts: int = 5  # per slot, for retryable errors (timeouts, target busy)


@dataclass(frozen=True)
class SlotFailure:
    slot: int
    source: str
    target: str
    reason: str


@dataclass
class Outcome:
    slots_moved: int = 0
    keys_moved: int = 0
    seconds: float = 0.0
    failures: list[SlotFailure] = field(default_factory=list)
    open_slots: list[int] = field(default_factory=list)  # left open (failed mid-way or interrupted)
    broken_nodes: dict[str, str] = field(default_factory=dict)  # node id -> why it was given up
    replaced_identical: int = 0  # BUSYKEY where both copies were equal
    overwritten: int = 0  # BUSYKEY with different values, replaced under --overwrite-target-keys
    interrupted: bool = False

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

    def __init__(self, settings: Settings) -> None:
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


class NodeGone(Exception):
    def __init__(self, node: Node, exc: BaseException) -> None:
        super().__init__(f"{node.short}: {type(exc).__name__}: {exc}")
        self.node = node


class Engine:
    def __init__(
        self,
        top: Topology,
        options: ConnectOptions,
        journal: Journal,
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.top = top
        self.options = options
        self.journal = journal
        self.settings = settings or Settings()
        self.progress = progress or (lambda slots, keys: None)
        self.outcome = Outcome()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._throttle = _Throttle(self.settings.max_keys_per_sec)
        self._resume = False
        self._auth = migrate_auth(options)

    # Scheduling

    def run(self, transfers: Sequence[Transfer], resume: bool = False) -> Outcome:
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

        with ThreadPoolExecutor(max_workers=max(1, self.settings.parallel), thread_name_prefix="rcdoctor-move") as pool:
            try:
                self._schedule(pool, pilots, busy, done, futures, work)
                with done:
                    while busy:
                        done.wait(timeout=0.5)
                self._schedule(pool, pending, busy, done, futures, work)
            except KeyboardInterrupt:
                # Ctrl-C: the batches in flight finish and close; nothing new starts
                self.stop.set()
                self.outcome.interrupted = True
            for future in futures:
                future.result()
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
                        SlotFailure(slot, source, target, f"not started: {gone[0][:8]} stopped answering")
                    )
        return bool(gone)

    # One batch of slots between two nodes

    def _unit(self, source_id: str, target_id: str, slots: tuple[int, ...], resume: bool = False) -> None:
        source, target = self.top.nodes[source_id], self.top.nodes[target_id]
        links: dict[str, Link] = {}
        try:
            src = self._link(links, source)
            dst = self._link(links, target)
            self._move(src, dst, source, target, slots, resume, links)
        except NodeGone as gone:
            with self._lock:
                self.outcome.broken_nodes[gone.node.node_id] = str(gone)
                self.outcome.open_slots.extend(s for s in slots if s not in self.outcome.open_slots)
            self.journal.write("node-gone", node=gone.node.node_id, reason=str(gone), slots=list(slots))
        finally:
            for link in links.values():
                link.close()

    def _link(self, links: dict[str, Link], node: Node) -> Link:
        if node.node_id not in links:
            try:
                # MIGRATE rounds are bounded by the budget, but a big key can take a while to cross.
                links[node.node_id] = Link(
                    node.endpoint, self.options, timeout=max(30.0, self.settings.migrate_timeout_ms / 500)
                )
            except (redis.RedisError, OSError) as exc:
                raise NodeGone(node, exc) from None
        return links[node.node_id]

    def _call(self, link: Link, node: Node, commands: Sequence[Command]) -> list[Any]:
        try:
            return link.run(commands)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise NodeGone(node, exc) from None

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
        sid, tid = source.node_id, target.node_id
        self.journal.write("open", source=sid, target=tid, slots=list(slots))
        failed: dict[int, str] = {}

        # 1. IMPORTING on the target first: from then on it accepts ASKING clients for these slots.
        replies = self._call(dst, target, [("CLUSTER", "SETSLOT", s, "IMPORTING", sid) for s in slots])
        for slot, reply in zip(slots, replies, strict=True):
            if isinstance(reply, ResponseError) and not (resume and "already the owner" in str(reply)):
                failed[slot] = f"IMPORTING on the target: {reply}"
        live = [s for s in slots if s not in failed]

        # 2. MIGRATING on the source, and its first keys.
        keys: dict[int, list[bytes]] = {}
        first = 1000
        commands: list[Command] = []
        for s in live:
            commands += [("CLUSTER", "SETSLOT", s, "MIGRATING", tid), ("CLUSTER", "GETKEYSINSLOT", s, first)]
        replies = self._call(src, source, commands)
        for index, slot in enumerate(live):
            state, found = replies[2 * index], replies[2 * index + 1]
            if isinstance(state, ResponseError) and not (resume and "not the owner" in str(state)):
                failed[slot] = f"MIGRATING on the source: {state}"
            elif isinstance(found, ResponseError):
                failed[slot] = f"GETKEYSINSLOT: {found}"
            else:
                keys[slot] = list(found)
        undone = [s for s in failed if s in live]
        if undone:
            # undo IMPORTING where MIGRATING failed: a slot must not stay half-open because of us
            self._call(dst, target, [("CLUSTER", "SETSLOT", s, "STABLE") for s in undone])

        # 3. Keys, in rounds.
        moved = self._drain(src, dst, source, target, keys, failed)

        # 4. NODE on the target, then the source, then every other primary.
        closable = [s for s in live if s not in failed]
        for link, node, where in ((dst, target, "target"), (src, source, "source")):
            replies = self._call(link, node, [("CLUSTER", "SETSLOT", s, "NODE", tid) for s in closable])
            for slot, reply in zip(closable, replies, strict=True):
                # A source that gave away its last slot turns into a replica of the new owner as soon as it
                # hears of the target's newer epoch (replica migration): it has adopted the new owner already.
                adopted = where == "source" and "only with masters" in str(reply)
                if isinstance(reply, ResponseError) and not adopted:
                    failed[slot] = f"NODE on the {where}: {reply}"
            closable = [s for s in closable if s not in failed]
        self._tell_others(closable, sid, tid, links)
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
                if slot in live and slot not in undone:
                    self.outcome.open_slots.append(slot)
        self.progress(len(closable), 0)

    def _tell_others(self, slots: list[int], sid: str, tid: str, links: dict[str, Link]) -> None:
        """The rest of the primaries learn the new owner now instead of by gossip; a failure here is harmless
        (the target's higher config epoch wins) and only slows their clients' redirections."""
        if not slots:
            return
        for node in self.top.primaries:
            if node.node_id in (sid, tid) or node.node_id in self.outcome.broken_nodes:
                continue
            try:
                link = self._link(links, node)
                link.run([("CLUSTER", "SETSLOT", s, "NODE", tid) for s in slots])
            except (NodeGone, redis.RedisError, OSError):
                continue

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
                    if isinstance(reply, ResponseError):
                        failed[slot] = f"GETKEYSINSLOT: {reply}"
                    else:
                        keys[slot] = list(reply)
                    continue
                if not isinstance(reply, ResponseError):  # OK, or NOKEY when they were gone already
                    round_moved += len(group) if text(reply) == "OK" else 0
                    continue
                message = str(reply)
                attempts[slot] = attempts.get(slot, 0) + 1
                if "BUSYKEY" in message and attempts[slot] <= 4 * self.settings.attempts:
                    self._busy(src, dst, source, target, slot, group, replace, failed)
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
            if other is None or isinstance(other, ResponseError) or mine is None:
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
                per_node.setdefault(node_id, []).append(slot)
        for node_id, node_slots in per_node.items():
            node = self.top.nodes[node_id]
            links: dict[str, Link] = {}
            try:
                link = self._link(links, node)
                replies = self._call(link, node, [("CLUSTER", "SETSLOT", s, "STABLE") for s in node_slots])
                failures += [
                    SlotFailure(s, node_id, node_id, f"STABLE: {r}")
                    for s, r in zip(node_slots, replies, strict=True)
                    if isinstance(r, ResponseError)
                ]
            except NodeGone as gone:
                failures += [SlotFailure(s, node_id, node_id, str(gone)) for s in node_slots]
            finally:
                for one in links.values():
                    one.close()
        self.journal.write("cancelled", slots=sorted(set(slots) - {f.slot for f in failures}))
        return failures
