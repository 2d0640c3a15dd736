"""A minimal RESP2 client over one socket, for the Kubernetes probes.

Probes run every few seconds on every pod, so they must start fast: this avoids importing redis-py
(and Click, Rich) entirely. Error replies are returned as `RespError` values, never raised; a broken or
non-RESP answer raises `RespProtocolError`.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import BinaryIO

Reply = "bytes | int | None | list[Reply] | RespError"


@dataclass(frozen=True)
class RespError:
    message: str

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class RespProtocolError(Exception):
    """The peer answered something that is not RESP (or closed the connection)."""


class RespTLSError(OSError):
    """The TLS handshake failed (a plain port, a certificate not trusted, …)."""


@dataclass(frozen=True)
class TLSOptions:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True


def connect(host: str, port: int, timeout: float, tls: TLSOptions | None = None) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls is None:
        return sock
    import ssl  # only with TLS: it is a fifth of a plain probe's import time

    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
        if not tls.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if tls.cert_file:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        return context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLError as exc:
        sock.close()
        raise RespTLSError(str(exc.reason or exc)) from None


def pack(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream: BinaryIO) -> object:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise RespProtocolError("connection closed" if not line else f"not a Redis reply: {line[:40]!r}")
    kind, body = line[:1], line[1:-2]
    try:
        if kind == b"+":
            return body
        if kind == b"-":
            return RespError(body.decode("utf-8", "replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = stream.read(size + 2)
            if len(data) != size + 2:
                raise RespProtocolError("connection closed in a reply")
            return data[:-2]
        if kind == b"*":
            count = int(body)
            return None if count < 0 else [read_reply(stream) for _ in range(count)]
    except ValueError:
        pass
    raise RespProtocolError(f"not a Redis reply: {line[:40]!r}")


def call(sock: socket.socket, commands: list[tuple[str, ...]]) -> list[object]:
    """Send the commands in one write and read one reply each."""
    sock.sendall(b"".join(pack(*c) for c in commands))
    stream = sock.makefile("rb")
    try:
        return [read_reply(stream) for _ in commands]
    finally:
        stream.close()
