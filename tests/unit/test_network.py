"""The lab's partition rules (pure parts) and the one-line reason when partitions cannot work here."""

from __future__ import annotations

import pytest

from rcdoctor.errors import FaultError
from rcdoctor.lab import network


def test_a_partition_cuts_both_ways_and_only_between_groups() -> None:
    cuts = network.cuts_between([{"127.1.0.1", "127.1.0.2"}, {"127.1.0.3"}])
    assert sorted((sorted(a), sorted(b)) for a, b in cuts) == [
        (["127.1.0.1", "127.1.0.2"], ["127.1.0.3"]),
        (["127.1.0.3"], ["127.1.0.1", "127.1.0.2"]),
    ]
    three = network.cuts_between([{"a"}, {"b"}, {"c"}])
    assert len(three) == 6 and all(not (a & b) for a, b in three)


def test_ruleset_replaces_only_this_labs_table_and_drops_on_input() -> None:
    text = network.ruleset("rcdoctor_abc", [(frozenset({"127.1.0.1"}), frozenset({"127.1.0.2", "127.1.0.3"}))])
    lines = text.splitlines()
    assert lines[0] == "table ip rcdoctor_abc" and lines[1] == "delete table ip rcdoctor_abc"
    assert "hook input" in text  # input: a sender is not told (output would answer EPERM at once)
    assert "ip saddr { 127.1.0.1 } ip daddr { 127.1.0.2, 127.1.0.3 } drop" in text
    assert "flush ruleset" not in text


def test_table_names_are_stable_and_distinct_per_lab() -> None:
    assert network.table_name("/tmp/lab-a") == network.table_name("/tmp/lab-a")
    assert network.table_name("/tmp/lab-a") != network.table_name("/tmp/lab-b")
    assert network.table_name("/tmp/x").startswith("rcdoctor_")


def test_without_nft_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network.shutil, "which", lambda _: None)
    monkeypatch.setattr(network.os.path, "exists", lambda _: False)
    with pytest.raises(FaultError, match="apt-get install nftables"):
        network.install("/tmp/lab", [(frozenset({"a"}), frozenset({"b"}))])
    network.remove("/tmp/lab")  # healing without nftables is a no-op, never an error
