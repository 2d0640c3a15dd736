"""How a failure to talk to a node reads: one mapping of any exception (redis-py's, the socket's, ssl's,
DNS's) and of the server's error replies into NodeError records that never hold a secret.

Pure of redis-py on purpose: the collector speaks RESP itself (transport/resp.py) and must not load
redis-py to classify what went wrong. redis-py's exceptions are recognised by their class names, which
redis-py has kept since 3.0 (transport/errors.py names the classes themselves for code that catches them).
"""

from __future__ import annotations

import errno
import socket
import sys

from rcdoctor.errors import AuthError, ConnectError, NotClusterError, TLSError
from rcdoctor.model.snapshot import NodeError, Snapshot
from rcdoctor.transport.exceptions import TransportError, client_class_name
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.resp import ReplyError


def _redis_classes(exc: BaseException) -> frozenset[str]:
    """The names of the redis-py classes `exc` is an instance of, was translated from, or stands for
    (none for any other exception)."""
    if isinstance(exc, TransportError):
        origin = exc.origin()
        if origin is not None:
            return _redis_classes(origin)
        return frozenset(c.stands_for for c in type(exc).__mro__ if issubclass(c, TransportError))
    return frozenset(c.__name__ for c in type(exc).__mro__ if c.__module__.startswith("redis."))


def classify(exc: BaseException) -> NodeError:
    """Map any failure of talking to a node to a NodeError. Never includes a secret."""
    text = (reply_text(exc) if isinstance(exc, ReplyError) else str(exc)).strip() or type(exc).__name__
    lowered = text.lower()
    redis_classes = _redis_classes(exc)
    if "AuthenticationError" in redis_classes or any(
        word in lowered for word in ("noauth", "wrongpass", "invalid password", "invalid username-password")
    ):
        return NodeError("auth", _auth_message(lowered))
    if "cluster support disabled" in lowered:
        return NodeError("not-cluster", "cluster support is disabled on this server (cluster-enabled no)")
    if "BusyLoadingError" in redis_classes or lowered.startswith("loading"):
        return NodeError("loading", "the server is loading its dataset into memory")
    if _is_ssl_error(exc) or "ssl" in lowered or "tls" in lowered:
        return NodeError("tls", _tls_message(lowered, text))
    if isinstance(exc, socket.gaierror) or "name or service not known" in lowered:
        return NodeError("dns", "the host name does not resolve")
    if isinstance(exc, TimeoutError | socket.timeout) or "TimeoutError" in redis_classes or "timed out" in lowered:
        return NodeError("timeout", "no answer within the timeout (node down, paused or packets dropped)")
    if isinstance(exc, ConnectionRefusedError) or "refused" in lowered or f"{errno.ECONNREFUSED}" in text:
        return NodeError("refused", "connection refused: nothing listens at this address")
    if "closed by server" in lowered or "connection reset" in lowered:
        return NodeError("protocol", "the server closed the connection; if this port speaks TLS, use rediss://")
    if isinstance(exc, OSError) or "ConnectionError" in redis_classes:
        return NodeError("unreachable", _short(text))
    if "ResponseError" in redis_classes or isinstance(exc, ReplyError):
        return NodeError("error", _short(text))
    return NodeError("error", f"{client_class_name(exc)}: {_short(text)}")


def _is_ssl_error(exc: BaseException) -> bool:
    # Without ssl imported no TLS was spoken, so no SSLError exists (its import is kept off start-up).
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(exc, ssl.SSLError)


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


# The codes redis-py takes off an error reply's text (its parse_error): the texts recorded in every
# snapshot so far read without them ("unknown subcommand ...", not "ERR unknown subcommand ..."), and
# checks and recorded scenarios read those texts.
_STRIPPED_CODES = frozenset(
    {"ERR", "OOM", "WRONGPASS", "EXECABORT", "LOADING", "NOSCRIPT", "READONLY", "NOAUTH", "NOPERM"}
    | {"ASK", "TRYAGAIN", "MOVED", "CLUSTERDOWN", "CROSSSLOT", "MASTERDOWN"}
)


def reply_text(reply: ReplyError) -> str:
    """An error reply's text as snapshots record it (see _STRIPPED_CODES)."""
    text = reply.message
    code, _, rest = text.partition(" ")
    return rest if code in _STRIPPED_CODES else text


def auth_refused(text: str) -> NodeError:
    """The server answered AUTH with an error."""
    return NodeError("auth", _auth_message(text.lower()))


def aborting_reply(reply: ReplyError) -> NodeError | None:
    """The node-level failure an error reply stands for, or None when it fails only its own command.

    The same replies a redis-py connection raises as connection errors: the server refusing us as a
    client (credentials, no room for one more client) or not serving yet (loading its dataset). What was
    answered before it is kept; what comes after it is not read.
    """
    text = reply.message
    lowered = text.lower()
    code = text.split(" ", 1)[0]
    if code in ("NOAUTH", "WRONGPASS") or "invalid password" in lowered or "no password is set" in lowered:
        return NodeError("auth", _auth_message(lowered))
    if "without any password configured" in lowered:
        return NodeError("auth", _auth_message(lowered))
    if code == "LOADING":
        return NodeError("loading", "the server is loading its dataset into memory")
    if "max number of clients reached" in lowered:
        return NodeError("unreachable", _short(reply_text(reply)))
    return None


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
