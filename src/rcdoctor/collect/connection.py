"""Connections to one node: options, credentials, TLS, and the mapping of failures to error records.

Everything that can go wrong when talking to a node ends up as a `NodeError(kind, message)`; the
collector stores it as data, other callers raise the matching `ConnectError` subclass.
"""

from __future__ import annotations

import errno
import importlib.util
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from rcdoctor.errors import AuthError, ConnectError, NotClusterError, TLSError, UsageError
from rcdoctor.model.address import Endpoint, Secret, Seed
from rcdoctor.model.snapshot import NodeError, Snapshot

if TYPE_CHECKING:
    from redis.cluster import RedisCluster

DEFAULT_TIMEOUT = 3.0
# No CLIENT SETINFO: it costs two round trips per connection and redis-py reads its own package metadata
# for it each time (a third of a 60-node collection's CPU). The keyword changed in redis-py 7.
_NO_SETINFO: dict[str, Any] = (
    {"driver_info": None}
    if importlib.util.find_spec("redis.driver_info") is not None
    else {"lib_name": None, "lib_version": None}
)


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach every node of a cluster. The password is a Secret: it never prints."""

    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_verify: bool = True
    timeout: float = DEFAULT_TIMEOUT
    # IP -> the DNS name it was resolved from (a seed name): TLS to that IP keeps sending the name as SNI,
    # as it did when the name itself was dialled. Filled by the collector.
    server_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    kube_context: str | None = None  # kubectl --context for k8s: seeds (not a connection setting, but it
    # travels with the options so every re-collection lists the same cluster's pods)

    def with_seed(self, seed: Seed) -> ConnectOptions:
        """Take credentials and TLS from a URL seed where the options do not already set them."""
        return replace(
            self,
            username=self.username or seed.username,
            password=self.password or seed.password,
            tls=self.tls or seed.tls,
        )

    def connection_kwargs(self, endpoint: Endpoint, timeout: float | None = None) -> dict[str, Any]:
        limit = self.timeout if timeout is None else timeout
        kwargs: dict[str, Any] = {
            "host": endpoint.host,
            "port": endpoint.port,
            "username": self.username,
            "password": self.password.reveal() if self.password else None,
            "socket_timeout": limit,
            "socket_connect_timeout": limit,
            "decode_responses": True,
            "encoding_errors": "replace",
            # No client_name: redis-py would send CLIENT SETNAME while connecting and fail the connection
            # for an ACL user without it. open_connection names the connection when the user may.
            # No silent retries with backoff (redis-py's default): a dead node must cost one timeout.
            "retry": Retry(NoBackoff(), 0),
            **_NO_SETINFO,
        }
        if self.tls:
            kwargs.update(
                ssl_ca_certs=self.ca_file,
                ssl_certfile=self.cert_file,
                ssl_keyfile=self.key_file,
                ssl_cert_reqs="required" if self.tls_verify else "none",
                ssl_check_hostname=False,  # pods are dialed by IP; certificates name services
            )
        return kwargs


def open_connection(
    endpoint: Endpoint, options: ConnectOptions, timeout: float | None = None, named: bool = True
) -> Connection:
    """A connected, authenticated low-level connection (raises redis-py errors). `named=False`: no
    CLIENT SETNAME round trip while connecting (the collector sends it with its first commands)."""
    kwargs = options.connection_kwargs(endpoint, timeout)
    name = options.server_names.get(endpoint.host) if options.tls else None
    conn: Connection
    if name is not None:
        conn = _NamedSSLConnection(server_name=name, **kwargs)
    else:
        conn = (SSLConnection if options.tls else Connection)(**kwargs)
    conn.connect()
    if not named:
        return conn
    try:
        # Cosmetic (CLIENT LIST shows who we are): never a reason to fail a connection.
        conn.send_command("CLIENT", "SETNAME", "rcdoctor")
        conn.read_response()
    except redis.ResponseError:
        pass
    return conn


class _NamedSSLConnection(SSLConnection):
    """TLS to an IP with the DNS name it came from as SNI (redis-py takes SNI from the host it dials)."""

    def __init__(self, *, server_name: str, **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> Any:
        # The TCP connection to the IP is already made; only the handshake sees the name.
        dialled, self.host = self.host, self._server_name
        try:
            return super()._wrap_socket_with_ssl(sock)  # type: ignore[no-untyped-call]
        finally:
            self.host = dialled


def client(endpoint: Endpoint, options: ConnectOptions, timeout: float | None = None) -> redis.Redis:
    """A redis-py client for one node (for the lab and, later, the executor)."""
    kwargs = options.connection_kwargs(endpoint, timeout)
    if options.tls:
        kwargs["ssl"] = True
    return redis.Redis(**kwargs)


def classify(exc: BaseException) -> NodeError:
    """Map any failure of talking to a node to a NodeError. Never includes a secret."""
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, redis.AuthenticationError) or any(
        word in lowered for word in ("noauth", "wrongpass", "invalid password", "invalid username-password")
    ):
        return NodeError("auth", _auth_message(lowered))
    if "cluster support disabled" in lowered:
        return NodeError("not-cluster", "cluster support is disabled on this server (cluster-enabled no)")
    if isinstance(exc, redis.BusyLoadingError) or lowered.startswith("loading"):
        return NodeError("loading", "the server is loading its dataset into memory")
    if isinstance(exc, ssl.SSLError) or "ssl" in lowered or "tls" in lowered:
        return NodeError("tls", _tls_message(lowered, text))
    if isinstance(exc, socket.gaierror) or "name or service not known" in lowered:
        return NodeError("dns", "the host name does not resolve")
    if isinstance(exc, TimeoutError | socket.timeout | redis.TimeoutError) or "timed out" in lowered:
        return NodeError("timeout", "no answer within the timeout (node down, paused or packets dropped)")
    if isinstance(exc, ConnectionRefusedError) or "refused" in lowered or f"{errno.ECONNREFUSED}" in text:
        return NodeError("refused", "connection refused: nothing listens at this address")
    if "closed by server" in lowered or "connection reset" in lowered:
        return NodeError("protocol", "the server closed the connection; if this port speaks TLS, use rediss://")
    if isinstance(exc, OSError | redis.ConnectionError):
        return NodeError("unreachable", _short(text))
    if isinstance(exc, redis.ResponseError):
        return NodeError("error", _short(text))
    return NodeError("error", f"{type(exc).__name__}: {_short(text)}")


def classify_with(exc: BaseException, options: ConnectOptions, connecting: bool) -> NodeError:
    """classify(), sharpened by what we know of the attempt (credentials given? TLS handshake?)."""
    error = classify(exc)
    if error.kind == "auth" and options.password is None:
        return NodeError("auth", _auth_message("noauth"))
    if error.kind == "timeout" and options.tls and connecting:
        # A plain Redis port reads a TLS ClientHello as an inline command waiting for its newline:
        # the handshake never gets an answer.
        return NodeError(
            "tls",
            "TLS handshake got no answer within the timeout: a plain (non-TLS) port? "
            "use redis://, or the server is hung",
        )
    return error


def error_for(kind: str, message: str) -> ConnectError:
    """The typed DoctorError for a NodeError kind, when a caller cannot go on without that node."""
    classes: dict[str, type[ConnectError]] = {"auth": AuthError, "tls": TLSError, "not-cluster": NotClusterError}
    return classes.get(kind, ConnectError)(message)


def nothing_answered(snapshot: Snapshot, suffix: str = "") -> ConnectError:
    """One error for a collection where no node answered, typed by the first node's failure."""
    first = next((n for n in snapshot.nodes if n.error is not None), None)
    if first is None or first.error is None:
        return ConnectError(f"no node answered{suffix}")
    return error_for(first.error.kind, f"no node answered ({first.address}: {first.error.message}){suffix}")


def _tls_message(lowered: str, text: str) -> str:
    if "certificate verify failed" in lowered:
        reason = text.split("certificate verify failed:")[-1].split("(_ssl")[0].strip(" .")
        return f"TLS certificate not trusted ({reason}): pass the cluster's CA with --cacert (or --insecure)"
    if "wrong version number" in lowered or "record layer" in lowered or "unexpected eof" in lowered:
        return "TLS handshake failed: this port does not speak TLS (use redis://)"
    return f"TLS handshake failed ({_short(text)})"


def _auth_message(lowered: str) -> str:
    if "noauth" in lowered or "authentication required" in lowered:
        return "the server requires a password (set REDISCLI_AUTH, --password-file or a redis:// URL)"
    if "without any password configured" in lowered or "no password is set" in lowered:
        return "a password was given but the server has none configured"
    return "the server refused the credentials (wrong user or password)"


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def cluster_client(endpoints: Sequence[Endpoint], options: ConnectOptions, decode: bool = False) -> RedisCluster:
    """A redis-py cluster client over `endpoints` with our credentials, TLS and timeouts (replies as bytes
    unless `decode`)."""
    from redis.cluster import ClusterNode, RedisCluster

    if not endpoints:
        raise UsageError("no node to start a cluster client from")
    kwargs = options.connection_kwargs(endpoints[0])
    for name in ("host", "port", "decode_responses", "encoding_errors", "client_name", "retry"):
        kwargs.pop(name, None)
    nodes = [ClusterNode(e.host, e.port) for e in endpoints]
    return RedisCluster(startup_nodes=nodes, decode_responses=decode, **kwargs)
