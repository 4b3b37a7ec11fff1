"""Backup and restore: a consistent copy taken while the server writes, restored and compared row for row."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import Conflict, LiveloopError
from liveloop.warehouse import Warehouse
from liveloop.warehouse.backup import backup, restore

LIVELOOP = str(Path(sys.executable).with_name("liveloop"))


def _rows(wh: Warehouse) -> dict[str, list[tuple]]:
    return {t: sorted(map(repr, wh.sql(f'SELECT * FROM "{t}"'))) for t in wh.tables()}  # type: ignore[misc]


def test_a_backup_restores_every_row_of_every_table(
    wh: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    from liveloop.datasets.simulator import simulate_into_warehouse

    simulate_into_warehouse(wh, scale="tiny", seed=3, users=60, days=2)
    taken = backup(wh, tmp_path / "b" / "copy.duckdb")
    assert taken["tables"]["events"] > 0 and stat.S_IMODE(Path(taken["path"]).stat().st_mode) == 0o600
    with pytest.raises(Conflict):
        backup(wh, tmp_path / "b" / "copy.duckdb")
    before = _rows(wh)
    other = Settings(home=tmp_path / "restored")
    done = restore(other, Path(taken["path"]))
    assert done["kept"] is None and done["tables"]["events"] == taken["tables"]["events"]
    with Warehouse.open(other) as copy:
        assert _rows(copy) == before
        copy.sql("INSERT INTO audit_log (actor, action) VALUES ('t', 'after-restore')")  # sequences carried
    with pytest.raises(LiveloopError) as bad:
        restore(other, Path(__file__))
    assert bad.value.field == "source"


@pytest.mark.slow
def test_backup_while_serving_is_consistent_and_restore_waits_for_the_server(
    live_server_factory, tmp_path: Path
) -> None:
    srv = live_server_factory()
    env = {**srv.env}
    ingest = srv.headers("ingest")

    def post(batch: int) -> None:
        events = [
            {
                "event_id": f"b{batch}-{i}",
                "ts": "2026-11-11T12:00:00+08:00",
                "user_id": f"u{i}",
                "type": "view",
            }
            for i in range(200)
        ]
        assert (
            httpx.post(f"{srv.base_url}/v1/events", json={"events": events}, headers=ingest).status_code
            == 200
        )

    post(0)
    writers = [threading.Thread(target=post, args=(b,)) for b in range(1, 9)]
    for t in writers:
        t.start()
    target = tmp_path / "while-serving.duckdb"
    run = subprocess.run(
        [LIVELOOP, "backup", "--to", str(target)], env=env, capture_output=True, text=True, timeout=300
    )
    for t in writers:
        t.join()
    assert run.returncode == 0, run.stderr
    with srv.client("admin") as admin, srv.client("analyst") as analyst:  # the same through the API
        made = admin.post("/v1/backups")
        assert made.status_code == 200 and made.json()["tables"]["events"] >= 200
        assert [b["name"] for b in admin.get("/v1/backups").json()["items"]] == [
            Path(made.json()["path"]).name
        ]
        assert analyst.post("/v1/backups").status_code == 403
    refused = subprocess.run(
        [LIVELOOP, "restore", str(target)], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "in use" in refused.stderr and len(refused.stderr.splitlines()) == 1
    srv.stop()
    other = {**env, "LIVELOOP_HOME": str(tmp_path / "restored")}
    done = subprocess.run([LIVELOOP, "restore", str(target)], env=other, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Warehouse.open(Settings(home=tmp_path / "restored")) as copy:
        batches = dict(copy.sql("SELECT split_part(event_id, '-', 1), count(*) FROM events GROUP BY 1"))
    assert batches["b0"] == 200 and set(batches.values()) == {200}  # whole batches only: one state
    assert os.path.exists(target)
