"""The exporter process: collect and analyze on a timer in the background, serve the last result over HTTP.

A scrape never waits for a node: it renders what the last finished collection found, so its duration does
not depend on hung or unreachable nodes (each collection is itself bounded by the collector's deadline,
timeout + grace). `rcdoctor_collection_age_seconds` tells how old that result is.

Endpoints: /metrics (Prometheus text format), /healthz (the exporter itself, never the cluster: a failing
cluster must not get its exporter restarted), /sd (Prometheus HTTP service discovery: one target per node).
"""

from __future__ import annotations

import gc
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.collect import collect
from rcdoctor.collect.sources import file_seeds
from rcdoctor.errors import DoctorError, UsageError
from rcdoctor.exporter.metrics import CollectionStats, families
from rcdoctor.exporter.targets import sd_groups
from rcdoctor.model.address import Seed, parse_seed
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.sources import failure_domains
from rcdoctor.model.view import AnalysisSettings, ClusterView
from rcdoctor.transport.options import ConnectOptions

Clock = Callable[[], float]


@dataclass(frozen=True)
class Rendered:
    text: bytes  # the collection's metrics in the text format, rendered once: a scrape only sends them
    sd: tuple[dict[str, object], ...]
    answered: tuple[str, ...]  # addresses that answered: next collection's extra seeds


def read_seeds_file(path: str) -> list[Seed]:
    """One seed per line (blank lines and # comments ignored), e.g. kept current by a sidecar; each line
    is any seed (address, DNS name, k8s:…), expanded by the collector like a command-line seed."""
    try:
        return file_seeds(path)
    except DoctorError as exc:  # named by the option the user gave
        raise UsageError(str(exc).replace("seeds file", "--seeds-file", 1)) from None


class Exporter:
    def __init__(
        self,
        seeds: Sequence[Seed],
        options: ConnectOptions,
        *,
        interval: float,
        settings: AnalysisSettings | None = None,
        seeds_file: str | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.seeds = tuple(seeds)
        self.options = options
        self.interval = interval
        self.settings = settings or AnalysisSettings()
        self.seeds_file = seeds_file
        self.clock = clock
        self.registry = default_registry()
        self.stats = CollectionStats()
        self.result: Rendered | None = None
        self.error: str | None = None  # why the last refresh failed, for /healthz and the log
        # What this refresh saw when some node answered (else None): the autopilot decides from it
        self.observed: tuple[Snapshot, Report] | None = None
        # The exporter process' own CPU, memory and fds, rendered with each collection.
        self._process = CollectorRegistry(auto_describe=False)
        ProcessCollector(namespace="rcdoctor_exporter", registry=self._process)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # One refresh: seeds, collect, analyze, render to metric families.

    def current_seeds(self) -> list[Seed]:
        found: dict[str, Seed] = {}
        # The file as an @FILE seed: the collector reads it at each collection, through the same expansion
        # as every seed (DNS names, k8s: selectors), and records it among the snapshot's sources.
        extra = [parse_seed(f"@{self.seeds_file}")] if self.seeds_file else []
        previous = [parse_seed(a) for a in self.result.answered] if self.result else []
        for seed in [*self.seeds, *extra, *previous]:
            found.setdefault(str(seed.endpoint), seed)
        return list(found.values())

    def refresh(self) -> None:
        started = self.clock()
        result: Rendered | None
        self.observed = None
        try:
            snapshot = collect(self.current_seeds(), self.options)
            settings = self.settings
            if not settings.domains:  # no --domains: the k8s sources' zones, followed at each collection
                settings = replace(settings, domains=failure_domains(settings.domains, snapshot.sources))
            report = analyze(snapshot, self.registry, settings=settings)
            ctx = ClusterView(snapshot, settings)
            ok = bool(snapshot.answered)
            now = self.clock()
            stats = replace(
                self.stats,
                collections_ok=self.stats.collections_ok + ok,
                collections_failed=self.stats.collections_failed + (not ok),
                last_success_unix=now if ok else self.stats.last_success_unix,
                last_attempt_unix=now,
                last_duration_s=now - started,
            )
            result = Rendered(
                render(families(report, ctx, stats)) + generate_latest(self._process),
                tuple(sd_groups(ctx)),
                tuple(s.address for s in snapshot.answered),
            )
            error = None if ok else "no node answered"
            self.observed = (snapshot, report) if ok else None
        except Exception as exc:  # a bug or a bad seeds file must not stop the exporter: keep serving
            now = self.clock()
            stats = replace(
                self.stats,
                collections_failed=self.stats.collections_failed + 1,
                last_attempt_unix=now,
                last_duration_s=now - started,
            )
            result = self.result
            error = f"{type(exc).__name__}: {exc}"
            print(f"rcdoctor exporter: collection failed: {error}", file=sys.stderr, flush=True)
        with self._lock:
            self.stats, self.result, self.error = stats, result, error

    # What a subclass (the autopilot) adds to the pages

    def extra_metrics(self) -> bytes:
        """More metrics in the text format, rendered at scrape time (cheap: no I/O)."""
        return b""

    def routes(self) -> dict[str, Callable[[], tuple[int, str, bytes]]]:
        """More GET endpoints: path -> () -> (status, content type, body)."""
        return {}

    # The loop

    def start(self) -> None:
        # A scrape is a few dozen short steps in the HTTP thread, each waiting for the interpreter lock
        # while a collection parses; at Python's default 5 ms switch interval a 200-node collection made
        # the p99 scrape wait 200 ms. 1 ms costs the collection about nothing (measured: bench/exporter.py).
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        # A full pass of the cyclic GC holds the lock for as long as it walks every tracked object, and
        # what the imports made (two thirds of them, alive until exit) was walked on every pass: 20 ms at
        # 60 nodes. Frozen here, a pass walks only the last collection's objects (6 ms).
        gc.collect()
        gc.freeze()
        self._thread = threading.Thread(target=self._loop, name="rcdoctor-exporter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the loop after the collection under way, without waiting for it: a collection lasts until
        its deadline (timeout + grace) when a node hangs, and the thread (a daemon) holds nothing to close."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.refresh()
            self._stop.wait(max(0.0, self.next_interval() - (time.monotonic() - began)))

    def next_interval(self) -> float:
        """Seconds from the start of this refresh to the start of the next (a subclass may hurry it)."""
        return self.interval

    # What the HTTP handler reads

    def snapshot_state(self) -> tuple[CollectionStats, Rendered | None, str | None]:
        with self._lock:
            return self.stats, self.result, self.error

    def health(self) -> tuple[bool, str]:
        stats, _, error = self.snapshot_state()
        alive = self._thread is not None and self._thread.is_alive()
        # A collection lasts at most timeout + grace; allow three intervals on top before calling it stuck.
        limit = 3 * self.interval + 2 * self.options.timeout + 5
        if not alive:
            return False, "collection loop is not running"
        if stats.last_attempt_unix is None:
            return True, "starting: first collection under way"
        age = self.clock() - stats.last_attempt_unix
        if age > limit:
            return False, f"no collection finished for {age:.0f}s (limit {limit:.0f}s)"
        if error:
            return True, f"ok (exporter); last collection: {error}"
        return True, f"ok; last collection {age:.1f}s ago, {stats.last_duration_s or 0:.2f}s long"


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def render(metrics: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    return generate_latest(registry)


AGE_HELP = (
    b"# HELP rcdoctor_collection_age_seconds Seconds since the last collection where some node answered.\n"
    b"# TYPE rcdoctor_collection_age_seconds gauge\n"
)


def page(exporter: Exporter) -> bytes:
    """A scrape: bytes rendered at the end of the last collection plus one line for their age. Nothing here
    blocks or loops over metrics, so a scrape is served between two slices of a busy collection's GIL time."""
    stats, result, _ = exporter.snapshot_state()
    if result is None:
        return exporter.extra_metrics()
    age = b""
    if stats.last_success_unix is not None:
        age = AGE_HELP + b"rcdoctor_collection_age_seconds %.3f\n" % max(
            0.0, exporter.clock() - stats.last_success_unix
        )
    return result.text + age + exporter.extra_metrics()


def handler_for(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rcdoctor-exporter"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            extra = exporter.routes()
            if path in extra:
                self._send(*extra[path]())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, page(exporter))
            elif path == "/healthz":
                ok, text = exporter.health()
                self._send(200 if ok else 503, "text/plain; charset=utf-8", (text + "\n").encode())
            elif path == "/sd":
                _, result, _ = exporter.snapshot_state()
                body = json.dumps(list(result.sd) if result else []).encode()
                self._send(200, "application/json", body)
            elif path == "/":
                index = "rcdoctor exporter: /metrics, /healthz, /sd (Prometheus HTTP service discovery)\n"
                self._send(200, "text/plain; charset=utf-8", index.encode())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per scrape every few seconds is noise; errors go through refresh()

    return Handler


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve(exporter: Exporter, host: str, port: int) -> ThreadingHTTPServer:
    """Bind (raises UsageError when the address is taken) and return the server; the caller runs it."""
    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    try:
        server = server_class((host, port), handler_for(exporter))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    return server


def render_once(exporter: Exporter) -> bytes:
    exporter.refresh()
    return page(exporter)
