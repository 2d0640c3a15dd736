"""Keys a primary holds in a slot another primary owns (S003): returned to the owner, never dropped.

The holder accepts commands on a slot it does not own only while IMPORTING it and for a connection that
sent ASKING just before each command. So: SETSLOT s IMPORTING owner on the holder; for each of its keys
there, compare with the owner's copy (DUMP): none there -> MIGRATE it over (the holder's copy is
removed by MIGRATE itself); identical -> delete the holder's copy; different -> leave both and report
(which one is right is a human decision). Then SETSLOT s STABLE on the holder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from rcdoctor.collect.connection import ConnectOptions
from rcdoctor.migrate.link import Link, migrate_auth
from rcdoctor.model.address import Endpoint

BATCH = 500


@dataclass(frozen=True)
class Stray:
    slot: int
    holder: str  # node id holding keys it should not
    holder_address: str
    owner: str  # node id owning the slot
    owner_address: str
    keys: int  # as counted by the collector


@dataclass
class Returned:
    moved: int = 0
    identical_dropped: int = 0
    conflicts: list[str] = field(default_factory=list)  # key names (decoded for the report)


def return_keys(stray: Stray, holder: Endpoint, owner: Endpoint, options: ConnectOptions) -> Returned:
    result = Returned()
    auth = migrate_auth(options)
    src = Link(holder, options, timeout=max(options.timeout, 10.0))
    dst = Link(owner, options, timeout=max(options.timeout, 10.0))
    try:
        src.one("CLUSTER", "SETSLOT", stray.slot, "IMPORTING", stray.owner)
        try:
            skip: set[bytes] = set()
            while True:
                keys = [k for k in src.one("CLUSTER", "GETKEYSINSLOT", stray.slot, BATCH + len(skip)) if k not in skip]
                if not keys:
                    break
                ours = src.run([c for k in keys for c in (("ASKING",), ("DUMP", k))])[1::2]
                theirs = dst.run([("DUMP", k) for k in keys])
                commands: list[tuple[Any, ...]] = []
                for key, mine, other in zip(keys, ours, theirs, strict=True):
                    if isinstance(mine, ResponseError) or isinstance(other, ResponseError):
                        raise RuntimeError(f"slot {stray.slot}: {mine if isinstance(mine, ResponseError) else other}")
                    if mine is None:
                        continue  # expired meanwhile
                    if other is None:
                        e = owner
                        commands += [("ASKING",), ("MIGRATE", e.host, e.port, key, 0, 10_000, *auth)]
                        result.moved += 1
                    elif other == mine:
                        commands += [("ASKING",), ("DEL", key)]
                        result.identical_dropped += 1
                    else:
                        skip.add(key)
                        result.conflicts.append(key.decode("utf-8", "replace"))
                for reply in src.run(commands)[1::2]:
                    if isinstance(reply, ResponseError):
                        raise RuntimeError(f"slot {stray.slot}: {reply}")
                if not commands:
                    break  # only conflicts are left
        finally:
            src.one("CLUSTER", "SETSLOT", stray.slot, "STABLE")
    finally:
        src.close()
        dst.close()
    return result
