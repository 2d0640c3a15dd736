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
    """Anything that went wrong talking to a node. `stands_for`: the client's class this one mirrors;
    the client's own exception, when it was translated from one, is its `__cause__` (`origin`)."""

    stands_for = "RedisError"

    def origin(self) -> BaseException | None:
        """The client's exception this one was translated from, if any."""
        cause = self.__cause__
        return cause if cause is not None and type(cause).__module__.startswith("redis.") else None


class ServerError(TransportError):
    """The server answered with an error reply."""

    stands_for = "ResponseError"


class AskRedirect(ServerError):
    """-ASK: the slot is being imported by another node; ask it (after ASKING) for this one command."""

    stands_for = "AskError"

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

    stands_for = "MovedError"


class ConnectionLost(TransportError):
    """The connection could not be made, or broke."""

    stands_for = "ConnectionError"


class AuthFailed(ConnectionLost):
    """The server refused our credentials (or wants some)."""

    stands_for = "AuthenticationError"


class Loading(ConnectionLost):
    """The server is loading its dataset into memory and serves nothing yet."""

    stands_for = "BusyLoadingError"


class ReplyTimeout(TransportError):
    """No answer within the timeout."""

    stands_for = "TimeoutError"


# Most specific first: the first that a client's exception is an instance of (by name) is its translation.
MIRRORED: tuple[type[TransportError], ...] = (
    AuthFailed, Loading, MovedRedirect, AskRedirect, ServerError, ReplyTimeout, ConnectionLost, TransportError,
)  # fmt: skip


def client_class_name(exc: BaseException) -> str:
    """The class name an application's log would show: the client's own (ClusterDownError…), also for an
    exception translated into ours."""
    origin = exc.origin() if isinstance(exc, TransportError) else None
    return type(origin if origin is not None else exc).__name__


def as_client_says(exc: BaseException) -> str:
    """ "Class: text" as an application's log shows it (client_class_name)."""
    return f"{client_class_name(exc)}: {exc}"
