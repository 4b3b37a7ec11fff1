"""The recommend commands through the CLI entry point (in process): JSON output and one-line failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from liveloop.cli.main import main


def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["liveloop", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bundles_json_and_bad_input(settings, data_home: Path, monkeypatch, capsys) -> None:
    code, out, err = _cli(monkeypatch, capsys, "recommend", "bundles", "--top", "3", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["rules"] == 410 and len(body["top"]) == 3 and body["top"][0]["then"] == "bottled beer"

    code, _, err = _cli(monkeypatch, capsys, "recommend", "show", "someone", "-k", "0")
    assert code == 2 and err.startswith("error: k must be between") and "Traceback" not in err

    code, _, err = _cli(monkeypatch, capsys, "recommend", "train")
    assert code == 1 and "no product events" in err and len(err.strip().splitlines()) == 1
