"""Every command's options are distinct (Click only warns when two share a flag, and the second is lost)."""

from __future__ import annotations

from collections.abc import Iterator

import click

from rcdoctor.cli.app import app


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")


def test_no_command_declares_a_flag_twice() -> None:
    seen = list(commands(app))
    assert len(seen) > 20
    for name, command in seen:
        flags = [opt for param in command.params for opt in (*param.opts, *param.secondary_opts)]
        duplicated = {f for f in flags if flags.count(f) > 1}
        assert not duplicated, f"rcdoctor {name}: {duplicated}"
        targets = [p.name for p in command.params]
        assert len(targets) == len(set(targets)), f"rcdoctor {name}: parameter names {targets}"
