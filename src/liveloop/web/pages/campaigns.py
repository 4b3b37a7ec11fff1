"""The Campaigns page: the list, a month calendar, the builder (audience with a live preview), and one
campaign with its actions, plan, funnel, skips, delivery errors and lift against the holdout.

Everything is decided by ``liveloop.campaigns``: the page parses the form, checks the role, calls one
service function and renders what it answers (a ``ValidationFailed`` is shown next to its field).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from babel.dates import format_skeleton, get_day_names
from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.campaigns import audiences, engine
from liveloop.campaigns.channels import KINDS, SENDABLE, providers
from liveloop.campaigns.report import report
from liveloop.core.errors import Conflict, LiveloopError, NotFound, PermissionDenied, ValidationFailed
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.privacy.keys import list_keys
from liveloop.profiles import list_segments
from liveloop.profiles.tags import LIFECYCLE_NAMES
from liveloop.web.export import table_response
from liveloop.web.i18n import LOCALES, number
from liveloop.web.templating import figure, gettext_of, lang_of, render
from liveloop.web.vocab import label

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/campaigns", "label": N_("Campaigns"), "order": 45, "roles": ROLES}
READ = Depends(require_roles(*ROLES))
WRITE = Depends(require_roles(Role.MARKETER))
ADMIN = Depends(require_roles())
router = APIRouter(include_in_schema=False)
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]

#: A campaign's status, its kind, a funnel step, a skip reason, when it sends: their names on the page.
STATUSES = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "scheduled": N_("scheduled"),
    "running": N_("running"),
    "done": N_("done"),
    "cancelled": N_("cancelled"),
}
KINDS_OF_CAMPAIGN = {
    "promotion": N_("promotion"),
    "live_preview": N_("live-room preview"),
    "welcome": N_("welcome"),
    "cross_sell": N_("cross-sell"),
    "service": N_("service notice"),
    "loyalty": N_("loyalty"),
    "win_back": N_("win-back"),
}
STEPS = {
    "targeted": N_("targeted"),
    "allowed": N_("allowed"),
    "treated": N_("treated (not held out)"),
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "opened": N_("opened"),
    "clicked": N_("clicked"),
    "entered_room": N_("entered the live room"),
    "bought": N_("bought"),
}
REASONS = {
    "unknown_user": N_("unknown user"),
    "non_personalised": N_("personalisation switched off"),
    "no_consent": N_("no marketing consent on the channel"),
    "suppressed": N_("on the do-not-contact list"),
    "no_address": N_("no address for the channel"),
    "cap_day": N_("daily cap reached"),
    "cap_week": N_("weekly cap reached"),
    "fatigue": N_("weekly cap over all channels reached"),
    "quiet_hours": N_("quiet hours"),
    "deferred: quiet_hours": N_("sent after quiet hours"),
    "campaign cancelled": N_("campaign cancelled"),
}
SEND_TIMES = {"start": N_("at the start time"), "learned": N_("each user's best hour (learned)")}
DELIVERY = {
    "queued": N_("queued"),
    "failed": N_("failed"),
    "bounced": N_("bounced"),
    "unsubscribed": N_("unsubscribed"),
    "complained": N_("complained"),
}
#: What a refused form or preview says by the field the capability names (its detail follows).
FIELD_ERRORS = {
    "name": N_("Give the campaign a name of 1 to 200 characters."),
    "audience_name": N_("Give the audience a name of 1 to 200 characters."),
    "audience_id": N_("Choose a stored audience."),
    "definition": N_("Define the audience: a rule, a segment, a lifecycle stage or tags."),
    "rule": N_("The rule is not valid."),
    "segment": N_("Unknown segment."),
    "lifecycle": N_("Unknown lifecycle stage."),
    "tags": N_("Tags look like category:beauty or brand:NAME, separated by commas."),
    "channels": N_("Check the channels."),
    "subject": N_("Check the subject."),
    "body": N_("Check the message."),
    "kind": N_("Choose a kind from the list."),
    "holdout": N_("The holdout is a share between 0 and 50 percent."),
    "start_ts": N_("Check the start time."),
    "send_time": N_("Choose when each message is sent."),
}
FORM_ERROR = N_("Check the form.")
#: Fields of the capabilities that the builder shows under another of its fields.
FIELD_OF = {"users": "definition", "size": "definition", "session_id": "kind", "attribution_days": "kind"}
ACTION_ERRORS = {
    PermissionDenied: N_("Not allowed."),
    Conflict: N_("The campaign's status does not allow this."),
    NotFound: N_("Something the campaign needs is gone."),
    ValidationFailed: N_("The campaign no longer passes its checks."),
}


def _actor(request: Request) -> str:
    """Who acts, named as the API names a caller (so the four-eyes rule sees the same person)."""
    return f"key:{principal_of(request).key_id}"


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day_of(c: dict[str, Any], zone: ZoneInfo) -> date | None:
    """The calendar day of a campaign: its start, else its launch, else its draft (display time zone)."""
    moment = c.get("start_ts") or c.get("launched_at") or c.get("created_at")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return _aware(moment).astimezone(zone).date() if isinstance(moment, datetime) else None


def _month_of(text: str | None, today: date) -> date:
    if text:
        try:
            year, month = (int(x) for x in text.split("-"))
            return date(year, month, 1)
        except ValueError:
            pass
    return today.replace(day=1)


def _calendar(campaigns: list[dict[str, Any]], month: date, today: date, lang: str, zone: ZoneInfo) -> dict:
    by_day: dict[date, list[dict[str, Any]]] = {}
    for c in campaigns:
        day = _day_of(c, zone)
        if day is not None:
            by_day.setdefault(day, []).append(c)
    weeks = [
        [{"day": d, "in_month": d.month == month.month, "today": d == today, "campaigns": by_day.get(d, [])}
         for d in week]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    ]  # fmt: skip
    prev = (month - _ONE_DAY).replace(day=1)
    nxt = (month.replace(day=28) + 4 * _ONE_DAY).replace(day=1)
    names = get_day_names("abbreviated", locale=LOCALES[lang])
    return {
        "title": format_skeleton("yMMMM", month, locale=LOCALES[lang]),
        "weekdays": [names[i] for i in range(7)],
        "weeks": weeks,
        "prev": prev.strftime("%Y-%m"),
        "next": nxt.strftime("%Y-%m"),
        "this": today.strftime("%Y-%m"),
        "count": sum(len(v) for d, v in by_day.items() if (d.year, d.month) == (month.year, month.month)),
    }


_ONE_DAY = date(2000, 1, 2) - date(2000, 1, 1)


def _builder_options(wh: Any) -> dict[str, Any]:
    configured = set(providers(wh)) | set(KINDS["in_app"])
    return {
        "audiences": audiences.list_audiences(wh),
        "segments": list_segments(wh),
        "stages": LIFECYCLE_NAMES,
        "channels": [{"slug": c, "ready": c in configured} for c in sorted(SENDABLE)],
        "kinds": list(engine.KINDS_OF_CAMPAIGN),
    }


def _list_context(request: Request, month: str | None) -> dict[str, Any]:
    wh = request.app.state.warehouse
    zone = _zone(request)
    campaigns = engine.list_campaigns(wh)
    today = datetime.now(zone).date()
    shown = _month_of(month, today)
    principal = principal_of(request)
    can_draft = principal.role in (Role.MARKETER, Role.ADMIN)
    return {
        "campaigns": campaigns,
        "calendar": _calendar(campaigns, shown, today, lang_of(request), zone),
        "builder": _builder_options(wh) if can_draft else None,
    }


def _labels() -> dict[str, dict[str, str]]:
    return {
        "statuses": STATUSES,
        "kinds": KINDS_OF_CAMPAIGN,
        "steps": STEPS,
        "reasons": REASONS,
        "send_times": SEND_TIMES,
        "delivery_labels": DELIVERY,
    }


@router.get("/campaigns", response_class=HTMLResponse, dependencies=[READ])
async def campaigns_page(
    request: Request,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    export: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    context = await run_in_threadpool(_list_context, request, month)
    if export:
        return table_response(context["campaigns"], "liveloop-campaigns", export)
    return render(request, "campaigns/list.html", context | _labels() | {"form": {}, "errors": {}})


# -- the builder -----------------------------------------------------------------------------------------


def _error(exc: LiveloopError, gettext: Callable[[str], str], where: str | None = None) -> dict[str, Any]:
    field = where or FIELD_OF.get(exc.field or "", exc.field or "")
    lead = FIELD_ERRORS.get(field)
    return {"field": field if lead else "form", "message": gettext(lead or FORM_ERROR), "detail": exc.detail}


def _audience_spec(form: dict[str, str]) -> audiences.AudienceSpec:
    tags = [t.strip() for t in form.get("tags", "").replace("，", ",").split(",") if t.strip()]
    return audiences.AudienceSpec.from_dict(
        {
            "rule": form.get("rule", "").strip() or None,
            "segment": form.get("segment") or None,
            "lifecycle": form.get("lifecycle") or None,
            "tags": tags,
        }
    )


def _start_of(text: str, zone: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` value, read in the display time zone, as UTC."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{text!r} is not a date and time", field="start_ts") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _holdout_of(text: str) -> float:
    try:
        return float(text.strip().rstrip("%") or "10") / 100
    except ValueError as exc:
        raise ValidationFailed(f"{text!r} is not a number", field="holdout") from exc


def _draft(
    request: Request, form: dict[str, Any], channels: list[str]
) -> tuple[str | None, dict[str, Any], LiveloopError | None]:
    """Store the audience when the form defines one, then the draft; answers the campaign's id, the form
    as it should be shown again (naming the audience once it is stored, so it is not stored twice) and
    the error that stopped it."""
    wh = request.app.state.warehouse
    zone = _zone(request)
    try:
        spec: dict[str, Any] = {
            "name": form.get("name", ""),
            "channels": channels,
            "subject": form.get("subject") or None,
            "body": form.get("body", ""),
            "kind": form.get("kind") or "promotion",
            "holdout": _holdout_of(form.get("holdout", "")),
            "send_time": form.get("send_time") or "start",
            "start_ts": _start_of(form.get("start", ""), zone),
        }
    except LiveloopError as exc:
        return None, form, exc
    audience_id = form.get("audience_id", "")
    if not audience_id:
        name = form.get("audience_name", "").strip() or form.get("name", "").strip()
        try:
            made = audiences.create(wh, name, _audience_spec(form), actor=_actor(request))
        except LiveloopError as exc:
            if exc.field == "name":
                exc.field = "audience_name" if form.get("audience_name", "").strip() else "name"
            return None, form, exc
        audience_id = made["audience_id"]
        form = form | {"audience_id": audience_id}
    try:
        campaign = engine.create(
            wh, engine.CampaignSpec.from_dict(spec | {"audience_id": audience_id}), actor=_actor(request)
        )
    except LiveloopError as exc:
        return None, form, exc
    return str(campaign["campaign_id"]), form, None


@router.post("/campaigns", dependencies=[WRITE])
async def create_draft(request: Request) -> Response:
    raw = await request.form()
    form: dict[str, Any] = {
        k: v for k, v in raw.items() if isinstance(v, str) and k not in ("channels", "csrf_token")
    }
    channels = [c for c in raw.getlist("channels") if isinstance(c, str)]
    campaign_id, form, exc = await run_in_threadpool(_draft, request, form, channels)
    if exc is not None or campaign_id is None:
        assert exc is not None
        error = _error(exc, gettext_of(request))
        context = await run_in_threadpool(_list_context, request, None)
        form = form | {"channels": channels}
        return render(
            request,
            "campaigns/list.html",
            context | _labels() | {"form": form, "errors": {error["field"]: error}},
            status_code=422 if exc.status in (400, 404, 422) else exc.status,
        )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


def _preview(request: Request, params: dict[str, str], channel: str | None) -> dict[str, Any]:
    wh = request.app.state.warehouse
    target: str | audiences.AudienceSpec = params.get("audience_id") or _audience_spec(params)
    return audiences.preview(wh, target, channel=channel or None, sample=10)


@router.get("/campaigns/audience-preview", dependencies=[READ])
async def audience_preview(
    request: Request,
    audience_id: Annotated[str | None, Query(max_length=128)] = None,
    rule: Annotated[str | None, Query(max_length=2000)] = None,
    segment: Annotated[str | None, Query(max_length=128)] = None,
    lifecycle: Annotated[str | None, Query(max_length=32)] = None,
    tags: Annotated[str | None, Query(max_length=2000)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> JSONResponse:
    """The builder's live preview (JSON, always 200: a refused definition is an answer, with its field,
    in the page's language)."""
    params = {
        "audience_id": audience_id or "",
        "rule": rule or "",
        "segment": segment or "",
        "lifecycle": lifecycle or "",
        "tags": tags or "",
    }
    lang = lang_of(request)
    gettext = gettext_of(request)
    try:
        found = await run_in_threadpool(_preview, request, params, channel)
    except LiveloopError as exc:
        return JSONResponse({"ok": False} | _error(exc, gettext, "audience_id" if audience_id else None))
    money = request.app.state.settings.money
    out: dict[str, Any] = {
        "ok": True,
        "size": found["size"],
        "size_text": number(found["size"], lang),
        "by_segment": [
            {"name": s["segment_zh"] if lang == "zh" else s["segment_en"], "users": number(s["users"], lang)}
            for s in found["by_segment"]
        ],
        "by_lifecycle": [
            {"name": _stage(s["lifecycle"], lang), "users": number(s["users"], lang)}
            for s in found["by_lifecycle"]
        ],
        "sample": [
            {
                "user_id": u["user_id"],
                "lifecycle": _stage(u["lifecycle"], lang),
                "value_tier": label(u["value_tier"], lang),
                "spend": money(u["spend"]),
            }
            for u in found["sample"]
        ],
    }
    if "reachable" in found:
        out |= {
            "channel": label(found["channel"], lang),
            "reachable": found["reachable"],
            "reachable_text": number(found["reachable"], lang),
        }
    return JSONResponse(out)


def _stage(slug: str | None, lang: str) -> str:
    names = LIFECYCLE_NAMES.get(slug or "")
    return (names[0] if lang == "zh" else names[1]) if names else (slug or "—")


# -- one campaign ----------------------------------------------------------------------------------------


def _pct(value: float | None, lang: str) -> str:
    return "—" if value is None else format_percent(value, format="#,##0.0%", locale=LOCALES[lang])


def _funnel(steps: list[dict[str, Any]], gettext: Callable[[str], str]) -> Any:
    fig = go.Figure(
        go.Funnel(
            y=[gettext(STEPS.get(s["step"], s["step"])) for s in steps],
            x=[s["users"] for s in steps],
            textinfo="value+percent initial",
            marker={"color": "#e4393c"},
            connector={"line": {"color": "#d8dee4"}},
            name=gettext("Users"),
        )
    )
    fig.update_layout(margin={"l": 160})
    return figure(fig, height=420)


def _names(wh: Any) -> dict[str, str]:
    return {f"key:{k['key_id']}": str(k["name"]) for k in list_keys(wh)}


def _detail(request: Request, campaign_id: str, plan: bool) -> dict[str, Any]:
    wh = request.app.state.warehouse
    c = engine.get(wh, campaign_id)
    context: dict[str, Any] = {"c": c, "spec": c["spec"], "plan": None, "plan_error": None}
    try:
        context["audience"] = audiences.public(audiences.load(wh, c["audience_id"]))
    except NotFound:
        context["audience"] = None
    context["people"] = _names(wh)
    if plan and c["status"] in ("draft", "approved"):
        try:
            context["plan"] = engine.dry_run(wh, campaign_id)
        except LiveloopError as exc:
            context["plan_error"] = _error(exc, gettext_of(request))
    context["report"] = report(wh, campaign_id) if c["status"] not in ("draft", "approved") else None
    return context


def _actions(request: Request, c: dict[str, Any]) -> dict[str, Any]:
    principal = principal_of(request)
    writer = principal.role in (Role.MARKETER, Role.ADMIN)
    drafter = c["created_by"] == _actor(request)
    return {
        "approve": principal.role == Role.ADMIN and c["status"] == "draft" and not drafter,
        "own_draft": principal.role == Role.ADMIN and c["status"] == "draft" and drafter,
        "dry_run": c["status"] in ("draft", "approved"),
        "launch": writer and c["status"] == "approved",
        "cancel": writer and c["status"] not in ("done", "cancelled"),
    }


async def _render_detail(
    request: Request, campaign_id: str, *, plan: bool = False, error: dict[str, Any] | None = None
) -> HTMLResponse:
    try:
        context = await run_in_threadpool(_detail, request, campaign_id, plan)
    except NotFound:
        return render(
            request, "campaigns/detail.html", {"c": None, "missing": campaign_id} | _labels(), status_code=404
        )
    lang = lang_of(request)
    gettext = gettext_of(request)
    r = context["report"]
    if r is not None:
        context["funnel"] = _funnel(r["funnel"], gettext)
        lift = r["lift"]
        if lift is not None:
            context["lift_text"] = {
                "treated": _pct(lift["treated_rate"], lang),
                "holdout": _pct(lift["holdout_rate"], lang),
                "difference": ("+" if lift["difference"] > 0 else "")
                + number(lift["difference"] * 100, lang, 1),
                "low": number(lift["ci95"][0] * 100, lang, 1),
                "high": number(lift["ci95"][1] * 100, lang, 1),
                "relative": _pct(lift["relative"], lang) if lift["relative"] is not None else None,
            }
    status = 200 if error is None else int(error.get("status", 409))
    return render(
        request,
        "campaigns/detail.html",
        context | _labels() | {"actions": _actions(request, context["c"]), "error": error},
        status_code=status,
    )


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse, dependencies=[READ])
async def campaign_page(
    request: Request, campaign_id: Id, dry_run: Annotated[int, Query(ge=0, le=1)] = 0
) -> HTMLResponse:
    return await _render_detail(request, campaign_id, plan=bool(dry_run))


async def _act(request: Request, campaign_id: str, action: Callable[..., Any], **kwargs: Any) -> Response:
    wh = request.app.state.warehouse
    try:
        await run_in_threadpool(action, wh, campaign_id, actor=_actor(request), **kwargs)
    except LiveloopError as exc:
        lead = next((m for kind, m in ACTION_ERRORS.items() if isinstance(exc, kind)), FORM_ERROR)
        error = {"message": gettext_of(request)(lead), "detail": exc.detail, "status": exc.status}
        return await _render_detail(request, campaign_id, error=error)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/approve", dependencies=[ADMIN])
async def approve(request: Request, campaign_id: Id) -> Response:
    return await _act(request, campaign_id, engine.approve)


@router.post("/campaigns/{campaign_id}/launch", dependencies=[WRITE])
async def launch(request: Request, campaign_id: Id) -> Response:
    return await _act(request, campaign_id, engine.launch)


@router.post("/campaigns/{campaign_id}/cancel", dependencies=[WRITE])
async def cancel(request: Request, campaign_id: Id) -> Response:
    return await _act(request, campaign_id, engine.cancel)
