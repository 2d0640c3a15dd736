"""Moving slots with the servers' atomic slot migration (Valkey 9.0, Redis 8.4): start jobs, poll them,
cancel them on Ctrl-C. The commands and the reading of their replies are in atomic_protocol.py (pure).

The server does the copying, so there is nothing to pipeline and no thread per transfer: one loop starts
up to `parallel` jobs whose nodes are not already in one, polls them every `poll_seconds`, and starts the
next. A job either hands its slots over whole or leaves them where they were, so an interrupted or failed
run leaves no open slot to close: on Ctrl-C/SIGTERM the jobs in flight are cancelled (the server rolls
them back) and the report says which slots moved. UNTESTED AGAINST A REAL SERVER (see atomic_protocol).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rcdoctor import interrupts
from rcdoctor.execute.journal import Journal
from rcdoctor.migrate import atomic_protocol as proto
from rcdoctor.migrate.engine import MigrationOutcome, MigrationSettings, Progress, SlotFailure
from rcdoctor.model.cluster_nodes import ClusterNode, parse_cluster_nodes
from rcdoctor.plan.moves import Transfer
from rcdoctor.plan.topology import Node, Topology
from rcdoctor.transport.errors import ServerError, TransportError
from rcdoctor.transport.link import Link, text
from rcdoctor.transport.options import ConnectOptions

_CONVERGE_WAIT = 5.0  # seconds for every primary's slot map to show the new owners (gossip: milliseconds)


@dataclass
class _Job:
    source: Node
    target: Node
    slots: tuple[int, ...]
    task_id: str | None  # Redis's task id; Valkey's job is found by what was new after we started it
    known_before: frozenset[str]
    last: str = ""


class AtomicEngine:
    def __init__(
        self,
        top: Topology,
        options: ConnectOptions,
        journal: Journal,
        dialect: proto.Dialect,
        settings: MigrationSettings | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.top, self.options, self.journal, self.dialect = top, options, journal, dialect
        self.settings = settings or MigrationSettings()
        self.progress = progress or (lambda slots, keys: None)
        self.outcome = MigrationOutcome()
        self._links: dict[str, Link] = {}
        self._moved: dict[int, str] = {}  # slot -> its new owner, for the final wait on the slot maps

    def run(self, transfers: Sequence[Transfer]) -> MigrationOutcome:
        started = time.monotonic()
        step = max(1, self.settings.atomic_job_slots)
        pending = [(t.source, t.target, t.slots[i : i + step]) for t in transfers for i in range(0, len(t.slots), step)]
        self.journal.write(
            "plan",
            method=f"atomic ({self.dialect})",
            transfers=[{"source": t.source, "target": t.target, "slots": len(t.slots)} for t in transfers],
        )
        active: list[_Job] = []
        try:
            try:
                while pending or active:
                    self._start_ready(pending, active)
                    if active:
                        time.sleep(self.settings.atomic_poll_seconds)
                    active[:] = [job for job in active if not self._poll(job)]
                self._converge()
            except KeyboardInterrupt:
                # Nothing is half-moved with atomic migration: cancelling rolls the jobs in flight back.
                interrupts.hold()
                self.outcome.interrupted = True
                for job in active:
                    self._cancel(job, f"cancelled: rcdoctor was interrupted ({interrupts.name()})")
                for source, target, slots in pending:
                    self._fail(source, target, slots, "not started: rcdoctor was interrupted")
        finally:
            for link in self._links.values():
                link.close()
            self._links.clear()
        self.outcome.seconds = time.monotonic() - started
        failures = len(self.outcome.failures)
        self.journal.write("end", slots_moved=self.outcome.slots_moved, open_slots=[], failures=failures)
        return self.outcome

    # Jobs

    def _start_ready(self, pending: list[tuple[str, str, tuple[int, ...]]], active: list[_Job]) -> None:
        busy = {n for job in active for n in (job.source.node_id, job.target.node_id)}
        for unit in list(pending):
            if len(active) >= max(1, self.settings.parallel):
                return
            source_id, target_id, slots = unit
            if source_id in busy or target_id in busy:
                continue
            pending.remove(unit)
            gone = next((n for n in (source_id, target_id) if n in self.outcome.broken_nodes), None)
            if gone:
                self._fail(source_id, target_id, slots, f"not started: {self.outcome.broken_nodes[gone]}")
                continue
            job = self._start(self.top.nodes[source_id], self.top.nodes[target_id], slots)
            if job is not None:
                active.append(job)
                busy.update((source_id, target_id))

    def _start(self, source: Node, target: Node, slots: tuple[int, ...]) -> _Job | None:
        side, command = proto.start(self.dialect, target.node_id, slots)
        node = source if side == "source" else target
        try:
            known = frozenset[str]()
            if self.dialect == "valkey":
                _, ask = proto.status(self.dialect, None)
                known = proto.job_names(self.dialect, self._link(source).one(*ask))
            reply = self._link(node).one(*command)
        except ServerError as exc:
            self._fail(source.node_id, target.node_id, slots, f"{command[1]} {command[2]} refused: {exc}")
            return None
        except (TransportError, OSError) as exc:
            self._gone(node, exc, source, target, slots)
            return None
        job = _Job(source, target, slots, proto.started_id(self.dialect, reply), known)
        self.journal.write(
            "atomic-start", source=source.node_id, target=target.node_id, slots=list(slots), task=job.task_id
        )
        return job

    def _poll(self, job: _Job) -> bool:
        """True when the job is over (moved, failed or cancelled)."""
        side, command = proto.status(self.dialect, job.task_id)
        node = job.source if side == "source" else job.target
        try:
            reply = self._link(node).one(*command)
        except (TransportError, OSError) as exc:
            self._gone(node, exc, job.source, job.target, job.slots)
            return True
        seen = proto.judge(self.dialect, reply, job.target.node_id, job.slots, job.task_id, job.known_before)
        job.last = seen.detail
        if seen.state == "missing":
            # Valkey keeps finished jobs only for a while: the slot map says whether it moved.
            seen = proto.Progress("done" if self._owns(job.target, job.slots) else "failed", seen.detail)
        if seen.state == "done":
            self._moved_to(job)
            self.progress(len(job.slots), 0)
            self.journal.write(
                "atomic-done", source=job.source.node_id, target=job.target.node_id, slots=list(job.slots)
            )
            return True
        if seen.state == "failed":
            self._fail(job.source.node_id, job.target.node_id, job.slots, f"the server reports {seen.detail}")
            return True
        if seen.retries is not None and seen.retries >= self.settings.attempts:
            self._cancel(job, f"cancelled after {seen.retries} failed attempts: {seen.detail}")
            return True
        return False

    def _cancel(self, job: _Job, why: str) -> None:
        side, command = proto.cancel(self.dialect, job.task_id)
        node = job.source if side == "source" else job.target
        try:
            self._link(node).one(*command)
        except (TransportError, OSError) as exc:
            check = " ".join(proto.status(self.dialect, job.task_id)[1])
            why += f" (the cancel itself failed: {exc}; check with {check})"
        # A job that finished while we cancelled it still counts as moved.
        if self._owns(job.target, job.slots):
            self._moved_to(job)
            return
        self._fail(job.source.node_id, job.target.node_id, job.slots, why)

    # Facts

    def _owns(self, node: Node, slots: Sequence[int]) -> bool:
        try:
            reply = self._link(node).one("CLUSTER", "NODES")
        except (TransportError, OSError):
            return False
        me = next((n for n in parse_cluster_nodes(text(reply)).value if n.is_myself), None)
        if me is None:
            return False
        owned = {s for r in me.slots for s in range(r.start, r.end + 1)}
        return all(s in owned for s in slots)

    def _converge(self) -> None:
        """Wait (bounded) until every primary maps the moved slots to their new owners, so what the caller
        reads next is one slot map (the new owner broadcasts its claim: milliseconds)."""
        deadline = time.monotonic() + _CONVERGE_WAIT
        for node in self.top.primaries:
            while self._moved and node.node_id not in self.outcome.broken_nodes:
                try:
                    reply = self._link(node).one("CLUSTER", "NODES")
                except (TransportError, OSError):
                    break
                if not behind(parse_cluster_nodes(text(reply)).value, self._moved) or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)

    # Plumbing

    def _link(self, node: Node) -> Link:
        if node.node_id not in self._links:
            self._links[node.node_id] = Link(node.endpoint, self.options, timeout=10.0)
        return self._links[node.node_id]

    def _moved_to(self, job: _Job) -> None:
        self.outcome.slots_moved += len(job.slots)
        self._moved.update(dict.fromkeys(job.slots, job.target.node_id))

    def _fail(self, source: str, target: str, slots: Sequence[int], reason: str) -> None:
        self.outcome.failures.extend(SlotFailure(s, source, target, reason) for s in slots)
        self.journal.write("atomic-failed", source=source, target=target, slots=list(slots), reason=reason)

    def _gone(self, node: Node, exc: BaseException, source: Node, target: Node, slots: Sequence[int]) -> None:
        self.outcome.broken_nodes[node.node_id] = f"{node.short}: {type(exc).__name__}: {exc}"
        link = self._links.pop(node.node_id, None)
        if link is not None:
            link.close()
        self._fail(
            source.node_id,
            target.node_id,
            slots,
            f"{node.short} stopped answering; the slots are whole on one side (atomic): diagnose says which",
        )


def behind(view: Sequence[ClusterNode], moved: dict[int, str]) -> list[int]:
    """The moved slots this view still maps to someone other than their new owner."""
    owner = {s: n.id for n in view if n.is_primary for r in n.slots for s in range(r.start, r.end + 1)}
    return sorted(s for s, target in moved.items() if owner.get(s) != target)
