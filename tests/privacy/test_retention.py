"""Retention: per-table policies applied with counts (a dry run deletes nothing), the audit log's floor,
and the server's scheduled job doing it on its own."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from liveloop.core.errors import ValidationFailed
from liveloop.privacy import retention
from liveloop.warehouse import Warehouse

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _events(wh: Warehouse, ages_days: list[int], now: datetime = NOW) -> None:
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"e{i}" for i in range(len(ages_days))],
                "user_id": ["u1"] * len(ages_days),
                "type": ["view"] * len(ages_days),
                "ts": pa.array([now - timedelta(days=d) for d in ages_days], pa.timestamp("us", tz="UTC")),
            }
        ),
    )


def test_policies_delete_only_what_is_older_and_a_dry_run_only_counts(wh: Warehouse) -> None:
    _events(wh, [1, 10, 100, 400])
    assert retention.apply(wh, now=NOW)["tables"] == {}  # no policy: everything is kept
    retention.set_policy(wh, "events", 90, actor="t")
    dry = retention.apply(wh, now=NOW, dry_run=True)
    assert dry["tables"]["events"]["deleted"] == 2 and wh.sql("SELECT count(*) FROM events")[0][0] == 4
    done = retention.apply(wh, now=NOW, actor="t")
    assert done["deleted"] == 2
    assert sorted(r[0] for r in wh.sql("SELECT event_id FROM events")) == ["e0", "e1"]
    logged = wh.sql(
        "SELECT CAST(details AS VARCHAR) FROM audit_log WHERE action = 'retention.apply' ORDER BY audit_id"
    )
    assert [json.loads(d) for (d,) in logged] == [{}, {"events": 2}]  # each run audited, the dry run not
    retention.set_policy(wh, "events", None, actor="t")
    assert retention.policies(wh) == []


@pytest.mark.parametrize(
    ("table", "days", "field"),
    [("orders", 30, "table"), ("events", 0, "days"), ("audit_log", 30, "days"), ("events", True, "days")],
)
def test_a_policy_out_of_bounds_is_refused(wh: Warehouse, table: str, days: int, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        retention.set_policy(wh, table, days, actor="t")
    assert err.value.field == field


def test_the_server_applies_the_policies_on_its_own_schedule(live_server_factory) -> None:
    server = live_server_factory(
        seed=lambda wh: _events(wh, [1, 400], datetime.now(UTC)), env={"LIVELOOP_RETENTION_EVERY_S": "0.5"}
    )
    with server.client("admin") as admin, server.client("analyst") as analyst:
        assert admin.put("/v1/retention/orders", json={"days": 5}).status_code == 422
        assert analyst.put("/v1/retention/events", json={"days": 30}).status_code == 403
        assert admin.put("/v1/retention/events", json={"days": 30}).status_code == 200
        for _ in range(100):
            state = analyst.get("/v1/retention").json()
            if state["last_run"] and state["last_run"]["deleted"]:
                break
            time.sleep(0.1)
        assert state["last_run"]["tables"]["events"]["deleted"] == 1 and state["every_s"] == 0.5
        assert admin.post("/v1/retention/apply", params={"dry_run": True}).json()["deleted"] == 0
