"""PII never reaches the DuckDB file in plaintext: encrypted columns plus keyed blind indexes."""

from __future__ import annotations

import base64

import pyarrow as pa

from liveloop.core.crypto import Cipher
from liveloop.ingest.schema import TableSpec

_INDEXED = ("phone", "email")


def encrypt_columns(table: pa.Table, spec: TableSpec, cipher: Cipher) -> pa.Table:
    """Replace each plaintext PII column with ``<name>_enc`` (and ``<name>_index`` for phone/email)."""
    for f in spec.pii_fields:
        if f.name not in table.column_names:
            continue
        values = table[f.name].to_pylist()
        i = table.column_names.index(f.name)
        table = table.remove_column(i)
        ctx = f"{spec.table}.{f.name}"
        table = table.append_column(
            f"{f.name}_enc", pa.array([cipher.encrypt(v, context=ctx) for v in values], pa.binary())
        )
        if f.name in _INDEXED:
            table = table.append_column(
                f"{f.name}_index", pa.array([cipher.blind_index(v) for v in values], pa.string())
            )
    return table


_RAW_PREFIX = "enc:"


def protect_raw(raw: str | None, cipher: Cipher) -> str | None:
    """A quarantined raw row of a PII table, encrypted whole (it may hold a phone or e-mail)."""
    if raw is None:
        return None
    blob = cipher.encrypt(raw, context="quarantine.raw")
    return _RAW_PREFIX + base64.b64encode(blob or b"").decode()


def reveal_raw(raw: str | None, cipher: Cipher) -> str | None:
    if raw is None or not raw.startswith(_RAW_PREFIX):
        return raw
    return cipher.decrypt(base64.b64decode(raw[len(_RAW_PREFIX) :]), context="quarantine.raw")
