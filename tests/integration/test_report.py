"""The incident report rendered by a real headless Chromium (Debian's `chromium`), and the seed incident
end to end on a live lab of every server: report with plan and timeline, timeline JSON, status at 80
columns."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.browser import dump_dom, png_pixels, screenshot
from tests.conftest import DATA, LabFactory, rcdoctor

from rcdoctor.collect import collect
from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply

PALETTE_FIRST = (0x4E, 0x79, 0xA7)  # the first owner's colour in the slot bar


class Dom(HTMLParser):
    """What the rendered DOM holds: the slot bar's rects, every data-code, the sections."""

    def __init__(self) -> None:
        super().__init__()
        self.segments = 0
        self.codes: set[str] = set()
        self.ids: set[str] = set()
        self.in_svg = False
        self.timeline_kinds: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "svg" and values.get("id") == "slot-map":
            self.in_svg = True
        if tag == "rect" and self.in_svg and "slot-seg" in (values.get("class") or ""):
            self.segments += 1
        if values.get("data-code"):
            self.codes.add(str(values["data-code"]))
        if tag == "tr" and (values.get("class") or "").startswith("k-"):
            self.timeline_kinds.append(str(values["class"])[2:])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_svg = False


def check_in_browser(page: Path, tmp: Path, codes: set[str]) -> Dom:
    dom_text = dump_dom(page, tmp)
    dom = Dom()
    dom.feed(dom_text)
    assert {"header", "slots", "views", "topology", "causes"} <= dom.ids, dom.ids
    assert dom.segments >= 1
    assert codes <= dom.codes, codes - dom.codes
    width, height, pixels = png_pixels(screenshot(page, tmp))
    assert (width, height) == (1280, 1600)
    # not blank: many colours, a good part of the page not background, the slot bar's first colour drawn
    assert len(set(pixels)) > 50
    background = max(set(pixels), key=pixels.count)
    assert sum(p != background for p in pixels) > len(pixels) // 10
    assert any(all(abs(a - b) < 12 for a, b in zip(p, PALETTE_FIRST, strict=True)) for p in pixels)
    return dom


def test_recorded_incident_report_renders_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = rcdoctor(
        "report",
        "--from",
        str(DATA / "new-address-redis7.json"),
        "--with-plan",
        "--logs",
        str(DATA / "logs" / "redis7"),
        "-o",
        str(out),
    )
    assert done.returncode == 2, done.stderr
    html = out.read_text()
    assert not re.search(r"https?://", html) and "<script" not in html
    codes = set(re.findall(r'data-code="([A-Z]\d{3})"', html))
    assert {"A003", "A004", "E004", "M008"} <= codes
    dom = check_in_browser(out, tmp_path, codes)
    assert {"plan", "timeline"} <= dom.ids and "state-fail" in dom.timeline_kinds


LOGGED_FAIL = "Cluster state changed: fail"


def wait_all_fail(lab: Lab, limit: float = 40) -> None:
    """Until every node says fail and has logged the change. A restarted node starts in fail (and stays
    so for its first seconds) before it first reaches ok: saying fail then is not yet the logged change
    from ok to fail that the timeline reads."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        states = [n.cluster_state for n in collect(lab.addresses, lab.options).nodes if n.address in lab.addresses]
        logged = all(LOGGED_FAIL in (Path(n.dir) / "redis.log").read_text(errors="replace") for n in lab.nodes)
        if states and all(s == "fail" for s in states) and logged:
            return
        time.sleep(0.25)
    pytest.fail(f"not every node says fail and has logged it after {limit}s")


@pytest.mark.integration
def test_seed_incident_report_timeline_and_status_on_a_live_lab(
    make_lab: LabFactory, redis_binary: RedisBinary, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary)
    apply(lab, FaultOp("new-address", "all"))
    wait_all_fail(lab)
    logs = [str(Path(n.dir) / "redis.log") for n in lab.nodes]
    out = tmp_path / "incident.html"
    args = ["report", *lab.addresses, "--with-plan", "-o", str(out)]
    done = rcdoctor(*args, *[a for log in logs for a in ("--logs", log)])
    assert done.returncode == 2, done.stderr
    html = out.read_text()
    assert not re.search(r"https?://", html)
    dom = check_in_browser(out, tmp_path, {"A003"})
    assert {"plan", "timeline"} <= dom.ids
    # the timeline over the six server logs: time-ordered, a state-fail event from every node (each log
    # is one node: all are named redis.log, so by path; a snapshot names them by their new address)
    snapshot = tmp_path / "snapshot.json"
    assert rcdoctor("collect", *lab.addresses, "-o", str(snapshot)).returncode == 2  # old addresses refuse
    done = rcdoctor("timeline", *logs, "--snapshot", str(snapshot), "--format", "json")
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    fails = [e for e in events if e["kind"] == "state-fail"]
    assert {e["node"] for e in fails} == {f"n{i}/redis.log" for i in range(1, 7)}  # distinct ends of the paths
    assert {e["address"] for e in fails} == set(lab.addresses)
    # the lab's own logs, named as the lab names its nodes, at their current addresses
    done = rcdoctor("timeline", "--lab", lab.state.name, "--lab-dir", lab.state.root, "--format", "json")
    assert done.returncode == 0, done.stderr
    fails = [e for e in json.loads(done.stdout)["events"] if e["kind"] == "state-fail"]
    assert {(e["node"], e["address"]) for e in fails} == {(n.name, n.address) for n in lab.nodes}
    # status at 80 columns: every line fits, every address whole on one line
    done = rcdoctor("status", *lab.addresses, env={"COLUMNS": "80"})
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    for address in lab.addresses:
        assert any(address in line for line in lines), (address, done.stdout)
    # heal it, with progress, and report again with heal's journal: healthy now, each step in the page
    journal = tmp_path / "heal.jsonl"
    healed = rcdoctor("heal", *lab.addresses, "--apply", "--journal", str(journal), env={"COLUMNS": "80"})
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "phase meet:" in healed.stdout and re.search(r"ok +1/\d+ ", healed.stdout), healed.stdout
    after = rcdoctor("report", *lab.addresses, "--journal", str(journal), "--format", "markdown")
    assert after.returncode == 0, after.stderr
    assert "**healthy** (exit 0)" in after.stdout and "## Journal" in after.stdout
    assert re.search(r"\| step \| ok: \S+: CLUSTER MEET ", after.stdout), after.stdout
