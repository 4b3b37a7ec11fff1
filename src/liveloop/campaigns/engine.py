"""The campaign lifecycle: draft → approved → scheduled/running → done (or cancelled).

A marketer drafts (audience, channels in order of preference, templates, holdout share, policy); an
admin who did not draft it approves; ``launch`` writes the whole plan — one row of ``messages`` per
audience user: queued (with its send time), holdout, or skipped with its reason — and an audit row per
decision, in one transaction, so a crash leaves either no plan or all of it. ``dry_run`` computes the
same plan without writing it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from liveloop.campaigns import audiences, templates
from liveloop.campaigns.channels import KINDS, SENDABLE, providers
from liveloop.campaigns.policies import REASONS, Policy, plan_sql, start_of
from liveloop.core.clock import checked_time, utcnow
from liveloop.core.config import get_settings
from liveloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, reject_unknown
from liveloop.core.ids import new_id
from liveloop.privacy.audit import AuditEntry, register_explainer
from liveloop.privacy.audit import record as audit
from liveloop.warehouse import Warehouse

STATUSES = ("draft", "approved", "scheduled", "running", "done", "cancelled")
KINDS_OF_CAMPAIGN = ("promotion", "live_preview", "welcome", "cross_sell", "service", "loyalty", "win_back")
MAX_HOLDOUT = 0.5
#: What a message costs by channel (CNY), for the dry run's expected cost; a campaign may override it.
COST = {"sms": 0.045, "email": 0.002, "app_push": 0.0, "wechat": 0.0, "social": 0.0, "webhook": 0.0}


@dataclass(frozen=True)
class CampaignSpec:
    """A campaign as drafted."""

    name: str
    audience_id: str
    channels: tuple[str, ...]
    body: str
    subject: str | None = None
    kind: str = "promotion"
    session_id: str | None = None
    start_ts: datetime | None = None
    holdout: float = 0.1
    send_time: str = "start"  # "start", or "learned": each user's best hour and channel
    attribution_days: int = 3
    policy: Policy = field(default_factory=Policy)
    cost: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CampaignSpec:
        data = dict(data)
        reject_unknown(data, cls, "campaign")
        policy = Policy.of(data.pop("policy", None))
        channels = data.pop("channels", ())
        if isinstance(channels, str):
            channels = [c.strip() for c in channels.split(",") if c.strip()]
        start = data.pop("start_ts", None)
        return cls(
            **data,
            channels=tuple(channels),
            policy=policy,
            start_ts=start_time(start) if start is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["channels"] = list(self.channels)
        return out


def check_message(wh: Warehouse, channels: tuple[str, ...], subject: str | None, body: str) -> list[str]:
    """Channels that can carry a message and have a provider, and templates that render and pass the
    advertising law; returns the warnings an approver should read."""
    if not channels:
        raise ValidationFailed("give at least one channel", field="channels")
    configured = providers(wh)
    for c in channels:
        if c not in SENDABLE:
            raise ValidationFailed(
                f"channel {c!r} cannot carry messages; one of {', '.join(sorted(SENDABLE))}", field="channels"
            )
        if c not in configured and c not in KINDS["in_app"]:
            raise ValidationFailed(
                f"channel {c!r} has no provider: configure one first (liveloop channels set {c} …)",
                field="channels",
            )
    if len(set(channels)) != len(channels):
        raise ValidationFailed("a channel is listed twice", field="channels")
    checked = (
        templates.check(subject, "subject", required="email" in channels),
        templates.check(body, "body"),
    )
    return [w for w in checked if w]


#: How far ahead a campaign may be scheduled.
MAX_AHEAD = timedelta(days=366)


def start_time(value: Any) -> datetime:
    """A campaign's start: an aware time (ISO text as stored, or a datetime), at most a year ahead."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationFailed(f"start_ts {value!r} is not an ISO time", field="start_ts") from exc
    if not isinstance(value, datetime):
        raise ValidationFailed("start_ts must be a time", field="start_ts")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    checked_time(min(value, utcnow()), "start_ts")  # not before 1990
    if value > utcnow() + MAX_AHEAD:
        raise ValidationFailed("start_ts is more than a year ahead", field="start_ts")
    return value.astimezone(UTC)


def _check(wh: Warehouse, spec: CampaignSpec) -> list[str]:
    """Everything that can be checked before sending; the warnings the approver should read."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise ValidationFailed("a campaign needs a name of 1 to 200 characters", field="name")
    audiences.load(wh, spec.audience_id)
    warnings = check_message(wh, spec.channels, spec.subject, spec.body)
    if spec.kind not in KINDS_OF_CAMPAIGN:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS_OF_CAMPAIGN)}", field="kind")
    if not 0 <= spec.holdout <= MAX_HOLDOUT:
        raise ValidationFailed(f"holdout must be between 0 and {MAX_HOLDOUT}", field="holdout")
    if spec.send_time not in ("start", "learned"):
        raise ValidationFailed("send_time must be start or learned", field="send_time")
    if not 1 <= spec.attribution_days <= 30:
        raise ValidationFailed("attribution_days must be between 1 and 30", field="attribution_days")
    if spec.session_id is not None and not wh.sql(
        "SELECT 1 FROM live_sessions WHERE session_id = ?", [spec.session_id]
    ):
        raise NotFound(f"live session {spec.session_id!r} is unknown", field="session_id")
    spec.policy.check()
    return warnings


def create(wh: Warehouse, spec: CampaignSpec, *, actor: str | None) -> dict[str, Any]:
    """Store a draft after checking everything that can be checked before sending."""
    warnings = _check(wh, spec)
    campaign_id = new_id("cmp")
    props = spec.to_dict() | {"warnings": warnings}
    wh.sql(
        "INSERT INTO campaigns (campaign_id, name, status, channel, start_ts, props, audience_id, "
        "created_by) "
        "VALUES (?, ?, 'draft', ?, ?, ?, ?, ?)",
        [
            campaign_id,
            spec.name,
            spec.channels[0],
            spec.start_ts,
            json.dumps(props, default=str),
            spec.audience_id,
            actor,
        ],
    )
    audit(wh, AuditEntry(actor, "campaign.draft", campaign_id, "draft", spec.name))
    return get(wh, campaign_id)


_COLUMNS = (
    "campaign_id",
    "name",
    "status",
    "start_ts",
    "props",
    "audience_id",
    "created_by",
    "created_at",
    "approved_by",
    "approved_at",
    "launched_at",
    "done_at",
)


def get(wh: Warehouse, campaign_id: str) -> dict[str, Any]:
    rows = wh.sql(
        f"SELECT {', '.join(c if c != 'props' else 'CAST(props AS VARCHAR)' for c in _COLUMNS)} "
        "FROM campaigns WHERE campaign_id = ?",
        [campaign_id],
    )
    if not rows:
        raise NotFound(f"campaign {campaign_id!r} is unknown", field="campaign_id")
    out = dict(zip(_COLUMNS, rows[0], strict=True))
    props = json.loads(out.pop("props") or "{}")
    out["warnings"] = props.pop("warnings", [])
    out["spec"] = props
    return out


def list_campaigns(wh: Warehouse, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    ids = wh.sql(
        "SELECT campaign_id FROM campaigns WHERE ? IS NULL OR status = ? ORDER BY created_at DESC LIMIT 500",
        [status, status],
    )
    return [get(wh, r[0]) for r in ids]


def spec_of(campaign: dict[str, Any]) -> CampaignSpec:
    return CampaignSpec.from_dict(campaign["spec"])


def _move(
    wh: Warehouse,
    campaign_id: str,
    frm: tuple[str, ...],
    to: str,
    sets: str = "",
    params: list[Any] | None = None,
) -> None:
    changed = wh.sql(
        f"UPDATE campaigns SET status = ?{sets} WHERE campaign_id = ? "
        "AND list_contains(?::VARCHAR[], status) RETURNING 1",
        [to, *(params or []), campaign_id, list(frm)],
    )
    if not changed:
        now = get(wh, campaign_id)["status"]
        raise Conflict(f"campaign {campaign_id} is {now}: it cannot become {to}", field="status")


def approve(wh: Warehouse, campaign_id: str, *, actor: str, separate: bool = True) -> dict[str, Any]:
    """An approval by someone other than the drafter (``separate``: the service's four-eyes rule)."""
    c = get(wh, campaign_id)
    if separate and c["created_by"] == actor:
        raise PermissionDenied(
            "a campaign is approved by someone other than who drafted it", field="approved_by"
        )
    _check(wh, spec_of(c))  # the audience or a provider may have gone since the draft
    _move(wh, campaign_id, ("draft",), "approved", ", approved_by = ?, approved_at = now()", [actor])
    audit(wh, AuditEntry(actor, "campaign.approve", campaign_id, "approved", c["name"]))
    return get(wh, campaign_id)


def cancel(wh: Warehouse, campaign_id: str, *, actor: str | None) -> dict[str, Any]:
    """Stop a campaign: what is still queued is not sent (kept as ``cancelled``)."""
    with wh.transaction() as con:
        done = con.execute(
            "UPDATE campaigns SET status = 'cancelled', done_at = now() WHERE campaign_id = ? "
            "AND status NOT IN ('done', 'cancelled') RETURNING 1",
            [campaign_id],
        ).fetchall()
        if done:
            con.execute(
                "UPDATE messages SET status = 'cancelled', reason = 'campaign cancelled' "
                "WHERE campaign_id = ? AND status = 'queued'",
                [campaign_id],
            )
    if not done:
        raise Conflict(f"campaign {campaign_id} has already finished", field="status")
    audit(wh, AuditEntry(actor, "campaign.cancel", campaign_id, "cancelled", None))
    return get(wh, campaign_id)


# -- the plan ------------------------------------------------------------------------------------------

PreferFn = Any  # (wh, user_ids query, params, channels) -> DataFrame(user_id, channel, hour, reason)
_preferences: list[PreferFn] = []


def register_preferences(fn: PreferFn) -> None:
    """The learned send-time model plugs in here (it needs the message log, this module does not)."""
    _preferences[:] = [fn]


def _plan_query(
    wh: Warehouse, campaign_id: str, spec: CampaignSpec, now: datetime
) -> tuple[str, list[Any], bool]:
    r = audiences.resolve(wh, audiences.load(wh, spec.audience_id)["spec"])
    preferred = spec.send_time == "learned" and bool(_preferences)
    query = plan_sql(
        r.query,
        list(spec.channels),
        spec.policy,
        personal=r.personal,
        default_tz=get_settings().timezone,
        holdout=spec.holdout,
        campaign_id=campaign_id,
        preferred=preferred,
    )
    return query, [start_of(now, spec.start_ts), *r.params], preferred


def _with_preferences(
    wh: Warehouse, con: Any, spec: CampaignSpec, campaign_id: str, now: datetime
) -> tuple[str, list[Any]]:
    query, params, preferred = _plan_query(wh, campaign_id, spec, now)
    if preferred:
        r = audiences.resolve(wh, audiences.load(wh, spec.audience_id)["spec"])
        pref: pd.DataFrame = _preferences[0](wh, r, list(spec.channels), spec.policy)
        con.register("_pref", pref[["user_id", "channel", "hour", "reason"]])
    return query, params


def _drop_preferences(con: Any) -> None:
    with contextlib.suppress(Exception):  # nothing registered
        con.unregister("_pref")


def dry_run(wh: Warehouse, campaign_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The plan without writing it: how many would be sent (by channel), held out, deferred or skipped
    (by reason), the expected cost, and the expected lift from past campaigns of the same kind."""
    now = now or utcnow()
    c = get(wh, campaign_id)
    spec = spec_of(c)
    with wh.transaction() as con:  # reads only; a transaction holds the connection for ``_pref``
        query, params = _with_preferences(wh, con, spec, campaign_id, now)
        try:
            rows = con.execute(
                f"SELECT status, channel, reason, count(*) FROM ({query}) GROUP BY ALL", params
            ).fetchall()
        finally:
            _drop_preferences(con)
    return _summary(c, spec, rows) | {"expected_lift": expected_lift(wh, spec.kind)}


def _summary(c: dict[str, Any], spec: CampaignSpec, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    skipped = {r: 0 for r in REASONS}
    by_channel: dict[str, int] = {}
    holdout = deferred = 0
    for status, channel, reason, n in rows:
        if status == "skipped":
            skipped[reason] = skipped.get(reason, 0) + n
        elif status == "holdout":
            holdout += n
        else:
            by_channel[channel] = by_channel.get(channel, 0) + n
            deferred += n if reason == "deferred: quiet_hours" else 0
    to_send = sum(by_channel.values())
    cost = {ch: n * float(spec.cost.get(ch, COST.get(ch, 0.0))) for ch, n in by_channel.items()}
    return {
        "campaign_id": c["campaign_id"],
        "status": c["status"],
        "targeted": to_send + holdout + sum(skipped.values()),
        "to_send": to_send,
        "by_channel": by_channel,
        "holdout": holdout,
        "deferred_quiet_hours": deferred,
        "skipped": {k: v for k, v in skipped.items() if v},
        "expected_cost": round(sum(cost.values()), 2),
        "warnings": c["warnings"],
    }


def expected_lift(wh: Warehouse, kind: str) -> dict[str, Any] | None:
    """The mean measured lift of finished campaigns of ``kind`` (None: none measured yet)."""
    rows = wh.sql(
        "SELECT campaign_id FROM campaigns WHERE status = 'done' AND props->>'$.kind' = ? "
        "ORDER BY done_at DESC LIMIT 10",
        [kind],
    )
    if not rows:
        return None
    from liveloop.campaigns.report import lift

    lifts = [x for x in (lift(wh, r[0]) for r in rows) if x is not None and x.get("difference") is not None]
    if not lifts:
        return None
    return {
        "difference": sum(x["difference"] for x in lifts) / len(lifts),
        "campaigns": len(lifts),
        "basis": f"mean measured lift of the last {len(lifts)} finished {kind} campaigns",
    }


def launch(
    wh: Warehouse, campaign_id: str, *, actor: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Write the plan of an approved campaign into the outbox (one transaction) and start it."""
    now = now or utcnow()
    c = get(wh, campaign_id)
    if c["status"] != "approved":
        raise Conflict(
            f"campaign {campaign_id} is {c['status']}: only an approved campaign is launched", field="status"
        )
    spec = spec_of(c)
    start = start_of(now, spec.start_ts)
    status = "scheduled" if start > now else "running"
    with wh.transaction() as con:
        query, params = _with_preferences(wh, con, spec, campaign_id, now)
        con.execute(
            "INSERT INTO messages (message_id, campaign_id, user_id, channel, status, reason, grp, "
            "scheduled_at, "
            "next_attempt_at, send_reason, source) "
            f"SELECT '{campaign_id}:' || user_id, '{campaign_id}', user_id, channel, status, reason, grp, "
            f"scheduled_at, scheduled_at, send_reason, 'campaign' FROM ({query})",
            params,
        )
        con.execute(
            "INSERT INTO audit_log (actor, action, subject, decision, reason, details) "
            ""
            "SELECT 'campaigns', 'campaign.message', user_id, status, "
            "coalesce(reason, send_reason, 'in the audience'), "
            "json_object('campaign_id', campaign_id, 'channel', channel, 'at', scheduled_at) "
            "FROM messages WHERE campaign_id = ?",
            [campaign_id],
        )
        moved = con.execute(
            "UPDATE campaigns SET status = ?, launched_at = now() WHERE campaign_id = ? "
            "AND status = 'approved' "
            "RETURNING 1",
            [status, campaign_id],
        ).fetchall()
        if not moved:
            raise Conflict(f"campaign {campaign_id} was launched meanwhile", field="status")
        rows = con.execute(
            "SELECT status, channel, reason, count(*) FROM messages WHERE campaign_id = ? GROUP BY ALL",
            [campaign_id],
        ).fetchall()
        _drop_preferences(con)
    audit(wh, AuditEntry(actor, "campaign.launch", campaign_id, status, c["name"]))
    return _summary(get(wh, campaign_id), spec, rows)


def _explain(_user: str, decision: str | None, reason: str | None, details: Any, lang: str) -> str:
    info = json.loads(details) if isinstance(details, str) else (details or {})
    campaign, channel = info.get("campaign_id", "?"), info.get("channel", "?")
    why = {
        "zh": {
            "unknown_user": "用户未知",
            "non_personalised": "您关闭了个性化，基于画像的营销不会触达您",
            "no_consent": "您未同意通过该渠道接收营销信息",
            "suppressed": "您在免打扰名单中（退订、退信或投诉）",
            "no_address": "缺少该渠道的联系方式",
            "cap_day": "已达到每日触达上限",
            "cap_week": "已达到每周触达上限",
            "fatigue": "已达到每周总触达上限（防打扰）",
            "quiet_hours": "处于免打扰时段",
            "holdout": "随机对照组：本次不发送，用于衡量活动效果",
        },
        "en": {
            "unknown_user": "unknown user",
            "non_personalised": (
                "you switched personalisation off, so profile-based marketing does not reach you"
            ),
            "no_consent": "you have not agreed to marketing on this channel",
            "suppressed": "you are on the do-not-contact list (unsubscribed, bounced or complained)",
            "no_address": "no address for this channel",
            "cap_day": "the daily message cap was reached",
            "cap_week": "the weekly message cap was reached",
            "fatigue": "the weekly cap over all channels was reached",
            "quiet_hours": "quiet hours",
            "holdout": "random holdout group: not sent, to measure the campaign's effect",
        },
    }[lang]
    if decision in ("skipped", "holdout"):
        text = why.get(reason or "", reason or "")
        return (
            f"活动 {campaign} 未向您发送（{channel}）：{text}"
            if lang == "zh"
            else f"campaign {campaign} did not message you ({channel}): {text}"
        )
    detail = reason or ""
    if detail == "deferred: quiet_hours":
        detail = "免打扰时段之后发送" if lang == "zh" else "sent after quiet hours"
    return (
        f"活动 {campaign} 通过 {channel} 向您发送消息：您属于该活动的目标人群；{detail}"
        if lang == "zh"
        else f"campaign {campaign} messages you on {channel}: you are in its audience; {detail}"
    )


register_explainer("campaign.message", _explain)
