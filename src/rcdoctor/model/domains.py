"""Failure domains: which host, Kubernetes node or zone an address runs in.

A mapping (from `--domains FILE`) names a label for an address ("10.0.0.5:6379") or a host ("10.0.0.5");
an address it does not name is its own host's domain, so by default two nodes on one IP share a domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rcdoctor.model.address import parse_hostport


def domain_for(addresses: Iterable[str], domains: Mapping[str, str]) -> str | None:
    """The label of the first address the mapping names (address first, then host), else the first host."""
    known = [a for a in addresses if a]
    for address in known:
        if address in domains:
            return domains[address]
        host = parse_hostport(address).host
        if host in domains:
            return domains[host]
    return parse_hostport(known[0]).host if known else None
