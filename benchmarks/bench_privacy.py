"""Privacy: erasures in a large warehouse (``BENCH_PRIVACY_USERS`` users, 10 events, 1 order with 2
lines, 1 comment and 1 audited decision each): the ``BENCH_PRIVACY_ERASED`` most active users erased one
request each, the next ``BENCH_PRIVACY_BATCH`` in one batch (one compaction for them all), beside the
plain ``DELETE`` + ``CHECKPOINT`` that a naive erasure would stop at and a compaction alone.

The warehouse is written straight with DuckDB ``INSERT … SELECT`` from ``range`` (no ingest validation:
that is measured by ``bench_ingest``), the users' e-mails encrypted as the ingest path does.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key, load_cipher
from liveloop.privacy import rights
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_PRIVACY_USERS", "1000000"))
GOAL_S = 5.0
#: ``auto`` (DuckDB's compression, as served) or ``uncompressed`` (every id visible to a byte search).
COMPRESSION = os.environ.get("BENCH_PRIVACY_COMPRESSION", "auto")
#: How many of the most active users are erased one request each, then how many more in one batch.
ERASED = int(os.environ.get("BENCH_PRIVACY_ERASED", "3"))
BATCH = int(os.environ.get("BENCH_PRIVACY_BATCH", "20"))


def _fill(wh: Warehouse, n: int) -> None:
    wh.sql(
        "INSERT INTO users (user_id, signup_ts, region, email_index) "
        "SELECT 'u' || lpad(i::VARCHAR, 7, '0'), TIMESTAMPTZ '2026-01-01' + to_seconds(i % 86400), "
        "'浙江', md5(i::VARCHAR) FROM range(?) t(i)",
        [n],
    )
    wh.sql(
        "INSERT INTO products (product_id, title, category, price) "
        "SELECT 'p' || i, 'product ' || i, 'beauty', 99 FROM range(5000) t(i)"
    )
    wh.sql(
        "INSERT INTO events (event_id, user_id, type, product_id, ts) "
        "SELECT 'e' || i, 'u' || lpad((hash(i) % ?)::VARCHAR, 7, '0'), 'view', 'p' || (i % 5000), "
        "TIMESTAMPTZ '2026-03-01' + to_seconds(i % 2592000) FROM range(?) t(i)",
        [n, 10 * n],
    )
    wh.sql(
        "INSERT INTO orders (order_id, user_id, ts, status, amount) "
        "SELECT 'o' || i, 'u' || lpad(i::VARCHAR, 7, '0'), TIMESTAMPTZ '2026-03-02', 'paid', 198 "
        "FROM range(?) t(i)",
        [n],
    )
    wh.sql(
        "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, amount) "
        "SELECT 'o' || (i // 2), i % 2, 'p' || (i % 5000), 1, 99, 99 FROM range(?) t(i)",
        [2 * n],
    )
    wh.sql(
        "INSERT INTO comments (comment_id, user_id, ts, text) "
        "SELECT 'c' || i, 'u' || lpad(i::VARCHAR, 7, '0'), TIMESTAMPTZ '2026-03-03', '好看' "
        "FROM range(?) t(i)",
        [n],
    )
    wh.sql(
        "INSERT INTO audit_log (actor, action, subject, decision, details) "
        "SELECT 'recommend', 'recommend.list', 'u' || lpad(i::VARCHAR, 7, '0'), 'personalised', "
        '\'{"items": ["p1", "p2"]}\' FROM range(?) t(i)',
        [n],
    )
    wh.sql("CHECKPOINT")


def _naive(wh: Warehouse, user: str) -> float:
    """The plain erasure a first attempt stops at: ``DELETE`` + ``CHECKPOINT``; returns its seconds."""
    t0 = time.perf_counter()
    with wh.transaction() as con:
        con.execute(
            "DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE user_id = ?)",
            [user],
        )
        for table in ("events", "orders", "comments", "users"):
            con.execute(f"DELETE FROM {table} WHERE user_id = ?", [user])
    wh.sql("CHECKPOINT")
    return time.perf_counter() - t0


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        settings = Settings(home=Path(tmp) / "home", secret_key=generate_key())
        cipher = load_cipher(settings)
        wh = Warehouse.open(settings)
        if COMPRESSION != "auto":  # uncompressed, a byte search sees every stored id: a true check
            wh.sql(f"PRAGMA force_compression = '{COMPRESSION}'")
        t0 = time.perf_counter()
        _fill(wh, USERS)
        fill_s = time.perf_counter() - t0
        size = wh.path.stat().st_size
        events = wh.sql("SELECT count(*) FROM events")[0][0]
        active = [  # the most active users: their events lie in the most row groups
            r[0]
            for r in wh.sql(
                "SELECT user_id FROM events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?", [ERASED + BATCH]
            )
        ]
        naive_user = wh.sql("SELECT user_id FROM users ORDER BY user_id LIMIT 1 OFFSET 12345")[0][0]
        naive_s = _naive(wh, naive_user)
        naive_left = naive_user.encode() in wh.path.read_bytes()
        erasures = []
        for user in active[:ERASED]:  # one request each: each compacts the file
            report = rights.erase_user(wh, user, settings=settings, cipher=cipher, actor="bench")
            erasures.append(
                {
                    "seconds": report["seconds"],
                    "rows_s": report["rows_seconds"],
                    "verified": report["verified"],
                }
            )
        batch = rights.erase_users(wh, active[ERASED:], settings=settings, cipher=cipher, actor="bench")
        t0 = time.perf_counter()
        sizes = wh.compact()
        compact_s = time.perf_counter() - t0
        wh.close()
    times = sorted(e["seconds"] for e in erasures)
    result = {
        "machine": machine(),
        "users": USERS,
        "compression": COMPRESSION,
        "events": events,
        "warehouse_bytes": size,
        "fill_s": round(fill_s, 1),
        "erasures": erasures,
        "erase_median_s": times[len(times) // 2],
        "erase_max_s": times[-1],
        "erasures_verified": sum(bool(e["verified"]) for e in erasures),
        "batch_users": len(batch["users"]),
        "batch_s": batch["seconds"],
        "batch_per_user_s": round(batch["seconds"] / len(batch["users"]), 2),
        "batch_verified": sum(bool(u["verified"]) for u in batch["users"]),
        "compact_s": round(compact_s, 2),
        "compacted_bytes": sizes,
        "naive_delete_checkpoint_s": round(naive_s, 2),
        "naive_leaves_bytes": naive_left,
        "goal_s": GOAL_S,
    }
    print(result)
    return result
