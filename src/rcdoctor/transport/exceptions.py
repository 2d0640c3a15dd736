"""What goes wrong when talking to a node, as rcdoctor's own exceptions (pure: no redis-py).

The client's exceptions never reach the rest of rcdoctor: `transport/redis_py.py` translates each one at
the seam (`transport/errors.translate`) into the class here that stands for it, keeping its text and,
for a redirection, where it points. The classes mirror the client's own hierarchy, so what a caller
catches means what it meant: `ServerError` is an error reply (the command reached the server),
`ConnectionLost` a socket that failed (`AuthFailed` and `Loading` are the server refusing us as a
client), `ReplyTimeout` no answer in time, `AskRedirect`/`MovedRedirect` the cluster's redirections.
"""

from __future__ import annotations

from rcdoctor.errors import DoctorError


class TransportError(DoctorError):
    """Anything that went wrong talking to a node. `foreign`: the client's class names, `client_class`
    the one it raised (classify reads them as it read the client's own exceptions)."""

    foreign: frozenset[str] = frozenset()
    client_class: str = ""


class ServerError(TransportError):
    """The server answered with an error reply."""


class AskRedirect(ServerError):
    """-ASK: the slot is being imported by another node; ask it (after ASKING) for this one command."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        # "<slot> <host>:<port>", as the server says it (the client keeps the code off the front)
        slot, _, where = str(args[0] if args else "").partition(" ")
        host, _, port = where.rpartition(":")
        self.slot_id = int(slot) if slot.isdigit() else -1
        self.host, self.port = host, int(port) if port.isdigit() else 0
        self.node_addr = (self.host, self.port)


class MovedRedirect(AskRedirect):
    """-MOVED: another node serves the slot."""


class ConnectionLost(TransportError):
    """The connection could not be made, or broke."""


class AuthFailed(ConnectionLost):
    """The server refused our credentials (or wants some)."""


class Loading(ConnectionLost):
    """The server is loading its dataset into memory and serves nothing yet."""


class ReplyTimeout(TransportError):
    """No answer within the timeout."""


def as_client_says(exc: BaseException) -> str:
    """ "Class: text" as an application's log shows it: the client's own class name (ClusterDownError…),
    also for one translated into ours."""
    name = (exc.client_class if isinstance(exc, TransportError) else "") or type(exc).__name__
    return f"{name}: {exc}"
