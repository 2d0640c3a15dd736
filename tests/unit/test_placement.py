"""Placement of primaries and replicas for `create`: invariants over generated domain layouts."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcdoctor.errors import UsageError
from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.plan.placement import CreatePlan, Member, plan_create, split_slots


def _members(domains: list[str]) -> list[Member]:
    return [Member(f"10.0.0.{i + 1}:6379", d) for i, d in enumerate(domains)]


def _shared(plan: CreatePlan) -> list[int]:
    return [i for i, s in enumerate(plan.shards) if len({m.domain for m in s.members}) < len(s.members)]


def test_six_nodes_on_three_hosts_given_host_by_host() -> None:
    # Given in host order, as `kubectl get pods` per node lists them: naive pairing would colocate.
    plan = plan_create(_members(["a", "a", "b", "b", "c", "c"]), replicas=1)
    assert not plan.warnings
    assert not _shared(plan)
    assert sorted(p.domain for p in plan.primaries) == ["a", "b", "c"]
    assert [(s.slots.start, s.slots.end) for s in plan.shards] == [(0, 5461), (5462, 10922), (10923, 16383)]


def test_two_domains_cannot_hold_a_majority_apart() -> None:
    plan = plan_create(_members(["a", "b", "a", "b", "a", "b"]), replicas=1)
    assert not _shared(plan)  # every replica is still off its primary's domain
    assert any("holds 2 of 3 primaries" in w and "only 2 failure domain" in w for w in plan.warnings)


def test_one_domain_puts_whole_shards_in_it() -> None:
    plan = plan_create(_members(["rack"] * 6), replicas=1)
    assert _shared(plan) == [0, 1, 2]
    assert sum("loses the whole shard" in w for w in plan.warnings) == 3


def test_extra_nodes_become_extra_replicas() -> None:
    plan = plan_create(_members(["a", "b", "c", "a", "b", "c", "a", "b"]), replicas=1)
    assert len(plan.shards) == 4
    assert sorted(len(s.replicas) for s in plan.shards) == [1, 1, 1, 1]
    plan = plan_create(_members(["a", "b", "c"] * 3), replicas=1)
    assert len(plan.shards) == 4 and sorted(len(s.replicas) for s in plan.shards) == [1, 1, 1, 2]


@pytest.mark.parametrize(
    ("domains", "replicas", "message"),
    [
        (["a", "b", "c", "d", "e"], 1, "make 2 primaries"),
        (["a", "b"], 0, "make 2 primaries"),
    ],
)
def test_too_few_nodes_is_a_usage_error(domains: list[str], replicas: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_create(_members(domains), replicas)


def test_an_address_given_twice_is_a_usage_error() -> None:
    members = [*_members(["a", "b", "c"]), Member("10.0.0.1:6379", "a")]
    with pytest.raises(UsageError, match=r"more than once: 10\.0\.0\.1:6379"):
        plan_create(members, 0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=3, max_size=40).map(lambda xs: [f"d{x}" for x in xs]),
    st.integers(0, 3),
)
def test_placement_invariants(domains: list[str], replicas: int) -> None:
    members = _members(domains)
    count = len(members) // (replicas + 1)
    if count < 3:
        with pytest.raises(UsageError):
            plan_create(members, replicas)
        return
    plan = plan_create(members, replicas)
    placed = [m for s in plan.shards for m in s.members]
    assert sorted(m.address for m in placed) == sorted(m.address for m in members)  # each node exactly once
    assert len(plan.shards) == count and all(len(s.replicas) >= replicas for s in plan.shards)
    assert max(len(s.members) for s in plan.shards) - min(len(s.members) for s in plan.shards) <= 1
    slots = [slot for s in plan.shards for slot in s.slots]
    assert slots == list(range(SLOT_COUNT))
    sizes = Counter(domains)
    if max(sizes.values()) <= count:
        # No domain has more nodes than there are shards: then no shard needs two copies in one domain.
        assert not _shared(plan)
        assert not any("share failure domain" in w for w in plan.warnings)
    else:
        assert _shared(plan)  # pigeonhole: some shard must hold two nodes of the biggest domain
    held = Counter(p.domain for p in plan.primaries)
    majority = 2 * max(held.values()) >= count
    assert majority == any("primaries: losing it" in w for w in plan.warnings)
    if len(sizes) >= count and max(sizes.values()) <= count:
        # Enough domains for one primary each, so none needs to hold two.
        assert max(held.values()) == 1


def test_split_slots_is_even() -> None:
    for count in (3, 7, 100):
        sizes = [len(r) for r in split_slots(count)]
        assert sum(sizes) == SLOT_COUNT and max(sizes) - min(sizes) <= 1
