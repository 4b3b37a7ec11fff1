"""PII never reaches the DuckDB file in plaintext: encrypted columns plus keyed blind indexes."""

from __future__ import annotations

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
