"""One pipelined connection to one node, for the migration engine.

Replies are read raw (bytes): key names can be any bytes and must go back to MIGRATE unchanged. An
error reply becomes a ServerError in the reply list, in its place, so one bad slot in a pipeline of
sixty-four does not hide the other sixty-three. A broken connection raises (the caller stops using the node).

`spread` sends independent groups of commands over several connections to the same node at once: a
server that makes each command wait for its replicas (Valkey 8's SETSLOT) serves one pipeline a command at a
time, but the commands of different connections wait together, one replica round trip for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rcdoctor.model.address import Endpoint
from rcdoctor.transport.errors import AskRedirect, ServerError
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import RawConnection, open_connection

Command = tuple[Any, ...]


class Link:
    def __init__(self, endpoint: Endpoint, options: ConnectOptions, timeout: float) -> None:
        self.endpoint = endpoint
        self.options, self.timeout = options, timeout  # for a link to where an -ASK reply points
        self._conn = open_connection(endpoint, options, timeout=timeout)
        self._more: list[RawConnection] = []  # extra connections for `spread`, opened when first needed

    def spread(self, groups: Sequence[Sequence[Command]], width: int) -> list[list[Any]]:
        """Each group's replies, the groups dealt over up to `width` connections (a group stays on one
        connection, in order); every command is sent before any reply is read."""
        lanes = max(1, min(width, len(groups)))
        while len(self._more) < lanes - 1:
            self._more.append(open_connection(self.endpoint, self.options, timeout=self.timeout))
        connections = [self._conn, *self._more][:lanes]
        dealt: list[list[Command]] = [[] for _ in connections]
        for index, group in enumerate(groups):
            dealt[index % lanes].extend(group)
        for conn, commands in zip(connections, dealt, strict=True):
            if commands:
                conn.send_packed_command(conn.pack_commands(commands))
        flat: list[list[Any]] = []
        for conn, commands in zip(connections, dealt, strict=True):
            flat.append([self._read(conn) for _ in commands])
        replies: list[list[Any]] = []
        cursor = [0] * lanes
        for index, group in enumerate(groups):
            lane = index % lanes
            replies.append(flat[lane][cursor[lane] : cursor[lane] + len(group)])
            cursor[lane] += len(group)
        return replies

    @staticmethod
    def _read(conn: RawConnection) -> Any:
        try:
            return conn.read_response(disable_decoding=True)
        except ServerError as exc:
            return exc

    def run(self, commands: Sequence[Command]) -> list[Any]:
        if not commands:
            return []
        self._conn.send_packed_command(self._conn.pack_commands(list(commands)))
        return [self._read(self._conn) for _ in commands]

    def one(self, *command: Any) -> Any:
        reply = self.run([command])[0]
        if isinstance(reply, ServerError):
            raise reply
        return reply

    def asked(self, ask: AskRedirect) -> Link:
        """A link, with the same options, to the node an -ASK reply names (the node importing the slot)."""
        return Link(Endpoint(ask.host, ask.port), self.options, self.timeout)

    def close(self) -> None:
        for conn in (self._conn, *self._more):
            conn.disconnect()


def migrate_auth(options: ConnectOptions) -> tuple[Any, ...]:
    """The AUTH/AUTH2 arguments MIGRATE needs to log in on the target with our own credentials."""
    if options.password is None:
        return ()
    secret = options.password.reveal()
    return ("AUTH2", options.username, secret) if options.username else ("AUTH", secret)


def text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
