"""Data rights in one call (PIPL art. 45 and 47, GDPR art. 15, 17 and 20): a person's complete export,
and an erasure that leaves no byte of them behind.

Erasure, in order: every row naming the user is deleted (tables with a ``user_id``, the user's order
lines, quarantined raw rows) or, where a record concerns others too (a decision, a draw, a room's
summary), the id is replaced by a random pseudonym that nothing links back; the capabilities forget what
they hold in memory (they register with :func:`register_forgetter`); model artifacts and other files
liveloop wrote are rewritten without the id; Parquet lakes are exported afresh; and the DuckDB file is
compacted (copied from its live rows): a deleted row stays in its row group until the group is written
again, freed blocks are reused without being cleared, and compression hides an id from a search of the
bytes, so only a copy is sure to drop it. A batch of erasures shares one compaction. Each erasure is
audited under the user's blind index (a keyed hash), never their id.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import threading
import time
import weakref
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from liveloop.core.config import Settings
from liveloop.core.crypto import Cipher, reveal_raw
from liveloop.core.errors import LiveloopError, NotFound, ValidationFailed
from liveloop.core.ids import is_valid_id
from liveloop.privacy import audit, consent
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse
from liveloop.warehouse.artifacts import files_holding, files_holding_any, scrub_file
from liveloop.warehouse.lake import export_parquet, exported_lakes

#: ``fn(user_id, pseudonym)``: a capability drops or renames what it holds in memory about the user.
Forgetter = Callable[[str, str], None]
_FORGETTERS: list[Callable[[], Forgetter | None]] = []
_LOCK = threading.Lock()
#: Tables whose text columns may name a user in a record that concerns others too: the id is replaced.
NAMING_TABLES = ("live_draws", "live_summaries", "live_questions", "live_alerts")
ID_CHARS = "A-Za-z0-9_.:@-"
#: Shorter ids are not searched for in the files' bytes: other data holds the same characters by chance.
MIN_SEARCHABLE = 8


def register_forgetter(fn: Forgetter) -> None:
    """Call ``fn`` on every erasure while its owner lives (a bound method is held weakly)."""
    ref: Callable[[], Forgetter | None]
    ref = weakref.WeakMethod(fn) if hasattr(fn, "__self__") else (lambda: fn)
    with _LOCK:
        _FORGETTERS[:] = [r for r in _FORGETTERS if r() is not None] + [ref]


def _checked(user_id: str) -> str:
    if not isinstance(user_id, str) or not is_valid_id(user_id):
        raise ValidationFailed(f"user_id {user_id!r} is not a valid id", field="user_id")
    return user_id


def user_tables(wh: Warehouse) -> list[str]:
    """The tables with a ``user_id`` column (not views)."""
    rows = wh.sql(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
        "USING (table_schema, table_name) WHERE c.column_name = 'user_id' AND c.table_schema = 'main' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    return [r[0] for r in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def _rows(
    wh: Warehouse, query: str, params: list[Any], cipher: Cipher | None, table: str
) -> list[dict[str, Any]]:
    result = wh.arrow(query, params).to_pylist()
    out = []
    for row in result:
        item: dict[str, Any] = {}
        for col, value in row.items():
            if col.endswith("_index"):
                continue  # blind indexes are keyed hashes of the PII below, not data about the person
            if col.endswith("_enc"):
                item[col.removesuffix("_enc")] = (
                    cipher.decrypt(value, context=f"{table}.{col.removesuffix('_enc')}") if cipher else None
                )
            elif col in ("props", "features", "scores", "details", "stats") and isinstance(value, str):
                item[col] = json.loads(value)
            else:
                item[col] = _plain(value)
        out.append(item)
    return out


def export_user(
    wh: Warehouse, user_id: str, *, cipher: Cipher | None, lang: str = "zh", actor: str | None = None
) -> dict[str, Any]:
    """Everything liveloop holds about ``user_id``: each table's rows (PII decrypted for the person),
    their order lines, derived profile (features, tags, segment, scores), consents with their history,
    and every automated decision with its explanation. The request is audited."""
    _checked(user_id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in user_tables(wh):
        rows = _rows(wh, f'SELECT * FROM "{table}" WHERE user_id = ?', [user_id], cipher, table)
        if rows:
            tables[table] = rows
    lines = _rows(
        wh,
        "SELECT i.* FROM order_items i JOIN orders o USING (order_id) WHERE o.user_id = ? ORDER BY 1, 2",
        [user_id],
        cipher,
        "order_items",
    )
    if lines:
        tables["order_items"] = lines
    made = audit.decisions(wh, user_id, lang=lang, limit=audit.MAX_DECISIONS)
    if not tables and not made:
        raise NotFound(f"liveloop holds nothing about user {user_id!r}", field="user_id")
    audit.record(
        wh, AuditEntry(actor, "privacy.export", user_id, "exported", None, {"tables": sorted(tables)})
    )
    return {
        "user_id": user_id,
        "exported_at": datetime.now(UTC).isoformat(),
        "tables": tables,
        "consents": consent.of_user(wh, user_id),
        "decisions": [{k: _plain(v) for k, v in d.items()} for d in made],
    }


def export_csv(export: dict[str, Any]) -> dict[str, str]:
    """The export as CSV files, one per table plus ``decisions.csv``: ``{file name: text}``."""
    files: dict[str, str] = {}
    sheets = dict(export["tables"]) | {"decisions": export["decisions"]}
    sheets["consent_history"] = [{k: _plain(v) for k, v in h.items()} for h in export["consents"]["history"]]
    for name, rows in sheets.items():
        if not rows:
            continue
        buf = io.StringIO()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(buf, columns)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                    for k, v in r.items()
                }
            )
        files[f"{name}.csv"] = buf.getvalue()
    return files


def export_zip(export: dict[str, Any]) -> bytes:
    """The export as one zip: ``export.json`` and the CSV files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", json.dumps(export, ensure_ascii=False, indent=1, default=str))
        for name, text in export_csv(export).items():
            zf.writestr(f"csv/{name}", text)
    return buf.getvalue()


def _readable(raw: str, cipher: Cipher) -> str:
    """A quarantined raw row as text (decrypted when sealed; sealed under another key: kept as it is)."""
    try:
        return reveal_raw(raw, cipher) or ""
    except (LiveloopError, ValueError, InvalidTag):
        return raw


def _word(user_id: str) -> str:
    """A regular expression matching ``user_id`` as a whole id inside text (not ``u1`` inside ``u10``)."""
    return f"(^|[^{ID_CHARS}]){re.escape(user_id)}($|[^{ID_CHARS}])"


#: The most users one erasure request may name.
MAX_BATCH = 1000


def erase_user(
    wh: Warehouse,
    user_id: str,
    *,
    settings: Settings,
    cipher: Cipher,
    actor: str | None = None,
    compact: bool = True,
) -> dict[str, Any]:
    """Erase every trace of ``user_id`` (see the module's description); returns what was done: rows per
    table, records anonymised, files rewritten, lakes re-exported, the compaction, and whether the bytes
    of the warehouse file still hold the id (they must not: ``verified``)."""
    batch = erase_users(wh, [user_id], settings=settings, cipher=cipher, actor=actor, compact=compact)
    return batch["users"][0] | {"compacted": batch["compacted"], "seconds": batch["seconds"]}


def erase_users(
    wh: Warehouse,
    user_ids: list[str],
    *,
    settings: Settings,
    cipher: Cipher,
    actor: str | None = None,
    compact: bool = True,
) -> dict[str, Any]:
    """Erase every trace of each of ``user_ids``: their rows, memory and files one after another, then
    the lakes and one compaction of the warehouse file for them all (the compaction is most of the
    time: a batch shares it). Returns each user's report, the compaction and the seconds in all."""
    ids = list(dict.fromkeys(_checked(u) for u in user_ids))
    if not ids or len(ids) > MAX_BATCH:
        raise ValidationFailed(f"name 1 to {MAX_BATCH} users to erase, not {len(ids)}", field="user_ids")
    started = time.perf_counter()
    roots = [settings.models_dir, settings.home / "simulator"]
    done: list[tuple[str, dict[str, Any]]] = []
    sizes: dict[str, Any] | None = None
    lakes: list[Path] = []
    failed: str | None = "interrupted"
    try:
        for user_id in ids:
            done.append((user_id, _erase_rows(wh, user_id, roots, cipher)))
        lakes = exported_lakes(wh)
        for lake in lakes:
            export_parquet(wh, lake)
        # Always compacted: a deleted row stays in its row group, and with DuckDB's compression (FSST,
        # dictionaries) a byte search of the file does not see the id in it; only a copy drops it.
        sizes = wh.compact() if compact else None
        failed = None
    except LiveloopError as exc:  # its reason is audited without any id of the batch in it
        failed = exc.detail
        for user_id in ids:
            failed = re.sub(_word(user_id), r"\1…\2", failed)
        raise
    finally:  # every user whose rows went is audited, also when a later step failed (then says so)
        reports = _finish(wh, done, roots, lakes, sizes, failed, compact=compact, cipher=cipher, actor=actor)
    return {"users": reports, "compacted": sizes, "seconds": round(time.perf_counter() - started, 3)}


def _finish(
    wh: Warehouse,
    done: list[tuple[str, dict[str, Any]]],
    roots: list[Path],
    lakes: list[Path],
    sizes: dict[str, Any] | None,
    failed: str | None,
    *,
    compact: bool,
    cipher: Cipher,
    actor: str | None,
) -> list[dict[str, Any]]:
    """Each erased user's report, their files searched for the id (once for all of them), audited."""
    searched = [u.encode() for u, _ in done if compact and not failed and len(u) >= MIN_SEARCHABLE]
    holding = files_holding_any([wh.path, Path(f"{wh.path}.wal"), *roots, *lakes], searched)
    reports = []
    for user_id, report in done:
        found = holding.get(user_id.encode())
        remaining = [str(p) for p in found] if found is not None else None
        report |= {
            "lakes_rewritten": len(lakes),
            "remaining_files": remaining,
            "verified": not remaining if remaining is not None else None,
        }
        details = report | {"compacted": sizes, "batch": len(done)} | ({"failed": failed} if failed else {})
        audit.record(
            wh,
            AuditEntry(
                actor,
                "privacy.erase",
                f"blind:{cipher.blind_index(user_id)}",
                "failed" if failed else "erased",
                None,
                details,
            ),
        )
        reports.append({"user_id": user_id} | report)
    return reports


def _erase_rows(wh: Warehouse, user_id: str, roots: list[Path], cipher: Cipher) -> dict[str, Any]:
    """One user's rows deleted or anonymised, memory forgotten and files rewritten; the report so far."""
    started = time.perf_counter()
    pseudonym = f"erased-{secrets.token_hex(6)}"
    deleted: dict[str, int] = {}
    renamed: dict[str, int] = {}
    word = _word(user_id)
    _forget(user_id, pseudonym)  # buffered audit rows reach the table first, to be anonymised below
    with wh.transaction() as con:
        n = con.execute(
            "DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE user_id = ?)",
            [user_id],
        ).fetchall()
        deleted["order_items"] = int(n[0][0]) if n else 0
        for table in user_tables(wh):
            n = con.execute(f'DELETE FROM "{table}" WHERE user_id = ?', [user_id]).fetchall()
            deleted[table] = int(n[0][0]) if n else 0
        quarantined = con.execute(
            "SELECT quarantine_id, raw FROM quarantine WHERE raw IS NOT NULL"
        ).fetchall()
        pattern = re.compile(word)
        gone = [q for q, raw in quarantined if pattern.search(reveal_raw(raw, cipher) or "")]
        con.execute("DELETE FROM quarantine WHERE list_contains(?, quarantine_id)", [gone])
        deleted["quarantine"] = len(gone)
        quoted = json.dumps(user_id)
        n = con.execute(
            "UPDATE audit_log SET subject = CASE WHEN subject IN ($u, $pii) THEN $p ELSE subject END, "
            "details = replace(CAST(details AS VARCHAR), $q, $qp) "
            "WHERE subject IN ($u, $pii) OR contains(CAST(details AS VARCHAR), $q)",
            {
                "u": user_id,
                "pii": f"users:{user_id}",
                "p": pseudonym,
                "q": quoted,
                "qp": json.dumps(pseudonym),
            },
        ).fetchall()
        renamed["audit_log"] = int(n[0][0]) if n else 0
        for table in NAMING_TABLES:
            renamed[table] = _rename_in_text(con, table, user_id, pseudonym)
    forgot = _forget(user_id, pseudonym)  # again: a request may have come in meanwhile
    needle = user_id.encode()
    scrubbed = [str(p) for p in files_holding(roots, needle) if scrub_file(p, user_id, pseudonym)]
    return {
        "deleted": {k: v for k, v in deleted.items() if v},
        "anonymised": {k: v for k, v in renamed.items() if v},
        "forgotten_in_memory": forgot,
        "files_rewritten": len(scrubbed),
        "rows_seconds": round(time.perf_counter() - started, 3),
    }


def _rename_in_text(con: Any, table: str, user_id: str, pseudonym: str) -> int:
    """Replace the id in ``table``'s text columns: a whole value, or a JSON string inside one."""
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "AND data_type IN ('VARCHAR', 'JSON')",
        [table],
    ).fetchall()
    quoted, renamed = json.dumps(user_id), json.dumps(pseudonym)
    total = 0
    for col, kind in cols:
        text = f'CAST("{col}" AS VARCHAR)'
        if kind == "VARCHAR":  # a whole value, or JSON kept as text
            sql = (
                f'UPDATE "{table}" SET "{col}" = CASE WHEN "{col}" = $u THEN $p '
                f'ELSE replace("{col}", $q, $qp) END WHERE "{col}" = $u OR contains("{col}", $q)'
            )
        else:
            sql = f'UPDATE "{table}" SET "{col}" = replace({text}, $q, $qp) WHERE contains({text}, $q)'
        params = {"q": quoted, "qp": renamed} | ({"u": user_id, "p": pseudonym} if kind == "VARCHAR" else {})
        n = con.execute(sql, params).fetchall()
        total += int(n[0][0]) if n else 0
    return total


def _forget(user_id: str, pseudonym: str) -> int:
    with _LOCK:
        alive = [f for f in (r() for r in _FORGETTERS) if f is not None]
    for fn in alive:
        fn(user_id, pseudonym)
    return len(alive)
