"""The parallel collector: from seeds to one Snapshot of every node in every view.

Discovery is event driven: each node is dialed as soon as some answer names it, so a hung node
delays only its own record. Every node's conversation (collect/conversation.py) runs in one thread,
all at once, under one selector (transport/multiplex.py). The whole collection has one deadline
(timeout + grace); whatever is not done by then is recorded as a `deadline` error and the snapshot is
returned anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from rcdoctor import __version__
from rcdoctor.collect.conversation import sample_node
from rcdoctor.collect.sources import expand
from rcdoctor.errors import SourceError
from rcdoctor.model.address import Endpoint, Seed, is_ip, parse_seed
from rcdoctor.model.parse_cache import ParseCache
from rcdoctor.model.snapshot import NodeError, NodeSample, Snapshot
from rcdoctor.transport.multiplex import Multiplexer
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.ports import resolve, tcp_check

Progress = Callable[[int, int], None]  # (done, known)


@dataclass
class _Pending:
    origin: str
    announced_by: set[str] = field(default_factory=set)
    bus_port: int | None = None


def collect(
    seeds: Sequence[Seed | str],
    options: ConnectOptions | None = None,
    *,
    grace: float | None = None,
    max_workers: int = 256,
    count_open_slot_keys: bool = True,
    progress: Progress | None = None,
    complete: bool = False,
) -> Snapshot:
    """Collect every node reachable from `seeds` (and every node any of them knows) in parallel.

    Seeds are expanded first, within the same deadline: a DNS name to every address it resolves to, a
    `k8s:` selector to its pods' IPs, `@FILE` to its lines; so each collection follows pods that moved.
    `max_workers`: how many nodes are talked to at once (each holds one or two sockets).
    `complete`: also the replies no check reads (CLUSTER SHARDS, LINKS), for a snapshot to keep.
    Raises SourceError only when no seed gave any address and a k8s:/file source failed (a name that does
    not resolve is a "dns" node record, as before).
    """
    options = options or ConnectOptions()
    given = [parse_seed(s) if isinstance(s, str) else s for s in seeds]
    for seed in given:
        options = options.with_seed(seed)
    grace = max(1.0, options.timeout / 2) if grace is None else grace
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    deadline = started + options.timeout + grace
    expansion = expand(given, started + options.timeout, kube_context=options.kube_context)
    failed = [s for s in expansion.sources if s.error and s.kind in ("k8s", "file")]
    if not expansion.seeds and not expansion.unresolved and failed:
        raise SourceError(failed[0].error if len(failed) == 1 else "; ".join(f"{s.spec}: {s.error}" for s in failed))
    parsed = list(expansion.seeds)
    for seed in parsed:
        options = options.with_seed(seed)
    if expansion.server_names:
        options = replace(options, server_names=MappingProxyType({**options.server_names, **expansion.server_names}))

    crawl = _Crawl(options, deadline, count_open_slot_keys, progress, complete)
    crawl.run(parsed, expansion.unresolved, max_workers, options.timeout + grace)
    samples, pending = crawl.samples, crawl.pending
    _check_bus_ports_peers_use(samples, deadline)
    nodes = tuple(_with_announcers(samples[address], pending[address].announced_by) for address in sorted(pending))
    dns: dict[str, Any] = dict(expansion.answers)  # the seeds' names, resolved once above
    dns.update(_resolve_names(crawl.hostnames - {n.endpoint.host for n in nodes} - set(dns), deadline))
    return Snapshot(
        collected_at=started_wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        duration_s=round(time.monotonic() - started, 4),
        seeds=tuple(dict.fromkeys([*(str(s.endpoint) for s in parsed), *expansion.unresolved])),
        timeout_s=options.timeout,
        nodes=nodes,
        tool_version=__version__,
        tls=options.tls,
        auth=options.password is not None,
        dns=MappingProxyType(dns),
        sources=expansion.sources,
    )


class _Crawl:
    """Discovery: every seed sampled at once, then every node a view lists, until none is new or the
    deadline passes (a node still unanswered then is recorded as such, not waited for)."""

    def __init__(
        self,
        options: ConnectOptions,
        deadline: float,
        count_open_slot_keys: bool,
        progress: Progress | None,
        complete: bool,
    ) -> None:
        self.options = options
        self.complete = complete
        self.deadline = deadline
        self.count_open_slot_keys = count_open_slot_keys
        self.progress = progress
        self.pending: dict[str, _Pending] = {}
        self.samples: dict[str, NodeSample] = {}
        self.hostnames: set[str] = set()
        # One parse cache for every sample (the Snapshot keeps it): discovery reads each view as it comes,
        # and a line every view has is parsed once for the whole cluster, not once per view.
        self.cache = ParseCache()
        self._mux: Multiplexer | None = None

    def run(self, seeds: Sequence[Seed], unresolved: Mapping[str, str], max_workers: int, budget: float) -> None:
        mux = self._mux = Multiplexer(self.options, limit=max_workers)
        for address, reason in unresolved.items():
            # Kept as a node record, as when the name itself was dialled: "nothing answered" then names it.
            self.pending[address] = _Pending("seed")
            self.samples[address] = NodeSample(address, "seed", error=NodeError("dns", reason), parse_cache=self.cache)
        try:
            for seed in seeds:
                address = str(seed.endpoint)
                if address not in self.pending:
                    self.pending[address] = _Pending("seed")
                    self._start(address)
            unfinished = mux.run(self.deadline, self._answered)
        finally:
            mux.close()
            self._mux = None  # no cycle between the crawl and the multiplexer: freed as soon as done
        for address in sorted(str(key) for key in unfinished):
            self.samples[address] = NodeSample(
                address=address,
                origin=self.pending[address].origin,
                error=NodeError("deadline", f"no complete answer before the collection deadline ({budget:.1f}s)"),
                parse_cache=self.cache,
            )

    def _start(self, address: str) -> None:
        assert self._mux is not None
        meta = self.pending[address]
        self._mux.start(
            address,
            sample_node(
                address,
                meta.origin,
                self.options,
                self.deadline,
                self.count_open_slot_keys,
                meta.bus_port,
                self.cache,
                self.complete,
            ),
        )

    def _answered(self, key: Hashable, sample: Any) -> None:
        """Take each answer as it comes and dial every node it lists that is not known yet."""
        address = str(key)
        self.samples[address] = sample
        for found, bus_port, hostname in _announced(sample):
            if hostname:
                self.hostnames.add(hostname)
            meta = self.pending.get(found)
            if meta is None:
                meta = self.pending[found] = _Pending("view", bus_port=bus_port)
                self._start(found)
            meta.announced_by.add(address)
        if self.progress:
            self.progress(len(self.samples), len(self.pending))


def _check_bus_ports_peers_use(samples: dict[str, NodeSample], deadline: float) -> None:
    """Probe a node's bus where its peers dial it when that differs from the port it gave itself.

    A node's own line can keep its real bus port while it announces another one to its peers (Redis 6.2
    after `CONFIG SET cluster-announce-bus-port`); the peers' port is the one the cluster depends on.
    """
    listed: dict[str, set[int]] = {}
    for sample in samples.values():
        for found, bus_port, _ in _announced(sample):
            if bus_port and found != sample.address:
                listed.setdefault(found, set()).add(bus_port)
    for address, ports in listed.items():
        own = samples.get(address)
        probed = own.bus_port if own is not None else None
        if own is None or probed is None or not probed.ok or own.bus_port_number in ports or len(ports) != 1:
            continue
        port = next(iter(ports))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        probe = tcp_check(Endpoint(own.endpoint.host, port), min(remaining, 1.0))
        if not probe.ok:  # its own port answers, the one its peers dial does not: that is what matters
            samples[address] = replace(own, bus_port=probe, bus_port_number=port)


def _announced(sample: NodeSample) -> Iterable[tuple[str, int | None, str | None]]:
    """Every (address, bus port, hostname) this node's view names, itself included."""
    for node in sample.view.value:
        endpoint = node.endpoint
        if endpoint is None:
            continue
        yield str(endpoint), node.cport, node.hostname


def _with_announcers(sample: NodeSample, announced_by: set[str]) -> NodeSample:
    return replace(sample, announced_by=tuple(sorted(announced_by - {sample.address})))


def _resolve_names(names: set[str], deadline: float) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    for name in sorted(n for n in names if not is_ip(n)):
        if time.monotonic() >= deadline:
            answers[name] = {"addresses": None, "error": "not resolved: deadline"}
            continue
        addresses, error = resolve(name)
        answers[name] = {"addresses": None if addresses is None else list(addresses), "error": error}
    return answers
