"""Which server a node runs: Redis or Valkey, its own version and its mode, read once from `INFO server`.

Valkey answers `redis_version:7.2.4` whatever its release (the Redis version it forked from, kept for
clients that gate on it) and Valkey 8.1 has no `redis_mode`; its own fields are `server_name:valkey`,
`valkey_version:8.1.8` and `server_mode:cluster`. Everything that shows or gates on a version asks this
module, so a Valkey node is never shown or judged as Redis 7.2.4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ServerName = Literal["redis", "valkey"]

# Valkey forked from Redis 7.2.4 and has every command and setting Redis had then; later Redis releases'
# features (hash field expiry in 7.4, atomic slot migration in 8.4…) are not implied by a Valkey version.
VALKEY_FORKED_FROM = (7, 2, 4)
_PRODUCT = {"redis": "Redis", "valkey": "Valkey"}


@dataclass(frozen=True)
class ServerIdentity:
    name: ServerName
    version: str  # the server's own version as it reports it: "8.1.8" on Valkey 8.1, "7.0.15" on Redis 7.0
    mode: str | None = None  # "cluster", "standalone", "sentinel"; None when not reported (`--version`)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    @property
    def product(self) -> str:
        return _PRODUCT[self.name]

    @property
    def redis_compatible(self) -> tuple[int, ...]:
        """The Redis release whose commands and settings this server has, for gates written against Redis
        versions (ADDSLOTSRANGE and bind-source-addr since 7.0…)."""
        if self.name == "valkey":
            return VALKEY_FORKED_FROM
        return self.version_tuple

    def at_least(self, redis: tuple[int, ...], valkey: tuple[int, ...] | None = None) -> bool:
        """Has a feature Redis gained in `redis` and Valkey in `valkey` (None: Valkey has it when the Redis
        release it forked from had it, i.e. the feature predates the fork)."""
        if self.name == "valkey" and valkey is not None:
            return self.version_tuple >= valkey
        return self.redis_compatible >= redis

    def __str__(self) -> str:
        return f"{self.product} {self.version}"


def version_tuple(text: str) -> tuple[int, ...]:
    """ "7.0.15" -> (7, 0, 15); "8.2.3-rc1" -> (8, 2, 3); at most three numbers."""
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def server_identity(server: Mapping[str, str]) -> ServerIdentity | None:
    """The `server` section of INFO -> identity; None when it names no version (an empty or foreign reply)."""
    mode = server.get("server_mode") or server.get("redis_mode") or None
    if server.get("server_name", "").lower() == "valkey" or "valkey_version" in server:
        # Never fall back to redis_version here: on Valkey it is not the server's own version.
        valkey = server.get("valkey_version")
        return ServerIdentity("valkey", valkey, mode) if valkey else None
    redis = server.get("redis_version")
    return ServerIdentity("redis", redis, mode) if redis else None


_VERSION_LINE = re.compile(r"^(Redis|Valkey) server v=(\d+\.\d+\.\d+)", re.IGNORECASE)


def identity_from_version_output(text: str) -> ServerIdentity | None:
    """`redis-server --version` / `valkey-server --version` output -> identity (mode unknown), e.g.
    "Valkey server v=8.1.8 sha=00000000:1 malloc=libc bits=64 build=…"; None for anything else."""
    match = _VERSION_LINE.match(text.strip())
    if not match:
        return None
    name: ServerName = "valkey" if match.group(1).lower() == "valkey" else "redis"
    return ServerIdentity(name, match.group(2))


def fails_noaddr_nodes(identity: ServerIdentity) -> bool:
    """Does this server run failure detection on a node its peers list with no address (noaddr)? Redis
    (6.2 to 8.2) skips it, so a noaddr primary is never failed over; Valkey 8.1 marks it FAIL after
    node-timeout and its replica takes over (seen on 8.1.8; earlier Valkey releases not checked)."""
    return identity.name == "valkey" and identity.version_tuple >= (8, 1)


def replicates_setslot(identity: ServerIdentity | None) -> bool:
    """Does this primary replicate `CLUSTER SETSLOT` to its replicas and wait for them before applying it?
    Valkey 8.0+ does (valkey-io/valkey#445, `clusterCommandSetSlot`): it sends the command down the
    replication stream, blocks the caller until every replica it counts as online (replication state
    online, Valkey 8+) acknowledges, and only then applies it; `TIMEOUT ms` bounds the wait (default 2000 ms).
    On timeout it answers NOREPLICAS *without* applying it on the primary, while the replicas that got it
    apply it anyway (seen on 8.1.8: a paused replica shows the marker once resumed). Each such SETSLOT
    costs a round trip to the replicas, and a pipeline of them is served one at a time. Redis (6.2 to
    8.2) applies SETSLOT on the primary alone, at once. None (not known): treated as Redis."""
    return identity is not None and identity.name == "valkey" and identity.version_tuple >= (8, 0)


def gossip_clears_migrating(identity: ServerIdentity | None) -> bool:
    """Does a source MIGRATING a slot drop that state by itself when it hears (by gossip) that a primary
    of another shard now owns the slot? Valkey 8.0+ does (`clusterUpdateSlotsConfigWith`; within tens of
    milliseconds of the target's SETSLOT NODE in the lab, whose broadcast PONG carries the claim), so
    SETSLOT NODE on the source is only a confirmation there. Redis up to 8.2 (and Valkey 7.2) move the
    owner by gossip but keep the MIGRATING marker until SETSLOT NODE or STABLE on the source."""
    return identity is not None and identity.name == "valkey" and identity.version_tuple >= (8, 0)
