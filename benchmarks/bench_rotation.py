"""Key rotation while serving: ``BENCH_ROTATION_USERS`` users with a phone, an e-mail and a name
(encrypted), re-encrypted under a new key through ``POST /v1/keys/rotate-secret`` while one client reads
users one after another and another writes new users with PII. Reported: the rotation's time, the reads
and writes served during it (reads' p50/p99, writes' status mix, p50 and longest wait: the last pass
holds the writer lock), and whether every user's values then
open with the new key alone; beside it, in the same run, the same rotation with the server stopped
(``rotate_secret`` in-process, nothing served).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
from cryptography.exceptions import InvalidTag

from benchmarks.bench_api import _pct
from benchmarks.machine import machine
from benchmarks.served import read_users, served
from liveloop.core.config import Settings
from liveloop.core.crypto import cipher_of, load_cipher
from liveloop.privacy.keys import create_key
from liveloop.privacy.rotation import rotate_secret
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_ROTATION_USERS", "1000000"))
_CHUNK = 100_000


def _fill(wh: Warehouse, settings: Settings, n: int) -> None:
    cipher = load_cipher(settings)
    for start in range(0, n, _CHUNK):
        ids = range(start, min(n, start + _CHUNK))
        phones = [f"139{i:08d}" for i in ids]
        wh.append(
            "users",
            pa.table(
                {
                    "user_id": [f"u{i:07d}" for i in ids],
                    "phone_enc": [cipher.encrypt(p, context="users.phone") for p in phones],
                    "phone_index": [cipher.blind_index(p) for p in phones],
                    "email_enc": [cipher.encrypt(f"u{i}@example.cn", context="users.email") for i in ids],
                    "name_enc": [cipher.encrypt(f"用户{i}", context="users.name") for i in ids],
                }
            ),
        )


def _unopened(settings: Settings) -> int:
    """Users whose phone the current key alone does not open."""
    alone = cipher_of(settings.key_path.read_text())
    with Warehouse.open(settings) as wh:
        blobs = wh.sql("SELECT phone_enc FROM users WHERE phone_enc IS NOT NULL")
    failed = 0
    for (blob,) in blobs:
        try:
            alone.decrypt(blob, context="users.phone")
        except InvalidTag:
            failed += 1
    return failed


def run() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-rotation-"))
    try:
        settings = Settings(home=tmp / "home")  # the key in the home's key file, as rotation needs
        with Warehouse.open(settings) as wh:
            t0 = time.perf_counter()
            _fill(wh, settings, USERS)
            fill_s = time.perf_counter() - t0
            admin = create_key(wh, "admin", "bench").key
            analyst = create_key(wh, "analyst", "bench-reader").key
            ingest = create_key(wh, "ingest", "bench-writer").key
        reads: list[tuple[float, float]] = []
        writes: list[tuple[float, int, float]] = []
        stop = threading.Event()
        with served(settings, {"LIVELOOP_SECRET_KEY": ""}) as (_proc, base):

            def writer() -> None:
                with httpx.Client(base_url=base, headers={"X-API-Key": ingest}, timeout=120) as client:
                    i = 0
                    while not stop.is_set():
                        i += 1
                        t = time.perf_counter()
                        user = {"user_id": f"w{i:07d}", "phone": f"137{i:08d}", "email": f"w{i}@example.cn"}
                        code = client.post("/v1/users", json=user).status_code
                        writes.append((t, code, time.perf_counter() - t))
                        time.sleep(0.05)

            threads = [
                threading.Thread(target=read_users, args=(base, analyst, USERS, stop, reads)),
                threading.Thread(target=writer),
            ]
            for thread in threads:
                thread.start()
            time.sleep(2)
            start = time.perf_counter()
            with httpx.Client(base_url=base, headers={"X-API-Key": admin}, timeout=3600) as client:
                rotated = client.post("/v1/keys/rotate-secret")
            end = time.perf_counter()
            stop.set()
            for thread in threads:
                thread.join()
        unopened_online = _unopened(settings)
        with Warehouse.open(settings) as wh:
            t0 = time.perf_counter()
            offline = rotate_secret(wh, settings, actor="bench")
            offline_s = time.perf_counter() - t0
        during = [s for t, s in reads if start <= t <= end]
        result = {
            "machine": machine(),
            "users": USERS,
            "fill_s": round(fill_s, 1),
            "rotation_status": rotated.status_code,
            "rotation": rotated.json() if rotated.status_code == 200 else rotated.text[-300:],
            "rotation_s": round(end - start, 2),
            "reads_during": len(during),
            "read_p50_ms": round(_pct(during, 0.5) * 1e3, 1),
            "read_p99_ms": round(_pct(during, 0.99) * 1e3, 1),
            "writes_during": dict(Counter(code for t, code, _ in writes if start <= t <= end)),
            "write_p50_ms": round(_pct([w for t, _, w in writes if start <= t <= end], 0.5) * 1e3, 1),
            "write_max_ms": round(max((w for t, _, w in writes if start <= t <= end), default=0) * 1e3, 1),
            "users_not_opened_by_the_new_key_alone": unopened_online,
            "offline_rotation_s": round(offline_s, 2),
            "offline_rotation": offline,
            "users_not_opened_after_offline": _unopened(settings),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(result)
    return result
