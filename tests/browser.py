"""Headless Chromium for the report tests: Debian's `chromium` package driven from its system binary
(no browser download, no driver library). A missing Chromium FAILS the test: scripts/test.sh installs it.

    dump_dom(path, tmp) -> the DOM after Chromium parsed and laid out the page
    screenshot(path, tmp) -> the PNG, decoded here (pixels) to tell a real page from a blank one
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

TIMEOUT = 90


def chromium_binary() -> str:
    path = os.environ.get("RCDOCTOR_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "chromium is not installed (apt-get install chromium; scripts/test.sh does) or set $RCDOCTOR_TEST_CHROMIUM"
        )
    return path


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[bytes]:
    profile = tmp / "chromium-profile"
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium refuses its sandbox
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        *args,
    ]
    # its own process group, so a hung Chromium and its helpers are all stopped by the timeout
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def dump_dom(page: Path, tmp: Path) -> str:
    done = _run(["--dump-dom", page.resolve().as_uri()], tmp)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


def screenshot(page: Path, tmp: Path, size: str = "1280,1600") -> Path:
    shot = tmp / "screenshot.png"
    done = _run([f"--screenshot={shot}", f"--window-size={size}", "--hide-scrollbars", page.resolve().as_uri()], tmp)
    assert done.returncode == 0 and shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    return shot


def png_pixels(path: Path) -> tuple[int, int, list[tuple[int, ...]]]:
    """(width, height, pixels) of an 8-bit RGB/RGBA PNG (what Chromium writes), decoded by hand."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        previous = line
    pixels = [tuple(row[x * channels : x * channels + 3]) for row in rows[::8] for x in range(0, width, 8)]
    return width, height, pixels
