"""Audiences, campaigns and messages: ``/v1/audiences``, ``/v1/campaigns``, ``/v1/channels``,
``/v1/messages/events`` (delivery receipts, opens, clicks, unsubscribes), ``/v1/suppressions`` and a
user's in-app inbox. Marketers draft; an admin who did not draft a campaign approves it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from liveloop.api.deps import get_warehouse
from liveloop.campaigns import audiences, engine, inbound, journeys, outbox
from liveloop.campaigns.channels import Provider, providers, set_provider
from liveloop.campaigns.copy_source import fill_message
from liveloop.campaigns.report import report
from liveloop.core.errors import ValidationFailed
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1", tags=["campaigns"])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER))
WRITE = Depends(require_roles(Role.MARKETER))


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


class AudienceIn(BaseModel):
    """An audience: filters (combined with and), or a look-alike, a live-session audience, or everyone."""

    rule: str | None = Field(
        None, max_length=2000, examples=['value_tier = "high" and churn_probability > 0.6']
    )
    segment: str | None = Field(None, max_length=128)
    lifecycle: str | None = Field(None, max_length=32)
    tags: list[str] = Field(default_factory=list, max_length=50)
    users: list[str] = Field(default_factory=list, max_length=audiences.MAX_USERS_LISTED)
    lookalike_of: str | None = Field(None, max_length=128)
    live_session: str | None = Field(None, max_length=128)
    uplift_of: str | None = Field(None, max_length=128, description="A past campaign with a holdout")
    everyone: bool = False
    size: int | None = Field(None, ge=1, le=audiences.MAX_SIZE)

    def spec(self) -> audiences.AudienceSpec:
        return audiences.AudienceSpec.from_dict(self.model_dump(exclude={"name"}))


class NamedAudienceIn(AudienceIn):
    name: str = Field(..., min_length=1, max_length=200)


@router.post("/audiences", status_code=201, dependencies=[WRITE], summary="Store an audience (checked)")
async def create_audience(
    request: Request, body: NamedAudienceIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    made = await run_in_threadpool(audiences.create, wh, body.name, body.spec(), actor=_actor(request))
    return audiences.public(made)


@router.get("/audiences", dependencies=[READ], summary="Stored audiences, newest first")
def list_audiences(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return audiences.list_audiences(wh)


@router.post("/audiences/preview", dependencies=[READ], summary="Preview an audience without storing it")
def preview_definition(
    body: AudienceIn,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return audiences.preview(wh, body.spec(), channel=channel)


@router.get("/audiences/{audience_id}", dependencies=[READ], summary="An audience with its size and a sample")
def get_audience(
    audience_id: Id,
    channel: Annotated[
        str | None, Query(max_length=32, description="Also count who may be messaged there")
    ] = None,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return audiences.public(audiences.load(wh, audience_id)) | {
        "preview": audiences.preview(wh, audience_id, channel=channel)
    }


@router.get(
    "/audiences/{audience_id}/overlap/{other_id}", dependencies=[READ], summary="Two audiences' overlap"
)
def audience_overlap(audience_id: Id, other_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return audiences.overlap(wh, audience_id, other_id)


@router.get(
    "/audiences/{audience_id}/export",
    dependencies=[WRITE],
    summary="The audience's user ids as CSV or Parquet (人群包), without users who have not allowed sharing",
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
async def export_audience(
    request: Request,
    audience_id: Id,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    wh: Warehouse = Depends(get_warehouse),
) -> FileResponse:
    import tempfile
    from pathlib import Path as FsPath

    folder = FsPath(tempfile.mkdtemp(prefix="liveloop-audience-"))
    path = folder / f"{audience_id}.{format}"
    found = await run_in_threadpool(
        audiences.export, wh, audience_id, path, fmt=format, actor=_actor(request)
    )

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    return FileResponse(
        path,
        media_type=media,
        filename=path.name,
        headers={
            "X-Liveloop-Exported": str(found["exported"]),
            "X-Liveloop-Withheld": str(found["withheld"]),
        },
        background=BackgroundTask(cleanup),
    )


# -- channels --------------------------------------------------------------------------------------------


class ProviderIn(BaseModel):
    kind: Literal["smtp", "webhook", "in_app"]
    config: dict[str, str | int | float] = Field(
        default_factory=dict, description="url, from, username, timeout_s"
    )
    secret: str | None = Field(None, max_length=500, description="The webhook secret or SMTP password")


@router.put(
    "/channels/{channel}", dependencies=[Depends(require_roles())], summary="Configure a channel's provider"
)
def put_channel(
    request: Request,
    channel: Annotated[str, Path(max_length=32)],
    body: ProviderIn,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    p = Provider(channel, body.kind, dict(body.config), body.secret)
    return set_provider(wh, request.app.state.cipher, p, actor=_actor(request))


@router.get("/channels", dependencies=[READ], summary="Configured channels (secrets never shown)")
def list_channels(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return [p.public() for p in providers(wh).values()]


# -- campaigns -------------------------------------------------------------------------------------------


class PolicyIn(BaseModel):
    quiet_start: int = Field(21, ge=0, le=23)
    quiet_end: int = Field(9, ge=0, le=23)
    quiet_mode: Literal["defer", "skip"] = "defer"
    cap_day: int = Field(1, ge=0, le=1000)
    cap_week: int = Field(3, ge=0, le=1000)
    fatigue_week: int = Field(5, ge=0, le=1000)


class CopyFromIn(BaseModel):
    """Have the content studio write the message from a product's copy."""

    product_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    persona: str | None = Field(None, max_length=64)


class CampaignIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    audience_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    channels: list[str] = Field(..., min_length=1, max_length=8)
    body: str | None = Field(None, max_length=5000, description="Required unless copy_from is given.")
    copy_from: CopyFromIn | None = None
    subject: str | None = Field(None, max_length=5000)
    kind: str = Field("promotion", max_length=32)
    session_id: str | None = Field(None, max_length=128)
    start_ts: datetime | None = None
    holdout: float = Field(0.1, ge=0, le=engine.MAX_HOLDOUT)
    send_time: Literal["start", "learned"] = "start"
    attribution_days: int = Field(3, ge=1, le=30)
    policy: PolicyIn = Field(default_factory=PolicyIn)  # type: ignore[arg-type]


@router.post("/campaigns", status_code=201, dependencies=[WRITE], summary="Draft a campaign (checked now)")
async def create_campaign(
    request: Request, body: CampaignIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    data = body.model_dump(exclude={"copy_from"})
    product, persona = (body.copy_from.product_id, body.copy_from.persona) if body.copy_from else (None, None)

    def draft() -> dict[str, Any]:
        filled = fill_message(wh, data, product, persona=persona)
        return engine.create(wh, engine.CampaignSpec.from_dict(filled), actor=_actor(request))

    return await run_in_threadpool(draft)


@router.get("/campaigns", dependencies=[READ], summary="Campaigns, newest first")
def list_campaigns(
    status: Annotated[Literal[engine.STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
    wh: Warehouse = Depends(get_warehouse),
) -> list[dict[str, Any]]:
    return engine.list_campaigns(wh, status)


@router.get("/campaigns/{campaign_id}", dependencies=[READ], summary="A campaign")
def get_campaign(campaign_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return engine.get(wh, campaign_id)


@router.post("/campaigns/{campaign_id}/dry-run", dependencies=[READ], summary="The plan without sending")
async def dry_run(campaign_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(engine.dry_run, wh, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/approve",
    dependencies=[Depends(require_roles())],
    summary="Approve a draft (an admin other than its drafter)",
)
async def approve(
    request: Request, campaign_id: Id, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(engine.approve, wh, campaign_id, actor=_actor(request))


@router.post(
    "/campaigns/{campaign_id}/launch", dependencies=[WRITE], summary="Write the plan and start sending"
)
async def launch(request: Request, campaign_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(engine.launch, wh, campaign_id, actor=_actor(request))


@router.post("/campaigns/{campaign_id}/cancel", dependencies=[WRITE], summary="Stop: nothing queued is sent")
async def cancel(request: Request, campaign_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(engine.cancel, wh, campaign_id, actor=_actor(request))


@router.get(
    "/campaigns/{campaign_id}/report", dependencies=[READ], summary="Funnel, skips and lift vs holdout"
)
async def campaign_report(campaign_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(report, wh, campaign_id)


@router.post("/campaigns/deliver", dependencies=[Depends(require_roles())], summary="Send what is due now")
async def deliver_now(request: Request, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    opts = outbox.DeliveryOptions(base_url=base)
    return await run_in_threadpool(outbox.deliver, wh, request.app.state.cipher, opts)


# -- what comes back -------------------------------------------------------------------------------------


class MessageEventIn(BaseModel):
    message_id: str = Field(..., pattern=ID_PATTERN, max_length=300)
    type: Literal["delivered", "open", "click", "unsubscribe", "bounce", "complaint"]
    ts: datetime | None = None


class MessageEventsIn(BaseModel):
    events: list[MessageEventIn] = Field(..., min_length=1, max_length=inbound.MAX_EVENTS)


@router.post(
    "/messages/events",
    dependencies=[Depends(require_roles(Role.INGEST))],
    summary="Delivery receipts, opens, clicks, unsubscribes, bounces and complaints from the channels",
)
async def message_events(
    request: Request, body: MessageEventsIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    events = [inbound.MessageEvent(e.message_id, e.type, e.ts) for e in body.events]
    return await run_in_threadpool(inbound.record, wh, events, actor=_actor(request))


_UNSUBSCRIBED = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>已退订 · Unsubscribed</title></head><body><main><h1>已退订</h1><p>您将不再通过此渠道收到营销信息。</p>
<p lang="en">You will no longer receive marketing messages on this channel.</p></main></body></html>"""


@router.api_route(
    "/messages/unsubscribe",
    methods=["GET", "POST"],
    response_class=HTMLResponse,
    summary="One-click unsubscribe from a message's link (its signed token is the only credential)",
)
async def unsubscribe(
    request: Request,
    token: Annotated[str, Query(min_length=10, max_length=400)],
    wh: Warehouse = Depends(get_warehouse),
) -> HTMLResponse:
    message_id = outbox.message_of_token(request.app.state.cipher, token)
    await run_in_threadpool(
        inbound.record, wh, [inbound.MessageEvent(message_id, "unsubscribe")], actor="unsubscribe-link"
    )
    return HTMLResponse(_UNSUBSCRIBED)


class SuppressionIn(BaseModel):
    user_id: str = Field(..., pattern=ID_PATTERN, max_length=128)
    channel: str = Field("all", max_length=32)
    reason: Literal["do_not_contact", "unsubscribe", "bounce", "complaint"] = "do_not_contact"


@router.post(
    "/suppressions",
    status_code=201,
    dependencies=[Depends(require_roles(Role.MARKETER, Role.INGEST))],
    summary="Put a user on the do-not-contact list",
)
def add_suppression(
    request: Request, body: SuppressionIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return inbound.suppress(wh, body.user_id, channel=body.channel, reason=body.reason, actor=_actor(request))


@router.get("/suppressions", dependencies=[READ], summary="The do-not-contact list, newest first")
def list_suppressions(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return inbound.suppressions(wh)


@router.get(
    "/users/{user_id}/inbox",
    dependencies=[Depends(require_roles(Role.INGEST, Role.MARKETER))],
    summary="In-app and live-room preview messages delivered to a user, for the app to show",
)
def user_inbox(
    request: Request,
    user_id: Id,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return {"user_id": user_id, "messages": outbox.inbox(wh, request.app.state.cipher, user_id, limit)}


# -- journeys --------------------------------------------------------------------------------------------


class JourneyIn(BaseModel):
    """A journey: a built-in by name, or a trigger and steps (see docs/campaigns.md)."""

    name: str = Field(..., min_length=1, max_length=200)
    builtin: str | None = Field(None, max_length=32, examples=["welcome"])
    channels: list[str] = Field(
        default_factory=list, max_length=8, description="Replace a built-in's channels"
    )
    coupon: str | None = Field(None, max_length=128, description="welcome / win_back: give this coupon first")
    trigger: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list, max_length=journeys.MAX_STEPS)
    holdout: float = Field(0.1, ge=0, le=0.5)
    kind: str = Field("welcome", max_length=32)
    goal_days: int = Field(7, ge=1, le=60)
    policy: PolicyIn = Field(default_factory=PolicyIn)  # type: ignore[arg-type]

    def spec(self) -> journeys.JourneySpec:
        if self.builtin:
            made = journeys.builtin(
                self.builtin, channels=tuple(self.channels), holdout=self.holdout, coupon=self.coupon
            )
            return journeys.JourneySpec.from_dict(made.to_dict() | {"name": self.name})
        if self.trigger is None:
            raise ValidationFailed("give a builtin or a trigger and steps", field="trigger")
        data = self.model_dump(exclude={"builtin", "channels", "coupon"})
        return journeys.JourneySpec.from_dict(data)


@router.post("/journeys", status_code=201, dependencies=[WRITE], summary="Draft a journey (checked now)")
async def create_journey(
    request: Request, body: JourneyIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(journeys.create, wh, body.spec(), actor=_actor(request))


@router.get("/journeys", dependencies=[READ], summary="Journeys, newest first")
def list_journeys(wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return journeys.list_journeys(wh)


@router.get("/journeys/builtins", dependencies=[READ], summary="The built-in lifecycle journeys")
def journey_builtins() -> dict[str, Any]:
    return journeys.BUILTINS


@router.get("/journeys/{journey_id}", dependencies=[READ], summary="A journey")
def get_journey(journey_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return journeys.get(wh, journey_id)


@router.post(
    "/journeys/{journey_id}/approve",
    dependencies=[Depends(require_roles())],
    summary="Approve a draft journey (an admin other than its drafter)",
)
async def approve_journey(
    request: Request, journey_id: Id, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(journeys.approve, wh, journey_id, actor=_actor(request))


@router.post("/journeys/{journey_id}/start", dependencies=[WRITE], summary="Start or resume a journey")
async def start_journey(
    request: Request,
    journey_id: Id,
    backfill_hours: Annotated[float, Query(ge=0, le=720)] = 0,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(
        journeys.activate, wh, journey_id, actor=_actor(request), backfill_hours=backfill_hours
    )


@router.post("/journeys/{journey_id}/stop", dependencies=[WRITE], summary="Stop (or pause) a journey")
async def stop_journey(
    request: Request,
    journey_id: Id,
    pause: Annotated[bool, Query(description="Pause instead of stopping")] = False,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return await run_in_threadpool(journeys.pause, wh, journey_id, actor=_actor(request), stop=not pause)


@router.get("/journeys/{journey_id}/report", dependencies=[READ], summary="Runs, exits, sends and lift")
async def journey_report(journey_id: Id, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return await run_in_threadpool(journeys.report, wh, journey_id)
