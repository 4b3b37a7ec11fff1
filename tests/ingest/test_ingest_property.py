"""Property: for any mix of good, duplicate, bad and malformed rows, read = loaded + duplicates + quarantined,
and each count is exactly what the mix implies."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.ingest import import_file
from liveloop.warehouse import Warehouse

#: kind -> (line template, outcome); {id} is a fresh event id, {dup} one already used in this file
KINDS = {
    "good": ("{id},2024-05-01 10:00:00,u1,view,p1,live,,,,", "loaded"),
    "purchase": ("{id},2024-05-01T10:00:00+08:00,u2,purchase,p1,,19.90,1,,", "loaded"),
    "dup": ("{dup},2024-05-01 10:00:00,u1,view,p1,live,,,,", "duplicates"),
    "bad_type": ("{id},2024-05-01 10:00:00,u1,warp,p1,,,,,", "quarantined"),
    "bad_ts": ("{id},not-a-time,u1,view,p1,,,,,", "quarantined"),
    "ms_ts": ("{id},1714557600000,u1,view,p1,,,,,", "quarantined"),
    "negative": ("{id},2024-05-01 10:00:00,u1,purchase,p1,,-1.00,1,,", "quarantined"),
    "bad_id": ("{id} x,2024-05-01 10:00:00,u1,view,p1,,,,,", "quarantined"),
    "no_user": ("{id},2024-05-01 10:00:00,,view,p1,,,,,", "quarantined"),
    "malformed": ("{id},2024-05-01", "quarantined"),
    "bad_json": ('{id},2024-05-01 10:00:00,u1,view,p1,,,,,"{{oops"', "quarantined"),
    "unclosed_quote": ('{id},2024-05-01 10:00:00,u1,comment,p1,,,,"oops,', "quarantined"),
    "chinese": ("{id},2024-05-01 10:00:00,u1,comment,p1,live,,,质量很好,", "loaded"),
    "gbk_bytes": ("{id},2024-05-01 10:00:00,u1,comment,p1,live,,,\udcba\udcc3,", "quarantined"),  # 好 in GBK
    "blank": ("", None),
}
HEADER = "event_id,ts,user_id,type,product_id,channel,amount,quantity,text,props"
_run = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=st.lists(st.sampled_from(sorted(KINDS)), max_size=40), chunk_rows=st.integers(3, 45))
def test_counts_balance_for_any_mix(wh: Warehouse, tmp_path: Path, mix: list[str], chunk_rows: int) -> None:
    """One warehouse for all examples: ids and file names are unique per example, so counts are deltas."""
    run = next(_run)
    lines, expected, seen = [], {"loaded": 0, "duplicates": 0, "quarantined": 0}, []
    for i, kind in enumerate(mix):
        template, outcome = KINDS[kind]
        if kind == "dup" and not seen:
            template, outcome = KINDS["good"]
        eid = f"r{run}-{i}"
        lines.append(template.format(id=eid, dup=seen[0] if seen else eid))
        if outcome == "loaded":
            seen.append(eid)
        if outcome:
            expected[outcome] += 1
    path = tmp_path / f"events-{run}.csv"
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode("utf-8", "surrogateescape"))
    events0, quarantine0 = _counts(wh)
    report = import_file(wh, path, chunk_rows=chunk_rows, encoding="utf-8")  # GBK bytes: not UTF-8
    assert report.rows_read == report.loaded + report.duplicates + report.quarantined
    assert report.rows_read == sum(expected.values())
    assert (report.loaded, report.duplicates, report.quarantined) == (
        expected["loaded"],
        expected["duplicates"],
        expected["quarantined"],
    )
    assert _counts(wh) == (events0 + expected["loaded"], quarantine0 + expected["quarantined"])
    again = import_file(wh, path, chunk_rows=chunk_rows + 3, encoding="utf-8")
    assert (again.loaded, again.duplicates) == (0, expected["loaded"] + expected["duplicates"])
    assert again.quarantined == expected["quarantined"]
    assert _counts(wh) == (events0 + expected["loaded"], quarantine0 + expected["quarantined"])


def _counts(wh: Warehouse) -> tuple[int, int]:
    return wh.sql("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine)")[0]
