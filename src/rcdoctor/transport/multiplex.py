"""Many node conversations at once from one thread: non-blocking sockets under one selector.

A conversation is a generator that yields what it needs (`Lookup` a name, `Dial` a node, `Ask` it a
pipeline of commands, `Knock` on a port) and is sent each result; the logic of a sample stays a plain
sequence of steps (collect/conversation.py) while all waiting happens here. A failure of a `Dial` or an
`Ask` is thrown into the generator as `Broken`, with what had arrived.

Why not a thread per node: on a 60-node cluster the threads' start-up and their contention for the
interpreter lock cost more CPU than the whole exchange with the servers, and a scrape of the exporter
waited behind them. One thread, one selector: the CPU left is parsing.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from rcdoctor.model.address import Endpoint
from rcdoctor.model.snapshot import PortCheck
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.ports import knock_failure, resolve
from rcdoctor.transport.resp import Command, ProtocolViolation, pack, reader

if TYPE_CHECKING:
    import ssl
    from concurrent.futures import Future, ThreadPoolExecutor


@dataclass(frozen=True)
class Lookup:
    """Resolve a host name (in a helper thread: getaddrinfo blocks). Result: (addresses, None) or
    (None, reason)."""

    host: str


@dataclass(frozen=True)
class Dial:
    """Open a connection that will speak RESP: TCP, then TLS when the options say so. Result: the TCP
    connect's latency in ms. `server_name`: the TLS SNI when dialling an IP that came from a name."""

    endpoint: Endpoint
    timeout: float
    server_name: str | None = None


@dataclass(frozen=True)
class Ask:
    """Send every command in one write on the dialled connection, read one reply each. Result: Answers."""

    commands: tuple[Command, ...]
    timeout: float


@dataclass(frozen=True)
class Knock:
    """A TCP connect, closed at once (is this port reachable from here?). Result: a PortCheck; never fails."""

    endpoint: Endpoint
    timeout: float


Request = Lookup | Dial | Ask | Knock
Conversation = Generator[Request, Any, Any]


@dataclass(frozen=True)
class Answers:
    """The replies of an Ask in order (error replies as ReplyError values), and when each arrived."""

    replies: list[Any]
    sent_at: float  # time.perf_counter() when the write was made
    arrived: list[float]


class Broken(Exception):
    """A Dial or an Ask that failed: `cause` says how; `probe` is the TCP connect's own verdict (ok when
    the port accepted and what failed came later); `partial` the replies that had arrived."""

    def __init__(self, cause: BaseException, probe: PortCheck, connecting: bool, partial: list[Any]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.probe = probe
        self.connecting = connecting
        self.partial = partial


DEADLINE_PROBE = PortCheck(False, None, "not probed: the collection deadline ran out", "deadline")
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


@dataclass(eq=False)
class _Task:
    key: Hashable
    conversation: Conversation
    request: Request | None = None
    sock: socket.socket | None = None  # the dialled connection
    knock: socket.socket | None = None
    phase: str = "idle"  # connect / handshake / send / recv / knock / lookup
    started: float = 0.0
    connected_ms: float | None = None
    out: bytes = b""
    parser: Any = None
    expected: int = 0
    sent_at: float = 0.0
    replies: list[Any] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    timer: int = 0  # which timer entry is current (older ones in the heap are stale)
    registered: socket.socket | None = None


class _NeverRaised(Exception):
    """Stands for ssl's exceptions while no TLS socket exists."""


# ssl's names as the loop uses them, for a collection without TLS: no socket can raise them, and importing
# ssl (with its certificate store) is a tenth of a diagnose's start-up.
_PLAIN = SimpleNamespace(
    SSLWantReadError=_NeverRaised,
    SSLWantWriteError=_NeverRaised,
    SSLZeroReturnError=_NeverRaised,
    SSLEOFError=_NeverRaised,
    SSLSocket=type("_NoSSLSocket", (), {}),
)


class Multiplexer:
    """Runs conversations, at most `limit` at once (each holds at most two sockets)."""

    def __init__(self, options: ConnectOptions, limit: int = 256) -> None:
        self.options = options
        self.limit = max(1, limit)
        self._selector = selectors.DefaultSelector()
        self._queued: deque[_Task] = deque()
        self._running: set[_Task] = set()
        self._timers: list[tuple[float, int, int, _Task]] = []
        self._sequence = itertools.count()
        self._results: dict[Hashable, Any] = {}
        self._finished: Callable[[Hashable, Any], None] | None = None
        self._tls: ssl.SSLContext | None = None
        self._ssl: Any = _PLAIN
        if options.tls:
            import ssl

            self._ssl = ssl
        self._lookups: ThreadPoolExecutor | None = None
        self._resolved: deque[tuple[_Task, Any]] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, _READ, None)

    # -- driving ---------------------------------------------------------------------------------

    def start(self, key: Hashable, conversation: Conversation) -> None:
        # Queued, begun by the loop: a conversation that ends at once (a refused port) must not start
        # the next from inside its own call stack, which would nest one frame chain per node.
        self._queued.append(_Task(key, conversation))

    def run(self, deadline: float, finished: Callable[[Hashable, Any], None]) -> set[Hashable]:
        """Drive every conversation until all have ended or `deadline` (time.monotonic()) passes; each
        one's return value goes to `finished(key, value)`, which may start more. Returns the keys of
        those still unfinished at the deadline (closed, their sockets too)."""
        self._finished = finished
        while True:
            while self._queued and len(self._running) < self.limit:
                self._begin(self._queued.popleft())
            if not self._running and not self._queued:
                break
            now = time.monotonic()
            if now >= deadline:
                break
            self._expire(now)
            wait = deadline - now
            if self._timers:
                wait = min(wait, max(0.0, self._timers[0][0] - now))
            for selected, events in self._selector.select(wait):
                task = selected.data
                if task is None:
                    self._drain_wakeups()
                else:
                    self._on_ready(task, events)
        unfinished = {t.key for t in (*self._running, *self._queued)}
        for task in list(self._running):
            self._close(task)
            task.conversation.close()
        self._running.clear()
        self._queued.clear()
        # Let go of every task (the stale timers hold them, with their replies) and of the caller's
        # callback: the caller usually holds this multiplexer, and the cycle would keep a whole
        # collection's replies for the cyclic GC, whose pass then froze an exporter's scrapes.
        self._timers.clear()
        self._finished = None
        return unfinished

    def close(self) -> None:
        for task in list(self._running):
            self._close(task)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        if self._lookups is not None:
            self._lookups.shutdown(wait=False, cancel_futures=True)

    def _begin(self, task: _Task) -> None:
        self._running.add(task)
        self._advance(task, None, None)

    def _advance(self, task: _Task, value: Any, error: BaseException | None) -> None:
        """Resume the conversation with a result (or a failure) and start what it asks for next."""
        try:
            request = task.conversation.throw(error) if error is not None else task.conversation.send(value)
        except StopIteration as stop:
            self._end(task, stop.value)
            return
        task.request = request
        if isinstance(request, Lookup):
            self._lookup(task, request)
        elif isinstance(request, Dial):
            self._dial(task, request)
        elif isinstance(request, Ask):
            self._ask(task, request)
        else:
            self._knock(task, request)

    def _end(self, task: _Task, value: Any) -> None:
        self._close(task)
        self._running.discard(task)
        if self._finished is not None:
            self._finished(task.key, value)

    # -- requests ----------------------------------------------------------------------------------

    def _lookup(self, task: _Task, request: Lookup) -> None:
        if self._lookups is None:
            from concurrent.futures import ThreadPoolExecutor

            self._lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rcdoctor-dns")
        task.phase = "lookup"
        future = self._lookups.submit(resolve, request.host)

        def done(f: Future[Any]) -> None:
            with self._lock:
                self._resolved.append((task, f.result()))
            with contextlib.suppress(OSError):  # closed: the run is over
                self._wake_w.send(b"\0")

        future.add_done_callback(done)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            with self._lock:
                if not self._resolved:
                    return
                task, result = self._resolved.popleft()
            if task in self._running and task.phase == "lookup":
                task.phase = "idle"
                self._advance(task, result, None)

    def _dial(self, task: _Task, request: Dial) -> None:
        if task.sock is not None:
            self._drop(task, task.sock)
            task.sock = None
        if request.timeout <= 0:
            self._advance(task, None, Broken(TimeoutError("collection deadline"), DEADLINE_PROBE, True, []))
            return
        task.connected_ms = None
        try:
            task.sock = self._connect(request.endpoint)
        except OSError as exc:
            self._advance(task, None, Broken(exc, knock_failure(exc, request.timeout), True, []))
            return
        task.phase, task.started = "connect", time.perf_counter()
        self._watch(task, task.sock, _WRITE, request.timeout)

    def _ask(self, task: _Task, request: Ask) -> None:
        if task.sock is None:
            raise RuntimeError("Ask before Dial")  # a bug in the conversation, not a node's failure
        task.parser = task.parser or reader()
        task.replies, task.arrived, task.expected = [], [], len(request.commands)
        if request.timeout <= 0:
            self._fail(task, TimeoutError("collection deadline reached while reading replies"))
            return
        task.out = pack(request.commands)
        task.sent_at = time.perf_counter()
        task.phase = "send"
        self._watch(task, task.sock, _WRITE, request.timeout)
        self._on_ready(task, _WRITE)

    def _knock(self, task: _Task, request: Knock) -> None:
        if request.timeout <= 0:
            self._advance(task, DEADLINE_PROBE, None)
            return
        try:
            task.knock = self._connect(request.endpoint)
        except OSError as exc:
            self._advance(task, knock_failure(exc, request.timeout), None)
            return
        task.phase, task.started = "knock", time.perf_counter()
        self._watch(task, task.knock, _WRITE, request.timeout)

    # -- events ------------------------------------------------------------------------------------

    def _on_ready(self, task: _Task, events: int) -> None:
        try:
            if task.phase == "knock":
                self._knocked(task)
            elif task.phase == "connect":
                self._connected(task)
            elif task.phase == "handshake":
                self._handshake(task)
            elif task.phase == "send":
                self._send(task)
            elif task.phase == "recv":
                self._receive(task)
        except (OSError, ProtocolViolation) as exc:
            if task.phase == "knock":
                self._knock_done(task, knock_failure(exc, self._timeout(task)))
            else:
                self._fail(task, exc)

    def _knocked(self, task: _Task) -> None:
        assert task.knock is not None
        code = task.knock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise _os_error(code)
        self._knock_done(task, PortCheck(True, round((time.perf_counter() - task.started) * 1000, 3)))

    def _knock_done(self, task: _Task, probe: PortCheck) -> None:
        if task.knock is not None:
            self._drop(task, task.knock)
            task.knock = None
        task.phase = "idle"
        self._advance(task, probe, None)

    def _connected(self, task: _Task) -> None:
        assert task.sock is not None
        code = task.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise _os_error(code)
        task.connected_ms = round((time.perf_counter() - task.started) * 1000, 3)
        task.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.options.tls:
            self._dialled(task)
            return
        request = task.request
        assert isinstance(request, Dial)
        plain = task.sock
        self._unwatch(task)
        task.sock = self._context().wrap_socket(
            plain, server_hostname=request.server_name or request.endpoint.host, do_handshake_on_connect=False
        )
        task.phase = "handshake"
        self._watch(task, task.sock, _WRITE, self._timeout(task))
        self._handshake(task)

    def _handshake(self, task: _Task) -> None:
        assert isinstance(task.sock, self._ssl.SSLSocket)
        try:
            task.sock.do_handshake()
        except self._ssl.SSLWantReadError:
            self._selector.modify(task.sock, _READ, task)
            return
        except self._ssl.SSLWantWriteError:
            self._selector.modify(task.sock, _WRITE, task)
            return
        self._dialled(task)

    def _dialled(self, task: _Task) -> None:
        self._unwatch(task)
        task.phase = "idle"
        self._advance(task, task.connected_ms, None)

    def _send(self, task: _Task) -> None:
        assert task.sock is not None
        while task.out:
            try:
                sent = task.sock.send(task.out)
            except (BlockingIOError, self._ssl.SSLWantWriteError):
                return
            except self._ssl.SSLWantReadError:
                self._selector.modify(task.sock, _READ, task)
                return
            task.out = task.out[sent:]
        task.phase = "recv"
        self._selector.modify(task.sock, _READ, task)

    def _receive(self, task: _Task) -> None:
        sock = task.sock
        assert sock is not None
        while True:
            try:
                data = sock.recv(262144)
            except (BlockingIOError, self._ssl.SSLWantReadError):
                return
            except self._ssl.SSLWantWriteError:
                self._selector.modify(sock, _WRITE, task)
                return
            except (self._ssl.SSLZeroReturnError, self._ssl.SSLEOFError):
                data = b""
            if not data:
                raise ConnectionError("Connection closed by server.")
            task.parser.feed(data)
            now = time.perf_counter()
            while True:
                reply = task.parser.gets()
                if reply is False:
                    break
                task.replies.append(reply)
                task.arrived.append(now)
            if len(task.replies) >= task.expected:
                answers = Answers(task.replies, task.sent_at, task.arrived)
                self._unwatch(task)
                task.phase = "idle"
                self._advance(task, answers, None)
                return
            if not isinstance(sock, self._ssl.SSLSocket) or not sock.pending():
                return

    def _fail(self, task: _Task, exc: BaseException) -> None:
        connecting = task.phase in ("connect", "handshake")
        probe = PortCheck(True, task.connected_ms) if task.connected_ms is not None else None
        if probe is None:
            probe = knock_failure(exc, self._timeout(task))
        partial = task.replies if task.phase in ("send", "recv") else []
        self._unwatch(task)
        if task.sock is not None:
            self._drop(task, task.sock)
            task.sock = None
        task.parser = None
        task.phase = "idle"
        self._advance(task, None, Broken(exc, probe, connecting, list(partial)))

    def _expire(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, timer, task = heapq.heappop(self._timers)
            if timer != task.timer or task not in self._running or task.phase in ("idle", "lookup"):
                continue
            if task.phase == "knock":
                self._knock_done(task, knock_failure(TimeoutError("timed out"), self._timeout(task)))
            else:
                self._fail(task, TimeoutError("timed out"))

    # -- sockets -----------------------------------------------------------------------------------

    def _connect(self, endpoint: Endpoint) -> socket.socket:
        family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((endpoint.host, endpoint.port))
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            raise _os_error(code)
        return sock

    def _watch(self, task: _Task, sock: socket.socket, events: int, timeout: float) -> None:
        if task.registered is sock:
            self._selector.modify(sock, events, task)
        else:
            if task.registered is not None:
                self._unwatch(task)
            self._selector.register(sock, events, task)
            task.registered = sock
        task.timer = next(self._sequence)
        heapq.heappush(self._timers, (time.monotonic() + timeout, task.timer, task.timer, task))

    def _unwatch(self, task: _Task) -> None:
        if task.registered is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(task.registered)
            task.registered = None

    def _drop(self, task: _Task, sock: socket.socket) -> None:
        if task.registered is sock:
            self._unwatch(task)
        sock.close()

    def _close(self, task: _Task) -> None:
        self._unwatch(task)
        for sock in (task.sock, task.knock):
            if sock is not None:
                sock.close()
        task.sock = task.knock = None

    def _timeout(self, task: _Task) -> float:
        request = task.request
        return request.timeout if isinstance(request, Dial | Ask | Knock) else self.options.timeout

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            options = self.options
            import ssl

            context = ssl.create_default_context(cafile=options.ca_file)
            context.check_hostname = False  # pods are dialled by IP; certificates name services
            context.verify_mode = ssl.CERT_REQUIRED if options.tls_verify else ssl.CERT_NONE
            if options.cert_file:
                context.load_cert_chain(options.cert_file, options.key_file)
            self._tls = context
        return self._tls


def _os_error(code: int) -> OSError:
    if code == errno.ECONNREFUSED:
        return ConnectionRefusedError(code, os.strerror(code))
    if code == errno.ETIMEDOUT:
        return TimeoutError(code, os.strerror(code))
    return OSError(code, os.strerror(code))
