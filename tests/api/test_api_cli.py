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


def test_demo_serve_prints_the_url_and_an_admin_key_the_served_app_accepts(
    settings, tmp_path, capsys, monkeypatch
):
    """The face of ``demo --serve``: the world build is cut to its admin-key step (the whole demo is run
    and checked in test_api_demo, minutes of work); the serving is real, briefly, on a free port."""
    import re
    import socket
    import threading
    import time
    from dataclasses import replace

    import httpx
    import uvicorn

    import liveloop.cli.service_cmds
    import liveloop.demo
    from liveloop.server import create_app

    monkeypatch.setattr(liveloop.demo, "STEPS", [("admin_key", liveloop.demo.step_admin_key)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seen: dict[str, object] = {}

    def serve(*, host: str, port: int, home) -> None:
        printed = capsys.readouterr().out  # everything the command printed before it serves
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(replace(settings, home=home)), host=host, port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            url = re.search(r"serving the dashboard at (\S+)", printed).group(1)
            key = re.search(r"admin key \(shown once\): (\S+)", printed).group(1)
            deadline = time.monotonic() + 30
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["url"], seen["home"] = url, home
            seen["login"] = httpx.get(f"{url}login", timeout=10).status_code
            seen["keys"] = httpx.get(f"{url}v1/keys", headers={"X-API-Key": key}, timeout=10).status_code
        finally:
            server.should_exit = True
            thread.join(30)

    monkeypatch.setattr(liveloop.cli.service_cmds, "run_server", serve)
    home = tmp_path / "demo-home"
    code, _, err = _run(["demo", "--serve", "--port", str(port), "--home", str(home)], capsys, monkeypatch)
    assert code == 0, err
    assert seen == {"url": f"http://127.0.0.1:{port}/", "home": home, "login": 200, "keys": 200}
