"""Every command's ``--help`` renders, and flags are shown without a value type."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from liveloop.cli.main import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(group, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_help_renders_and_flags_take_no_value_type() -> None:
    root = typer.main.get_command(app)
    paths = _commands(root)
    assert len(paths) > 40 and ("import",) in paths and ("live", "replay") in paths
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=120)
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
    replay = runner.invoke(app, ["live", "replay", "--help"], terminal_width=120).output
    assert "--json " in replay and "--speed" in replay and "<float>" in replay  # value options keep types
