"""A rehearsal client: writes keys from its own loopback IP, so a partition can put it on one side.

It speaks RESP over plain sockets (socket.create_connection binds the source address; redis-py has no
such option) and records every operation in the history with an honest outcome: `ok` for +OK, `fail` for
an error reply or a refused connection (nothing was applied), `unknown` when the request was sent and no
reply came in time (it may have been applied). It follows MOVED, and when its node stops answering it
asks the other nodes it can reach for the slot's owner (CLUSTER SLOTS), as a cluster client would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rcdoctor.model.cluster_slots import parse_cluster_slots
from rcdoctor.probe.resp import RespError, RespProtocolError, call
from rcdoctor.rehearsal.history import FAIL, OK, UNKNOWN, Op


@dataclass(frozen=True)
class Plan:
    name: str  # "a" or "b"
    source_ip: str
    keys: Sequence[str]  # its own keys, each written once, in order
    shared: Sequence[str]  # keys both clients overwrite (the seed's Key_A)
    shared_every: int = 10  # one shared write per this many writes


class Client:
    def __init__(
        self,
        plan: Plan,
        start_node: str,
        nodes: Sequence[str],
        slot: int,
        clock: Callable[[], float],
        timeout: float = 0.5,
        password: str | None = None,
        pace: float = 0.005,
    ) -> None:
        self.plan = plan
        self.target = start_node
        self.nodes = list(nodes)
        self.slot = slot
        self.clock = clock
        self.timeout = timeout
        self.password = password
        self.pace = pace
        self.ops: list[Op] = []
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rehearsal-{plan.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._close()

    # One write

    def _connect(self, address: str) -> socket.socket:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection(
            (host, int(port)), timeout=self.timeout, source_address=(self.plan.source_ip, 0)
        )
        if self.password is not None:
            call(sock, [("AUTH", self.password)])
        return sock

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def write(self, key: str, value: str) -> Op:
        start = self.clock()
        node = self.target
        try:
            if self._sock is None:
                self._sock = self._connect(node)
        except OSError as exc:
            self._close()
            self._rediscover()
            return Op(self.plan.name, "write", key, value, start, self.clock(), FAIL, node, f"connect: {exc}")
        try:
            reply = call(self._sock, [("SET", key, value)])[0]
        except (OSError, RespProtocolError) as exc:  # sent, no reply: maybe applied
            self._close()
            self._rediscover()
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Op(self.plan.name, "write", key, value, start, self.clock(), UNKNOWN, node, kind)
        end = self.clock()
        if isinstance(reply, RespError):
            if reply.code in ("MOVED", "ASK"):
                self.target = reply.message.split()[2]
                self._close()
            return Op(self.plan.name, "write", key, value, start, end, FAIL, node, reply.message)
        unsure = self._confirm()
        if unsure is not None:
            return Op(self.plan.name, "write", key, value, start, self.clock(), UNKNOWN, node, unsure)
        return Op(self.plan.name, "write", key, value, start, end, OK, node)

    def _confirm(self) -> str | None:
        """After a SET answered OK: None when that counts as acknowledged, else why it may not survive
        (a subclass asks for more, e.g. a replica's copy)."""
        return None

    def _rediscover(self) -> None:
        """Ask the nodes this client can reach who owns the slot now (short timeouts)."""
        for address in [a for a in self.nodes if a != self.target] + [self.target]:
            host, _, port = address.rpartition(":")
            try:
                with socket.create_connection(
                    (host, int(port)), timeout=self.timeout / 2, source_address=(self.plan.source_ip, 0)
                ) as sock:
                    commands: list[tuple[str, ...]] = [("AUTH", self.password)] if self.password else []
                    replies = call(sock, [*commands, ("CLUSTER", "SLOTS")])
            except (OSError, RespProtocolError):
                continue
            owner = _owner(replies[-1], self.slot)
            if owner is not None:
                self.target = owner
                return

    def _run(self) -> None:
        shared = list(self.plan.shared)
        for index, key in enumerate(self.plan.keys):
            if self._stop.is_set():
                return
            self.ops.append(self.write(key, f"{self.plan.name}-{index}"))
            if shared and index % self.plan.shared_every == 0:
                target = shared[(index // self.plan.shared_every) % len(shared)]
                self.ops.append(self.write(target, f"{self.plan.name}-{index}"))
            self._stop.wait(self.pace)


def _owner(reply: object, slot: int) -> str | None:
    """The slot's primary in a CLUSTER SLOTS reply read as bytes by our RESP client."""
    for entry in parse_cluster_slots(_text(reply)).value:
        if entry.range.start <= slot <= entry.range.end and entry.primary.endpoint is not None:
            return str(entry.primary.endpoint)
    return None


def _text(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def monotonic_clock(origin: float | None = None) -> Callable[[], float]:
    began = time.monotonic() if origin is None else origin
    return lambda: time.monotonic() - began
