"""How to reach every node of a cluster: credentials, TLS, the timeout for one node (pure: no redis-py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from rcdoctor.model.address import Secret, Seed

DEFAULT_TIMEOUT = 3.0


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
