"""Report schedules: which report goes to whom and when, and the pass that writes what is due.

A ``weekly`` schedule runs on Mondays at 09:00 local time (the week before), a ``monthly`` one on the
first of the month; ``every`` (``30s``, ``10m``, ``6h``, ``1d`` …) replaces that cadence. A ``post_live``
schedule sends the report of each session that ends after it was created. Recipients are staff e-mail
addresses, stored encrypted. Delivery is the caller's: :func:`run_due` takes a ``deliver`` function
(the campaign e-mail channel in the service), so writing reports needs no channel.

Independently of schedules, :func:`run_due` writes the post-live report of every session the live copilot
ended that has none yet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from liveloop.analytics.reports import archive, render
from liveloop.analytics.targets import period_end, period_start
from liveloop.core.errors import InsufficientData, LiveloopError, NotFound, Unavailable, ValidationFailed
from liveloop.core.ids import new_id
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.warehouse import Warehouse

RUN_AT = time(9, 0)
MAX_RECIPIENTS = 50
MIN_EVERY_S = 1
PENDING_PER_PASS = 10
#: The audit action of a post-live report the schedule could not write (it is not tried again).
POST_LIVE_FAILED = "reports.post_live_failed"
log = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_EVERY = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: ``deliver(recipients, subject, text, attachments)`` → None when sent, else why not. Attachments are
#: ``(filename, mime type, body)``.
Attachment = tuple[str, str, bytes]
Deliver = Callable[[Sequence[str], str, str, Sequence[Attachment]], str | None]


class Sealer(Protocol):
    def encrypt(self, value: str | None, *, context: str = "") -> bytes | None: ...
    def decrypt(self, blob: bytes | None, *, context: str = "") -> str | None: ...


def parse_every(every: str | None) -> int | None:
    """``"30s"`` → 30 (seconds); None stays None (the kind's own cadence)."""
    if every in (None, ""):
        return None
    found = _EVERY.match(str(every).strip().lower())
    if not found or int(found[1]) < MIN_EVERY_S:
        raise ValidationFailed("every is a number and a unit: 30s, 10m, 6h or 7d", field="every")
    return int(found[1]) * _UNIT_S[found[2]]


def check_recipients(recipients: Sequence[str]) -> list[str]:
    cleaned = [r.strip() for r in recipients if r and r.strip()]
    if not cleaned:
        raise ValidationFailed("give at least one recipient e-mail address", field="recipients")
    if len(cleaned) > MAX_RECIPIENTS:
        raise ValidationFailed(f"at most {MAX_RECIPIENTS} recipients", field="recipients")
    bad = next((r for r in cleaned if not _EMAIL.match(r)), None)
    if bad is not None:
        raise ValidationFailed(f"{bad!r} is not an e-mail address", field="recipients")
    return cleaned


def next_run(kind: str, after: datetime, every_s: int | None, tz: str) -> datetime:
    """When a schedule runs next after ``after``."""
    if every_s:
        return after + timedelta(seconds=every_s)
    if kind == "post_live":
        return after + timedelta(seconds=60)
    period = archive.PERIODS[kind]
    start = period_start(after, period, tz)
    at = datetime.combine(start.date(), RUN_AT, ZoneInfo(tz))
    return at if at > after else datetime.combine(period_end(start, period).date(), RUN_AT, ZoneInfo(tz))


def _context(schedule_id: str) -> str:
    return f"report_schedule:{schedule_id}"


def add(
    wh: Warehouse,
    cipher: Sealer,
    kind: str,
    recipients: Sequence[str],
    *,
    lang: str = "zh",
    every: str | None = None,
    actor: str | None = None,
    tz: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A new schedule (active at once); its public form."""
    if kind not in archive.KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(archive.KINDS)}", field="kind")
    if lang not in render.LANGS:
        raise ValidationFailed(f"lang must be one of {', '.join(render.LANGS)}", field="lang")
    every_s = parse_every(every)
    to = check_recipients(recipients)
    schedule_id = new_id("rsch")
    now = now or datetime.now().astimezone()
    first = now if every_s else next_run(kind, now, None, tz)
    wh.sql(
        "INSERT INTO report_schedules (schedule_id, kind, every_s, lang, recipients, next_run_at, "
        "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            schedule_id, kind, every_s, lang, cipher.encrypt(",".join(to), context=_context(schedule_id)),
            first, actor, now,
        ],
    )  # fmt: skip
    return get(wh, schedule_id)


def _mask(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


_COLUMNS = (
    "schedule_id", "kind", "every_s", "lang", "active", "next_run_at", "last_run_at", "last_status",
    "created_by", "created_at",
)  # fmt: skip


def list_schedules(wh: Warehouse, cipher: Sealer | None = None) -> list[dict[str, Any]]:
    """Every schedule; recipients masked (``o***@example.com``) unless ``cipher`` is given."""
    rows = wh.sql(f"SELECT {', '.join(_COLUMNS)}, recipients FROM report_schedules ORDER BY created_at")
    out = []
    for r in rows:
        item = dict(zip(_COLUMNS, r[:-1], strict=True))
        out.append(item | {"recipients": _recipients(r[-1], item["schedule_id"], cipher)})
    return out


def _recipients(blob: bytes | None, schedule_id: str, cipher: Sealer | None) -> list[str]:
    if cipher is None:
        return ["***"] if blob else []
    plain = cipher.decrypt(blob, context=_context(schedule_id)) or ""
    return [a for a in plain.split(",") if a]


def get(wh: Warehouse, schedule_id: str) -> dict[str, Any]:
    found = [s for s in list_schedules(wh) if s["schedule_id"] == schedule_id]
    if not found:
        raise NotFound(f"no report schedule {schedule_id!r}", field="schedule_id")
    return found[0]


def public(wh: Warehouse, cipher: Sealer) -> list[dict[str, Any]]:
    """Every schedule with its recipients masked (the addresses themselves are read only to send)."""
    return [s | {"recipients": [_mask(a) for a in s["recipients"]]} for s in list_schedules(wh, cipher)]


def remove(wh: Warehouse, schedule_id: str) -> bool:
    return bool(wh.sql("DELETE FROM report_schedules WHERE schedule_id = ? RETURNING 1", [schedule_id]))


def _subject(data: dict[str, Any], lang: str) -> str:
    title = render.LABELS[data["kind"]][1 if lang == "zh" else 0]
    if data["kind"] == "post_live":
        s = data["session"]
        return f"{title}: {s.get('title') or s['session_id']}"
    return f"{title}: {str(data['period_start'])[:10]} – {str(data['period_end'])[:10]}"


def _mail(
    wh: Warehouse, rep: dict[str, Any], lang: str, tz: str, symbol: str
) -> tuple[str, str, list[Attachment]]:
    data = archive.data_of(wh, rep["report_id"])
    html = archive.file_of(wh, rep["report_id"], "html", lang, tz=tz, symbol=symbol)
    attachments: list[Attachment] = [(archive.filename(rep, "html", lang), "text/html", html)]
    if lang in rep["pdf"]:
        pdf = archive.file_of(wh, rep["report_id"], "pdf", lang, tz=tz, symbol=symbol)
        attachments.append((archive.filename(rep, "pdf", lang), "application/pdf", pdf))
    subject = _subject(data, lang)
    text = f"{subject}\n\n" + (
        "报告见附件（HTML 与 PDF）。— liveloop"
        if lang == "zh"
        else "The report is attached (HTML and PDF). — liveloop"
    )
    return subject, text, attachments


def _ended_since(wh: Warehouse, since: datetime, until: datetime) -> list[str]:
    """Sessions that ended in ``(since, until]`` (by the copilot, or by their recorded end)."""
    rows = wh.sql(
        "SELECT session_id FROM live_sessions s LEFT JOIN live_summaries m USING (session_id) "
        "WHERE coalesce(m.ended_at, s.end_ts) > ? AND coalesce(m.ended_at, s.end_ts) <= ? "
        "ORDER BY coalesce(m.ended_at, s.end_ts), session_id",
        [since, until],
    )
    return [str(r[0]) for r in rows]


def write_pending_post_live(
    wh: Warehouse, *, tz: str = "Asia/Shanghai", symbol: str = "¥", pdf: bool = True
) -> list[dict[str, Any]]:
    """The post-live report of each session the copilot ended that has none yet (the oldest
    ``PENDING_PER_PASS`` a pass: a backlog is worked off over the next passes). A room that ended with
    nothing in it (no minute) has no report and is passed over; one whose report cannot be written (its
    data missing or too thin) is logged and audited (``reports.post_live_failed``, with the reason) and
    not tried again by the schedule — it would hold a place in every pass — though `liveloop reports
    post-live` still can. Any other failure is logged and tried again at the next pass."""
    rows = wh.sql(
        "SELECT m.session_id FROM live_summaries m "
        "WHERE coalesce(json_extract(m.summary, '$.minutes')::INT, 0) > 0 "
        "AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.kind = 'post_live' AND r.subject = m.session_id) "
        "AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = ? AND a.subject = m.session_id) "
        "ORDER BY m.ended_at LIMIT ?",
        [POST_LIVE_FAILED, PENDING_PER_PASS],
    )
    written = []
    for (session_id,) in rows:
        write = partial(archive.generate, wh, "post_live", session_id=str(session_id), actor="schedule",
                        tz=tz, symbol=symbol)  # fmt: skip
        try:
            written.append(write(pdf=pdf))
        except Unavailable:  # no Chromium here: the HTML report, its PDF printed when asked
            written.append(write())
        except (NotFound, InsufficientData, ValidationFailed) as exc:  # this session cannot be reported:
            log.warning("no post-live report for session %s: %s", session_id, exc.detail)  # said once
            audit.record(
                wh,
                AuditEntry("schedule", POST_LIVE_FAILED, str(session_id), "failed", exc.detail, None),
            )
        except LiveloopError as exc:  # perhaps passing (the warehouse busy): tried again next pass
            log.warning("post-live report for session %s not written yet: %s", session_id, exc.detail)
    return written


def run_due(
    wh: Warehouse,
    cipher: Sealer,
    deliver: Deliver,
    *,
    now: datetime | None = None,
    tz: str = "Asia/Shanghai",
    symbol: str = "¥",
    pdf: bool = True,
) -> dict[str, Any]:
    """One pass: pending post-live reports written, then every due schedule run and delivered; a
    schedule's failure (no data, a mail refused) is kept as its ``last_status``, never raised."""
    now = now or datetime.now().astimezone()
    written = write_pending_post_live(wh, tz=tz, symbol=symbol, pdf=pdf)
    ran: list[dict[str, Any]] = []
    due = wh.sql(
        "SELECT schedule_id, kind, every_s, lang, recipients, coalesce(last_run_at, created_at) "
        "FROM report_schedules WHERE active AND next_run_at <= ? ORDER BY next_run_at",
        [now],
    )
    for schedule_id, kind, every_s, lang, blob, since in due:
        to = _recipients(blob, schedule_id, cipher)
        reports: list[dict[str, Any]] = []
        write = {"pdf": pdf, "actor": "schedule", "schedule_id": schedule_id, "tz": tz, "symbol": symbol}
        try:
            if kind == "post_live":
                for sid in _ended_since(wh, since, now):
                    found = archive.list_reports(wh, kind="post_live", subject=sid, limit=1)["items"]
                    try:
                        reports.append(
                            found[0] if found else archive.generate(wh, kind, session_id=sid, **write)
                        )
                    except InsufficientData:  # a session that ended with nothing in it: nothing to send
                        continue
            else:
                reports.append(archive.generate(wh, kind, **write))
            failures = [why for rep in reports if (why := deliver(to, *_mail(wh, rep, lang, tz, symbol)))]
            status = f"failed: {failures[0]}" if failures else f"sent {len(reports)} report(s)"
        except LiveloopError as exc:
            status = f"failed: {exc.detail}"
        wh.sql(
            "UPDATE report_schedules SET last_run_at = ?, last_status = ?, next_run_at = ? "
            "WHERE schedule_id = ?",
            [now, status, next_run(kind, now, every_s, tz), schedule_id],
        )
        done = [r["report_id"] for r in reports]
        ran.append({"schedule_id": schedule_id, "kind": kind, "reports": done, "status": status})
    return {"post_live_written": [r["report_id"] for r in written], "schedules": ran}
