"""One pipelined connection to one node, for the migration engine.

Replies are read raw (bytes): key names can be any bytes and must go back to MIGRATE unchanged. An
error reply becomes a ResponseError in the reply list, in its place, so one bad slot in a pipeline of
sixty-four does not hide the other sixty-three. A broken connection raises (the caller stops using the node).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from rcdoctor.collect.connection import ConnectOptions, open_connection
from rcdoctor.model.address import Endpoint

Command = tuple[Any, ...]


class Link:
    def __init__(self, endpoint: Endpoint, options: ConnectOptions, timeout: float) -> None:
        self.endpoint = endpoint
        self._conn = open_connection(endpoint, options, timeout=timeout)

    def run(self, commands: Sequence[Command]) -> list[Any]:
        if not commands:
            return []
        self._conn.send_packed_command(self._conn.pack_commands(list(commands)))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(self._conn.read_response(disable_decoding=True))
            except ResponseError as exc:
                replies.append(exc)
        return replies

    def one(self, *command: Any) -> Any:
        reply = self.run([command])[0]
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        self._conn.disconnect()


def migrate_auth(options: ConnectOptions) -> tuple[Any, ...]:
    """The AUTH/AUTH2 arguments MIGRATE needs to log in on the target with our own credentials."""
    if options.password is None:
        return ()
    secret = options.password.reveal()
    return ("AUTH2", options.username, secret) if options.username else ("AUTH", secret)


def text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
