"""Documentation of the checks, generated from their declarations (pure).

`docs/checks/CODE.md` and `rcdoctor explain CODE` both come from `check_doc`; a test regenerates the
pages and fails when the files differ.
"""

from __future__ import annotations

from rcdoctor.checks.base import FAMILIES, Check, Registry


def check_summary(check: Check, full: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        "code": check.code,
        "name": check.name,
        "family": check.family,
        "severity": check.severity,
        "summary": check.summary,
    }
    if full:
        data.update(
            explanation=check.explanation,
            evidence=check.evidence,
            why=check.why,
            fix=check.fix,
            heal=check.heal,
            explains=list(check.explains),
            needs=check.needs or None,
        )
    return data


def check_doc(check: Check, registry: Registry | None = None) -> str:
    lines = [
        f"# {check.code} {check.name}",
        "",
        f"**{check.summary}**",
        "",
        f"- Family: {FAMILIES[check.family]} (`{check.family}`)",
        f"- Severity: {check.severity}",
    ]
    if check.needs:
        lines.append(f"- Needs: {check.needs}")
    if check.explains:
        names = [f"{c} {registry.checks[c].name}" if registry else c for c in check.explains]
        lines.append(f"- Can be the root cause of: {', '.join(names)}")
    lines += [
        "",
        "## What it means",
        "",
        check.explanation,
        "",
        "## Evidence",
        "",
        check.evidence,
        "",
        "## Why it matters",
        "",
        check.why,
        "",
        "## Fix by hand",
        "",
        check.fix,
        "",
        "## Can `rcdoctor heal` fix it?",
        "",
        check.heal,
        "",
    ]
    return "\n".join(lines)


def index_doc(registry: Registry) -> str:
    lines = [
        "# Checks",
        "",
        "Generated from the registry (`python scripts/gen_check_docs.py`); `rcdoctor explain CODE` prints the same.",
        "Codes are stable: a code is never reused for another meaning.",
        "",
    ]
    for family, title in FAMILIES.items():
        lines += [f"## {title}", "", "| Code | Name | Severity | Summary |", "|---|---|---|---|"]
        for check in registry:
            if check.family == family:
                lines.append(f"| [{check.code}]({check.code}.md) | {check.name} | {check.severity} | {check.summary} |")
        lines.append("")
    return "\n".join(lines)


def all_docs(registry: Registry) -> dict[str, str]:
    """file name -> content, for docs/checks/."""
    pages = {f"{c.code}.md": check_doc(c, registry) for c in registry}
    pages["README.md"] = index_doc(registry)
    return pages
