"""The CLI's bridge makes path arguments absolute before a command runs inside the server, and only
them: a command's own name that reads like a path (`users export --to export/`) stays a name."""

from __future__ import annotations

from pathlib import Path

import typer

from liveloop.cli.bridge import absolute_paths
from liveloop.cli.main import app


def test_only_path_values_become_absolute(tmp_path: Path) -> None:
    command = typer.main.get_command(app)
    assert absolute_paths(command, ["users", "export", "u1", "--to", "export/"], tmp_path) == [
        "users", "export", "u1", "--to", str(tmp_path / "export/"),
    ]  # fmt: skip
    assert absolute_paths(command, ["export", "--to", "export"], tmp_path) == [
        "export",
        "--to",
        str(tmp_path / "export"),
    ]
    assert absolute_paths(command, ["import", "events.csv"], tmp_path) == [
        "import",
        str(tmp_path / "events.csv"),
    ]
    assert absolute_paths(command, ["users", "show", "export"], tmp_path) == [
        "users",
        "show",
        "export",
    ]  # an id
