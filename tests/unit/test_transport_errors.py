"""The client's exceptions come out of the transport seam as rcdoctor's own, reading the same.

redis-py's exception classes are built here the way its parser builds them from a server's error reply
(the texts are the servers' own); no server and no mock is involved: this is the translation alone.
"""

from __future__ import annotations

import pytest
from redis import exceptions

from rcdoctor.errors import DoctorError
from rcdoctor.transport.errors import (
    AskRedirect,
    AuthFailed,
    ConnectionLost,
    Loading,
    MovedRedirect,
    ReplyTimeout,
    ServerError,
    TransportError,
    classify,
    translate,
)

CASES = [
    (exceptions.ResponseError("unknown subcommand 'FOO'"), ServerError),
    (exceptions.AskError("3999 127.0.0.12:6379"), AskRedirect),
    (exceptions.MovedError("3999 127.0.0.13:6380"), MovedRedirect),
    (exceptions.BusyLoadingError("Redis is loading the dataset in memory"), Loading),
    (exceptions.AuthenticationError("invalid username-password pair or user is disabled."), AuthFailed),
    (exceptions.TimeoutError("Timeout reading from socket"), ReplyTimeout),
    (exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), ConnectionLost),
    (exceptions.ClusterDownError("The cluster is down"), ServerError),
    (exceptions.ReadOnlyError("You can't write against a read only replica."), ServerError),
    (exceptions.RedisError("something else"), TransportError),
]


@pytest.mark.parametrize(("theirs", "ours"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_client_exception_becomes_ours_with_its_text_and_reading(
    theirs: exceptions.RedisError, ours: type[TransportError]
) -> None:
    mapped = translate(theirs)
    assert type(mapped) is ours and isinstance(mapped, DoctorError), type(mapped)
    assert str(mapped) == str(theirs) and mapped.__cause__ is theirs
    assert not isinstance(mapped, exceptions.RedisError)
    assert classify(mapped) == classify(theirs)  # error records read exactly as before the seam


def test_a_redirection_keeps_where_it_points() -> None:
    moved = translate(exceptions.MovedError("3999 127.0.0.13:6380"))
    assert isinstance(moved, MovedRedirect) and isinstance(moved, AskRedirect)
    assert (moved.slot_id, moved.host, moved.port, moved.node_addr) == (3999, "127.0.0.13", 6380, ("127.0.0.13", 6380))


def test_an_exception_raised_by_our_own_code_reads_as_the_class_it_stands_for() -> None:
    # e.g. the migration engine's own "NOREPLICAS not sent" ServerError: read as an error reply
    assert classify(ServerError("NOREPLICAS not sent")) == classify(exceptions.ResponseError("NOREPLICAS not sent"))
    assert classify(ReplyTimeout("no answer")).kind == "timeout"
    assert classify(AuthFailed("refused")).kind == "auth"


def test_anything_else_passes_through_unchanged() -> None:
    error = OSError("boom")
    assert translate(error) is error


def test_an_application_s_view_names_the_client_s_own_class() -> None:
    # The demo and the lab's traffic report what an application's log would show
    from rcdoctor.transport.errors import as_client_says

    down = translate(exceptions.ClusterDownError("The cluster is down"))
    assert as_client_says(down) == "ClusterDownError: The cluster is down"
    assert as_client_says(ValueError("x")) == "ValueError: x"


def test_the_cluster_client_s_own_exceptions_are_translated_too() -> None:
    # RedisClusterException is not a RedisError (no startup node answers; a slot nobody serves)
    for theirs in (exceptions.RedisClusterException("Redis Cluster cannot be connected."),
                   exceptions.SlotNotCoveredError("Slot 5 not covered by the cluster.")):  # fmt: skip
        mapped = translate(theirs)
        assert type(mapped) is TransportError and str(mapped) == str(theirs)


def test_a_redirection_inside_a_pipeline_keeps_its_text_and_where_it_points() -> None:
    ask = exceptions.AskError("3999 127.0.0.12:6379")
    ask.args = (f"Command # 2 (GET k) of pipeline caused error: {ask.args[0]}",)  # as redis-py annotates it
    mapped = translate(ask)
    assert isinstance(mapped, AskRedirect) and str(mapped) == str(ask)
    assert (mapped.slot_id, mapped.host, mapped.port) == (3999, "127.0.0.12", 6379)


def test_a_client_s_pipeline_stays_ours_when_chained_and_raises_ours() -> None:
    # The real client against a loopback port nothing listens on: connecting is refused
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from rcdoctor.transport.redis_py import NodeClient, Pipeline

    client = NodeClient(redis.Redis("127.0.0.1", 1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)))
    with client.pipeline(transaction=False) as pipe:
        assert isinstance(pipe.get("a").get("b"), Pipeline) and len(pipe) == 2
        with pytest.raises(ConnectionLost) as raised:
            pipe.execute()
    assert classify(raised.value).kind == "refused"
    with pytest.raises(ConnectionLost):
        client.ping()  # a passed-through helper is translated the same way
    client.close()
