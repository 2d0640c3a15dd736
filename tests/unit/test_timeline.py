"""The timeline: the pure line parser (hypothesis), the classifier and the merge, on server logs
recorded from the lab on every server of the test matrix (tests/data/record_logs.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import DATA, VERSIONS

from rcdoctor.model.snapshot import Snapshot
from rcdoctor.timeline import KINDS, Source, build, classify, parse_line, zone
from rcdoctor.timeline.events import RULES
from rcdoctor.timeline.inputs import InputTooLarge, read_lines
from rcdoctor.timeline.merge import Timeline

LOGS = DATA / "logs"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def recorded(tag: str) -> list[Source]:
    return [Source(str(p), p.read_text().splitlines()) for p in sorted((LOGS / tag).glob("n*.log"))]


def snapshot_ids(tag: str) -> dict[str, str]:
    snapshot = Snapshot.load(LOGS / tag / "snapshot.json")
    return {n.node_id: n.address for n in snapshot.answered if n.node_id}


# --- one line --------------------------------------------------------------------------------------


def test_a_real_line_of_each_server_parses() -> None:
    line = parse_line("1742:S 02 Dec 2026 05:36:32.168 # Cluster state changed: fail")
    assert line is not None
    assert (line.pid, line.role, line.level, line.text) == (1742, "S", "warning", "Cluster state changed: fail")
    assert line.time == datetime(2026, 12, 2, 5, 36, 32, 168000, tzinfo=UTC)
    signal = parse_line("1662:signal-handler (1796189789) Received SIGTERM scheduling shutdown...")
    assert signal is not None and signal.role == "signal-handler" and signal.time.year == 2026


def test_kubectl_prefix_and_timestamp_win_over_the_guessed_zone() -> None:
    raw = (
        "[pod/redis-main-1/redis] 2026-12-02T03:12:04.123456789Z "
        "1:M 02 Dec 2026 05:12:04.120 * Cluster state changed: ok"
    )
    line = parse_line(raw, zone("+02:00"))
    assert line is not None and line.pod == "pod/redis-main-1/redis"
    assert line.time == datetime(2026, 12, 2, 3, 12, 4, 123456, tzinfo=UTC)


def test_compose_and_journald_prefixes() -> None:
    compose = parse_line("redis-node-2  | 1:M 02 Dec 2026 05:12:04.120 # Cluster state changed: fail")
    assert compose is not None and compose.pod == "redis-node-2" and compose.text == "Cluster state changed: fail"
    journald = parse_line(
        "Dec 02 05:12:04 host-a redis-server[1742]: 1742:S 02 Dec 2026 05:12:04.120 * Ready to accept connections"
    )
    assert journald is not None and journald.pod is None and journald.pid == 1742
    assert journald.text == "Ready to accept connections"
    lines = [f"n{i}  | 1:M 02 Dec 2026 05:12:0{i}.000 # Cluster state changed: fail" for i in range(3)]
    assert {n for n, _, _ in build([Source("-", lines)]).nodes} == {"n0", "n1", "n2"}


def test_the_server_zone_is_applied_to_its_local_times() -> None:
    line = parse_line("1:M 02 Dec 2026 05:12:04.120 * Ready to accept connections", zone("+02:00"))
    assert line is not None and line.time.astimezone(UTC).hour == 3


@pytest.mark.parametrize("bad", ["+25:00", "2", "UTC+2", ""])
def test_bad_zones_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        zone(bad)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1:M 31 Feb 2026 05:12:04.120 * not a date",
        "1:M 02 Foo 2026 05:12:04.120 * no month",
        "1:Q 02 Dec 2026 05:12:04.120 * no role",
        "[pod/x] garbage",
        "                _._",
    ],
)
def test_what_is_no_server_line_is_none(text: str) -> None:
    assert parse_line(text) is None


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_parse_line_never_raises(text: str) -> None:
    line = parse_line(text)
    if line is not None:
        assert line.time.tzinfo is not None
        classify(line.text)


@settings(max_examples=300, deadline=None)
@given(
    pid=st.integers(0, 10**9),
    role=st.sampled_from("MSCX"),
    when=st.datetimes(datetime(1970, 1, 2), datetime(9999, 1, 1)),
    level=st.sampled_from(".-*#"),
    text=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=120),
    prefix=st.booleans(),
)
def test_generated_server_lines_round_trip(
    pid: int, role: str, when: datetime, level: str, text: str, prefix: bool
) -> None:
    stamp = f"{when.day:02d} {MONTHS[when.month - 1]} {when.year} {when:%H:%M:%S}.{when.microsecond // 1000:03d}"
    raw = f"{pid}:{role} {stamp} {level} {text}"
    if prefix:
        raw = f"[pod/redis-{pid % 7}/redis] {raw}"
    line = parse_line(raw)
    assert line is not None
    assert (line.pid, line.role, line.text) == (pid, role, text.strip())
    assert line.time == when.replace(microsecond=when.microsecond // 1000 * 1000, tzinfo=UTC)
    assert line.pod == (f"pod/redis-{pid % 7}/redis" if prefix else None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_build_never_raises_on_garbage(lines: list[str]) -> None:
    timeline = build([Source("x.log", lines)])
    assert [e.time for e in timeline.events] == sorted(e.time for e in timeline.events)


@pytest.mark.parametrize(
    "text",
    [  # what valkey-server 8.1.8 logs through a lab half-migration and its closing (Redis 6.2/7.0/8.2: nothing)
        "Importing slot 7 from node 7e2a8f2b751766605e7f487c9d71560f713246d7 ()",
        "Migrating slot 7 to node 06e5d06af2587be48ba94ad5756c5fb60c1fc5f6 ()",
        "Marking slot 7 stable",
    ],
)
def test_valkey_slot_migration_lines(text: str) -> None:
    assert classify(text) == "slot-migration"


def test_every_kind_has_one_rule_and_a_sample() -> None:
    samples = {
        "state-fail": "Cluster state changed: fail",
        "marked-fail": "Marking node " + "a" * 40 + " () as failing (quorum reached).",
        "election-won": "Failover election won: I'm the new primary.",
        "epoch-collision": "configEpoch collision with node " + "b" * 40 + " (). configEpoch set to 7",
        "slot-migration": "Migrating slot 7 to node " + "c" * 40 + " ()",
        "sync-partial": "Successful partial resynchronization with master.",
        "meet": "Cluster meet 10.0.0.1:6379 (user request from 'id=3 addr=10.0.0.9:4242').",
    }
    assert len(set(KINDS)) == len(RULES)
    for kind, text in samples.items():
        assert classify(text) == kind, text


# --- recorded logs: the failover and the seed incident on every server ------------------------------


@pytest.mark.parametrize("tag", VERSIONS)
def test_recorded_logs_tell_the_seed_incident(tag: str) -> None:
    ids = snapshot_ids(tag)
    timeline = build(recorded(tag), addresses=ids)
    assert timeline.parsed > 500 and {n for n, _, _ in timeline.nodes} == {f"n{i}" for i in range(1, 7)}
    # each log is mapped to its node by its own lines: the ids and addresses the snapshot knows
    assert {i: a for _, i, a in timeline.nodes} == ids
    times = [e.time for e in timeline.events]
    assert times == sorted(times)
    by_node: dict[str, list[str]] = {}
    for event in timeline.events:
        by_node.setdefault(event.node, []).append(event.kind)
    # the seed incident: every node restarted at once (its last start), then each says fail, then ok
    last_starts = [max(e.time for e in timeline.events if e.node == n and e.kind == "start") for n in by_node]
    assert max(last_starts) - min(last_starts) < timedelta(seconds=3)
    for node, kinds in by_node.items():
        tail = kinds[len(kinds) - kinds[::-1].index("start") :]
        assert "state-fail" in tail, (node, tail)
        assert "state-ok" in tail[tail.index("state-fail") :], (node, tail)
    # the killed primary: peers reach the quorum, its replica wins the election and takes an epoch
    kinds = [e.kind for e in timeline.events]
    for kind in ("marked-fail", "election-start", "election-won", "vote", "config-epoch", "sync-full", "ready"):
        assert kind in kinds, kind
    won = next(e for e in timeline.events if e.kind == "election-won")
    assert any(e.kind == "vote" and won.node_id in e.text for e in timeline.events)


@pytest.mark.parametrize("tag", VERSIONS)
def test_repeats_are_folded_but_state_changes_never(tag: str) -> None:
    folded = build(recorded(tag))
    every = build(recorded(tag), fold=False)
    assert len(folded.events) <= len(every.events)
    assert sum(e.count for e in folded.events) == len(every.events)
    for kind in ("state-fail", "state-ok", "start", "election-won"):
        assert [e for e in folded.events if e.kind == kind] == [e for e in every.events if e.kind == kind]


def test_json_has_the_documented_fields() -> None:
    data = build(recorded("redis7")).to_dict()
    assert data["format"] == "rcdoctor.timeline" and data["version"] == 1
    events = data["events"]
    assert isinstance(events, list)
    for event in events:
        assert {"time", "node", "kind", "text"} <= set(event)
        datetime.fromisoformat(event["time"])


def test_kubectl_logs_of_several_pods_in_one_stream_are_one_node_per_pod() -> None:
    lines = []
    for index, source in enumerate(recorded("valkey8")):
        for raw in source.lines:
            parsed = parse_line(raw)
            stamp = parsed.time.strftime("%Y-%m-%dT%H:%M:%S.%f000Z") if parsed else "2026-12-02T00:00:00Z"
            lines.append(f"[pod/redis-main-{index}/redis] {stamp} {raw}")
    timeline = build([Source("-", lines)])
    assert {n for n, _, _ in timeline.nodes} == {f"redis-main-{i}" for i in range(6)}
    fails = {e.node for e in timeline.events if e.kind == "state-fail"}
    assert fails == {f"redis-main-{i}" for i in range(6)}


def test_between_keeps_the_window() -> None:
    timeline: Timeline = build(recorded("redis6"))
    middle = timeline.events[len(timeline.events) // 2].time
    later = timeline.between(middle, None)
    assert later.events and all(e.time >= middle for e in later.events)
    assert not timeline.between(None, middle - timedelta(days=1)).events


def test_an_endless_input_is_cut(tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zero, pytest.raises(InputTooLarge):
        list(read_lines(zero, "/dev/zero", 4 * 1024**2))


def test_two_files_of_one_name_keep_their_paths() -> None:
    a = Source("a/redis.log", ["1:M 02 Dec 2026 05:12:04.120 * Cluster state changed: ok"])
    b = Source("b/redis.log", ["1:M 02 Dec 2026 05:12:05.120 * Cluster state changed: fail"])
    timeline = build([a, b], tz=UTC)
    assert [e.node for e in timeline.events] == ["a/redis.log", "b/redis.log"]


def test_logs_of_one_file_name_are_named_by_the_shortest_distinct_end_of_their_paths() -> None:
    line = ["1:M 02 Dec 2026 05:12:04.120 * Cluster state changed: fail"]
    sources = [Source(f"/var/lib/lab/n{i}/redis.log", line) for i in (1, 2)] + [Source("redis.log", line)]
    assert {n for n, _, _ in build(sources).nodes} == {"n1/redis.log", "n2/redis.log", "redis.log"}


@pytest.mark.parametrize(
    "raw",
    [
        "19996:M 2026-12-02T06:35:14.440+00:00 # Cluster state changed: fail",  # log-timestamp-format iso8601
        "20028:M 1796193314440 # Cluster state changed: fail",  # log-timestamp-format milliseconds
        'pid=19996 role=primary timestamp="02 Dec 2026 06:35:14.440" level=warning '
        'message="Cluster state changed: fail"',  # log-format logfmt
        'pid=19996 role=replica timestamp="2026-12-02T06:35:14.440+00:00" level=notice '
        'message="Cluster state changed: fail"',
    ],
)
def test_valkey_81_log_formats(raw: str) -> None:
    """Lines as valkey-server 8.1.8 writes them with its log-format / log-timestamp-format settings."""
    line = parse_line(raw)
    assert line is not None and line.text == "Cluster state changed: fail" and classify(line.text) == "state-fail"
    assert line.time == datetime(2026, 12, 2, 6, 35, 14, 440000, tzinfo=UTC)
    assert line.role in ("M", "S")


def test_a_logfmt_message_with_quotes_is_unescaped() -> None:
    line = parse_line('pid=1 role=primary timestamp="1796193314440" level=notice message="Cluster meet \\"x\\" ok"')
    assert line is not None and line.text == 'Cluster meet "x" ok'


def _first_rule(text: str) -> str | None:
    return next((kind for kind, pattern in RULES if pattern.search(text)), None)


@pytest.mark.parametrize("tag", VERSIONS)
def test_the_combined_pattern_classifies_as_the_rules_in_order(tag: str) -> None:
    for source in recorded(tag):
        for raw in source.lines:
            line = parse_line(raw)
            if line is not None:
                assert classify(line.text) == _first_rule(line.text), line.text


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([p.pattern.lstrip("^")[:30] for _, p in RULES]), st.text(max_size=40))
def test_the_combined_pattern_agrees_on_generated_text(head: str, tail: str) -> None:
    text = head.replace("\\", "") + tail
    assert classify(text) == _first_rule(text)
