"""Privacy: one user's erasure in a large warehouse (``BENCH_PRIVACY_USERS`` users, 10 events, 1 order
with 2 lines, 1 comment and 1 audited decision each), split into its steps, beside the plain
``DELETE`` + ``CHECKPOINT`` that a naive erasure would stop at (which leaves the bytes in the file).

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


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        settings = Settings(home=Path(tmp) / "home", secret_key=generate_key())
        cipher = load_cipher(settings)
        wh = Warehouse.open(settings)
        t0 = time.perf_counter()
        _fill(wh, USERS)
        fill_s = time.perf_counter() - t0
        size = wh.path.stat().st_size
        events = wh.sql("SELECT count(*) FROM events")[0][0]
        target = wh.sql("SELECT user_id FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
        naive_user = wh.sql("SELECT user_id FROM users ORDER BY user_id LIMIT 1 OFFSET 12345")[0][0]
        t0 = time.perf_counter()
        with wh.transaction() as con:
            for table in ("order_items", "events", "orders", "comments", "users"):
                if table == "order_items":
                    con.execute(
                        "DELETE FROM order_items WHERE order_id IN "
                        "(SELECT order_id FROM orders WHERE user_id = ?)",
                        [naive_user],
                    )
                else:
                    con.execute(f"DELETE FROM {table} WHERE user_id = ?", [naive_user])
        wh.sql("CHECKPOINT")
        naive_s = time.perf_counter() - t0
        naive_left = naive_user.encode() in wh.path.read_bytes()
        t0 = time.perf_counter()
        logical = rights.erase_user(
            wh, target, settings=settings, cipher=cipher, actor="bench", compact=False
        )
        logical_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        sizes = wh.compact()
        compact_s = time.perf_counter() - t0
        left = target.encode() in wh.path.read_bytes()
        third = wh.sql(  # an active user: their events lie in many row groups, which keep the bytes
            "SELECT user_id FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 1"
        )[0][0]
        t0 = time.perf_counter()
        full = rights.erase_user(wh, third, settings=settings, cipher=cipher, actor="bench")
        full_s = time.perf_counter() - t0
        wh.close()
    result = {
        "machine": machine(),
        "users": USERS,
        "events": events,
        "warehouse_bytes": size,
        "fill_s": round(fill_s, 1),
        "erase_full_s": round(full_s, 2),
        "erase_full_verified": full["verified"],
        "erase_full_compacted": full["compacted"],
        "erase_rows_and_memory_s": round(logical_s, 2),
        "rows_deleted": sum(logical["deleted"].values()),
        "compact_s": round(compact_s, 2),
        "compacted_bytes": sizes,
        "bytes_left_after_compaction": left,
        "naive_delete_checkpoint_s": round(naive_s, 2),
        "naive_leaves_bytes": naive_left,
        "goal_s": GOAL_S,
    }
    print(result)
    return result
