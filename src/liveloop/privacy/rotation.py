"""Rotation of the PII encryption key: every encrypted value re-encrypted under a new key, in place, in
batches that each commit, so an interrupted rotation resumes where it stopped — with the server running.

The new key is written beside the current one (``secret.key.next``, 0600) before anything changes, and
the process's key ring (:func:`liveloop.core.crypto.load_cipher`, shared by everything that encrypts in
it: the server, its ingest, a command it runs) becomes [new, current]: from then on every write seals
with the new key and every read opens either. A batch reads and rewrites its rows in one transaction
(under the warehouse's writer lock, so a request's write is never overwritten with an older value) and
passes over values the new key already seals, so a resumed run only does what is left. A second pass
runs with writers waiting on the warehouse's lock: a value sealed under the old key by a request in
flight when the ring changed is re-encrypted, and none can be committed after it. Then the current key is
kept as ``secret.key.previous`` (backups taken before still need it: delete it once they have expired;
an earlier previous key is set aside as ``secret.key.previous.<UTC time>``) and the new key takes its
place.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from liveloop.core.config import Settings
from liveloop.core.crypto import (
    KEY_FILES_LOCK,
    RAW_PREFIX,
    Cipher,
    create_key_file,
    key_files,
    load_cipher,
    protect_raw,
    reveal_raw,
    sync_folder,
)
from liveloop.core.errors import Conflict, LiveloopError
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
_RUNNING = threading.Lock()


def rotate_secret(
    wh: Warehouse,
    settings: Settings,
    *,
    actor: str | None = None,
    batch: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Re-encrypt every PII value and sealed row under a new key, then make it the key; safe while the
    server runs (in its process). ``after_batch(n)`` is called after each committed batch (progress;
    tests interrupt through it)."""
    if settings.secret_key:
        raise LiveloopError(
            "the key is set in LIVELOOP_SECRET_KEY: keep it in LIVELOOP_HOME/secret.key to rotate it here",
            field="LIVELOOP_SECRET_KEY",
        )
    current = key_files(settings)[1]
    if not current.exists():
        raise LiveloopError(f"no key to rotate at {current}", field="key")
    if not _RUNNING.acquire(blocking=False):
        raise Conflict("a key rotation is already running in this process", field="key")
    try:
        return _rotate(wh, settings, actor, batch, after_batch)
    finally:
        _RUNNING.release()


def _rotate(
    wh: Warehouse,
    settings: Settings,
    actor: str | None,
    batch: int,
    after_batch: Callable[[int], None] | None,
) -> dict[str, Any]:
    upcoming, current, previous = key_files(settings)
    with KEY_FILES_LOCK:  # no other reader of the key files applies a view older than this one
        resumed = not create_key_file(upcoming)
        ring = load_cipher(settings)  # [new, current, …]: every holder in this process seals with the new key
    snapshot = Cipher(*ring.keys)  # the rotation's own view: [new, current, …], whatever the ring does
    counts = {"users": 0, "quarantine": 0, "batches": 0, "passes": 0}

    def committed() -> None:
        counts["batches"] += 1
        if after_batch:
            after_batch(counts["batches"])

    def one_pass() -> None:
        counts["passes"] += 1
        users = _rotate_users(wh, snapshot, batch, committed)
        sealed = _rotate_quarantine(wh, snapshot, batch, committed)
        others = {
            table: _rotate_sealed(wh, snapshot, table, key, col, prefix) for table, key, col, prefix in SEALED
        }
        counts["users"] += users
        counts["quarantine"] += sealed
        for table, n in others.items():
            counts[table] = counts.get(table, 0) + n

    one_pass()
    with wh.exclusive():  # the check, with writers waiting: a value sealed by an older key by a request
        one_pass()  # in flight when the ring changed is re-encrypted, and none can be committed after it
        with KEY_FILES_LOCK:
            _swap(upcoming, current, previous)
            load_cipher(settings)  # [new, previous]
    report = {"resumed": resumed, "at": datetime.now(UTC).isoformat(), **counts}
    audit.record(wh, AuditEntry(actor, "privacy.key_rotation", None, "rotated", None, report))
    return report | {"previous_key": str(previous)}


def _swap(upcoming: Path, current: Path, previous: Path) -> None:
    """The new key becomes the current one; the current one is kept as the previous (copied first, so a
    current key file exists at every moment), and a previous one already there is set aside."""
    if previous.exists():  # older backups may need it: set aside, never lost
        os.replace(previous, previous.with_name(f"{previous.name}.{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"))
    partial = previous.with_name(f".{previous.name}.partial")
    partial.unlink(missing_ok=True)
    create_key_file(partial, current.read_text())
    os.replace(partial, previous)
    os.replace(upcoming, current)
    sync_folder(current.parent)


def _rotate_users(wh: Warehouse, ring: Cipher, batch: int, committed: Callable[[], None]) -> int:
    """Users whose PII the new key does not seal yet, re-encrypted batch by batch; returns how many."""
    done, last = 0, ""
    while True:
        with wh.transaction() as con:
            rows = con.execute(
                "SELECT user_id, phone_enc, email_enc, name_enc FROM users WHERE user_id > ? AND "
                "(phone_enc IS NOT NULL OR email_enc IS NOT NULL OR name_enc IS NOT NULL) "
                "ORDER BY user_id LIMIT ?",
                [last, batch],
            ).fetchall()
            if not rows:
                return done
            last = rows[-1][0]
            stale = [
                r
                for r in rows
                if not all(
                    ring.sealed_by_first(r[i], context=f"users.{n}") for i, n in enumerate(USER_PII, 1)
                )
            ]
            if stale:
                columns: dict[str, list[Any]] = {"user_id": [r[0] for r in stale]}
                for i, (name, index) in enumerate(USER_PII.items(), start=1):
                    plain = [ring.decrypt(r[i], context=f"users.{name}") for r in stale]
                    columns[f"{name}_enc"] = [ring.encrypt(v, context=f"users.{name}") for v in plain]
                    if index:
                        columns[index] = [ring.blind_index(v) for v in plain]
                table = pa.table(columns, schema=_USERS_SCHEMA)
                con.register("_rotated", table)
                try:
                    sets = ", ".join(f"{c} = r.{c}" for c in table.column_names if c != "user_id")
                    con.execute(f"UPDATE users SET {sets} FROM _rotated r WHERE users.user_id = r.user_id")
                finally:
                    con.unregister("_rotated")
        done += len(stale)
        committed()


def _sealed_raw(ring: Cipher, raw: str) -> bool:
    return ring.sealed_by_first(base64.b64decode(raw[len(RAW_PREFIX) :]), context="quarantine.raw")


def _rotate_quarantine(wh: Warehouse, ring: Cipher, batch: int, committed: Callable[[], None]) -> int:
    """Quarantined rows sealed because they may hold PII, re-sealed under the new key."""
    done, last = 0, -1
    while True:
        with wh.transaction() as con:
            rows = con.execute(
                "SELECT quarantine_id, raw FROM quarantine WHERE starts_with(raw, ?) AND quarantine_id > ? "
                "ORDER BY quarantine_id LIMIT ?",
                [RAW_PREFIX, last, batch],
            ).fetchall()
            if not rows:
                return done
            last = rows[-1][0]
            stale = [(q, raw) for q, raw in rows if not _sealed_raw(ring, raw)]
            for qid, raw in stale:
                text = reveal_raw(raw, ring)
                con.execute(
                    "UPDATE quarantine SET raw = ? WHERE quarantine_id = ?", [protect_raw(text, ring), qid]
                )
        done += len(stale)
        committed()


def _rotate_sealed(wh: Warehouse, ring: Cipher, table: str, key: str, column: str, prefix: str) -> int:
    """A handful of rows (providers' secrets, schedules' recipients): one transaction per table."""
    with wh.transaction() as con:
        rows = con.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
        stale = [(k, blob) for k, blob in rows if not ring.sealed_by_first(blob, context=prefix + k)]
        for k, blob in stale:
            value = ring.decrypt(blob, context=prefix + k)
            con.execute(
                f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                [ring.encrypt(value, context=prefix + k), k],
            )
    return len(stale)


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
