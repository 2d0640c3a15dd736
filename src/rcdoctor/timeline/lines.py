"""Pure parser of one Redis / Valkey log line; never raises, returns None for anything else.

The server's format since Redis 3 (6.2, 7.x, 8.x and Valkey alike) is

    PID:ROLE DD Mon YYYY HH:MM:SS.mmm LEVEL message
    1742:S 02 Dec 2026 05:36:32.168 # Cluster state changed: fail

ROLE is M (primary), S (replica), C (a forked child: RDB/AOF writer) or X (sentinel); LEVEL is `.` debug,
`-` verbose, `*` notice, `#` warning. The signal handler writes `PID:signal-handler (UNIX-SECONDS) text`.
Valkey 8.1 may also write its time as ISO-8601 or Unix milliseconds (`log-timestamp-format`) and whole
lines as logfmt (`log-format logfmt`: `pid=… role=primary timestamp="…" level=notice message="…"`).
`kubectl logs --prefix --timestamps` puts `[pod/NAME/CONTAINER] RFC3339-TIME ` in front; either part
may be missing. `docker compose logs` puts `SERVICE  | ` in front (the service names the node, like a
pod). Any other prefix (journald's `Dec 02 05:36:32 host redis-server[1742]: `) is skipped. The server
writes its local time with no zone: the caller says which zone it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

MONTHS = {
    m: i
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}
LEVELS = {".": "debug", "-": "verbose", "*": "notice", "#": "warning"}

# The three timestamp forms (Valkey 8.1's log-timestamp-format legacy, iso8601, milliseconds).
LEGACY_TIME = re.compile(
    r"(?P<day>\d{1,2}) (?P<month>[A-Z][a-z]{2}) (?P<year>\d{4}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<ms>\d{1,6}))?"
)
TIME = (
    r"(?P<when>\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?|\d{12,14})"
)
SERVER_LINE = re.compile(r"(?P<pid>\d{1,10}):(?P<role>[MSCX]) " + TIME + r" (?P<level>[.\-*#]) (?P<text>.*)")
# Valkey 8.1's log-format logfmt: pid=1 role=primary timestamp="…" level=notice message="…"
LOGFMT_LINE = re.compile(
    r'pid=(?P<pid>\d{1,10}) role=(?P<role>[a-z-]{1,20}) timestamp="' + TIME + r'" '
    r'level=(?P<level>[a-z]{1,10}) message="(?P<text>.*)"'
)
LOGFMT_ROLES = {"primary": "M", "master": "M", "replica": "S", "slave": "S", "child": "C", "sentinel": "X"}
SIGNAL_LINE = re.compile(r"(?P<pid>\d{1,10}):signal-handler \((?P<epoch>\d{1,12})\) (?P<text>.*)")
KUBECTL_PREFIX = re.compile(r"\[(?P<prefix>[^\]\s]{1,400})\] ")
COMPOSE_PREFIX = re.compile(r"(?P<prefix>[A-Za-z0-9][\w.-]{0,200})\s+\| ")
# The server's part of a line behind a prefix we do not know: found where a word starts.
EMBEDDED = re.compile(r"(?:^|(?<=\s))(?=\d{1,10}:(?:[MSCX] \d|signal-handler \()|pid=\d)")
RFC3339 = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<zone>Z|[+-]\d{2}:\d{2}) "
)


@dataclass(frozen=True)
class LogLine:
    time: datetime  # always timezone-aware
    pid: int
    role: str  # "M", "S", "C", "X" or "signal-handler"
    level: str  # "debug", "verbose", "notice", "warning"
    text: str
    pod: str | None = None  # from a `kubectl logs --prefix` line: pod/NAME/CONTAINER


def zone(offset: str) -> timezone:
    """`+02:00`, `-0530`, `Z` or `UTC` as a timezone; ValueError otherwise."""
    value = offset.strip().upper()
    if value in ("Z", "UTC", "+00:00", "00:00"):
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", value)
    if not match or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(f"not a UTC offset: {offset!r} (use e.g. +02:00 or Z)")
    minutes = int(match[2]) * 60 + int(match[3])
    return timezone(timedelta(minutes=minutes if match[1] == "+" else -minutes))


def parse_line(line: str, tz: timezone = UTC) -> LogLine | None:
    """One log line, or None when it is not a server log line (a blank line, a banner, noise)."""
    rest = line.rstrip("\r\n")
    pod = None
    match = KUBECTL_PREFIX.match(rest) or COMPOSE_PREFIX.match(rest)
    if match:
        pod, rest = match["prefix"], rest[match.end() :]
    stamp = None
    match_time = RFC3339.match(rest)
    if match_time:
        stamp = _rfc3339(match_time)
        rest = rest[match_time.end() :]
    server, signal, logfmt = _forms(rest)
    if server is None and signal is None and logfmt is None and (found := EMBEDDED.search(rest)) is not None:
        server, signal, logfmt = _forms(rest[found.start() :])
    found_line = server or logfmt
    if found_line is not None:
        when = _when(found_line["when"], tz)
        if when is None:
            return None
        if server:
            role, level, text = server["role"], LEVELS[server["level"]], server["text"]
        else:
            role = LOGFMT_ROLES.get(found_line["role"], "?")
            level, text = found_line["level"], found_line["text"].replace('\\"', '"').replace("\\\\", "\\")
        # kubectl's stamp is when the runtime read the line, in UTC: it wins over a guessed zone.
        return LogLine(stamp or when, int(found_line["pid"]), role, level, text.strip(), pod)
    if signal:
        try:
            when = stamp or datetime.fromtimestamp(int(signal["epoch"]), UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return LogLine(when, int(signal["pid"]), "signal-handler", "warning", signal["text"].strip(), pod)
    return None


def _forms(text: str) -> tuple[re.Match[str] | None, re.Match[str] | None, re.Match[str] | None]:
    server = SERVER_LINE.fullmatch(text)
    if server:
        return server, None, None
    signal = SIGNAL_LINE.fullmatch(text)
    return None, signal, (None if signal else LOGFMT_LINE.fullmatch(text))


def _when(text: str, tz: timezone) -> datetime | None:
    """A server timestamp in any of its forms; legacy ones are in the server's zone `tz`."""
    legacy = LEGACY_TIME.fullmatch(text)
    if legacy:
        return _server_time(legacy, tz)
    if text.isdigit():  # milliseconds since the epoch
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def _server_time(match: re.Match[str], tz: timezone) -> datetime | None:
    month = MONTHS.get(match["month"])
    if month is None:
        return None
    ms = match["ms"] or "0"
    try:
        return datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(ms.ljust(6, "0")[:6]),
            tzinfo=tz,
        )
    except ValueError:  # 31 Feb, hour 25: not a line the server wrote
        return None


def _rfc3339(match: re.Match[str]) -> datetime | None:
    try:
        base = datetime.strptime(match["stamp"], "%Y-%m-%dT%H:%M:%S")
        micros = int((match["frac"] or "0").ljust(6, "0")[:6])
        return base.replace(microsecond=micros, tzinfo=zone(match["zone"]))
    except ValueError:
        return None
