"""What goes wrong when talking to a node, under rcdoctor's names, and its one mapping into error records
and the exception tree.

The names are redis-py's own classes (a client raises them; catching them here by another name is the
whole seam): TransportError is anything the client raises, ServerError an error reply (the command
reached the server), AskRedirect/MovedRedirect the cluster's redirections, ConnectionLost and ReplyTimeout
the socket's failures. `classify` turns any of them (and OSError, ssl, DNS) into a NodeError record that
never holds a secret; `error_for` into the DoctorError a caller raises when it cannot go on.
"""

from __future__ import annotations

import errno
import socket
import ssl

from redis import exceptions

from rcdoctor.errors import AuthError, ConnectError, NotClusterError, TLSError
from rcdoctor.model.snapshot import NodeError, Snapshot
from rcdoctor.transport.options import ConnectOptions

TransportError = exceptions.RedisError
ServerError = exceptions.ResponseError
AskRedirect = exceptions.AskError
MovedRedirect = exceptions.MovedError
ConnectionLost = exceptions.ConnectionError
ReplyTimeout = exceptions.TimeoutError
Loading = exceptions.BusyLoadingError
AuthFailed = exceptions.AuthenticationError


def classify(exc: BaseException) -> NodeError:
    """Map any failure of talking to a node to a NodeError. Never includes a secret."""
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, AuthFailed) or any(
        word in lowered for word in ("noauth", "wrongpass", "invalid password", "invalid username-password")
    ):
        return NodeError("auth", _auth_message(lowered))
    if "cluster support disabled" in lowered:
        return NodeError("not-cluster", "cluster support is disabled on this server (cluster-enabled no)")
    if isinstance(exc, Loading) or lowered.startswith("loading"):
        return NodeError("loading", "the server is loading its dataset into memory")
    if isinstance(exc, ssl.SSLError) or "ssl" in lowered or "tls" in lowered:
        return NodeError("tls", _tls_message(lowered, text))
    if isinstance(exc, socket.gaierror) or "name or service not known" in lowered:
        return NodeError("dns", "the host name does not resolve")
    if isinstance(exc, TimeoutError | socket.timeout | ReplyTimeout) or "timed out" in lowered:
        return NodeError("timeout", "no answer within the timeout (node down, paused or packets dropped)")
    if isinstance(exc, ConnectionRefusedError) or "refused" in lowered or f"{errno.ECONNREFUSED}" in text:
        return NodeError("refused", "connection refused: nothing listens at this address")
    if "closed by server" in lowered or "connection reset" in lowered:
        return NodeError("protocol", "the server closed the connection; if this port speaks TLS, use rediss://")
    if isinstance(exc, OSError | ConnectionLost):
        return NodeError("unreachable", _short(text))
    if isinstance(exc, ServerError):
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
