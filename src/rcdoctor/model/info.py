"""Parsers for `INFO` and `CLUSTER INFO` replies (`key:value` lines, `# Section` headers)."""

from __future__ import annotations

from collections.abc import Mapping

from rcdoctor.model.parsed import Parsed

Section = Mapping[str, str]


def parse_info(text: str) -> Parsed[dict[str, dict[str, str]]]:
    """INFO reply -> {section (lower case): {field: value}}. Fields before any header go to ''."""
    sections: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None  # the current one, made when its first field comes
    current = ""
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = line.lstrip("#").strip().lower()
            section = sections.setdefault(current, {})
            continue
        key, sep, value = line.partition(":")
        if not sep or not key:
            errors.append(f"line {number}: no 'key:value': {line[:120]!r}")
            continue
        if section is None:
            section = sections.setdefault(current, {})
        section[key] = value
    return Parsed(sections, tuple(errors))


def server_section(text: str) -> dict[str, str]:
    """INFO's `# Server` section alone (the reply's first): what a collector needs to know which
    commands a node has, without parsing the rest of every node's INFO once more."""
    start = text.find("# Server")
    if start < 0:
        return parse_info(text).value.get("server", {})
    end = text.find("\n#", start + 1)
    return parse_info(text[start : None if end < 0 else end]).value.get("server", {})


def parse_kv(text: str) -> Parsed[dict[str, str]]:
    """CLUSTER INFO reply -> {field: value}."""
    parsed = parse_info(text)
    merged: dict[str, str] = {}
    for fields in parsed.value.values():
        merged.update(fields)
    return Parsed(merged, parsed.errors)


def parse_keyspace(section: Section) -> dict[str, int]:
    """`db0:keys=1,expires=0,avg_ttl=0` -> {"db0": 1}; unreadable entries are skipped."""
    counts: dict[str, int] = {}
    for db, value in section.items():
        for item in value.split(","):
            name, _, number = item.partition("=")
            if name == "keys" and number.isdigit():
                counts[db] = int(number)
    return counts


def as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
