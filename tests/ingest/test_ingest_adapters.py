"""Each adapter on its real data set: every row accounted for, expectations computed from the raw file."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from liveloop.core.config import Settings
from liveloop.datasets import data_file
from liveloop.ingest import import_file, ingest_segment, retry_quarantine
from liveloop.warehouse import Warehouse

CHINA_WINDOW = (datetime(2017, 11, 24, 16, tzinfo=UTC), datetime(2017, 12, 3, 16, tzinfo=UTC))


def _count(wh: Warehouse, sql: str) -> int:
    return int(wh.sql(sql)[0][0])


def test_taobao_userbehavior_every_row_accounted_for(wh: Warehouse, data_home: Path) -> None:
    path = data_file("taobao_userbehavior_head", "UserBehavior_head84k.csv")
    rows = list(csv.reader(path.read_text().splitlines()))
    outside = [
        i + 1
        for i, r in enumerate(rows)
        if not CHINA_WINDOW[0] <= datetime.fromtimestamp(int(r[4]), UTC) < CHINA_WINDOW[1]
    ]
    inside = set(range(1, len(rows) + 1)) - set(outside)
    distinct_inside = len({tuple(rows[i - 1]) for i in inside})

    report = import_file(wh, path, adapter="taobao")
    assert report.rows_read == len(rows) == 84_475
    assert report.quarantined == len(outside) > 0
    assert report.by_reason == {"timestamp_out_of_range": len(outside)}
    assert report.loaded + report.duplicates == len(rows) - len(outside)
    assert report.duplicates == (len(rows) - len(outside)) - distinct_inside
    lines = [r[0] for r in wh.sql("SELECT line FROM quarantine ORDER BY line")]
    assert lines == outside
    assert all("outside the data set window" in r[0] for r in wh.sql("SELECT reason FROM quarantine"))
    assert _count(wh, "SELECT count(DISTINCT user_id) FROM events") == len({r[0] for r in rows})
    behaviours = Counter(r[3] for r in rows)
    by_type = dict(wh.sql("SELECT type, count(*) FROM events GROUP BY 1"))
    assert sum(by_type.values()) == report.loaded
    assert by_type["purchase"] <= behaviours["buy"] and by_type["view"] <= behaviours["pv"]

    again = import_file(wh, path, adapter="taobao")
    assert (again.loaded, again.duplicates, again.quarantined) == (
        0,
        report.loaded + report.duplicates,
        report.quarantined,
    )
    assert _count(wh, "SELECT count(*) FROM quarantine") == len(outside)

    # the flag keeps the outliers: retrying the quarantined rows with it loads exactly them
    retried = retry_quarantine(wh, keep_out_of_range=True)
    assert (retried.rows_read, retried.loaded, retried.quarantined) == (len(outside), len(outside), 0)
    assert str(wh.sql("SELECT min(ts) FROM events")[0][0]).startswith("2017-09-11")
    assert _count(wh, "SELECT count(*) FROM events") == report.loaded + len(outside)


def test_tianchi_mobile_behaviours_and_items(wh: Warehouse, data_home: Path) -> None:
    behaviour = data_file("tianchi_mobile_rec_sample", "sample_user_behavior.csv")
    rows = list(csv.DictReader(behaviour.read_text().splitlines()))
    report = import_file(wh, behaviour, adapter="tianchi_mobile")  # brings sample_item_info.csv along
    assert report.balanced and report.rows_read == len(rows) + 1999
    assert report.tables["events"].loaded == len(rows)
    codes = Counter(r["behavior_type"] for r in rows)
    got = dict(wh.sql("SELECT type, count(*) FROM events GROUP BY 1"))
    assert got == {
        "click": codes["1"],
        "favorite": codes["2"],
        "add_to_cart": codes["3"],
        "purchase": codes["4"],
    }
    first = rows[0]
    ts = wh.sql(
        "SELECT ts FROM events WHERE user_id = ? AND product_id = ? ORDER BY ts LIMIT 1",
        [f"tm:{first['user_id']}", f"tm:{first['item_id']}"],
    )[0][0]
    assert ts.astimezone(UTC).hour == (int(first["time"][-2:]) - 8) % 24  # hourly China time → UTC


def test_online_retail_invoices_refunds_and_orders(wh: Warehouse, data_home: Path) -> None:
    path = data_file("online_retail_sample40k", "online_retail_sample40k.csv.gz")
    with gzip.open(path, "rt") as fh:
        rows = list(csv.DictReader(fh))
    no_customer = sum(1 for r in rows if not r["CustomerID"].strip())
    report = import_file(wh, path, adapter="online_retail")
    assert report.rows_read == len(rows) == 40_000 and report.balanced
    assert report.by_reason["missing_required"] == no_customer
    assert set(report.by_reason) <= {"missing_required", "bad_id", "negative_amount", "bad_refund"}
    refunds = _count(wh, "SELECT count(*) FROM events WHERE type = 'refund'")
    assert (
        refunds > 0 and _count(wh, "SELECT count(*) FROM events WHERE type = 'refund' AND amount >= 0") == 0
    )
    assert _count(wh, "SELECT count(*) FROM orders WHERE status = 'refunded' AND amount >= 0") == 0
    # orders and order items are derived from exactly the loaded lines
    assert _count(wh, "SELECT count(*) FROM order_items") == report.loaded
    assert wh.sql("SELECT sum(amount) FROM orders")[0][0] == wh.sql("SELECT sum(amount) FROM events")[0][0]
    assert wh.sql("SELECT sum(amount) FROM events")[0][0] == _retail_total(rows)


def _retail_total(rows: list[dict[str, str]]) -> Decimal:
    """The sum the rules imply: customer known, price >= 0, sign matching the invoice, duplicates once."""
    cent = Decimal("0.01")
    seen, total = set(), Decimal(0)
    for r in rows:
        qty, price = Decimal(r["Quantity"]), Decimal(r["UnitPrice"]).quantize(cent)
        cancel = r["InvoiceNo"].upper().startswith("C")
        if not r["CustomerID"].strip() or price < 0 or (cancel and qty > 0) or (not cancel and qty < 0):
            continue
        key = tuple(
            r[c] for c in ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
        )
        if key not in seen:
            seen.add(key)
            total += qty * price
    return total


def test_cdnow_master(wh: Warehouse, data_home: Path) -> None:
    path = data_file("cdnow", "CDNOW_master.txt")
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    report = import_file(wh, path, adapter="cdnow")
    assert (
        (report.rows_read, report.loaded, report.quarantined)
        == (len(rows), len(rows), 0)
        == (69_659,) * 2 + (0,)
    )
    assert (
        _count(wh, "SELECT count(*) FROM users WHERE user_id LIKE 'cd:%'")
        == len({r[0] for r in rows})
        == 23_570
    )
    assert wh.sql("SELECT sum(amount) FROM events")[0][0] == sum(Decimal(r[3]) for r in rows)
    assert _count(wh, "SELECT sum(quantity) FROM events") == sum(int(r[2]) for r in rows)


def test_movielens_ratings_users_items(wh: Warehouse, data_home: Path) -> None:
    path = data_file("movielens_100k", "u.data")
    ratings = Counter(line.split("\t")[2] for line in path.read_text().splitlines())
    report = import_file(wh, path, adapter="movielens100k")  # loads u.user and u.item first
    assert report.balanced and report.quarantined == 0
    assert (
        report.tables["users"].loaded,
        report.tables["products"].loaded,
        report.tables["events"].loaded,
    ) == (943, 1682, 100_000)
    got = dict(wh.sql("SELECT json_extract_string(props, '$.rating'), count(*) FROM events GROUP BY 1"))
    assert got == dict(ratings)
    assert wh.sql("SELECT title FROM products WHERE product_id = 'ml:1'")[0][0] == "Toy Story (1995)"
    assert _count(wh, "SELECT count(*) FROM users WHERE gender = 'female'") == 273


def test_segment_batch_file_and_api(settings: Settings, wh: Warehouse, tmp_path: Path) -> None:
    batch = {
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "userId": "u1",
                "messageId": "m1",
                "timestamp": "2024-05-01T10:00:00Z",
                "properties": {"product_id": "p1", "price": 9.9},
            },
            {
                "type": "identify",
                "userId": "u1",
                "messageId": "m2",
                "traits": {
                    "email": "li.lei@example.com",
                    "phone": "13800138000",
                    "name": "李雷",
                    "plan": "vip",
                },
            },
            {
                "type": "page",
                "userId": "u1",
                "messageId": "m3",
                "timestamp": "2024-05-01T10:01:00Z",
                "name": "Home",
            },
            {"type": "alias", "userId": "u1", "messageId": "m4"},
            {
                "type": "track",
                "event": "Order Completed",
                "anonymousId": "a9",
                "messageId": "m5",
                "timestamp": "2024-05-01T10:02:00+08:00",
                "properties": {"revenue": "99.00"},
            },
            {
                "type": "track",
                "event": "Teleported",
                "userId": "u1",
                "messageId": "m6",
                "timestamp": "2024-05-01T10:00:00Z",
            },
        ]
    }
    path = tmp_path / "segment.json"
    path.write_text(json.dumps(batch, ensure_ascii=False))
    report = import_file(wh, path, adapter="segment")
    assert (report.rows_read, report.loaded, report.quarantined) == (6, 4, 2)
    assert report.by_reason == {"unsupported_row": 1, "unknown_event_type": 1}
    assert dict(wh.sql("SELECT event_id, type FROM events")) == {"m1": "view", "m3": "page", "m5": "purchase"}
    assert wh.sql("SELECT user_id FROM events WHERE event_id = 'm5'")[0][0] == "a9"
    props = json.loads(wh.sql("SELECT props FROM users WHERE user_id = 'u1'")[0][0])
    assert props == {"plan": "vip"}  # PII traits are encrypted, not kept in props
    result = ingest_segment(wh, batch["batch"])
    assert (result.accepted, result.duplicates, result.rejected) == (0, 4, 2)
