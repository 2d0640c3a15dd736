"""Every redis-py client rcdoctor opens, built from ConnectOptions: one node (`node_client`), a raw
connection for pipelines of our own (`open_connection`), a cluster client (`cluster_client`).

The rest of rcdoctor holds these through this module's types (NodeClient, ClusterClient, RawConnection),
never redis-py itself, and every exception a client raises comes out as rcdoctor's own
(`transport/errors.translate`): `call` sends any command, `pipeline` queues several, `close` ends it;
redis-py's command helpers (`info`, `config_get`…) are passed through, translated the same way.
"""

from __future__ import annotations

import functools
import importlib.util
import socket
from collections.abc import Sequence
from typing import Any, Self

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Endpoint
from rcdoctor.transport.errors import FOREIGN, translate, translated
from rcdoctor.transport.options import ConnectOptions


class _Translating:
    """A redis-py object whose every call raises rcdoctor's exceptions, never redis-py's.

    A method is wrapped once, on first use, and kept on the instance: hot paths (a reply read per key)
    pay one try block per call, nothing more."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if not callable(found):
            return found
        inner = self._inner

        @functools.wraps(found)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = found(*args, **kwargs)
            except FOREIGN as exc:
                raise translate(exc) from exc
            return self if result is inner else result  # a chained helper (pipe.get(a).get(b)) stays ours

        setattr(self, name, call)
        return call


class Pipeline(_Translating):
    """Commands queued, sent at once by `execute`; an error reply in the results is rcdoctor's too."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        with translated():
            replies = self._inner.execute(raise_on_error=raise_on_error)
        return [translate(r) if isinstance(r, BaseException) else r for r in replies]

    def __len__(self) -> int:
        return len(self._inner)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        with translated():
            self._inner.reset()


class _Client(_Translating):
    def call(self, *command: Any) -> Any:
        """One command, its reply."""
        with translated():
            return self._inner.execute_command(*command)

    def execute_command(self, *command: Any, **options: Any) -> Any:
        with translated():
            return self._inner.execute_command(*command, **options)

    def pipeline(self, **options: Any) -> Pipeline:
        return Pipeline(self._inner.pipeline(**options))

    def close(self) -> None:
        with translated():
            self._inner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RawConnection(_Translating):
    """One socket: commands packed and sent by us (`send_packed_command`), replies read one by one
    (`read_response`, bytes when asked); an error reply is raised as a ServerError."""

    def read_response(self, disable_decoding: bool = False, disconnect_on_error: bool = True) -> Any:
        try:
            return self._inner.read_response(disable_decoding=disable_decoding, disconnect_on_error=disconnect_on_error)
        except FOREIGN as exc:
            raise translate(exc) from exc

    def send_packed_command(self, command: Any) -> None:
        try:
            self._inner.send_packed_command(command)
        except FOREIGN as exc:
            raise translate(exc) from exc

    def pack_commands(self, commands: list[Any]) -> list[bytes]:
        packed: list[bytes] = self._inner.pack_commands(commands)
        return packed


class NodeClient(_Client):
    """One node: commands and pipelines, replies decoded."""


class ClusterClient(_Client):
    """Slot-routing, as an application's client is."""


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
    """A connected, authenticated low-level connection. `named=False`: no CLIENT SETNAME round trip while
    connecting (the collector sends it with its first commands)."""
    kwargs = connection_kwargs(options, endpoint, timeout)
    name = options.server_names.get(endpoint.host) if options.tls else None
    conn: Connection
    if name is not None:
        conn = _NamedSSLConnection(server_name=name, **kwargs)
    else:
        conn = (SSLConnection if options.tls else Connection)(**kwargs)
    with translated():
        conn.connect()
    if not named:
        return RawConnection(conn)
    try:
        # Cosmetic (CLIENT LIST shows who we are): never a reason to fail a connection.
        conn.send_command("CLIENT", "SETNAME", "rcdoctor")
        conn.read_response()
    except redis.ResponseError:
        pass
    except redis.RedisError as exc:
        raise translate(exc) from exc
    return RawConnection(conn)


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
    return NodeClient(redis.Redis(**kwargs))


def cluster_client(endpoints: Sequence[Endpoint], options: ConnectOptions, decode: bool = False) -> ClusterClient:
    """A redis-py cluster client over `endpoints` with our credentials, TLS and timeouts (replies as bytes
    unless `decode`)."""
    if not endpoints:
        raise UsageError("no node to start a cluster client from")
    kwargs = connection_kwargs(options, endpoints[0])
    for name in ("host", "port", "decode_responses", "encoding_errors", "client_name", "retry"):
        kwargs.pop(name, None)
    nodes = [ClusterNode(e.host, e.port) for e in endpoints]
    with translated():
        return ClusterClient(RedisCluster(startup_nodes=nodes, decode_responses=decode, **kwargs))


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
    with translated():
        return ClusterClient(
            RedisCluster(startup_nodes=[ClusterNode(host, int(port)) for host, port in startup], **settings)
        )
