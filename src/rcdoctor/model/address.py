"""Addresses as users type them and as servers announce them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from rcdoctor.errors import UsageError
from rcdoctor.model.kubernetes import KubeSelector, is_k8s_spec, parse_k8s_spec
from rcdoctor.model.sources import redact

DEFAULT_PORT = 6379
BUS_PORT_OFFSET = 10000


@dataclass(frozen=True, order=True)
class Endpoint:
    """A host (IP or DNS name) and a TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def bus(self) -> Endpoint:
        """The cluster bus endpoint when the node uses the default offset."""
        return Endpoint(self.host, self.port + BUS_PORT_OFFSET)


class Secret:
    """A password that never shows itself in repr, str, logs or JSON."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Seed:
    """An address given by the user, with what a URL may carry besides it.

    A `k8s:` or `@FILE` seed is a source, not an address: its `endpoint` is a placeholder naming it and
    the collector expands it (kubectl, the file's lines) into addresses at every collection.
    """

    endpoint: Endpoint
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    spec: str = ""  # as typed, password removed (for the snapshot's sources)
    k8s: KubeSelector | None = None
    file: str | None = None  # @FILE: one seed per line, read again at every collection
    via: str | None = None  # "RCDOCTOR_SEEDS" when the seed came from that variable

    @property
    def is_source(self) -> bool:
        """True for seeds that are not one address (k8s:, @FILE) and so cannot be dialled as given."""
        return self.k8s is not None or self.file is not None


def is_ip(host: str) -> bool:
    """An IPv4/IPv6 literal, as opposed to a host name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_hostport(text: str, default_port: int = DEFAULT_PORT) -> Endpoint:
    """Parse `host`, `host:port`, `[v6]:port` or a bare IPv6 address."""
    text = text.strip()
    if not text:
        raise UsageError("empty address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise UsageError(f"bad address {text!r}: missing ']'")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise UsageError(f"bad address {text!r}")
    elif text.count(":") > 1:  # bare IPv6, no port
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise UsageError(f"bad address {text!r}: no host")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"bad address {text!r}: port must be a number from 1 to 65535")
        port = int(port_text)
    return Endpoint(host, port)


def parse_seed(text: str) -> Seed:
    """Parse what a user typed: `host:port`, `redis://[user[:pass]@]host[:port]`, `rediss://…`,
    `k8s:NAMESPACE/SELECTOR[:PORT]` or `@FILE`."""
    text = text.strip()
    if is_k8s_spec(text):
        selector = parse_k8s_spec(text)
        placeholder = Endpoint(f"k8s:{selector.namespace}/{selector.selector}", selector.port or DEFAULT_PORT)
        return Seed(placeholder, spec=text, k8s=selector)
    if text.startswith("@"):
        path = text[1:].strip()
        if not path:
            raise UsageError("bad seed '@': give a file after @ (one seed per line)")
        return Seed(Endpoint(text, DEFAULT_PORT), spec=text, file=path)
    if "://" not in text:
        return Seed(parse_hostport(text), spec=text)
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss"):
        raise UsageError(f"unsupported scheme {parts.scheme!r}: use redis:// or rediss://")
    netloc = parts.netloc.rpartition("@")[2]
    endpoint = parse_hostport(netloc)
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    return Seed(endpoint, tls=parts.scheme == "rediss", username=username, password=password, spec=redact(text))


def seed_lines(text: str) -> list[str]:
    """The seeds of a seeds file: one per line, blank lines and `#` comments ignored."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def split_env_seeds(value: str) -> list[str]:
    """RCDOCTOR_SEEDS: seeds separated by spaces or commas; a `k8s:` seed keeps its commas (label
    selectors use them: `app=redis,tier=cache`), so separate it from the next seed with a space."""
    parts: list[str] = []
    for word in value.split():
        parts.extend([word] if is_k8s_spec(word) else [p for p in word.split(",") if p])
    return parts
