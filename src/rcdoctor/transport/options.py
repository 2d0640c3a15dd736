"""How to reach every node of a cluster: credentials, TLS, the timeout for one node (pure: no redis-py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from rcdoctor.model.address import Secret, Seed

DEFAULT_TIMEOUT = 3.0

# Timeout policies: --timeout is how long to wait for one node's reply (collection, probes, reads). Work
# that needs longer waits at least these many seconds, named here once rather than raised at call sites:
# - check: a precondition re-read right before a step (a dead node must not cost long: Silent expects one)
# - admin: a cluster command that changes a node (FAILOVER, MEET, SETSLOT, CONFIG SET) or a key-by-key
#   comparison: a node busy forking or failing over answers late, and a change whose reply is lost to a
#   short timeout has an unknown outcome
# - bulk: moving keys (MIGRATE, RESTORE batches): one reply covers a whole batch
Policy = Literal["node", "check", "admin", "bulk"]
FLOORS_S: dict[Policy, float] = {"node": 0.0, "check": 2.0, "admin": 5.0, "bulk": 10.0}


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach every node of a cluster. The password is a Secret: it never prints."""

    username: str | None = None
    password: Secret | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_verify: bool = True
    timeout: float = DEFAULT_TIMEOUT
    # IP -> the DNS name it was resolved from (a seed name): TLS to that IP keeps sending the name as SNI,
    # as it did when the name itself was dialled. Filled by the collector.
    server_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    kube_context: str | None = None  # kubectl --context for k8s: seeds (not a connection setting, but it
    # travels with the options so every re-collection lists the same cluster's pods)

    def with_seed(self, seed: Seed) -> ConnectOptions:
        """Take credentials and TLS from a URL seed where the options do not already set them."""
        return replace(
            self,
            username=self.username or seed.username,
            password=self.password or seed.password,
            tls=self.tls or seed.tls,
        )

    def timeout_for(self, policy: Policy) -> float:
        """Seconds to wait for a reply in work of this kind: --timeout, raised to the policy's floor."""
        return max(self.timeout, FLOORS_S[policy])
