"""Network partitions for the lab: packets between groups of loopback IPs are really dropped (nftables).

Every lab node has its own loopback IP and sends from it (bind-source-addr on Redis 7; Redis 6.2 binds its
outgoing connections to its first `bind` address), and lab clients can bind to IPs of their own, so one
rule per pair of groups — `ip saddr {A} ip daddr {B} drop` — cuts exactly the links a real partition cuts:
data port, cluster bus and replication, in the directions asked. The rules sit in the input hook, so a
sender is not told (dropped in output, Linux would return EPERM at once); connections hang until their
timeouts, as across a real network. Each lab owns one nftables table (named after its directory) and
nothing else: healing deletes that table, and `Lab.down` deletes it too.
Needs root (CI runs as root) and the `nft` tool (Debian's nftables package).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from rcdoctor.errors import FaultError

Cut = tuple[frozenset[str], frozenset[str]]  # packets from the first set of IPs to the second are dropped


def table_name(root: str) -> str:
    return "rcdoctor_" + hashlib.sha1(os.path.realpath(root).encode()).hexdigest()[:12]


def _nft_path() -> str | None:
    """`nft` on PATH, else Debian's /usr/sbin (not on a plain user's PATH)."""
    return shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)


def network_available() -> bool:
    """Can partitions run here (root and nft)?"""
    return _nft_path() is not None and os.geteuid() == 0


def _nft() -> str:
    path = _nft_path()
    if path is None:
        raise FaultError("network partitions need nftables: apt-get install nftables (and root)")
    if os.geteuid() != 0:
        raise FaultError("network partitions need root (nftables rules); run the lab as root")
    return path


def _run(script: str) -> None:
    result = subprocess.run([_nft(), "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[0]
        raise FaultError(f"nft refused the partition rules: {reason}")


def cuts_between(groups: Sequence[Iterable[str]], both_ways: bool = True) -> list[Cut]:
    """Every group cut off from every other (a full partition), or only first -> later ones."""
    sets = [frozenset(g) for g in groups]
    found: list[Cut] = []
    for i, a in enumerate(sets):
        for j, b in enumerate(sets):
            if i != j and (both_ways or i < j) and a and b:
                found.append((a, b - a))
    return found


def ruleset(table: str, cuts: Sequence[Cut]) -> str:
    lines = [
        f"table ip {table}",  # create it if missing, so the delete below always succeeds
        f"delete table ip {table}",
        f"table ip {table} {{",
        "  chain input {",
        "    type filter hook input priority -10; policy accept;",
    ]
    for source, destination in cuts:
        if source and destination:
            src = ", ".join(sorted(source))
            dst = ", ".join(sorted(destination))
            lines.append(f"    ip saddr {{ {src} }} ip daddr {{ {dst} }} drop")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def install(root: str, cuts: Sequence[Cut]) -> None:
    """Replace this lab's partition rules with `cuts` (atomically: one nft transaction)."""
    _run(ruleset(table_name(root), cuts))


def remove(root: str) -> None:
    """Delete this lab's table; no error when there is none (or no nftables at all)."""
    nft = _nft_path()
    if nft is None or os.geteuid() != 0:
        return
    name = table_name(root)
    subprocess.run([nft, "-f", "-"], input=f"table ip {name}\ndelete table ip {name}\n", capture_output=True,
                   text=True, check=False)  # fmt: skip


def active(root: str) -> bool:
    nft = _nft_path()
    if nft is None or os.geteuid() != 0:
        return False
    result = subprocess.run([nft, "list", "table", "ip", table_name(root)], capture_output=True, text=True, check=False)
    return result.returncode == 0
