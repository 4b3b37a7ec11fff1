"""A crash (SIGKILL) or Ctrl-C (SIGINT) mid-import leaves the warehouse consistent; re-run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.ingest import import_file
from liveloop.warehouse import Warehouse

ROWS, BAD_EVERY, CHUNK = 24_000, 400, 3_000

CHILD = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # not inherited as ignored (`cmd &` in sh)
    from liveloop.ingest import engine, import_file
    from liveloop.warehouse import Warehouse

    original = engine.process_chunk

    def noisy(ctx, chunk, targets):
        original(ctx, chunk, targets)
        print("chunk", ctx.report.rows_read, flush=True)

    engine.process_chunk = noisy
    with Warehouse(sys.argv[1]) as wh:
        import_file(wh, sys.argv[2], chunk_rows=int(sys.argv[3]))
    print("done", flush=True)
    """
)


def _write(path: Path) -> None:
    with path.open("w") as fh:
        fh.write("event_id,ts,user_id,type,product_id\n")
        for i in range(ROWS):
            kind = "warp" if i % BAD_EVERY == 0 else "view"
            fh.write(f"e{i},2024-05-01 10:{i % 60:02d}:00,u{i % 997},{kind},p{i % 101}\n")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_import_is_consistent_and_rerun_completes(
    settings: Settings, tmp_path: Path, sig: int
) -> None:
    src = tmp_path / "events.csv"
    _write(src)
    db = tmp_path / "wh.duckdb"
    Warehouse(db).close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(src), str(CHUNK)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    for _ in range(3):  # let three chunks commit, then interrupt the fourth
        assert child.stdout.readline().startswith("chunk")
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0, "the import finished before it could be interrupted"
    assert "Traceback" not in err or sig == signal.SIGINT

    good_total, bad_total = ROWS - ROWS // BAD_EVERY, ROWS // BAD_EVERY
    with Warehouse(db) as wh:
        events = wh.sql("SELECT count(*) FROM events")[0][0]
        quarantined = wh.sql("SELECT count(*) FROM quarantine")[0][0]
        status, rows_read, loaded, q = wh.sql("SELECT status, rows_read, loaded, quarantined FROM imports")[0]
        # whole chunks only, and the import row agrees with what is in the tables
        assert 0 < rows_read < ROWS and rows_read % CHUNK == 0
        assert (loaded, q) == (events, quarantined) and events + quarantined == rows_read
        assert status == ("interrupted" if sig == signal.SIGINT else "running")

        report = import_file(wh, src, chunk_rows=CHUNK)
        assert report.rows_read == ROWS and report.balanced
        assert report.duplicates == events and report.loaded == good_total - events
        assert wh.sql("SELECT count(*), count(DISTINCT event_id) FROM events")[0] == (good_total, good_total)
        assert wh.sql("SELECT count(*) FROM quarantine")[0][0] == bad_total
        statuses = dict(wh.sql("SELECT status, count(*) FROM imports GROUP BY 1"))
        assert statuses == {"interrupted": 1, "done": 1}


@pytest.fixture(autouse=True)
def _sigint_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt during each test, whatever the test runner was started with (a
    background job of a non-interactive shell starts with SIGINT ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _sigint_during_chunk(monkeypatch: pytest.MonkeyPatch, which: int) -> None:
    """Send this process SIGINT while chunk number ``which`` (1-based) is being loaded."""
    from liveloop.ingest import engine

    original, seen = engine.process_chunk, [0]

    def chunk(ctx: object, c: object, targets: object) -> None:
        seen[0] += 1
        if seen[0] == which:
            os.kill(os.getpid(), signal.SIGINT)
        original(ctx, c, targets)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "process_chunk", chunk)


@pytest.mark.parametrize(
    ("chunk", "status", "rows_read"),
    [(2, "interrupted", 2 * CHUNK), (ROWS // CHUNK, "done", ROWS)],
    ids=["the chunk in flight commits, then the import stops", "in the last chunk: complete, caller stops"],
)
def test_ctrl_c_in_process(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    status: str,
    rows_read: int,
) -> None:
    src = tmp_path / "events.csv"
    _write(src)
    _sigint_during_chunk(monkeypatch, chunk)
    with Warehouse.open(settings) as wh:
        with pytest.raises(KeyboardInterrupt):
            import_file(wh, src, chunk_rows=CHUNK)
        assert wh.sql("SELECT status, rows_read FROM imports")[0] == (status, rows_read)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_an_ignored_sigint_stays_ignored(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "events.csv"
    _write(src)
    _sigint_during_chunk(monkeypatch, 2)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. a background job
    try:
        with Warehouse.open(settings) as wh:
            assert import_file(wh, src, chunk_rows=CHUNK).rows_read == ROWS
    finally:
        signal.signal(signal.SIGINT, before)
