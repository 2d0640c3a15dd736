"""What goes wrong when talking to a node: the one translation of the client's exceptions into
rcdoctor's (`translate`, used by every client of `transport/redis_py.py`), and their mapping into error
records and the exception tree.

The classes are rcdoctor's own (`transport/exceptions.py`): TransportError is anything that went wrong,
ServerError an error reply (the command reached the server), AskRedirect/MovedRedirect the cluster's
redirections, ConnectionLost and ReplyTimeout the socket's failures. `classify` (transport/failures.py,
re-exported here) turns any of them (and OSError, ssl, DNS, and the error replies of our own RESP
connections) into a NodeError record that never holds a secret; `error_for` into the DoctorError a caller
raises when it cannot go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions

from rcdoctor.transport.exceptions import (
    MIRRORED,
    AskRedirect,
    AuthFailed,
    ConnectionLost,
    Loading,
    MovedRedirect,
    ReplyTimeout,
    ServerError,
    TransportError,
    as_client_says,
    client_class_name,
)
from rcdoctor.transport.failures import classify, classify_with, error_for, nothing_answered

__all__ = [
    "FOREIGN",
    "AskRedirect",
    "AuthFailed",
    "ConnectionLost",
    "Loading",
    "MovedRedirect",
    "ReplyTimeout",
    "ServerError",
    "TransportError",
    "as_client_says",
    "classify",
    "classify_with",
    "client_class_name",
    "error_for",
    "nothing_answered",
    "translate",
    "translated",
]

# The client's class -> ours, most specific first (the first match wins); RedisClusterException is not a
# RedisError (no node to start from, a slot unserved).
_OURS: tuple[tuple[type[BaseException], type[TransportError]], ...] = (
    *((getattr(exceptions, ours.stands_for), ours) for ours in MIRRORED),
    (exceptions.RedisClusterException, TransportError),
)
FOREIGN = (exceptions.RedisError, exceptions.RedisClusterException)  # what the client raises


def translate(exc: BaseException) -> BaseException:
    """The client's exception as rcdoctor's (same text; a redirection keeps where it points); anything
    else unchanged."""
    if not isinstance(exc, FOREIGN):
        return exc
    ours = next(cls for theirs, cls in _OURS if isinstance(exc, theirs))
    mapped = ours(*exc.args)
    if isinstance(exc, exceptions.AskError) and isinstance(mapped, AskRedirect):
        # its text may carry a pipeline's "Command # N … caused error:" first: where it points is read here
        mapped.slot_id, mapped.host, mapped.port = exc.slot_id, exc.host, exc.port
        mapped.node_addr = (exc.host, exc.port)
    mapped.__cause__ = exc  # its origin: what classify and as_client_says read
    return mapped


@contextmanager
def translated() -> Iterator[None]:
    """Inside: the client's exceptions come out as rcdoctor's."""
    try:
        yield
    except FOREIGN as exc:
        raise translate(exc) from exc
