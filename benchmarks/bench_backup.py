"""Backup while serving: ``liveloop backup`` of a warehouse of ``BENCH_BACKUP_USERS`` users (10 events
each: 10M events at 1M users) run through the serving process while a client reads users one after
another. Reported: the backup's time, the reads served during it and their p50/p99, and, as the
comparison in the same run, a plain copy of the (checkpointed) file with ``shutil.copyfile`` — what a
copy costs when nothing is served and nothing is checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_api import _pct
from benchmarks.bench_privacy import _fill
from benchmarks.machine import machine
from benchmarks.served import read_users, served
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.privacy.keys import create_key
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_BACKUP_USERS", "1000000"))


def run() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        secret = generate_key()
        settings = Settings(home=tmp / "home", secret_key=secret)
        with Warehouse.open(settings) as wh:
            _fill(wh, USERS)
            events = wh.sql("SELECT count(*) FROM events")[0][0]
            key = create_key(wh, "analyst", "bench").key
        size = settings.db_path.stat().st_size
        t0 = time.perf_counter()
        shutil.copyfile(settings.db_path, tmp / "plain-copy.duckdb")
        plain_s = time.perf_counter() - t0
        (tmp / "plain-copy.duckdb").unlink()
        reads: list[tuple[float, float]] = []  # (start, seconds)
        stop = threading.Event()
        env = {**os.environ, "LIVELOOP_HOME": str(settings.home), "LIVELOOP_SECRET_KEY": secret}
        with served(settings) as (_proc, base):
            thread = threading.Thread(target=read_users, args=(base, key, USERS, stop, reads))
            thread.start()
            time.sleep(2)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "liveloop.cli.main", "backup", "--to", str(tmp / "backup.duckdb")],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            end = time.perf_counter()
            stop.set()
            thread.join()
        during = [s for t, s in reads if start <= t <= end]
        result = {
            "machine": machine(),
            "users": USERS,
            "events": events,
            "warehouse_bytes": size,
            "backup_ok": done.returncode == 0,
            "backup_s": round(end - start, 2),
            "backup_stderr": done.stderr[-300:],
            "reads_during_backup": len(during),
            "read_p50_ms": round(_pct(during, 0.5) * 1e3, 1),
            "read_p99_ms": round(_pct(during, 0.99) * 1e3, 1),
            "plain_file_copy_s": round(plain_s, 2),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(result)
    return result
