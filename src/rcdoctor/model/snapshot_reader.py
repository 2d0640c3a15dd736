"""Read a snapshot file's JSON a piece at a time: the file is never held whole, as bytes or as text.

A 2,000-node snapshot is 750 MB of JSON (N views of N lines): read whole, its text alone doubled the
memory the parsed snapshot needs. Here the top-level object is walked key by key and the `nodes` array
element by element, from a window of text a few megabytes long read (and un-gzipped) as it goes.

Anything unexpected (not an object at the top, a syntax error, bad UTF-8) raises `Unreadable`: the caller
then reads the file the plain way, whose error message names the problem and its position.
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

CHUNK = 4 << 20  # characters read at a time: a node of a 2,000-node snapshot is about 0.4 MB
_SPACE = json.decoder.WHITESPACE  # type: ignore[attr-defined]  # a public name in all versions since 2.6


class Unreadable(Exception):
    """Not a JSON object read this way: read the file whole for the exact error."""


class _Window:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Read another chunk onto the window (what was consumed dropped first); False at the end."""
        if self.eof:
            return False
        raw = self._stream.read(CHUNK)
        try:
            fresh = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:
            raise Unreadable from None
        self.eof = not raw
        self.text = self.text[self.pos :] + fresh
        self.pos = 0
        return True

    def skip_space(self) -> None:
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or not self.more():
                return

    def char(self) -> str:
        self.skip_space()
        if self.pos >= len(self.text):
            raise Unreadable
        return self.text[self.pos]

    def expect(self, wanted: str) -> None:
        if self.char() != wanted:
            raise Unreadable
        self.pos += 1

    def value(self, decode: Callable[[str, int], tuple[Any, int]]) -> Any:
        """The next JSON value, reading more until it is whole. A value that ends exactly where the window
        does may be cut short (a number `12` of `123`): read on before taking it."""
        self.skip_space()
        while True:
            try:
                found, end = decode(self.text, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise Unreadable from None
            if end >= len(self.text) and self.more():
                continue
            self.pos = end
            return found


def read_json(path: str | Path, each_node: Callable[[Any], Any]) -> dict[str, Any]:
    """The top-level JSON object of a snapshot file (plain or gzip-compressed); `each_node` is given every
    element of `nodes` as soon as it is read, and what it returns is kept."""
    decode = json.JSONDecoder().raw_decode
    try:
        raw = open(path, "rb")  # noqa: SIM115  # closed below; an error opening it is the caller's to word
    except OSError:
        raise Unreadable from None
    with raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        try:
            return _object(_Window(stream), decode, each_node)
        except (OSError, EOFError, zlib.error, RecursionError, ValueError) as exc:  # bad gzip, deep nesting
            raise Unreadable from exc


def _object(
    window: _Window, decode: Callable[[str, int], tuple[Any, int]], each_node: Callable[[Any], Any]
) -> dict[str, Any]:
    window.more()
    window.expect("{")
    result: dict[str, Any] = {}
    if window.char() == "}":
        window.pos += 1
        return result
    while True:
        key = window.value(decode)
        if not isinstance(key, str):
            raise Unreadable
        window.expect(":")
        if key == "nodes" and window.char() == "[":
            result[key] = _array(window, decode, each_node)
        else:
            result[key] = window.value(decode)
        following = window.char()
        window.pos += 1
        if following == "}":
            break
        if following != ",":
            raise Unreadable
    window.skip_space()
    if window.pos < len(window.text):
        raise Unreadable  # something after the object
    return result


def _array(window: _Window, decode: Callable[[str, int], tuple[Any, int]], each: Callable[[Any], Any]) -> list[Any]:
    window.expect("[")
    items: list[Any] = []
    if window.char() == "]":
        window.pos += 1
        return items
    while True:
        items.append(each(window.value(decode)))
        following = window.char()
        window.pos += 1
        if following == "]":
            return items
        if following != ",":
            raise Unreadable
