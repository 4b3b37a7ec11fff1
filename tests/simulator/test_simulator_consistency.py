"""The simulated world obeys its own physics: stock, session times, refunds, references, truth kept apart."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from liveloop.datasets.simulator import TABLES, TRUTH_TABLES


def test_summary_matches_files(small_world: dict[str, Any], sq) -> None:
    s = small_world["summary"]
    assert s["synthetic"] is True
    assert sq("SELECT count(*) FROM {events}")[0][0] == s["events"] > 50_000
    assert sq("SELECT count(*) FROM {orders}")[0][0] == s["orders"] > 100
    assert sq("SELECT count(*) FROM {events} WHERE type = 'purchase'")[0][0] == s["orders"]
    gmv = sq("SELECT sum(amount) FROM {orders}")[0][0]
    assert abs(float(gmv) - s["gmv"]) < 0.05
    assert (small_world["dir"] / "README.txt").read_text().count("NOT real data") == 1


def test_no_purchase_beyond_stock(sq) -> None:
    over = sq(
        "SELECT i.product_id, sum(i.quantity) AS sold, any_value(p.stock) AS stock FROM {order_items} i "
        "JOIN {products} p USING (product_id) GROUP BY 1 HAVING sum(i.quantity) > any_value(p.stock)"
    )
    assert over == []
    sold_out = sq(
        "SELECT count(*) FROM (SELECT product_id FROM {order_items} i JOIN {products} p USING (product_id) "
        "GROUP BY 1 HAVING sum(i.quantity) = any_value(p.stock))"
    )[0][0]
    assert sold_out > 0  # the constraint actually binds somewhere


def test_room_events_inside_their_session(sq) -> None:
    outside = sq(
        "SELECT count(*) FROM {events} e JOIN {live_sessions} s USING (session_id) "
        "WHERE e.type <> 'refund' AND (e.ts < s.start_ts OR e.ts > s.end_ts)"  # refunds come days later
    )[0][0]
    assert outside == 0
    inside = sq("SELECT count(*) FROM {events} WHERE type = 'comment' AND session_id IS NOT NULL")[0][0]
    assert inside > 1000
    comments_outside = sq(
        "SELECT count(*) FROM {comments} c JOIN {live_sessions} s USING (session_id) "
        "WHERE c.ts < s.start_ts OR c.ts > s.end_ts"
    )[0][0]
    assert comments_outside == 0
    leave_before_enter = sq(
        "WITH v AS (SELECT user_id, session_id, type, ts, row_number() OVER "
        "(PARTITION BY user_id, session_id, type ORDER BY ts) AS r FROM {events} "
        "WHERE type IN ('enter_room','leave_room')) "
        "SELECT count(*) FROM v a JOIN v b USING (user_id, session_id, r) "
        "WHERE a.type = 'enter_room' AND b.type = 'leave_room' AND b.ts < a.ts"
    )[0][0]
    assert leave_before_enter == 0


def test_refunds_only_after_their_purchase(sq) -> None:
    refunds = sq("SELECT count(*) FROM {events} WHERE type = 'refund'")[0][0]
    assert refunds > 0
    bad = sq(
        "SELECT count(*) FROM {events} r LEFT JOIN {events} p ON p.type = 'purchase' "
        "AND json_extract_string(p.props, '$.order_id') = json_extract_string(r.props, '$.order_id') "
        "WHERE r.type = 'refund' AND (p.ts IS NULL OR r.ts <= p.ts OR r.amount <> -p.amount "
        "OR r.user_id <> p.user_id)"
    )[0][0]
    assert bad == 0
    status = sq(
        "SELECT count(*) FROM {orders} o JOIN {events} r ON r.type = 'refund' "
        "AND json_extract_string(r.props, '$.order_id') = o.order_id WHERE o.status <> 'refunded'"
    )[0][0]
    assert status == 0


def test_references_resolve(sq) -> None:
    for column, table, key in (
        ("user_id", "users", "user_id"),
        ("product_id", "products", "product_id"),
        ("session_id", "live_sessions", "session_id"),
    ):
        dangling = sq(
            f"SELECT count(*) FROM {{events}} e WHERE e.{column} IS NOT NULL "
            f"AND e.{column} NOT IN (SELECT {key} FROM {{{table}}})"
        )[0][0]
        assert dangling == 0, column
    before_signup = sq(
        "SELECT count(*) FROM {events} e JOIN {users} u USING (user_id) WHERE e.ts < u.signup_ts"
    )[0][0]
    assert before_signup == 0


def test_truth_is_kept_out_of_training_tables(small_world: dict[str, Any]) -> None:
    root = small_world["dir"]
    truth_columns = set()
    for name in TRUTH_TABLES:
        truth_columns |= set(pq.read_schema(root / "truth" / f"{name}.parquet").names)
    truth_columns -= {"user_id", "product_id", "host_id", "comment_id", "coupon_id"}
    for name in TABLES:
        leaked = truth_columns & set(pq.read_schema(root / f"{name}.parquet").names)
        assert not leaked, (name, leaked)
    comment_cols = set(pq.read_schema(root / "comments.parquet").names)
    assert {"sentiment", "intent", "product_mention", "lang"}.isdisjoint(comment_cols)
