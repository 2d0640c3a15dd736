"""What losing one failure domain (a host, a Kubernetes node, a zone) — or two — does to the cluster.

Redis Cluster's rules, as the cluster specification gives them:
- a primary is failed over only by the vote of a majority of *all* slot-owning primaries (the lost ones
  count in the denominator), and only to a replica that is still up;
- slots whose every copy is lost have no owner until a copy comes back (with the default
  cluster-require-full-coverage yes, every node then refuses every query);
- a primary cut off from the majority keeps accepting writes for up to cluster-node-timeout; those
  acknowledged writes are lost when it rejoins (min-replicas-to-write can shorten the window).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from rcdoctor.model.address import parse_hostport
from rcdoctor.model.view import ClusterView

UNAFFECTED, FAILOVER, DEGRADED, DOWN = "unaffected", "failover", "degraded", "down"
# A failover is what Redis Cluster is built for; a lost replica leaves a shard without a spare (reported,
# not alarming); slots without an owner or a lost majority are an outage.
SEVERITY = {UNAFFECTED: "ok", FAILOVER: "ok", DEGRADED: "ok", DOWN: "critical"}


@dataclass(frozen=True)
class Shard:
    primary: str
    replicas: tuple[str, ...]
    slots: int

    @property
    def members(self) -> tuple[str, ...]:
        return (self.primary, *self.replicas)


@dataclass(frozen=True)
class Takeover:
    shard: str  # the lost primary's id
    slots: int
    candidates: tuple[str, ...]  # replicas still up
    wins: bool
    reason: str


@dataclass(frozen=True)
class Loss:
    domains: tuple[str, ...]
    nodes: tuple[str, ...]
    primaries_lost: tuple[str, ...]
    primaries_left: int
    majority: bool
    shards_without_copy: tuple[str, ...]
    slots_without_copy: int
    takeovers: tuple[Takeover, ...]
    replicas_lost: tuple[str, ...]

    @property
    def outcome(self) -> str:
        if self.slots_without_copy or any(not t.wins for t in self.takeovers):
            return DOWN
        if self.takeovers:
            return FAILOVER
        return DEGRADED if self.replicas_lost and not self.primaries_lost else UNAFFECTED

    @property
    def slots_down(self) -> int:
        return self.slots_without_copy + sum(t.slots for t in self.takeovers if not t.wins)


@dataclass(frozen=True)
class Recommendation:
    text: str
    command: str | None = None


@dataclass(frozen=True)
class WriteLoss:
    node_timeout_ms: int
    min_replicas_to_write: int
    min_replicas_max_lag_s: int
    bound_ms: int
    explanation: str


@dataclass(frozen=True)
class RiskReport:
    primaries: int
    quorum: int
    domains: dict[str, tuple[str, ...]]
    shards: tuple[Shard, ...]
    shared_domains: tuple[tuple[str, str], ...]  # (shard primary, domain holding two or more of its copies)
    losses: tuple[Loss, ...]
    write_loss: WriteLoss
    recommendations: tuple[Recommendation, ...]
    addresses: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def tolerance(self) -> int:
        """How many primaries may be lost at once with failovers still authorized."""
        return self.primaries - self.quorum

    @property
    def worst(self) -> str:
        order = ["ok", "warning", "critical"]
        single = [SEVERITY[loss.outcome] for loss in self.losses if len(loss.domains) == 1]
        found = max(single, key=order.index, default="ok")
        if self.primaries % 2 == 0 and found == "ok":
            found = "warning" if self.primaries == 2 else found
        if self.shared_domains and found == "ok":
            found = "warning"
        return found

    def to_dict(self) -> dict[str, Any]:
        def node(i: str) -> dict[str, str | None]:
            return {"id": i, "address": self.addresses.get(i), "domain": self.names.get(i)}

        return {
            "format": "rcdoctor.risk",
            "version": 1,
            "worst": self.worst,
            "primaries": self.primaries,
            "quorum": self.quorum,
            "tolerance": self.tolerance,
            "even_primaries": self.primaries % 2 == 0,
            "domains": {d: [node(i) for i in ids] for d, ids in self.domains.items()},
            "shards": [
                {"primary": node(s.primary), "replicas": [node(r) for r in s.replicas], "slots": s.slots}
                for s in self.shards
            ],
            "shared_domains": [{"shard": node(p), "domain": d} for p, d in self.shared_domains],
            "losses": [
                {
                    "domains": list(loss.domains),
                    "outcome": loss.outcome,
                    "nodes": [node(i) for i in loss.nodes],
                    "primaries_lost": [node(i) for i in loss.primaries_lost],
                    "primaries_left": loss.primaries_left,
                    "majority": loss.majority,
                    "shards_without_copy": [node(i) for i in loss.shards_without_copy],
                    "slots_down": loss.slots_down,
                    "takeovers": [
                        {
                            "shard": node(t.shard),
                            "slots": t.slots,
                            "candidates": [node(c) for c in t.candidates],
                            "wins": t.wins,
                            "reason": t.reason,
                        }
                        for t in loss.takeovers
                    ],
                }
                for loss in self.losses
            ],
            "write_loss": {
                "node_timeout_ms": self.write_loss.node_timeout_ms,
                "min_replicas_to_write": self.write_loss.min_replicas_to_write,
                "min_replicas_max_lag_s": self.write_loss.min_replicas_max_lag_s,
                "bound_ms": self.write_loss.bound_ms,
                "explanation": self.write_loss.explanation,
            },
            "recommendations": [{"text": r.text, "command": r.command} for r in self.recommendations],
        }


def shards_of(ctx: ClusterView) -> tuple[Shard, ...]:
    counts: dict[str, int] = {}
    for slot_range, owner in ctx.consensus:
        counts[owner] = counts.get(owner, 0) + slot_range.end - slot_range.start + 1
    return tuple(
        Shard(p, tuple(r for r in ctx.replicas_of.get(p, ()) if not ctx.reporters(r, "fail")), counts.get(p, 0))
        for p in ctx.slot_primaries
    )


def analyze_risk(ctx: ClusterView, pairs: bool = False) -> RiskReport:
    shards = shards_of(ctx)
    members = [i for s in shards for i in s.members]
    domain_of = {i: ctx.domain(i) or "?" for i in members}
    domains: dict[str, list[str]] = {}
    for i in members:
        domains.setdefault(domain_of[i], []).append(i)
    quorum = len(shards) // 2 + 1
    names = sorted(domains)
    groups: list[tuple[str, ...]] = [(d,) for d in names]
    if pairs:
        groups += list(combinations(names, 2))
    losses = tuple(_loss(group, shards, domain_of, quorum) for group in groups)
    shared = tuple(
        (s.primary, d)
        for s in shards
        for d in sorted({domain_of[m] for m in s.members})
        if sum(1 for m in s.members if domain_of[m] == d) > 1
    )
    write_loss = _write_loss(ctx, shards)
    report = RiskReport(
        primaries=len(shards),
        quorum=quorum,
        domains={d: tuple(ids) for d, ids in sorted(domains.items())},
        shards=shards,
        shared_domains=shared,
        losses=losses,
        write_loss=write_loss,
        recommendations=(),
        addresses={i: a for i in members if (a := ctx.address(i)) is not None},
        names=domain_of,
    )
    return replace(report, recommendations=tuple(_recommend(report, ctx)))


def _loss(group: tuple[str, ...], shards: Iterable[Shard], domain_of: dict[str, str], quorum: int) -> Loss:
    lost = {i for i, d in domain_of.items() if d in group}
    shards = tuple(shards)
    primaries_lost = tuple(s.primary for s in shards if s.primary in lost)
    left = len(shards) - len(primaries_lost)
    majority = left >= quorum
    without_copy = tuple(s.primary for s in shards if all(m in lost for m in s.members))
    takeovers = []
    for s in shards:
        if s.primary not in lost or s.primary in without_copy:
            continue
        candidates = tuple(r for r in s.replicas if r not in lost)
        if majority:
            reason = f"a replica is elected by {left} of {len(shards)} primaries (needs {quorum})"
        else:
            reason = f"only {left} of {len(shards)} primaries remain; an election needs {quorum}"
        takeovers.append(Takeover(s.primary, s.slots, candidates, majority, reason))
    replicas_lost = tuple(r for s in shards for r in s.replicas if r in lost)
    return Loss(
        domains=group,
        nodes=tuple(sorted(lost)),
        primaries_lost=primaries_lost,
        primaries_left=left,
        majority=majority,
        shards_without_copy=without_copy,
        slots_without_copy=sum(s.slots for s in shards if s.primary in without_copy),
        takeovers=tuple(takeovers),
        replicas_lost=replicas_lost,
    )


def _write_loss(ctx: ClusterView, shards: tuple[Shard, ...]) -> WriteLoss:
    timeout = ctx.node_timeout_ms
    values = [ctx.config_int(s.primary, "min-replicas-to-write") for s in shards]
    lags = [ctx.config_int(s.primary, "min-replicas-max-lag") for s in shards]
    to_write = min((v for v in values if v is not None), default=0)
    lag = max((v for v in lags if v is not None), default=10)
    if to_write > 0 and lag * 1000 < timeout:
        bound = lag * 1000
        text = (
            f"a primary cut off from the majority and from its replicas refuses writes once its replicas have "
            f"not acknowledged for min-replicas-max-lag {lag} s (min-replicas-to-write {to_write}); before that, "
            f"for up to ~{lag} s, its acknowledged writes are lost when it rejoins"
        )
    else:
        bound = timeout
        text = (
            f"a primary cut off from the majority keeps accepting writes until it has seen no majority for "
            f"cluster-node-timeout {timeout} ms (the cluster specification's bound); those acknowledged writes "
            "are lost when it rejoins after its replica took over"
        )
        if to_write > 0:
            text += f" (min-replicas-max-lag {lag} s is not shorter, so min-replicas-to-write does not shorten it)"
        else:
            text += "; min-replicas-to-write 1 with a short min-replicas-max-lag can shorten the window"
    return WriteLoss(timeout, to_write, lag, bound, text)


def _recommend(report: RiskReport, ctx: ClusterView) -> Iterable[Recommendation]:
    domain_of = report.names
    primaries_per_domain: dict[str, int] = {}
    for s in report.shards:
        primaries_per_domain[domain_of[s.primary]] = primaries_per_domain.get(domain_of[s.primary], 0) + 1
    seed = next(iter(report.addresses.values()), "ADDR")
    # Domains holding half or more of the primaries: move primaries off by failing over to a replica elsewhere.
    for domain, count in sorted(primaries_per_domain.items(), key=lambda kv: -kv[1]):
        excess = count - (report.primaries - report.quorum)
        if count * 2 < report.primaries or excess <= 0:
            continue
        movable = [s for s in report.shards if domain_of[s.primary] == domain]
        for shard in movable[:excess]:
            target = min(
                (r for r in shard.replicas if domain_of[r] != domain),
                key=lambda r: primaries_per_domain.get(domain_of[r], 0),
                default=None,
            )
            if target is None:
                continue  # every copy in this domain: the replica advice below comes first
            yield Recommendation(
                f"domain {domain} holds {count} of {report.primaries} primaries (losing it loses the majority): "
                f"fail shard {ctx.name(shard.primary)} over to its replica {ctx.name(target)} in {domain_of[target]}",
                f"redis-cli {_cli_address(report, target)} CLUSTER FAILOVER",
            )
            primaries_per_domain[domain] -= 1
            primaries_per_domain[domain_of[target]] = primaries_per_domain.get(domain_of[target], 0) + 1
    # Shards whose copies all sit in one domain (or with no replica at all).
    for loss in report.losses:
        if len(loss.domains) != 1:
            continue
        for primary in loss.shards_without_copy:
            shard = next(s for s in report.shards if s.primary == primary)
            elsewhere = sorted(d for d in report.domains if d not in loss.domains)
            where = f" in {elsewhere[0]}" if elsewhere else " on another host"
            why = "has no replica" if not shard.replicas else f"has every copy in {loss.domains[0]}"
            yield Recommendation(
                f"shard {ctx.name(primary)} {why}: add a replica{where} (losing {loss.domains[0]} loses "
                f"{shard.slots} slots)",
                f"rcdoctor add-node NEW_ADDR --to {seed} --replica-of {primary}",
            )
    if report.primaries % 2 == 0 and report.primaries > 0:
        yield Recommendation(
            f"{report.primaries} primaries tolerate the loss of {report.tolerance}, no more than "
            f"{report.primaries - 1} would: add a primary (an odd count) and rebalance",
            f"rcdoctor add-node NEW_ADDR --to {seed} --primary && rcdoctor rebalance {seed} "
            "--use-empty-primaries --apply",
        )
    if len(report.domains) < 3 and report.primaries >= 3:
        yield Recommendation(
            f"only {len(report.domains)} failure domain(s): with fewer than 3, losing the largest one always takes "
            "the majority of primaries or every copy of some shard; spread the pods over 3 or more "
            "(pod anti-affinity on kubernetes.io/hostname or topology.kubernetes.io/zone)"
        )


def _cli_address(report: RiskReport, node_id: str) -> str:
    address = report.addresses.get(node_id)
    if address is None:
        return "-h HOST -p PORT"
    endpoint = parse_hostport(address)
    return f"-h {endpoint.host} -p {endpoint.port}"
