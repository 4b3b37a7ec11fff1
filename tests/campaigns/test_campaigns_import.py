"""Message history from another tool is importable (``liveloop import messages.csv``) and feeds the
send-time model and the frequency caps."""

from __future__ import annotations

from pathlib import Path

from liveloop.campaigns.sendtime import history_from_warehouse
from liveloop.ingest import import_file

ROWS = """user_id,channel,status,sent_at,opened_at
u1,email,sent,2026-03-01T12:00:00Z,2026-03-01T13:00:00Z
u1,email,sent,2026-03-02T02:00:00Z,
u2,fax,sent,2026-03-02T12:00:00Z,
u2,sms,sent,2026-03-02T12:00:00Z,2026-03-01T12:00:00Z
u3,sms,delivered,2026-03-03T12:00:00Z,
"""


def test_message_history_imports_with_bad_rows_quarantined(wh, tmp_path: Path) -> None:
    path = tmp_path / "messages.csv"
    path.write_text(ROWS, encoding="utf-8")
    report = import_file(wh, path)
    assert (report.loaded, report.quarantined) == (3, 2)
    reasons = dict(wh.sql("SELECT split_part(reason, ':', 1), count(*) FROM quarantine GROUP BY 1"))
    assert reasons == {"unknown_channel": 1, "before_sent": 1}
    again = import_file(wh, path)
    assert again.loaded == 0 and again.duplicates == 3  # the derived key de-duplicates a re-import
    history = history_from_warehouse(wh, tz="Asia/Shanghai")
    got = {(r.user_id, r.local_hour, bool(r.responded)) for r in history.itertuples()}
    assert got == {("u1", 20, True), ("u1", 10, False), ("u3", 20, False)}
