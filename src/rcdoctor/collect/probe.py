"""What the collector observes itself, without speaking Redis: TCP connects and DNS answers."""

from __future__ import annotations

import ipaddress
import socket
import time

from rcdoctor.model.address import Endpoint
from rcdoctor.model.snapshot import PortProbe


def tcp_probe(endpoint: Endpoint, timeout: float) -> PortProbe:
    """Open and close a TCP connection; report latency or why it failed."""
    if timeout <= 0:
        return PortProbe(False, None, "not probed: the collection deadline ran out")
    started = time.perf_counter()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            pass
    except TimeoutError:
        return PortProbe(False, None, f"timed out after {timeout:.1f}s")
    except ConnectionRefusedError:
        return PortProbe(False, None, "connection refused")
    except socket.gaierror:
        return PortProbe(False, None, "host name does not resolve")
    except OSError as exc:
        return PortProbe(False, None, exc.strerror or str(exc))
    return PortProbe(True, round((time.perf_counter() - started) * 1000, 3), None)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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
