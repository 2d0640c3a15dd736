"""A command as plans hold it (a tuple of strings), and how it reads in a plan shown to people."""

from __future__ import annotations


def brief(command: tuple[str, ...]) -> str:
    """A command for people: long argument lists (ADDSLOTS of thousands of slots) cut after six."""
    shown = command if len(command) <= 8 else (*command[:6], f"… ({len(command) - 6} more)")
    return " ".join(a if a else '""' for a in shown)  # an empty argument (CONFIG SET x "") stays visible
