"""Plaintext PII never reaches the DuckDB file: its raw bytes are searched after loading users."""

from __future__ import annotations

from pathlib import Path

import duckdb

from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.ingest import import_file, ingest_records, ingest_segment
from liveloop.warehouse import Warehouse

PHONES = [f"+86 139{i:08d}" for i in range(40)]
EMAILS = [f"shopper.{i}@example.cn" for i in range(40)]
NAMES = [f"张{i}明" for i in range(40)]


def _needles() -> list[bytes]:
    return [v.encode() for v in (*PHONES, *EMAILS, *NAMES)] + [p.replace(" ", "").encode() for p in PHONES]


def _file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_detector_finds_plaintext_when_it_is_there(tmp_path: Path) -> None:
    """Control: the same values stored as plain columns are found, so the real test can fail."""
    path = tmp_path / "plain.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (phone VARCHAR, email VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", list(zip(PHONES, EMAILS, NAMES, strict=True)))
    con.close()
    data = _file_bytes(path)
    assert all(n in data for n in _needles()[:120])


def test_no_plaintext_pii_in_the_warehouse_file(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    rows = [f"u{i},{PHONES[i]},{EMAILS[i]},{NAMES[i]},female" for i in range(20)]
    rows.append(f"u99,{PHONES[20]},not-an-email,{NAMES[20]},female")  # quarantined: raw must be protected
    csv.write_text("user_id,phone,email,name,gender\n" + "\n".join(rows) + "\n")
    with Warehouse.open(settings) as wh:
        report = import_file(wh, csv)
        assert (report.loaded, report.quarantined) == (20, 1)
        ingest_records(
            wh,
            "users",
            [
                {"user_id": f"a{i}", "phone": PHONES[i], "email": EMAILS[i], "name": NAMES[i]}
                for i in range(21, 30)
            ],
        )
        ingest_segment(
            wh,
            [
                {
                    "type": "identify",
                    "userId": f"s{i}",
                    "messageId": f"m{i}",
                    "traits": {"email": EMAILS[i], "phone": PHONES[i], "name": NAMES[i]},
                }
                for i in range(30, 40)
            ],
        )
        assert wh.sql("SELECT count(*) FROM users")[0][0] == 39
        # the values are recoverable with the key, and findable by blind index
        cipher = load_cipher(settings)
        blob, index = wh.sql("SELECT phone_enc, phone_index FROM users WHERE user_id = 'u3'")[0]
        assert cipher.decrypt(blob, context="users.phone") == PHONES[3]
        assert index == cipher.blind_index(PHONES[3])
        wh.sql("CHECKPOINT")
    data = _file_bytes(settings.db_path)
    leaked = [n.decode() for n in _needles() if n in data]
    assert leaked == []
