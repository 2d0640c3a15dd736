"""The collector's own reading of replies: RESP2 arrays given RESP3's map shape, error replies read as
redis-py read them (the texts and shapes every recorded snapshot holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rcdoctor.collect.conversation import _jsonable
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.transport.failures import aborting_reply, classify, reply_text
from rcdoctor.transport.resp import ReplyError, pack, reader

DATA = Path(__file__).parent.parent / "data"
RECORDED = sorted(p for p in DATA.glob("*-redis7.json"))[:6] + sorted(DATA.glob("*-valkey8.json"))[:3]


def _as_resp2(value: Any) -> Any:
    """What the same reply is on a RESP2 connection: every map a flat [k1, v1, ...] array."""
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in (k, _as_resp2(v))]
    if isinstance(value, list):
        return [_as_resp2(v) for v in value]
    return value


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_recorded_resp3_replies_come_back_from_their_resp2_form(path: Path) -> None:
    snapshot = Snapshot.load(str(path))
    seen = 0
    for node in snapshot.nodes:
        for key in ("CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER LINKS"):
            if key in node.replies:
                assert _jsonable(key, _as_resp2(node.replies[key])) == node.replies[key], (node.address, key)
                seen += 1
    assert seen, f"{path.name}: no reply to compare"


def test_config_replies_of_either_protocol_read_the_same_and_lose_secrets() -> None:
    flat = ["cluster-node-timeout", "15000", "masterauth", "hunter2"]
    assert _jsonable("CONFIG GET cluster-*", flat) == {"cluster-node-timeout": "15000"}
    assert _jsonable("CONFIG GET cluster-*", dict(zip(flat[::2], flat[1::2], strict=True))) == {
        "cluster-node-timeout": "15000"
    }


def test_error_replies_parse_in_place_and_read_without_the_codes_redis_py_strips() -> None:
    parser = reader()
    wire = b"-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n-NOPERM this user has no permissions\r\n"
    parser.feed(wire + b"-WRONGTYPE Operation against a key\r\n+OK\r\n")
    replies = [parser.gets() for _ in range(4)]
    assert all(isinstance(r, ReplyError) for r in replies[:3]) and replies[3] == "OK"
    assert [reply_text(r) for r in replies[:3]] == [
        "unknown subcommand 'SHARDS'. Try CLUSTER HELP.",
        "this user has no permissions",
        "WRONGTYPE Operation against a key",  # a code redis-py keeps
    ]
    assert classify(replies[0]).kind == "error" and classify(replies[0]).message.startswith("unknown subcommand")


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("NOAUTH Authentication required.", "auth", "requires a password"),
        ("WRONGPASS invalid username-password pair or user is disabled.", "auth", "refused the credentials"),
        ("ERR Client sent AUTH, but no password is set", "auth", "none configured"),
        ("LOADING Redis is loading the dataset in memory", "loading", "loading"),
        ("ERR max number of clients reached", "unreachable", "max number of clients"),
    ],
)
def test_replies_that_fail_a_whole_node(text: str, kind: str, says: str) -> None:
    error = aborting_reply(ReplyError(text))
    assert error is not None and error.kind == kind and says in error.message


@pytest.mark.parametrize("text", ["ERR unknown command 'CLUSTER'", "NOPERM no permissions", "MOVED 3999 1.2.3.4:6379"])
def test_replies_that_fail_only_their_command(text: str) -> None:
    assert aborting_reply(ReplyError(text)) is None


def test_pack_is_resp_arrays_of_bulk_strings() -> None:
    assert (
        pack([("PING",), ("CONFIG", "GET", "é")])
        == b"*1\r\n$4\r\nPING\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$2\r\n\xc3\xa9\r\n"
    )
