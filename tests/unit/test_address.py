import pytest

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Endpoint, Secret, parse_hostport, parse_seed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.11:6379", Endpoint("127.0.0.11", 6379)),
        (
            "redis-main-0.redis-main.gameserver-cache.svc.cluster.local:6379",
            Endpoint("redis-main-0.redis-main.gameserver-cache.svc.cluster.local", 6379),
        ),
        ("localhost", Endpoint("localhost", 6379)),
        ("[::1]:7000", Endpoint("::1", 7000)),
        ("::1", Endpoint("::1", 6379)),
    ],
)
def test_hostport(text: str, expected: Endpoint) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["", ":6379", "host:0", "host:70000", "host:abc", "[::1", "[::1]x"])
def test_bad_hostport(text: str) -> None:
    with pytest.raises(UsageError):
        parse_hostport(text)


def test_url_seed_carries_credentials_and_tls() -> None:
    seed = parse_seed("rediss://app:s%40cret@10.0.0.1:6380")
    assert seed.endpoint == Endpoint("10.0.0.1", 6380)
    assert seed.tls and seed.username == "app"
    assert seed.password == Secret("s@cret")
    assert "s@cret" not in repr(seed) and "s@cret" not in str(seed)


def test_password_only_url() -> None:
    seed = parse_seed("redis://:pw@h:1")
    assert seed.username is None and seed.password is not None and seed.password.reveal() == "pw"
    assert not seed.tls


def test_unknown_scheme() -> None:
    with pytest.raises(UsageError, match="unsupported scheme"):
        parse_seed("http://h:1")


def test_ipv6_endpoint_str() -> None:
    assert str(Endpoint("::1", 6379)) == "[::1]:6379"
    assert Endpoint("10.0.0.1", 6379).bus == Endpoint("10.0.0.1", 16379)
