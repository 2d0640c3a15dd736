"""What goes wrong when talking to a node, under rcdoctor's names, and its one mapping into error records
and the exception tree.

The names are redis-py's own classes (a client raises them; catching them here by another name is the
whole seam): TransportError is anything the client raises, ServerError an error reply (the command
reached the server), AskRedirect/MovedRedirect the cluster's redirections, ConnectionLost and ReplyTimeout
the socket's failures. `classify` (transport/failures.py, re-exported here) turns any of them (and
OSError, ssl, DNS, and the error replies of our own RESP connections) into a NodeError record that never
holds a secret; `error_for` into the DoctorError a caller raises when it cannot go on.
"""

from __future__ import annotations

from redis import exceptions

from rcdoctor.transport.failures import classify, classify_with, error_for, nothing_answered

__all__ = [
    "AskRedirect",
    "AuthFailed",
    "ConnectionLost",
    "Loading",
    "MovedRedirect",
    "ReplyTimeout",
    "ServerError",
    "TransportError",
    "classify",
    "classify_with",
    "error_for",
    "nothing_answered",
]

TransportError = exceptions.RedisError
ServerError = exceptions.ResponseError
AskRedirect = exceptions.AskError
MovedRedirect = exceptions.MovedError
ConnectionLost = exceptions.ConnectionError
ReplyTimeout = exceptions.TimeoutError
Loading = exceptions.BusyLoadingError
AuthFailed = exceptions.AuthenticationError
