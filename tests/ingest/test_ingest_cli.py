"""The data commands end to end: init, import, status, quarantine list/show/retry, labels, export."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liveloop.cli.main import app

runner = CliRunner()


def _run(*args: str) -> dict | list:
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_data_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    monkeypatch.delenv("LIVELOOP_SECRET_KEY", raising=False)
    init = _run("init")
    assert init["key"] == "created" and stat.S_IMODE(os.stat(init["key_file"]).st_mode) == 0o600
    assert _run("init")["key"] == "exists"

    src = tmp_path / "events.csv"
    src.write_text(
        "event_id,ts,user_id,type\n"
        "e1,2024-05-01 10:00:00,u1,view\n"
        "e2,2024-05-01 10:00:00,u1,pageview2\n"
        "e1,2024-05-01 10:00:00,u1,view\n"
    )
    report = _run("import", str(src))
    assert (report["rows_read"], report["loaded"], report["duplicates"], report["quarantined"]) == (
        3,
        1,
        1,
        1,
    )

    status = _run("status")
    assert status["tables"]["events"]["rows"] == 1 and status["quarantine_by_reason"] == {
        "unknown_event_type": 1
    }
    human = runner.invoke(app, ["status"], terminal_width=160, env={"LIVELOOP_TIMEZONE": "Asia/Shanghai"})
    assert "2024-05-01 18:00 CST" in human.output and "times in Asia/Shanghai" in human.output  # not UTC
    [row] = _run("quarantine", "list")
    shown = _run("quarantine", "show", str(row["quarantine_id"]))
    assert json.loads(shown["raw"])["type"] == "pageview2" and shown["line"] == 3

    assert _run("labels", "add", "event_type", "PageView2", "page")["raw"] == "pageview2"
    retried = _run("quarantine", "retry", "--all")
    assert (retried["rows_read"], retried["loaded"]) == (1, 1)
    assert _run("quarantine", "list") == []

    lake = tmp_path / "lake"
    assert _run("export", "--to", str(lake))["tables"]["events"] == 2
    restored = _run("import-parquet", str(lake))
    assert restored["events"] == {"read": 2, "loaded": 0, "duplicates": 2}


def test_failures_are_one_line_and_non_zero(tmp_path: Path) -> None:
    env = {**os.environ, "LIVELOOP_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", "import", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: file not found: {tmp_path / 'missing.csv'}"]
    pipe = tmp_path / "events.csv"
    os.mkfifo(pipe)  # nobody writes to it: reading would block forever
    for source in (pipe, Path("/dev/zero")):  # a line that never ends
        out = subprocess.run(
            [sys.executable, "-m", "liveloop.cli.main", "import", str(source)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        assert out.returncode == 2 and "not a regular file" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_ctrl_c_says_what_was_kept_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C inside a command (Typer hands back exit code 130): one line saying committed chunks are kept."""
    import liveloop.ingest
    from liveloop.cli.main import main

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("LIVELOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(liveloop.ingest, "import_file", interrupted)
    src = tmp_path / "events.csv"
    src.write_text("event_id,ts,user_id,type\n")
    monkeypatch.setattr(sys, "argv", ["liveloop", "import", str(src)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "after the chunk in flight" in err[0] and "re-run the same command" in err[0]
    assert "nothing partial" not in err[0]


def test_human_report_names_a_non_utf8_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVELOOP_HOME", str(tmp_path / "home"))
    src = tmp_path / "events.csv"
    src.write_bytes("event_id,ts,user_id,type,text\ne1,2024-05-01 10:00:00,u1,comment,好\n".encode("gbk"))
    result = runner.invoke(app, ["import", str(src)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rows read 1 = loaded 1" in result.stdout and "read as gb18030" in result.stdout


def test_quarantine_show_shortens_a_huge_raw_row_on_screen_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVELOOP_HOME", str(tmp_path / "home"))
    src = tmp_path / "events.csv"
    src.write_text("event_id,ts,user_id,type,text\ne1,2024-05-01 10:00:00,u1,comment," + "好" * 50_000 + "\n")
    assert _run("import", str(src))["quarantined"] == 1
    [row] = _run("quarantine", "list")
    assert len(json.loads(_run("quarantine", "show", str(row["quarantine_id"]))["raw"])["text"]) == 50_000
    human = runner.invoke(app, ["quarantine", "show", str(row["quarantine_id"])], catch_exceptions=False)
    assert human.exit_code == 0 and "characters; --json prints them all" in human.stdout
    assert len(human.stdout) < 20_000
