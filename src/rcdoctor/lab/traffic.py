"""Client traffic during a lab operation: a real cluster client (redis-py RedisCluster) writing and reading
its own keys, recording every error it could not retry away and, afterwards, every acknowledged write
that is gone. Rebalances, failovers and heals are judged by it: no error, no lost write.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from rcdoctor.transport.errors import TransportError, as_client_says
from rcdoctor.transport.redis_py import ClusterClient, app_cluster_client


@dataclass
class ClientLoad:
    """A cluster client writing `load:N` keys and reading back earlier ones until stopped."""

    seed: tuple[str, int]
    written: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    operations: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    password: str | None = field(default=None, repr=False)

    def _client(self) -> ClusterClient:
        return app_cluster_client([self.seed], decode=True, password=self.password)

    def run(self) -> None:
        client = self._client()
        rng = random.Random(7)
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                key, value = f"load:{n}", f"v{n}"
                try:
                    client.set(key, value)
                    self.written[key] = value
                    probe = f"load:{rng.randint(1, n)}"
                    got = client.get(probe)
                    if probe in self.written and got != self.written[probe]:
                        self.errors.append(f"read {probe}: {got!r} != {self.written[probe]!r}")
                    self.operations += 2
                except TransportError as exc:
                    self.errors.append(as_client_says(exc))
                except AttributeError as exc:
                    # redis-py <= 8.1 follows an ASK to a primary that had no slots when it read CLUSTER SLOTS
                    # into None (redis/redis-py#4015): a client bug, counted as an error all the same
                    self.errors.append(
                        f"{type(exc).__name__}: {exc} (redis-py#4015: ASK to a node unknown to the client)"
                    )
        finally:
            client.close()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="rcdoctor-client-load", daemon=True)
        thread.start()
        return thread

    def lost(self) -> int:
        client = self._client()
        try:
            keys = list(self.written)
            lost = 0
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                pipe = client.pipeline()
                for key in part:
                    pipe.get(key)
                lost += sum(1 for key, got in zip(part, pipe.execute(), strict=True) if got != self.written[key])
            return lost
        finally:
            client.close()
