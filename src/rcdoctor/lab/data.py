"""Known data in a lab cluster: write N keys with values derived from their index, then prove every one is
still there with the right value (after a rebalance, a failover, a heal).

Keys are `{prefix}{i}` (no hash tag, so they spread over all slots); the value of key i is fixed by i and
the size, so a check needs nothing but the count. Writes go straight to each slot's owner in large
pipelines of raw commands: a million keys load in seconds, which the migration benchmark needs.
"""

from __future__ import annotations

import binascii
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rcdoctor.model.address import Endpoint
from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.transport.errors import AskRedirect
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import RawConnection, open_connection

CHUNK = 20_000  # commands per write: big enough to amortise round trips, small enough for socket buffers


@dataclass(frozen=True)
class DataSet:
    count: int
    size: int = 100
    prefix: str = "key:"

    def key(self, index: int) -> bytes:
        return f"{self.prefix}{index}".encode()

    def value(self, index: int) -> bytes:
        seed = f"{index}:".encode()
        return (seed * (self.size // len(seed) + 1))[: self.size]


def slot_of(key: bytes) -> int:
    """The key's slot (no hash tags in DataSet keys; CRC16/XMODEM is binascii.crc_hqx with 0)."""
    return binascii.crc_hqx(key, 0) % SLOT_COUNT


def owners(conn: RawConnection) -> list[Endpoint]:
    """slot -> owner endpoint, from one node's CLUSTER SLOTS."""
    conn.send_command("CLUSTER", "SLOTS")
    table: list[Endpoint | None] = [None] * SLOT_COUNT
    for entry in conn.read_response():
        first, last, primary = int(entry[0]), int(entry[1]), entry[2]
        endpoint = Endpoint(str(primary[0]), int(primary[1]))
        for slot in range(first, last + 1):
            table[slot] = endpoint
    missing = [s for s, e in enumerate(table) if e is None]
    if missing:
        raise RuntimeError(f"{len(missing)} slots have no owner; the cluster is not complete")
    return [e for e in table if e is not None]


def _by_owner(data: DataSet, table: Sequence[Endpoint], indexes: Iterable[int]) -> dict[Endpoint, list[int]]:
    groups: dict[Endpoint, list[int]] = defaultdict(list)
    for index in indexes:
        groups[table[slot_of(data.key(index))]].append(index)
    return groups


def _pack(conn: RawConnection, commands: Iterable[tuple[bytes, ...]]) -> list[bytes]:
    return conn.pack_commands(list(commands))


def fill(seed: Endpoint, options: ConnectOptions, data: DataSet) -> None:
    """SET every key of `data` on its slot's owner."""
    with_seed = open_connection(seed, options, timeout=30)
    try:
        table = owners(with_seed)
    finally:
        with_seed.disconnect()

    def write(endpoint: Endpoint, indexes: list[int]) -> None:
        conn = open_connection(endpoint, options, timeout=60)
        try:
            for start in range(0, len(indexes), CHUNK):
                part = indexes[start : start + CHUNK]
                conn.send_packed_command(_pack(conn, ((b"SET", data.key(i), data.value(i)) for i in part)))
                errors = [r for r in (conn.read_response(disable_decoding=True) for _ in part) if r != b"OK"]
                if errors:
                    raise RuntimeError(f"{endpoint}: {len(errors)} SETs failed, first: {errors[0]!r}")
        finally:
            conn.disconnect()

    groups = _by_owner(data, table, range(data.count))
    with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
        for future in [pool.submit(write, e, idx) for e, idx in groups.items()]:
            future.result()


def _read_asking(target: Endpoint, options: ConnectOptions, data: DataSet, indexes: list[int]) -> list[int]:
    """Indexes not found with their value on `target` when asked with ASKING (an importing slot)."""
    bad: list[int] = []
    conn = open_connection(target, options, timeout=60)
    try:
        for start in range(0, len(indexes), CHUNK):
            part = indexes[start : start + CHUNK]
            conn.send_packed_command(_pack(conn, (c for i in part for c in ((b"ASKING",), (b"GET", data.key(i))))))
            for index in part:
                conn.read_response(disable_decoding=True)  # +OK of ASKING
                if conn.read_response(disable_decoding=True) != data.value(index):
                    bad.append(index)
    finally:
        conn.disconnect()
    return bad


def missing_or_wrong(seed: Endpoint, options: ConnectOptions, data: DataSet) -> list[int]:
    """Indexes whose key is absent from its slot's owner or holds another value (empty list: all intact).

    A key of a slot being migrated is looked for where the owner's ASK redirection points, as a client does.
    """
    conn = open_connection(seed, options, timeout=30)
    try:
        table = owners(conn)
    finally:
        conn.disconnect()

    def read(endpoint: Endpoint, indexes: list[int]) -> list[int]:
        bad: list[int] = []
        asked: dict[Endpoint, list[int]] = defaultdict(list)
        node = open_connection(endpoint, options, timeout=60)
        try:
            for start in range(0, len(indexes), CHUNK):
                part = indexes[start : start + CHUNK]
                node.send_packed_command(_pack(node, ((b"GET", data.key(i)) for i in part)))
                for index in part:
                    try:
                        # Keep the connection on an error reply: the rest of the pipeline is still to read.
                        value = node.read_response(disable_decoding=True, disconnect_on_error=False)
                    except AskRedirect as ask:
                        # A slot half-way through a migration: a key already moved is on the target, which
                        # is where any cluster client would read it (ASKING, then the command).
                        asked[Endpoint(str(ask.host), int(ask.port))].append(index)
                        continue
                    if value != data.value(index):
                        bad.append(index)
        finally:
            node.disconnect()
        for target, moved in asked.items():
            bad.extend(_read_asking(target, options, data, moved))
        return bad

    groups = _by_owner(data, table, range(data.count))
    with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
        results = [pool.submit(read, e, idx) for e, idx in groups.items()]
        return sorted(i for future in results for i in future.result())
