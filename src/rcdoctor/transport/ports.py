"""What the collector observes itself, without speaking Redis: TCP connects and DNS answers."""

from __future__ import annotations

import socket
import time

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Endpoint, is_ip
from rcdoctor.model.snapshot import PortCheck
from rcdoctor.transport.failures import classify


def tcp_check(endpoint: Endpoint, timeout: float) -> PortCheck:
    """Open and close a TCP connection; report latency, or why it failed and what kind of failure it was."""
    if timeout <= 0:
        return PortCheck(False, None, "not probed: the collection deadline ran out", "deadline")
    started = time.perf_counter()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            pass
    except OSError as exc:
        return knock_failure(exc, timeout)
    return PortCheck(True, round((time.perf_counter() - started) * 1000, 3))


def knock_failure(exc: BaseException, timeout: float) -> PortCheck:
    """A TCP connect's failure as a PortCheck, the same for a blocking probe and the multiplexer's."""
    error = classify(exc)
    if error.kind == "timeout":  # no TCP answer at all: unlike a paused server, whose kernel accepts
        return PortCheck(
            False, None, f"TCP connect timed out after {timeout:.1f}s (host down or packets dropped)", "timeout"
        )
    return PortCheck(False, None, error.message, error.kind)


def resolve(host: str) -> tuple[tuple[str, ...] | None, str | None]:
    """(addresses, None) or (None, error). IP literals are returned as they are."""
    if is_ip(host):
        return (host,), None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return None, exc.strerror or "does not resolve"
    except UnicodeError:
        return None, "not a valid host name"
    return tuple(sorted({str(info[4][0]) for info in infos})), None


def meet_ip(host: str) -> str:
    """CLUSTER MEET takes an IP address only; a DNS name is resolved here, as the node would."""
    if is_ip(host):
        return host
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0])
    except (OSError, IndexError) as exc:
        raise UsageError(f"cannot resolve {host} for CLUSTER MEET: {exc}") from None
