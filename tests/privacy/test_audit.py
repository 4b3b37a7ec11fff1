"""The one audit writer: entries land in audit_log with their details, inside the caller's transaction."""

from __future__ import annotations

import pytest

from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse


def test_entries_are_written_with_json_details(wh: Warehouse) -> None:
    n = audit.write(
        wh,
        [
            AuditEntry("alice", "test.decide", "u1", "yes", "because", {"score": 0.5, "名": "张三"}),
            AuditEntry(None, "test.decide", "u2", "no", None, None),
        ],
    )
    assert n == 2
    rows = wh.sql(
        "SELECT actor, subject, decision, reason FROM audit_log"
        " WHERE action = 'test.decide' ORDER BY audit_id"
    )
    assert rows == [("alice", "u1", "yes", "because"), (None, "u2", "no", None)]
    assert audit.details_of(wh, "test.decide") == [{"score": 0.5, "名": "张三"}]
    assert audit.write(wh, []) == 0


def test_an_entry_rolls_back_with_the_callers_transaction(wh: Warehouse) -> None:
    with pytest.raises(RuntimeError), wh.transaction() as con:
        audit.record(wh, AuditEntry("bob", "test.rollback", "u1"), con=con)
        raise RuntimeError("the decision failed")
    assert wh.sql("SELECT count(*) FROM audit_log WHERE action = 'test.rollback'") == [(0,)]
    with wh.transaction() as con:
        audit.record(wh, AuditEntry("bob", "test.rollback", "u1"), con=con)
    assert wh.sql("SELECT count(*) FROM audit_log WHERE action = 'test.rollback'") == [(1,)]
