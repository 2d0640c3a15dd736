"""RESP2 framing for rcdoctor's own connections: commands packed to bytes, replies parsed by hiredis.

The collector talks to hundreds of nodes at once from one thread (transport/multiplex.py); redis-py's
connection objects cost more CPU per node than the whole rest of a sample, and importing redis-py is a
third of a short command's start-up. hiredis is the C parser redis-py itself uses, so replies decode to
the same values: str (UTF-8, undecodable bytes replaced), int, None and lists of them; an error reply
is a `ReplyError` value, in its place, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence

import hiredis

Command = Sequence[str]


class ReplyError(Exception):
    """An error reply (`-ERR ...`, `-NOPERM ...`): the command reached the server and was refused.

    hiredis builds one per error reply (with the reply's text as its only argument) and returns it as a
    value; it is an exception only so it can be raised where a caller wants one.
    """

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class ProtocolViolation(Exception):
    """The peer answered something that is not RESP (a TLS port read as plain text, another protocol)."""


def pack(commands: Sequence[Command]) -> bytes:
    """Every command as one RESP array of bulk strings, all in one buffer (one write, one round trip)."""
    out: list[bytes] = []
    for args in commands:
        out.append(b"*%d\r\n" % len(args))
        for arg in args:
            data = arg.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def reader() -> hiredis.Reader:
    """A reply parser: feed() it what the socket gave, gets() each complete reply (False: not yet)."""
    return hiredis.Reader(protocolError=ProtocolViolation, replyError=ReplyError, encoding="utf-8", errors="replace")
