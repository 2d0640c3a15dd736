"""One place that prints: Rich on a terminal, plain JSON on request, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # On a pipe Rich assumes 80 columns and folds every cell; tables read better wider there.
    width = None if stream.isatty() else 160
    # emoji=False: Rich would otherwise turn `cluster_state:ok` into an emoji.
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width, emoji=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def error(message: str) -> None:
    """One line on stderr, nothing else (no traceback unless --debug)."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"rcdoctor: error: {text}\n")


def info(message: str) -> None:
    sys.stderr.write(message + "\n")
