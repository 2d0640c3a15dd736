"""The grouped view index (model/view_index.py) gives what walking every line of every view gives.

test_findings_unchanged proves it on the recorded snapshots as they load (views grouped); here the same
snapshots are judged with every view parsed apart (no line object shared, so every view is a group of
its own and the exact walk decides), and the index is compared with the plain (viewer, line) walk.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.conftest import DATA

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.parse_cache import ParseCache
from rcdoctor.model.snapshot import NodeSample, Snapshot
from rcdoctor.model.view import AnalysisSettings, ClusterView

RECORDED = sorted(DATA.glob("*.json"))


def _parsed_apart(snapshot: Snapshot) -> Snapshot:
    nodes = []
    for node in snapshot.nodes:
        alone = replace(node, parse_cache=ParseCache())
        _ = alone.view, alone.myself  # cached with its own parser: shares no object with the others
        nodes.append(alone)
    return replace(snapshot, nodes=tuple(nodes))


def _walk(ctx: ClusterView) -> dict[str, list[tuple[str, ClusterNode]]]:
    found: dict[str, list[tuple[str, ClusterNode]]] = {}
    for sample in ctx.viewers:
        for entry in sample.view.value:
            if not entry.is_myself:
                found.setdefault(entry.id, []).append((sample.address, entry))
    return found


def _pairs(ctx: ClusterView) -> dict[str, list[tuple[str, ClusterNode]]]:
    return {i: [(s.address, e) for s, e in pairs] for i, pairs in ctx.listings.items()}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_listings_are_the_walk(path: Path) -> None:
    for snapshot in (Snapshot.load(path), _parsed_apart(Snapshot.load(path))):
        ctx = ClusterView(snapshot)
        assert _pairs(ctx) == _walk(ctx)
        for node_id, pairs in _walk(ctx).items():
            assert sum(len(x.viewers) for x in ctx.listed(node_id)) == len(pairs)


@pytest.mark.parametrize("path", RECORDED[::3], ids=lambda p: p.stem)
def test_views_parsed_apart_find_the_same(path: Path) -> None:
    registry = default_registry()
    together = analyze(Snapshot.load(path), registry, settings=AnalysisSettings())
    apart = analyze(_parsed_apart(Snapshot.load(path)), registry, settings=AnalysisSettings())
    assert [f.to_dict() for f in apart.findings] == [f.to_dict() for f in together.findings]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_views_that_agree_are_one_group(path: Path) -> None:
    ctx = ClusterView(Snapshot.load(path))
    agree: dict[frozenset[ClusterNode], list[str]] = {}
    for sample in ctx.viewers:
        lines = frozenset(replace(e, flags=e.flags - {"myself"}) for e in sample.view.value)
        agree.setdefault(lines, []).append(sample.address)
    grouped = sorted(sorted(s.address for s in g.viewers) for g in ctx.index.groups)
    assert grouped == sorted(sorted(v) for v in agree.values())


def test_a_view_with_a_line_twice_is_judged_alone() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    first = snapshot.nodes[0]
    text = first.replies["CLUSTER NODES"]
    doubled = text + text.splitlines()[-1] + "\n" if "myself" not in text.splitlines()[-1] else text + text
    odd: NodeSample = replace(first, replies={**first.replies, "CLUSTER NODES": doubled})
    ctx = ClusterView(replace(snapshot, nodes=(odd, *snapshot.nodes[1:])))
    assert any(g.viewers == (ctx.own[odd.node_id or ""],) for g in ctx.index.groups)
    assert _pairs(ctx) == _walk(ctx)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_status_counts_lines_as_the_walk_does(path: Path) -> None:
    from collections import Counter

    from rcdoctor.status import _listings

    snapshot = Snapshot.load(path)
    ctx = ClusterView(snapshot)
    if len(ctx.viewers) != len(snapshot.answered):
        pytest.skip("a node answered at two addresses: status walks every view")
    grouped, walked = _listings(snapshot, ctx, grouped=True), _listings(snapshot, ctx, grouped=False)
    assert set(grouped) == set(walked)
    # the nodes only listed in the same order (answering ones are put first by build_status)
    assert [i for i in grouped if i not in ctx.answers_at] == [i for i in walked if i not in ctx.answers_at]
    for node_id, items in walked.items():
        want: Counter[ClusterNode] = Counter()
        for entry, count in items:
            want[entry] += count
        got: Counter[ClusterNode] = Counter()
        for entry, count in grouped[node_id]:
            got[entry] += count
        assert got == want, node_id
