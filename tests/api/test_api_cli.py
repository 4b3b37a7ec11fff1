"""The service's commands: keys create/list/revoke, and serve refusing several workers (one clear line)."""

from __future__ import annotations

import json
import sys

import pytest

from liveloop.cli.main import main


def _run(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["liveloop", *argv])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_lifecycle_on_the_command_line(settings, capsys, monkeypatch):
    code, out, _ = _run(
        ["keys", "create", "--role", "marketer", "--name", "crm", "--json"], capsys, monkeypatch
    )
    assert code == 0
    created = json.loads(out)
    assert created["key"].startswith(f"ll_{created['key_id']}.") and created["role"] == "marketer"
    code, out, _ = _run(["keys", "list", "--json"], capsys, monkeypatch)
    listed = json.loads(out)
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    assert created["key"] not in out  # the secret is shown once, never listed
    from liveloop.warehouse import Warehouse

    with Warehouse.open(settings) as wh:
        stored = wh.sql("SELECT hash FROM api_keys")[0][0]
    assert stored.startswith("$argon2id$") and created["key"] not in stored
    assert _run(["keys", "revoke", created["key_id"]], capsys, monkeypatch)[0] == 0
    code, _, err = _run(["keys", "revoke", created["key_id"]], capsys, monkeypatch)
    assert code != 0 and err.count("\n") == 1 and "already revoked" in err


def test_bad_role_and_several_workers_fail_with_one_line(settings, capsys, monkeypatch):
    code, _, err = _run(["keys", "create", "--role", "boss", "--name", "x"], capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "unknown role" in err
    code, _, err = _run(["serve", "--workers", "4"], capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "DuckDB" in err
