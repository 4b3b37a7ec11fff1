"""The Risk page (风险): the review queue of flags — fake engagement in live rooms, linked accounts and
refund abuse, KPI drops — open flags first, each with what was found in plain words; one flag with its
evidence and the accounts, comments, orders and events it names; confirm or dismiss; scan now.

Everything is decided by ``liveloop.analytics.risk``: the page parses, checks the role, calls one
function (``list_flags``, ``get_flag``, ``review_flag`` or ``scan``) and renders what it answers. The
detectors' evidence is English data; the page says it again in the reader's language from its numbers.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import risk
from liveloop.analytics.kpis import METRICS
from liveloop.core.errors import LiveloopError, NotFound
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.web.i18n import LOCALES, number
from liveloop.web.templating import gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
#: Who may confirm or dismiss a flag, and start a scan (admin always may).
REVIEWERS = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/risk", "label": N_("Risk"), "order": 43, "roles": ROLES}
READ = Depends(require_roles(*ROLES))
REVIEW = Depends(require_roles(*REVIEWERS))
router = APIRouter(include_in_schema=False)
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
PAGE_SIZE = 50

#: Each kind of flag: its name, and what it finds.
KINDS = {
    "comment_burst": N_("Comment flood"),
    "new_account_comments": N_("New accounts commenting"),
    "synced_joins": N_("Synchronised room entries"),
    "like_spike": N_("Like spike"),
    "gift_spike": N_("Gift spike"),
    "linked_accounts": N_("Linked accounts"),
    "refund_abuse": N_("Refund abuse"),
    "kpi_drop": N_("KPI drop"),
}
DESCRIPTIONS = {
    "comment_burst": N_("Many accounts posting near-identical comments within seconds, most of them new, "
                        "inactive or saying nothing else."),
    "new_account_comments": N_("A session whose commenters are far more often freshly created accounts "
                               "than in the other sessions."),
    "synced_joins": N_("Many accounts entering a live room within seconds of each other."),
    "like_spike": N_("Likes in a minute far above the room's usual minute, from accounts that do little "
                     "else."),
    "gift_spike": N_("Far more accounts sending gifts in a minute than the room usually has."),
    "linked_accounts": N_("Accounts sharing a device, an address, a phone or a means of payment, or ordering "
                          "the same products within seconds, that redeem coupons together."),
    "refund_abuse": N_("A user who refunds far more often than buyers of the same products."),
    "kpi_drop": N_("A KPI far below what is expected for the hour or day."),
}  # fmt: skip
STATUSES = {"open": N_("to review"), "confirmed": N_("confirmed"), "dismissed": N_("dismissed")}
GRAINS = {"hour": N_("hour"), "day": N_("day")}
#: What linked accounts share (the identifiers ``risk_orders`` links by).
IDENTIFIERS = {
    "phone_index": N_("phone number"),
    "email_index": N_("e-mail address"),
    "device_id": N_("device"),
    "address_hash": N_("delivery address"),
    "payment_fp": N_("means of payment"),
}
#: How an account looked to a detector (``risk_engagement._role``).
ROLE_NAMES = {
    "new": N_("new account"),
    "thin": N_("barely active"),
    "new, thin": N_("new and barely active"),
    "established": N_("established"),
    "unknown": N_("not known"),
    "linked": N_("linked"),
    "refunds": N_("refunds often"),
}
_SPIKE = re.compile(r"^(?P<n>\d+) (?P<unit>likes|senders) in the spike$")
_SHARES = re.compile(r"^shares (?P<what>\w+) with (?P<n>\d+)$")
_LOCKSTEP = re.compile(r"^(?P<n>\d+) lockstep orders$")
_ORDER = re.compile(r"^(?P<status>\w+), (?P<amount>-?[\d.]+)(?:, coupon (?P<coupon>\S+))?$")


# -- what a flag says, in the reader's language ---------------------------------------------------------


class Words:
    """Numbers, shares and sentences of one request's language."""

    def __init__(self, request: Request):
        self.lang = lang_of(request)
        self.gettext = gettext_of(request)
        self.settings = request.app.state.settings

    def n(self, value: Any, digits: int = 0) -> str:
        return number(value, self.lang, digits)

    def share(self, value: Any) -> str:
        if value is None:
            return "—"
        return format_percent(float(value), format="#,##0.0%", locale=LOCALES[self.lang])

    def metric(self, key: str) -> str:
        m = METRICS.get(key)
        if m is None:
            return key
        return m.name_zh if self.lang == "zh" else m.name_en

    def value(self, key: str, value: Any) -> str:
        """A KPI's value in its unit."""
        if value is None:
            return "—"
        unit = METRICS[key].unit if key in METRICS else "count"
        if unit == "money":
            return str(self.settings.money(value))
        if unit == "ratio":
            return self.share(value)
        return self.n(value, 0 if float(value).is_integer() else 2)

    def signed(self, value: float) -> str:
        return format_percent(value, format="+#,##0.0%;-#,##0.0%", locale=LOCALES[self.lang])

    def say(self, msgid: str, **values: Any) -> str:
        return str(self.gettext(msgid) % values)

    def join(self, parts: list[str]) -> str:
        return ("；" if self.lang == "zh" else "; ").join(p for p in parts if p)


def _seconds(evidence: dict[str, Any]) -> int | None:
    try:
        start, end = datetime.fromisoformat(evidence["start"]), datetime.fromisoformat(evidence["end"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(1, round((end - start).total_seconds()))


#: What each kind of flag found, said from its evidence's numbers (``summary``).
SAYS = {
    "comment_burst": N_(
        "%(accounts)s accounts posted near-identical comments within %(seconds)s s; %(flagged)s of them "
        "look fake (new, barely active, or saying nothing else)."
    ),
    "new_account_comments": N_(
        "%(new)s of %(total)s commenters were freshly created accounts (%(share)s; a typical session has "
        "%(expected)s)."
    ),
    "synced_joins": N_(
        "%(accounts)s accounts entered the room within %(seconds)s s, where the room's usual pace gives "
        "%(expected)s."
    ),
    "like_spike": N_(
        "%(count)s likes in one minute, where the room's usual minute has %(baseline)s; %(accounts)s "
        "accounts took part."
    ),
    "gift_spike": N_(
        "%(count)s accounts sent gifts in one minute, where the room averages %(baseline)s a minute; "
        "%(accounts)s accounts took part."
    ),
    "linked_accounts": N_(
        "%(accounts)s linked accounts placed %(orders)s orders, %(coupons)s of them with a coupon"
    ),
    "refund_abuse": N_(
        "%(refunded)s of %(orders)s orders refunded (%(rate)s), where buyers of the same products refund "
        "%(base)s."
    ),
    "kpi_drop": N_("%(metric)s was %(value)s in %(bucket)s, where %(expected)s was expected (%(change)s)."),
}
RING_SHARES = N_("they share a %(what)s")
RING_COUPONS = N_("%(n)s coupons were redeemed by two or more of them")
RING_LOCKSTEP = N_("%(n)s of them ordered the same products within seconds of each other")


def _values(kind: str, e: dict[str, Any], w: Words) -> dict[str, str]:
    """The numbers ``SAYS[kind]`` needs, formatted for the reader."""
    if kind == "comment_burst":
        seconds = _seconds(e) or e.get("window_seconds")
        return {
            "accounts": w.n(e.get("accounts")),
            "seconds": w.n(seconds),
            "flagged": w.n(e.get("flagged_accounts")),
        }
    if kind == "new_account_comments":
        return {
            "new": w.n(e.get("new_commenters")),
            "total": w.n(e.get("commenters")),
            "share": w.share(e.get("share")),
            "expected": w.share(e.get("expected_share")),
        }
    if kind == "synced_joins":
        return {
            "accounts": w.n(e.get("accounts")),
            "seconds": w.n(e.get("window_seconds")),
            "expected": w.n(e.get("expected"), 2),
        }
    if kind in ("like_spike", "gift_spike"):
        unit = "likes" if kind == "like_spike" else "senders"
        peak = max(e.get("minutes") or [{}], key=lambda m: m.get(unit) or 0)
        return {
            "count": w.n(peak.get(unit)),
            "baseline": w.n(peak.get("baseline"), 2),
            "accounts": w.n(e.get("flagged_accounts")),
        }
    if kind == "linked_accounts":
        return {
            "accounts": w.n(e.get("accounts")),
            "orders": w.n(e.get("orders")),
            "coupons": w.n(e.get("coupon_orders")),
        }
    if kind == "refund_abuse":
        return {
            "refunded": w.n(e.get("refunded")),
            "orders": w.n(e.get("orders")),
            "rate": w.share(e.get("rate")),
            "base": w.share(e.get("base_rate")),
        }
    metric, change = str(e.get("metric") or ""), e.get("change")
    return {
        "metric": w.metric(metric),
        "value": w.value(metric, e.get("value")),
        "bucket": str(e.get("bucket") or "—"),
        "expected": w.value(metric, e.get("expected")),
        "change": "—" if change is None else w.signed(change),
    }


def summary(flag: dict[str, Any], w: Words) -> str:
    """What the flag found, in one or two sentences of the reader's language (from its evidence's numbers)."""
    e, kind = flag.get("evidence") or {}, flag["kind"]
    if kind not in SAYS:
        return str(flag.get("kind_description") or kind)
    said = w.say(SAYS[kind], **_values(kind, e, w))
    if kind != "linked_accounts":
        return said
    parts = [said]
    shared = [w.gettext(IDENTIFIERS[k]) for k in e.get("shared_identifiers") or {} if k in IDENTIFIERS]
    if shared:
        parts.append(w.say(RING_SHARES, what=("、" if w.lang == "zh" else ", ").join(shared)))
    if e.get("coupons_shared"):
        parts.append(w.say(RING_COUPONS, n=w.n(e["coupons_shared"])))
    if e.get("accounts_in_lockstep"):
        parts.append(w.say(RING_LOCKSTEP, n=w.n(e["accounts_in_lockstep"])))
    return w.join(parts) + ("。" if w.lang == "zh" else ".")


def _subject(flag: dict[str, Any], w: Words) -> dict[str, Any]:
    """How the flag's subject is shown: a session or user (linked), a ring, a KPI and its hour or day."""
    kind, subject = flag["subject_type"], flag["subject"]
    if kind == "kpi":
        metric, grain, bucket = [*subject.split(":", 2), "", ""][:3]
        text = f"{w.metric(metric)} · {w.gettext(GRAINS[grain]) if grain in GRAINS else grain} · {bucket}"
        return {"type": "kpi", "text": text}
    if kind == "ring":
        return {
            "type": "ring",
            "text": w.say(N_("a ring of %(n)s accounts"), n=w.n(flag.get("accounts") or 0)),
            "id": subject,
        }
    return {"type": kind, "id": subject}


def _when(flag: dict[str, Any]) -> str | None:
    """When it happened: the start of what was found (a KPI's hour or day has no moment: none)."""
    start = (flag.get("evidence") or {}).get("start")
    return str(start) if start else None


def _account_note(detail: str | None, w: Words) -> list[dict[str, Any]]:
    """How an account looked, translated part by part (an unknown part shown as the data says it)."""
    out: list[dict[str, Any]] = []
    for part in (detail or "").split("; "):
        if not part:
            continue
        if part in ROLE_NAMES:
            out.append({"text": w.gettext(ROLE_NAMES[part])})
        elif m := _SPIKE.match(part):
            msgid = N_("%(n)s likes in the spike") if m["unit"] == "likes" else N_("%(n)s gifts in the spike")
            out.append({"text": w.say(msgid, n=w.n(int(m["n"])))})
        elif m := _SHARES.match(part):
            what = w.gettext(IDENTIFIERS[m["what"]]) if m["what"] in IDENTIFIERS else m["what"]
            out.append(
                {"text": w.say(N_("shares a %(what)s with %(n)s others"), what=what, n=w.n(int(m["n"]) - 1))}
            )
        elif m := _LOCKSTEP.match(part):
            out.append({"text": w.say(N_("%(n)s orders in lockstep"), n=w.n(int(m["n"])))})
        else:
            out.append({"text": part, "data": True})
    return out


def _order(detail: str | None, w: Words) -> dict[str, Any]:
    m = _ORDER.match(detail or "")
    if m is None:
        return {"raw": detail or ""}
    return {
        "status": label(m["status"], w.lang),
        "amount": w.settings.money(float(m["amount"])),
        "coupon": m["coupon"],
    }


def _row(flag: dict[str, Any], w: Words) -> dict[str, Any]:
    return flag | {"summary": summary(flag, w), "subject_view": _subject(flag, w), "happened": _when(flag)}


def _labels() -> dict[str, Any]:
    return {"kinds": KINDS, "descriptions": DESCRIPTIONS, "statuses": STATUSES}


def _may_review(request: Request) -> bool:
    role = principal_of(request).role
    return role == Role.ADMIN or role in REVIEWERS


# -- the queue -------------------------------------------------------------------------------------------


@router.get("/risk", response_class=HTMLResponse, dependencies=[READ])
async def risk_page(
    request: Request,
    status: Annotated[Literal["open", "confirmed", "dismissed", "all"], Query()] = "open",
    kind: Annotated[str | None, Query(max_length=32)] = None,
    session: Annotated[str | None, Query(max_length=128)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    found: Annotated[int | None, Query(ge=0)] = None,
    new: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    wh = request.app.state.warehouse
    kind, session = kind or None, session or None  # the filter form sends "" for all
    page = await run_in_threadpool(
        lambda: risk.list_flags(
            wh, kind=kind, status=None if status == "all" else status, session_id=session,
            limit=PAGE_SIZE, offset=offset,
        )
    )  # fmt: skip
    w = Words(request)
    rows = [_row(f, w) for f in page["flags"]]
    context = {
        "page": page,
        "rows": rows,
        "status": status,
        "kind": kind,
        "session": session,
        "scan": {"found": found, "new": new} if found is not None and new is not None else None,
        "may_review": _may_review(request),
        "page_size": PAGE_SIZE,
    }
    return render(request, "measure/risk.html", context | _labels())


@router.post("/risk/scan", dependencies=[REVIEW])
async def scan_now(request: Request) -> Response:
    """Run every detector over the warehouse; the new findings join the queue."""
    wh = request.app.state.warehouse
    try:
        done = await run_in_threadpool(risk.scan, wh)
    except LiveloopError as exc:
        w = Words(request)
        page = await run_in_threadpool(lambda: risk.list_flags(wh, status="open", limit=PAGE_SIZE))
        context = {
            "page": page,
            "rows": [_row(f, w) for f in page["flags"]],
            "status": "open",
            "kind": None,
            "session": None,
            "scan": None,
            "scan_error": exc.detail,
            "may_review": True,
            "page_size": PAGE_SIZE,
        }
        return render(request, "measure/risk.html", context | _labels(), status_code=exc.status)
    return RedirectResponse(f"/risk?found={done['found']}&new={done['new']}", status_code=303)


# -- one flag --------------------------------------------------------------------------------------------


def _detail(request: Request, flag_id: str) -> dict[str, Any]:
    flag = risk.get_flag(request.app.state.warehouse, flag_id)
    w = Words(request)
    members = flag["members"]
    flag["accounts"] = len(members.get("account", []))
    accounts = [m | {"note": _account_note(m["detail"], w)} for m in members.get("account", [])]
    orders = [m | {"order": _order(m["detail"], w)} for m in members.get("order", [])]
    return {
        "flag": _row(flag, w),
        "accounts": accounts,
        "comments": members.get("comment", []),
        "orders": orders,
        "events": members.get("event", []),
        "minutes": (flag["evidence"] or {}).get("minutes") or [],
        "evidence_json": _pretty(flag["evidence"]),
    }


def _pretty(evidence: Any) -> str:
    return json.dumps(evidence, ensure_ascii=False, indent=2, default=str)


async def _render_detail(
    request: Request, flag_id: str, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    try:
        context = await run_in_threadpool(_detail, request, flag_id)
    except NotFound:
        return render(
            request, "measure/risk_flag.html", {"flag": None, "missing": flag_id} | _labels(), status_code=404
        )
    context |= {"may_review": _may_review(request), "error": error}
    return render(request, "measure/risk_flag.html", context | _labels(), status_code=status_code)


@router.get("/risk/{flag_id}", response_class=HTMLResponse, dependencies=[READ])
async def flag_page(request: Request, flag_id: Id) -> HTMLResponse:
    return await _render_detail(request, flag_id)


@router.post("/risk/{flag_id}/review", dependencies=[REVIEW])
async def review(request: Request, flag_id: Id) -> Response:
    """Confirm, dismiss or reopen the flag (the form's ``status``), with the reviewer's note."""
    form = await request.form()
    status = str(form.get("status") or "")
    note = str(form.get("note") or "").strip() or None
    actor = f"key:{principal_of(request).key_id}"
    try:
        await run_in_threadpool(
            partial(risk.review_flag, request.app.state.warehouse, flag_id, status, reviewer=actor, note=note)
        )
    except NotFound:
        return await _render_detail(request, flag_id)
    except LiveloopError as exc:
        return await _render_detail(request, flag_id, error=exc.detail, status_code=exc.status)
    return RedirectResponse(f"/risk/{flag_id}", status_code=303)
