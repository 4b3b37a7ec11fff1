"""Rotation of the PII encryption key: every encrypted value re-encrypted under a new key, in place, in
batches that each commit, so an interrupted rotation resumes where it stopped.

The new key is written beside the current one (``secret.key.next``, 0600) before anything changes. A
value is read with the new key first and the current one second, so rows already rotated are passed
over on a resumed run; blind indexes (the keyed hashes that find a user by phone or e-mail) are
recomputed with the new key in the same batch. When every row is done the current key is kept as
``secret.key.previous`` (backups taken before still need it: delete it once they have expired) and the
new key takes its place. Run it with the server stopped: the server holds the key in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from cryptography.exceptions import InvalidTag

from liveloop.core.config import Settings
from liveloop.core.crypto import RAW_PREFIX, Cipher, cipher_of, create_key_file, protect_raw, reveal_raw
from liveloop.core.errors import LiveloopError
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse

#: Encrypted columns of ``users`` and the blind index kept beside each (None: no index).
USER_PII = {"phone": "phone_index", "email": "email_index", "name": None}
#: Other sealed values: (table, key column, encrypted column, the context prefix its owner encrypts with,
#: ``prefix + key``): a channel provider's secret (campaigns), a report schedule's recipients (analytics).
SEALED = (
    ("channel_providers", "channel", "secret_enc", "provider:"),
    ("report_schedules", "schedule_id", "recipients", "report_schedule:"),
)
BATCH = 5_000


def _either(new: Cipher, old: Cipher, blob: bytes | None, context: str) -> str | None:
    for cipher in (new, old):
        try:
            return cipher.decrypt(blob, context=context)
        except InvalidTag:
            continue
    raise LiveloopError(f"a value of {context} is encrypted under neither the current nor the new key")


def _either_raw(new: Cipher, old: Cipher, raw: str) -> str | None:
    try:
        return reveal_raw(raw, new)
    except InvalidTag:
        return reveal_raw(raw, old)


def rotate_secret(
    wh: Warehouse,
    settings: Settings,
    *,
    actor: str | None = None,
    batch: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Re-encrypt every PII value and sealed quarantine row under a new key, then make it the key.
    ``after_batch(n)`` is called after each committed batch (progress; tests interrupt through it)."""
    if settings.secret_key:
        raise LiveloopError(
            "the key is set in LIVELOOP_SECRET_KEY: keep it in LIVELOOP_HOME/secret.key to rotate it here",
            field="LIVELOOP_SECRET_KEY",
        )
    current, upcoming = settings.key_path, settings.key_path.with_name("secret.key.next")
    if not current.exists():
        raise LiveloopError(f"no key to rotate at {current}", field="key")
    resumed = not create_key_file(upcoming)
    old, new = cipher_of(current.read_text()), cipher_of(upcoming.read_text())
    counts = {"users": 0, "quarantine": 0, "batches": 0}
    last = ""
    while True:
        rows = wh.sql(
            "SELECT user_id, phone_enc, email_enc, name_enc FROM users WHERE user_id > ? AND (phone_enc "
            "IS NOT NULL OR email_enc IS NOT NULL OR name_enc IS NOT NULL) ORDER BY user_id LIMIT ?",
            [last, batch],
        )
        if not rows:
            break
        columns: dict[str, list[Any]] = {"user_id": [r[0] for r in rows]}
        for i, (name, index) in enumerate(USER_PII.items(), start=1):
            plain = [_either(new, old, r[i], f"users.{name}") for r in rows]
            columns[f"{name}_enc"] = [new.encrypt(v, context=f"users.{name}") for v in plain]
            if index:
                columns[index] = [new.blind_index(v) for v in plain]
        table = pa.table(columns, schema=_USERS_SCHEMA)
        with wh.transaction() as con:
            con.register("_rotated", table)
            try:
                sets = ", ".join(f"{c} = r.{c}" for c in table.column_names if c != "user_id")
                con.execute(f"UPDATE users SET {sets} FROM _rotated r WHERE users.user_id = r.user_id")
            finally:
                con.unregister("_rotated")
        counts["users"] += len(rows)
        counts["batches"] += 1
        last = rows[-1][0]
        if after_batch:
            after_batch(counts["batches"])
    sealed = wh.sql("SELECT quarantine_id, raw FROM quarantine WHERE starts_with(raw, ?)", [RAW_PREFIX])
    for start in range(0, len(sealed), batch):
        part = sealed[start : start + batch]
        with wh.transaction() as con:
            for qid, raw in part:
                text = _either_raw(new, old, raw)
                con.execute(
                    "UPDATE quarantine SET raw = ? WHERE quarantine_id = ?", [protect_raw(text, new), qid]
                )
        counts["quarantine"] += len(part)
        counts["batches"] += 1
        if after_batch:
            after_batch(counts["batches"])
    for table, key, column, prefix in SEALED:  # a handful of rows each: one transaction per table
        rows = wh.sql(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
        with wh.transaction() as con:
            for k, blob in rows:
                value = _either(new, old, blob, prefix + k)
                con.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                    [new.encrypt(value, context=prefix + k), k],
                )
        counts[table] = len(rows)
    previous = current.with_name("secret.key.previous")
    os.replace(current, previous)
    os.replace(upcoming, current)
    report = {"resumed": resumed, "at": datetime.now(UTC).isoformat(), **counts}
    audit.record(wh, AuditEntry(actor, "privacy.key_rotation", None, "rotated", None, report))
    return report | {"previous_key": str(previous)}


_USERS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("phone_enc", pa.binary()),
        ("phone_index", pa.string()),
        ("email_enc", pa.binary()),
        ("email_index", pa.string()),
        ("name_enc", pa.binary()),
    ]
)
