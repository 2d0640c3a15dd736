"""The Lab: a real local Redis Cluster, one loopback IP per node and the same port on each."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcdoctor.credentials import read_password_file
from rcdoctor.errors import LabError
from rcdoctor.lab import process
from rcdoctor.lab.binary import RedisBinary, find_redis_server
from rcdoctor.lab.state import LabNode, LabState, default_root
from rcdoctor.lab.tls import TlsFiles, make_certificates
from rcdoctor.model.address import Secret
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.cluster_slots import parse_cluster_slots
from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.slots import SLOT_COUNT, SlotRange
from rcdoctor.transport.errors import TransportError
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import NodeClient, node_client

DEFAULT_BASE_IP = "127.0.0.11"
DEFAULT_PORT = 6379
DEFAULT_NODE_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class LabSpec:
    primaries: int = 3
    replicas: int = 1
    base_ip: str = DEFAULT_BASE_IP
    port: int = DEFAULT_PORT
    node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS
    zones: int = 3
    hosts: int | None = None  # None: every node its own host
    placement: str = "spread"  # "spread": replicas off their primary's host/zone; "colocated": on it
    password_file: str | None = None
    tls: bool = False  # TLS on the data port, cluster bus and replication (Redis 7 only)
    # Redis 7: each node announces `<name>.<lab>.lab.invalid` (never resolves), as pods announce DNS names
    announce_hostnames: bool = False
    form: bool = True  # False: start the nodes empty and leave forming the cluster to `rcdoctor create`

    def validate(self) -> None:
        if not 1 <= self.primaries <= 200 or not 0 <= self.replicas <= 10:
            raise LabError("primaries must be 1..200 and replicas 0..10")
        if self.placement not in ("spread", "colocated"):
            raise LabError("placement must be 'spread' or 'colocated'")
        if self.zones < 1 or (self.hosts is not None and self.hosts < 1):
            raise LabError("zones and hosts must be at least 1")
        if not 100 <= self.node_timeout_ms <= 600_000:
            raise LabError("node timeout must be 100..600000 ms")
        ip = _ip(self.base_ip)
        if not ip.is_loopback:
            raise LabError(f"base IP {self.base_ip} is not a loopback address (the lab only uses 127.0.0.0/8)")


class Lab:
    """A handle on a lab directory. All changes go through here and are saved to the state file."""

    def __init__(self, state: LabState) -> None:
        self.state = state
        self.identity = ServerIdentity("valkey" if state.server == "valkey" else "redis", state.version)

    # Finding and creating

    @staticmethod
    def root_for(name: str, directory: str | Path | None = None) -> Path:
        return Path(directory) if directory else default_root() / name

    @classmethod
    def open(cls, name: str = "default", directory: str | Path | None = None) -> Lab:
        return cls(LabState.load(cls.root_for(name, directory)))

    @classmethod
    def up(
        cls,
        spec: LabSpec,
        name: str = "default",
        directory: str | Path | None = None,
        redis_server: str | None = None,
        binary: RedisBinary | None = None,
        log: Callable[[str], None] = lambda _: None,
    ) -> Lab:
        spec.validate()
        root = cls.root_for(name, directory)
        if (root / "lab.json").exists():
            raise LabError(f"a lab already exists at {root}; `rcdoctor lab down --name {name}` first")
        binary = binary or find_redis_server(redis_server)
        log(f"using {binary}")
        root.mkdir(parents=True, exist_ok=True)
        if spec.tls:
            make_certificates(root / "tls")
        state = LabState(
            name=name,
            root=str(root),
            binary=binary.path,
            version=binary.version,
            server=binary.name,
            port=spec.port,
            base_ip=spec.base_ip,
            node_timeout_ms=spec.node_timeout_ms,
            primaries=spec.primaries,
            replicas=spec.replicas,
            next_ip_offset=spec.primaries * (1 + spec.replicas),
            nodes=_plan_nodes(spec, root),
            password_file=str(Path(spec.password_file).resolve()) if spec.password_file else None,
            tls_dir=str(root / "tls") if spec.tls else None,
            announce_hostnames=spec.announce_hostnames,
        )
        lab = cls(state)
        state.save()
        try:
            lab.start_all(state.nodes)
            if spec.form:
                log(f"started {len(state.nodes)} {binary.name}-server processes; creating the cluster")
                lab._create_cluster()
                lab.wait_cluster_ok()
                lab.wait_views_clean()
            else:
                lab._read_ids(state.nodes)
        except BaseException:
            lab.down()  # never leave processes behind a failed start
            raise
        return lab

    # Properties

    @property
    def nodes(self) -> list[LabNode]:
        return self.state.nodes

    @property
    def version(self) -> tuple[int, ...]:
        """The server's own version (Valkey's, on Valkey): gates on Redis features use
        `identity.redis_compatible`."""
        return self.identity.version_tuple

    @property
    def password(self) -> Secret | None:
        if not self.state.password_file:
            return None
        return read_password_file(self.state.password_file)

    @property
    def options(self) -> ConnectOptions:
        if self.state.tls_dir is None:
            return ConnectOptions(password=self.password, timeout=1.0)
        files = TlsFiles.in_dir(self.state.tls_dir)
        return ConnectOptions(password=self.password, timeout=1.0, tls=True, ca_file=files.ca)

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.nodes]

    def node(self, name: str) -> LabNode:
        return self.state.node(name)

    def client(self, node: LabNode, timeout: float = 2.0) -> NodeClient:
        return node_client(node.endpoint, self.options, timeout=timeout)

    def save(self) -> None:
        self.state.save()

    # Processes

    def start_all(self, nodes: Sequence[LabNode]) -> None:
        options = self.options
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda n: process.start(self.state, n, self.identity.redis_compatible, options), nodes))
        finally:
            self.save()

    def stop_all(self, nodes: Sequence[LabNode], force: bool = False) -> None:
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda n: process.stop(n, force=force), nodes))
        finally:
            self.save()

    def down(self) -> None:
        """Stop exactly the processes this lab started (by pid), drop its partition rules, remove its directory."""
        from rcdoctor.lab import network

        network.remove(self.state.root)  # a partition never outlives its lab, even if its undo was lost
        errors = []
        for node in self.nodes:
            try:
                process.stop(node, force=True)
            except OSError as exc:
                errors.append(f"{node.name}: {exc}")
        root = Path(self.state.root)
        if (root / "lab.json").exists():
            shutil.rmtree(root, ignore_errors=True)
        if errors:
            raise LabError("could not stop every node: " + "; ".join(errors))

    def is_running(self, node: LabNode) -> bool:
        return process.is_running(node)

    def allocate_ip(self) -> str:
        """A loopback IP no node of this lab has used, for the pod-IP-change fault."""
        ip = _ip(self.state.base_ip) + self.state.next_ip_offset
        if not ip.is_loopback:
            raise LabError("no loopback address left for a new node address")
        self.state.next_ip_offset += 1
        return str(ip)

    def add_nodes(self, count: int, host_prefix: str = "host-new", join: bool = False) -> list[LabNode]:
        """Start `count` empty cluster-enabled nodes at fresh addresses. They join nothing (add-node's
        input) unless `join`: then each MEETs the first node, as empty primaries, and this waits until every
        node knows them and the cluster is ok."""
        first = self.nodes[0]
        nodes = []
        for index in range(count):
            ip = self.allocate_ip()
            name = f"n{len(self.nodes) + 1}"
            node = LabNode(
                name=name,
                ip=ip,
                port=self.state.port,
                dir=str(Path(self.state.root) / name),
                host=f"{host_prefix}-{index + 1}",
                zone=f"zone-{index % 3 + 1}",
                role="empty",
                shard=-1,
            )
            self.state.nodes.append(node)
            nodes.append(node)
        self.start_all(nodes)
        self._read_ids(nodes)
        if join:
            for node in nodes:
                with self.client(node) as c:
                    c.execute_command("CLUSTER", "MEET", first.ip, first.port)
            self.wait_membership()
            self.wait_cluster_ok()
            self.wait_views_clean()
        return nodes

    def _read_ids(self, nodes: Sequence[LabNode]) -> None:
        for node in nodes:
            with self.client(node, timeout=5.0) as c:
                node.node_id = str(c.execute_command("CLUSTER", "MYID"))
        self.save()

    # Cluster operations with real commands

    def _create_cluster(self) -> None:
        primaries = [n for n in self.nodes if n.role == "primary"]
        clients = {n.name: self.client(n, timeout=5.0) for n in self.nodes}
        try:
            for node in self.nodes:
                node.node_id = str(clients[node.name].execute_command("CLUSTER", "MYID"))
            for index, (node, (first, last)) in enumerate(zip(primaries, split_slots(len(primaries)), strict=True)):
                add_slots(clients[node.name], first, last, self.identity.redis_compatible)
                # Distinct config epochs up front, as redis-cli does: no collision rounds at startup.
                clients[node.name].execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            first_node = self.nodes[0]
            for node in self.nodes[1:]:
                clients[node.name].execute_command("CLUSTER", "MEET", first_node.ip, first_node.port)
            self.wait(
                lambda: all(_known_nodes(clients[n.name]) == len(self.nodes) for n in self.nodes),
                "every node to know every other node",
            )
            for node in self.nodes:
                if node.role == "replica":
                    primary = next(p for p in primaries if p.shard == node.shard)
                    replicate = functools.partial(_replicate, clients[node.name], primary.node_id)
                    self.wait(replicate, f"{node.name} to replicate {primary.name}")
        finally:
            for c in clients.values():
                c.close()
        self.save()

    def wait_cluster_ok(self, timeout: float | None = None) -> None:
        """Until every node says cluster_state:ok, agrees on the slot map and replicas are in sync."""

        def ok() -> bool:
            maps = set()
            for node in self.nodes:
                with self.client(node, timeout=1.0) as c:
                    info = c.execute_command("CLUSTER", "INFO")
                    if "cluster_state:ok" not in str(info):
                        return False
                    repl = c.info("replication")
                    if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                        return False
                    maps.add(slot_map(c))
            return len(maps) == 1

        self.wait(ok, "cluster_state:ok on every node", timeout)

    def wait_views_clean(self, timeout: float | None = None) -> None:
        """Until every node's view has every peer's bus link connected and no fail?/fail/handshake/noaddr.

        A freshly formed cluster is `ok` before every node has dialled every peer; tests that expect a
        spotless diagnosis of a new lab would otherwise see a transient "link disconnected".
        """

        def roles(node: LabNode) -> frozenset[tuple[str, str]] | None:
            with self.client(node, timeout=1.0) as c:
                text = str(c.execute_command("CLUSTER", "NODES"))
            return _roles(text) if _view_is_clean(text) else None

        def settled() -> bool:
            # Clean links are not enough: a primary can still list its replica as a bare master for a
            # gossip round, so every view must also agree on who replicates whom.
            views = {roles(n) for n in self.nodes}
            return len(views) == 1 and None not in views

        self.wait(settled, "every view to show every link connected and the same roles", timeout)

    def wait_membership(self, timeout: float | None = None) -> None:
        """Until every running node knows every node of the lab (after a MEET, before moving slots)."""
        running = [n for n in self.nodes if not n.paused and self.is_running(n)]

        def known(node: LabNode) -> bool:
            with self.client(node, timeout=1.0) as c:
                return _known_nodes(c) == len(self.nodes)

        self.wait(lambda: all(known(n) for n in running), "every node to know every other node", timeout)

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        limit = timeout if timeout is not None else 30 + 0.5 * len(self.nodes) + self.state.node_timeout_ms / 250
        deadline = time.monotonic() + limit
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except (TransportError, OSError) as exc:
                last_error = exc
            time.sleep(0.05)
        raise LabError(
            f"timed out after {limit:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
        )

    def live_roles(self) -> dict[str, str]:
        """name -> "primary"/"replica" as the running nodes say; creation role for those that don't answer."""

        def role(node: LabNode) -> str:
            if not node.paused and self.is_running(node):
                try:
                    with self.client(node, timeout=0.5) as c:
                        return "primary" if c.info("replication").get("role") == "master" else "replica"
                except (TransportError, OSError):
                    pass
            return node.role

        with ThreadPoolExecutor(max_workers=16) as pool:
            return dict(zip((n.name for n in self.nodes), pool.map(role, self.nodes), strict=True))

    def followers(self, primary_ids: set[str]) -> list[LabNode]:
        """Running nodes whose own view says they replicate one of `primary_ids`. Each replica's own view,
        not the primary's list: that can lag a gossip round behind (6.2, right after the lab formed)."""
        found = []
        for node in self.nodes:
            if node.paused or not self.is_running(node) or node.node_id in primary_ids:
                continue
            with self.client(node, timeout=1.0) as c:
                text = str(c.execute_command("CLUSTER", "NODES"))
            myself = next((e for e in parse_cluster_nodes(text).value if e.is_myself), None)
            if myself is not None and myself.primary_id in primary_ids:
                found.append(node)
        return found

    def slot_owner(self, slot: int) -> LabNode:
        """The node that owns `slot`, as the first answering node's CLUSTER SLOTS says."""
        for node in self.nodes:
            if node.paused or not self.is_running(node):
                continue
            try:
                with self.client(node, timeout=1.0) as c:
                    owner = owner_in_view(c, slot)
                if owner is not None:
                    return self._by_id(owner)
            except (TransportError, OSError):
                continue
        raise LabError(f"no running node knows an owner for slot {slot}")

    def _by_id(self, node_id: str) -> LabNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise LabError(f"node id {node_id} is not one of this lab's nodes")

    def domains(self, level: str = "host") -> dict[str, str]:
        """address -> failure-domain label, the input of `diagnose --domains`."""
        if level not in ("host", "zone"):
            raise LabError(f"unknown failure-domain level {level!r} (host or zone)")
        return {n.address: (n.host if level == "host" else n.zone) for n in self.nodes}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.state.name,
            "dir": self.state.root,
            "redis_server": self.state.binary,
            "server": self.identity.name,
            "version": self.state.version,
            "node_timeout_ms": self.state.node_timeout_ms,
            "tls": self.options.ca_file if self.state.tls_dir else None,
            "nodes": [
                {
                    "name": n.name,
                    "address": n.address,
                    "pid": n.pid,
                    "running": self.is_running(n),
                    "paused": n.paused,
                    "role_at_create": n.role,
                    "shard": n.shard,
                    "host": n.host,
                    "zone": n.zone,
                    "node_id": n.node_id,
                }
                for n in self.nodes
            ],
            "faults": self.state.faults,
        }


@contextlib.contextmanager
def temporary_lab(
    spec: LabSpec, name: str, redis_server: str | None = None, log: Callable[[str], None] = lambda _: None
) -> Iterator[Lab]:
    """A lab in a new temporary directory for one run (the demo, the rehearsals): stopped and removed at the
    end, however the run ends."""
    root = Path(tempfile.mkdtemp(prefix=f"rcdoctor-{name}-"))
    lab = None
    try:
        lab = Lab.up(spec, name=name, directory=root / "lab", redis_server=redis_server, log=log)
        yield lab
    finally:
        if lab is not None:
            lab.down()
        shutil.rmtree(root, ignore_errors=True)


def split_slots(primaries: int) -> list[tuple[int, int]]:
    """Contiguous, near-equal slot ranges, one per primary (the split redis-cli uses)."""
    per = SLOT_COUNT / primaries
    ranges = []
    first = 0
    cursor = 0.0
    for index in range(primaries):
        last = SLOT_COUNT - 1 if index == primaries - 1 else round(cursor + per - 1)
        ranges.append((first, last))
        first = last + 1
        cursor += per
    return ranges


def slot_map(c: NodeClient) -> tuple[tuple[SlotRange, str | None], ...]:
    """This node's CLUSTER SLOTS as (range, owner id) pairs, through the model's parser."""
    entries = parse_cluster_slots(c.execute_command("CLUSTER", "SLOTS")).value
    return tuple(sorted((e.range, e.primary.node_id) for e in entries))


def owner_in_view(c: NodeClient, slot: int) -> str | None:
    """The id of the node owning `slot` in this node's view, or None when the slot is uncovered there."""
    return next((owner for r, owner in slot_map(c) if r.start <= slot <= r.end), None)


def add_slots(c: NodeClient, first: int, last: int, version: tuple[int, ...]) -> None:
    if version >= (7, 0):
        c.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
    else:
        c.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))


def _view_is_clean(nodes_text: str) -> bool:
    for entry in parse_cluster_nodes(nodes_text).value:
        if entry.flags & {"fail?", "fail", "handshake", "noaddr"}:
            return False
        if not entry.is_myself and entry.link_state != "connected":
            return False
    return True


def _roles(nodes_text: str) -> frozenset[tuple[str, str]]:
    """(node id, its primary's id or "-") for every node in one CLUSTER NODES text."""
    return frozenset((e.id, e.primary_id or "-") for e in parse_cluster_nodes(nodes_text).value)


def _known_nodes(c: NodeClient) -> int:
    view = parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES")))
    if view.errors or any("handshake" in e.flags for e in view.value):
        return -1  # not settled (or a line we cannot read): not a count to trust
    return len(view.value)


def _replicate(c: NodeClient, primary_id: str | None) -> bool:
    c.execute_command("CLUSTER", "REPLICATE", primary_id)
    return True


def _ip(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise LabError(f"{text!r} is not an IPv4 address") from None


def _spread(shard: int, rank: int, domains: int) -> int:
    """Failure domain of member `rank` of a shard (0 = its primary): replicas cycle through the domains
    other than their primary's, so none shares it while there are at least two."""
    home = shard % domains
    if rank == 0 or domains == 1:
        return home
    return (home + 1 + (rank - 1) % (domains - 1)) % domains


def _plan_nodes(spec: LabSpec, root: Path) -> list[LabNode]:
    """Nodes n1..nP are primaries; then each primary's replicas. Labels follow `placement`."""
    base = _ip(spec.base_ip)
    total = spec.primaries * (1 + spec.replicas)
    hosts = spec.hosts or total
    members: list[tuple[str, int, int]] = [("primary", shard, 0) for shard in range(spec.primaries)]
    members += [("replica", shard, r + 1) for shard in range(spec.primaries) for r in range(spec.replicas)]
    nodes = []
    for index, (role, shard, rank) in enumerate(members):
        ip = base + index
        if not ip.is_loopback:
            raise LabError(f"{ip} is outside 127.0.0.0/8: choose a lower --base-ip")
        if spec.placement == "colocated":
            host_index, zone_index = shard % hosts, shard % spec.zones
        else:
            host_index = index if spec.hosts is None else _spread(shard, rank, hosts)
            zone_index = _spread(shard, rank, spec.zones)
        name = f"n{index + 1}"
        nodes.append(
            LabNode(
                name=name,
                ip=str(ip),
                port=spec.port,
                dir=str(root / name),
                host=f"host-{host_index + 1}",
                zone=f"zone-{zone_index + 1}",
                role=role,
                shard=shard,
            )
        )
    return nodes
