"""Probe verdicts (pure) and the small RESP client's parser, on replies as Redis sends them."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcdoctor.probe.resp import RespError, RespProtocolError, pack, read_reply
from rcdoctor.probe.verdict import CANNOT, FAIL, PASS, judge

OK_CLUSTER = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"
FAIL_CLUSTER = "cluster_state:fail\r\ncluster_slots_assigned:16384\r\n"
PRIMARY = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n# Persistence\r\nloading:0\r\n"
REPLICA_UP = (
    "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.5\r\nmaster_port:6379\r\nmaster_link_status:up\r\n"
    "master_sync_in_progress:0\r\n# Persistence\r\nloading:0\r\n"
)


@pytest.mark.parametrize(
    ("kind", "ping", "error", "info", "cluster", "code"),
    [
        # liveness: any Redis answer is alive, including a failing cluster and loading
        ("liveness", "PONG", None, None, None, PASS),
        ("liveness", None, "LOADING Redis is loading the dataset in memory", None, None, PASS),
        ("liveness", None, "BUSY Redis is busy running a script", None, None, PASS),
        ("liveness", None, "NOAUTH Authentication required.", None, None, PASS),
        ("liveness", None, "CLUSTERDOWN The cluster is down", None, None, PASS),
        # startup: loaded or not
        ("startup", "PONG", None, None, None, PASS),
        ("startup", None, "LOADING Redis is loading the dataset in memory", None, None, FAIL),
        ("startup", None, "WRONGPASS invalid username-password pair", None, None, CANNOT),
        # readiness
        ("readiness", "PONG", None, PRIMARY, OK_CLUSTER, PASS),
        ("readiness", "PONG", None, PRIMARY, FAIL_CLUSTER, FAIL),
        ("readiness", "PONG", None, PRIMARY.replace("loading:0", "loading:1"), OK_CLUSTER, FAIL),
        ("readiness", None, "LOADING Redis is loading the dataset in memory", None, None, FAIL),
        ("readiness", "PONG", None, REPLICA_UP, OK_CLUSTER, PASS),
        ("readiness", "PONG", None, REPLICA_UP.replace("link_status:up", "link_status:down"), OK_CLUSTER, FAIL),
        ("readiness", "PONG", None, REPLICA_UP.replace("sync_in_progress:0", "sync_in_progress:1"), OK_CLUSTER, FAIL),
        ("readiness", "PONG", None, PRIMARY, None, CANNOT),  # CLUSTER INFO refused: not a cluster node
        ("readiness", None, "NOAUTH Authentication required.", None, None, CANNOT),
    ],
)
def test_verdicts(
    kind: str, ping: str | None, error: str | None, info: str | None, cluster: str | None, code: int
) -> None:
    verdict = judge(kind, ping, error, info, cluster)
    assert verdict.code == code, verdict.text
    assert verdict.text and "\n" not in verdict.text


def test_readiness_names_the_replica_link() -> None:
    text = judge("readiness", "PONG", None, REPLICA_UP.replace(":up", ":down"), OK_CLUSTER).text
    assert "10.0.0.5:6379" in text and "down" in text


def test_liveness_does_not_depend_on_the_cluster_but_readiness_does() -> None:
    assert judge("liveness", "PONG", None, None, None).passed
    assert not judge("readiness", "PONG", None, PRIMARY, FAIL_CLUSTER).passed


def _read(data: bytes) -> object:
    return read_reply(io.BytesIO(data))


def test_reads_every_reply_kind() -> None:
    assert _read(b"+PONG\r\n") == b"PONG"
    assert _read(b"-LOADING Redis is loading\r\n") == RespError("LOADING Redis is loading")
    assert _read(b":42\r\n") == 42
    assert _read(b"$5\r\nhello\r\n") == b"hello"
    assert _read(b"$-1\r\n") is None
    assert _read(b"*2\r\n$1\r\na\r\n:1\r\n") == [b"a", 1]
    assert RespError("NOAUTH Authentication required.").code == "NOAUTH"


@given(st.lists(st.binary(max_size=64), min_size=1, max_size=8))
def test_a_packed_command_reads_back_as_its_arguments(args: list[bytes]) -> None:
    assert _read(pack(*args)) == args


@pytest.mark.parametrize(
    "data", [b"", b"HTTP/1.1 400 Bad Request\r\n", b"+PONG", b"$5\r\nhel", b":x\r\n", b"\x16\x03\x01\x02\x00\r\n"]
)
def test_garbage_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(RespProtocolError):
        _read(data)


@given(st.binary(max_size=40))
def test_any_bytes_either_parse_or_raise_a_protocol_error(data: bytes) -> None:
    with contextlib.suppress(RespProtocolError):
        _read(data)
