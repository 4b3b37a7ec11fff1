"""The report archive: each report's data kept in ``reports`` (rendered to HTML on demand, in either
language) and its PDFs in ``report_files``; writing, listing, reading back."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from liveloop.analytics.reports import render
from liveloop.analytics.reports.marketing import PERIODS, marketing
from liveloop.analytics.reports.postlive import post_live
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.warehouse import Warehouse

KINDS = ("post_live", *PERIODS)
FORMATS = ("html", "pdf")
MAX_LIMIT = 200


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "__float__") and not isinstance(value, int | float | bool):
        return float(value)
    return value


def build(
    wh: Warehouse,
    kind: str,
    *,
    session_id: str | None = None,
    start: date | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """The data of one report (not stored): a session's post-live report, or a weekly / monthly one."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if kind == "post_live":
        if not session_id:
            raise ValidationFailed("a post-live report needs the session", field="session_id")
        return post_live(wh, session_id, tz=tz)
    return marketing(wh, kind, start=start, tz=tz)


def save(
    wh: Warehouse,
    data: dict[str, Any],
    *,
    actor: str | None = None,
    schedule_id: str | None = None,
    pdf_langs: tuple[str, ...] = (),
    tz: str = "Asia/Shanghai",
    symbol: str = "¥",
) -> dict[str, Any]:
    """Store a built report (and its PDF in each of ``pdf_langs``, printed before anything is written, so a
    failed print leaves no half report); its archive entry."""
    report_id = new_id("rep")
    data = jsonable({**data, "report_id": report_id, "generated_at": datetime.now().astimezone()})
    pdfs = {lang: render.pdf(render.html(data, lang, tz=tz, symbol=symbol)) for lang in pdf_langs}
    subject = data["session"]["session_id"] if data["kind"] == "post_live" else data["period_start"][:10]
    with wh.transaction() as con:
        con.execute(
            "INSERT INTO reports (report_id, kind, subject, period_start, period_end, created_by, "
            "schedule_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report_id, data["kind"], subject,
                data.get("period_start") or data.get("session", {}).get("start_ts"),
                data.get("period_end") or data.get("session", {}).get("end_ts"),
                actor, schedule_id, json.dumps(data, ensure_ascii=False),
            ],
        )  # fmt: skip
        for lang, body in pdfs.items():
            con.execute(
                "INSERT INTO report_files (report_id, lang, format, body) VALUES (?, ?, 'pdf', ?)",
                [report_id, lang, body],
            )
    return entry(wh, report_id)


def generate(
    wh: Warehouse,
    kind: str,
    *,
    session_id: str | None = None,
    start: date | None = None,
    pdf: bool = False,
    actor: str | None = None,
    schedule_id: str | None = None,
    tz: str = "Asia/Shanghai",
    symbol: str = "¥",
) -> dict[str, Any]:
    """Build and store a report; with ``pdf``, its PDF in both languages too."""
    data = build(wh, kind, session_id=session_id, start=start, tz=tz)
    langs = render.LANGS if pdf else ()
    return save(wh, data, actor=actor, schedule_id=schedule_id, pdf_langs=langs, tz=tz, symbol=symbol)


_ENTRY = (
    "SELECT r.report_id, r.kind, r.subject, r.period_start, r.period_end, r.created_at, r.created_by, "
    "r.schedule_id, json_extract_string(r.data, '$.session.title'), "
    "(SELECT list(f.lang ORDER BY f.lang) FROM report_files f WHERE f.report_id = r.report_id "
    "AND f.format = 'pdf') FROM reports r"
)
_NAMES = (
    "report_id", "kind", "subject", "period_start", "period_end", "created_at", "created_by", "schedule_id",
    "title", "pdf",
)  # fmt: skip


def entry(wh: Warehouse, report_id: str) -> dict[str, Any]:
    rows = wh.sql(f"{_ENTRY} WHERE r.report_id = ?", [report_id])
    if not rows:
        raise NotFound(f"no report {report_id!r}", field="report_id")
    return dict(zip(_NAMES, rows[0], strict=True)) | {"pdf": list(rows[0][-1] or [])}


def list_reports(
    wh: Warehouse, *, kind: str | None = None, subject: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The archive, newest first."""
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must be >= 0", field="offset")
    where = "WHERE (? IS NULL OR r.kind = ?) AND (? IS NULL OR r.subject = ?)"
    params = [kind, kind, subject, subject]
    total = wh.sql(f"SELECT count(*) FROM reports r {where}", params)[0][0]
    rows = wh.sql(f"{_ENTRY} {where} ORDER BY r.created_at DESC, r.report_id DESC LIMIT ? OFFSET ?",
                  [*params, limit, offset])  # fmt: skip
    items = [dict(zip(_NAMES, r, strict=True)) | {"pdf": list(r[-1] or [])} for r in rows]
    return {"total": int(total), "limit": limit, "offset": offset, "items": items}


def data_of(wh: Warehouse, report_id: str) -> dict[str, Any]:
    rows = wh.sql("SELECT data FROM reports WHERE report_id = ?", [report_id])
    if not rows:
        raise NotFound(f"no report {report_id!r}", field="report_id")
    value = rows[0][0]
    return dict(json.loads(value) if isinstance(value, str) else value)


def file_of(
    wh: Warehouse, report_id: str, fmt: str = "html", lang: str = "zh", *, tz: str = "Asia/Shanghai",
    symbol: str = "¥",
) -> bytes:  # fmt: skip
    """A report as HTML (rendered now) or PDF (printed once, then kept)."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}", field="format")
    if lang not in render.LANGS:
        raise ValidationFailed(f"lang must be one of {', '.join(render.LANGS)}", field="lang")
    data = data_of(wh, report_id)
    page = render.html(data, lang, tz=tz, symbol=symbol)
    if fmt == "html":
        return page.encode()
    kept = wh.sql(
        "SELECT body FROM report_files WHERE report_id = ? AND lang = ? AND format = 'pdf'", [report_id, lang]
    )
    if kept:
        return bytes(kept[0][0])
    body = render.pdf(page)
    wh.sql(
        "INSERT OR REPLACE INTO report_files (report_id, lang, format, body) VALUES (?, ?, 'pdf', ?)",
        [report_id, lang, body],
    )
    return body


def filename(entry_: dict[str, Any], fmt: str, lang: str) -> str:
    subject = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(entry_["subject"]))
    return f"liveloop-{entry_['kind'].replace('_', '-')}-{subject}-{lang}.{fmt}"
