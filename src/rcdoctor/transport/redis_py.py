"""Every redis-py client rcdoctor opens, built from ConnectOptions: one node (`node_client`), a raw
connection for pipelines of our own (`open_connection`), a cluster client (`cluster_client`).

The rest of rcdoctor names these types through this module (NodeClient, RawConnection, ClusterClient),
never redis-py itself.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Endpoint
from rcdoctor.transport.options import ConnectOptions

NodeClient = redis.Redis  # one node: commands, pipelines, decoded replies
RawConnection = Connection  # one socket: send_packed_command / read_response, replies as bytes
ClusterClient = RedisCluster  # slot-routing client, as an application uses

# No CLIENT SETINFO: it costs two round trips per connection and redis-py reads its own package metadata
# for it each time (a third of a 60-node collection's CPU). The keyword changed in redis-py 7.
_NO_SETINFO: dict[str, Any] = (
    {"driver_info": None}
    if importlib.util.find_spec("redis.driver_info") is not None
    else {"lib_name": None, "lib_version": None}
)


def connection_kwargs(options: ConnectOptions, endpoint: Endpoint, timeout: float | None = None) -> dict[str, Any]:
    limit = options.timeout if timeout is None else timeout
    kwargs: dict[str, Any] = {
        "host": endpoint.host,
        "port": endpoint.port,
        "username": options.username,
        "password": options.password.reveal() if options.password else None,
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
    if options.tls:
        kwargs.update(
            ssl_ca_certs=options.ca_file,
            ssl_certfile=options.cert_file,
            ssl_keyfile=options.key_file,
            ssl_cert_reqs="required" if options.tls_verify else "none",
            ssl_check_hostname=False,  # pods are dialed by IP; certificates name services
        )
    return kwargs


def open_connection(
    endpoint: Endpoint, options: ConnectOptions, timeout: float | None = None, named: bool = True
) -> RawConnection:
    """A connected, authenticated low-level connection (raises redis-py errors). `named=False`: no
    CLIENT SETNAME round trip while connecting (the collector sends it with its first commands)."""
    kwargs = connection_kwargs(options, endpoint, timeout)
    name = options.server_names.get(endpoint.host) if options.tls else None
    conn: RawConnection
    if name is not None:
        conn = _NamedSSLConnection(server_name=name, **kwargs)
    else:
        conn = (SSLConnection if options.tls else RawConnection)(**kwargs)
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


def node_client(endpoint: Endpoint, options: ConnectOptions, timeout: float | None = None) -> NodeClient:
    """A redis-py client for one node."""
    kwargs = connection_kwargs(options, endpoint, timeout)
    if options.tls:
        kwargs["ssl"] = True
    return NodeClient(**kwargs)


def cluster_client(endpoints: Sequence[Endpoint], options: ConnectOptions, decode: bool = False) -> ClusterClient:
    """A redis-py cluster client over `endpoints` with our credentials, TLS and timeouts (replies as bytes
    unless `decode`)."""
    if not endpoints:
        raise UsageError("no node to start a cluster client from")
    kwargs = connection_kwargs(options, endpoints[0])
    for name in ("host", "port", "decode_responses", "encoding_errors", "client_name", "retry"):
        kwargs.pop(name, None)
    nodes = [ClusterNode(e.host, e.port) for e in endpoints]
    return ClusterClient(startup_nodes=nodes, decode_responses=decode, **kwargs)


def app_cluster_client(
    startup: Sequence[tuple[str, int]],
    *,
    decode: bool = False,
    password: str | None = None,
    timeout: float | None = None,
    connect_timeout: float | None = None,
) -> ClusterClient:
    """A cluster client built as an application builds one: redis-py's own defaults (its retries, no
    CLIENT SETINFO change), so the lab's traffic and the demo see what an application would see."""
    settings: dict[str, Any] = {"decode_responses": decode}
    if password is not None:
        settings["password"] = password
    if timeout is not None:
        settings["socket_timeout"] = timeout
    if connect_timeout is not None:
        settings["socket_connect_timeout"] = connect_timeout
    return ClusterClient(startup_nodes=[ClusterNode(host, int(port)) for host, port in startup], **settings)
