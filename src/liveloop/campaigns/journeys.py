"""Journeys: a trigger lets a user in, then steps run for them — wait, send, exit when a condition holds.

    {"trigger": {"kind": "event", "event": "signup"},
     "steps": [{"send": {"channels": ["in_app"], "body": "欢迎！新人券已到账"}},
               {"wait_hours": 72},
               {"exit_if": "purchased"},
               {"send": {"channels": ["email", "in_app"], "subject": "…", "body": "…"}}],
     "holdout": 0.1, "kind": "welcome", "goal_days": 7}

Triggers: an event (``signup``…), a first purchase, a cart abandoned for ``hours``, entering a segment or a
lifecycle stage, churn risk above a threshold (BG/NBD's ``churn_probability``), or a live session the user
is likely to watch starting within ``hours`` (the live-session audience). A user enters a journey once.
At entry a random ``holdout`` share is kept out of every send (measured, never messaged); the others
get each send step as a message of the step's own campaign row (``<journey>.s<step>``), so consent,
suppression, caps, quiet hours, the outbox, the audit trail and the report apply to journeys exactly as
to campaigns. ``exit_if`` leaves the journey when the user ``purchased``, ``opened`` or ``entered_room``
since entry, or matches a profile ``rule:`` (the rule language). :func:`tick` moves every journey on;
the service runs it before each delivery pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from liveloop.campaigns import audiences
from liveloop.campaigns.engine import check_message
from liveloop.campaigns.policies import Policy, plan_sql
from liveloop.campaigns.report import lift_of
from liveloop.campaigns.rules import compile_rule
from liveloop.core.clock import utcnow
from liveloop.core.config import get_settings
from liveloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, reject_unknown
from liveloop.core.ids import new_id
from liveloop.privacy.audit import AuditEntry
from liveloop.privacy.audit import record as audit
from liveloop.warehouse import Warehouse

TRIGGERS = (
    "event",
    "first_purchase",
    "cart_abandoned",
    "segment_entry",
    "lifecycle",
    "churn_risk",
    "live_preview",
)
CONDITIONS = ("purchased", "opened", "entered_room")
STATUSES = ("draft", "approved", "active", "paused", "stopped")
MAX_STEPS = 20
MAX_WAIT_H = 24 * 90


@dataclass(frozen=True)
class JourneySpec:
    name: str
    trigger: dict[str, Any]
    steps: tuple[dict[str, Any], ...]
    holdout: float = 0.1
    kind: str = "welcome"
    goal_days: int = 7
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JourneySpec:
        data = dict(data)
        reject_unknown(data, cls, "journey")
        policy = Policy.of(data.pop("policy", None))
        steps = tuple(data.pop("steps", ()))
        return cls(**data, steps=steps, policy=policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trigger": self.trigger,
            "steps": list(self.steps),
            "holdout": self.holdout,
            "kind": self.kind,
            "goal_days": self.goal_days,
            "policy": self.policy.to_dict(),
        }


def _number(t: dict[str, Any], name: str) -> float:
    value = t.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"trigger {name} must be a number", field=f"trigger.{name}")
    return float(value)


def _check_trigger(wh: Warehouse, t: dict[str, Any]) -> None:
    if not isinstance(t, dict):
        raise ValidationFailed("trigger must be an object with a kind", field="trigger")
    kind = t.get("kind")
    if kind not in TRIGGERS:
        raise ValidationFailed(f"trigger kind must be one of {', '.join(TRIGGERS)}", field="trigger.kind")
    need = {
        "event": "event",
        "cart_abandoned": "hours",
        "segment_entry": "segment",
        "lifecycle": "stage",
        "churn_risk": "above",
        "live_preview": "hours",
    }.get(kind)
    if need and t.get(need) in (None, ""):
        raise ValidationFailed(f"a {kind} trigger needs {need!r}", field=f"trigger.{need}")
    if kind == "event":
        from liveloop.core.types import EventType

        if t["event"] not in {e.value for e in EventType}:
            raise ValidationFailed(f"unknown event type {t['event']!r}", field="trigger.event")
    if kind in ("cart_abandoned", "live_preview") and not 0 < _number(t, "hours") <= 24 * 30:
        raise ValidationFailed("hours must be between 0 and 720", field="trigger.hours")
    if kind == "live_preview" and "size" in t and not 1 <= _number(t, "size") <= audiences.MAX_SIZE:
        raise ValidationFailed("size must be between 1 and 10,000,000", field="trigger.size")
    if kind == "churn_risk" and not 0 < _number(t, "above") < 1:
        raise ValidationFailed("above must be a probability between 0 and 1", field="trigger.above")
    if kind == "lifecycle":
        audiences.AudienceSpec(lifecycle=t["stage"]).check()


def _check_steps(wh: Warehouse, steps: tuple[dict[str, Any], ...]) -> list[str]:
    if not steps or len(steps) > MAX_STEPS:
        raise ValidationFailed(f"a journey has 1 to {MAX_STEPS} steps", field="steps")
    warnings: list[str] = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or len(step) != 1:
            raise ValidationFailed(
                f"step {i + 1} must be one of send, issue_coupon, wait_hours, exit_if", field=f"steps.{i}"
            )
        ((kind, value),) = step.items()
        if kind == "send":
            if not isinstance(value, dict):
                raise ValidationFailed(
                    f"step {i + 1}: send takes channels, subject, body", field=f"steps.{i}"
                )
            warnings += check_message(
                wh, tuple(value.get("channels") or ()), value.get("subject"), value.get("body", "")
            )
        elif kind == "issue_coupon":
            from liveloop.campaigns import coupons

            if not isinstance(value, str):
                raise ValidationFailed(f"step {i + 1}: issue_coupon takes a coupon id", field=f"steps.{i}")
            coupons.get(wh, value)  # it exists (a clear error otherwise)
        elif kind == "wait_hours":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_WAIT_H:
                raise ValidationFailed(
                    f"step {i + 1}: wait_hours between 0 and {MAX_WAIT_H}", field=f"steps.{i}"
                )
        elif kind == "exit_if":
            if not isinstance(value, str) or (value not in CONDITIONS and not value.startswith("rule:")):
                raise ValidationFailed(
                    f"step {i + 1}: exit_if is one of {', '.join(CONDITIONS)} or rule:<rule>",
                    field=f"steps.{i}",
                )
            if value.startswith("rule:"):
                compile_rule(value[5:], audiences.fields(wh))
        else:
            raise ValidationFailed(f"step {i + 1}: unknown step {kind!r}", field=f"steps.{i}")
    if not any("send" in s for s in steps):
        raise ValidationFailed("a journey needs at least one send step", field="steps")
    return warnings


def create(wh: Warehouse, spec: JourneySpec, *, actor: str | None) -> dict[str, Any]:
    """Store a draft journey after checking its trigger, steps, templates and channels."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise ValidationFailed("a journey needs a name of 1 to 200 characters", field="name")
    _check_trigger(wh, spec.trigger)
    warnings = _check_steps(wh, spec.steps)
    if not 0 <= spec.holdout <= 0.5:
        raise ValidationFailed("holdout must be between 0 and 0.5", field="holdout")
    if not 1 <= spec.goal_days <= 60:
        raise ValidationFailed("goal_days must be between 1 and 60", field="goal_days")
    spec.policy.check()
    journey_id = new_id("jny")
    wh.sql(
        "INSERT INTO journeys (journey_id, name, definition, created_by) VALUES (?, ?, ?, ?)",
        [
            journey_id,
            spec.name,
            json.dumps(spec.to_dict() | {"warnings": warnings}, ensure_ascii=False),
            actor,
        ],
    )
    audit(wh, AuditEntry(actor, "journey.draft", journey_id, "draft", spec.name))
    return get(wh, journey_id)


def get(wh: Warehouse, journey_id: str) -> dict[str, Any]:
    rows = wh.sql(
        "SELECT journey_id, name, status, CAST(definition AS VARCHAR), created_by, approved_by, created_at, "
        "activated_at, checked_to FROM journeys WHERE journey_id = ?",
        [journey_id],
    )
    if not rows:
        raise NotFound(f"journey {journey_id!r} is unknown", field="journey_id")
    jid, name, status, definition, by, approved, at, active, checked = rows[0]
    spec = json.loads(definition)
    return {
        "journey_id": jid,
        "name": name,
        "status": status,
        "warnings": spec.pop("warnings", []),
        "spec": spec,
        "created_by": by,
        "approved_by": approved,
        "created_at": at,
        "activated_at": active,
        "checked_to": checked,
    }


def list_journeys(wh: Warehouse) -> list[dict[str, Any]]:
    return [
        get(wh, r[0]) for r in wh.sql("SELECT journey_id FROM journeys ORDER BY created_at DESC LIMIT 500")
    ]


def _spec(j: dict[str, Any]) -> JourneySpec:
    return JourneySpec.from_dict(j["spec"])


def _set_status(
    wh: Warehouse,
    journey_id: str,
    frm: tuple[str, ...],
    to: str,
    extra: str = "",
    params: list[Any] | None = None,
) -> None:
    done = wh.sql(
        f"UPDATE journeys SET status = ?{extra} WHERE journey_id = ? AND list_contains(?::VARCHAR[], status) "
        "RETURNING 1",
        [to, *(params or []), journey_id, list(frm)],
    )
    if not done:
        raise Conflict(
            f"journey {journey_id} is {get(wh, journey_id)['status']}: it cannot become {to}", field="status"
        )


def approve(wh: Warehouse, journey_id: str, *, actor: str, separate: bool = True) -> dict[str, Any]:
    j = get(wh, journey_id)
    if separate and j["created_by"] == actor:
        raise PermissionDenied(
            "a journey is approved by someone other than who drafted it", field="approved_by"
        )
    _set_status(wh, journey_id, ("draft",), "approved", ", approved_by = ?", [actor])
    audit(wh, AuditEntry(actor, "journey.approve", journey_id, "approved", j["name"]))
    return get(wh, journey_id)


def activate(
    wh: Warehouse,
    journey_id: str,
    *,
    actor: str | None,
    now: datetime | None = None,
    backfill_hours: float = 0,
) -> dict[str, Any]:
    """Start an approved (or paused) journey: users whose trigger fires from now on (or from
    ``backfill_hours`` ago) enter. Each send step gets its campaign row."""
    now = now or utcnow()
    j = get(wh, journey_id)
    spec = _spec(j)
    since = now - timedelta(hours=backfill_hours)
    with wh.transaction() as con:
        for i, step in enumerate(spec.steps):
            if "send" not in step:
                continue
            send = step["send"]
            props = {
                "name": f"{spec.name} · {i + 1}",
                "audience_id": journey_id,
                "channels": send["channels"],
                "body": send.get("body", ""),
                "subject": send.get("subject"),
                "kind": spec.kind,
                "holdout": spec.holdout,
                "attribution_days": spec.goal_days,
                "policy": spec.policy.to_dict(),
                "warnings": [],
            }
            con.execute(
                "INSERT INTO campaigns (campaign_id, name, status, channel, props, audience_id, created_by, "
                "approved_by, approved_at, launched_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, now(), ?) "
                "ON CONFLICT (campaign_id) DO UPDATE SET status = 'running'",
                [
                    f"{journey_id}.s{i}",
                    props["name"],
                    send["channels"][0],
                    json.dumps(props),
                    journey_id,
                    j["created_by"],
                    j["approved_by"],
                    now,
                ],
            )
        done = con.execute(
            "UPDATE journeys SET status = 'active', activated_at = coalesce(activated_at, ?), "
            "checked_to = coalesce(checked_to, ?) WHERE journey_id = ? AND status IN ('approved', 'paused') "
            "RETURNING 1",
            [now, since, journey_id],
        ).fetchall()
        if not done:
            raise Conflict(
                f"journey {journey_id} is {j['status']}: only an approved or paused journey starts",
                field="status",
            )
    audit(wh, AuditEntry(actor, "journey.activate", journey_id, "active", j["name"]))
    return get(wh, journey_id)


def pause(wh: Warehouse, journey_id: str, *, actor: str | None, stop: bool = False) -> dict[str, Any]:
    """Pause (runs wait; resume with :func:`activate`) or stop (runs end, queued messages are cancelled)."""
    to = "stopped" if stop else "paused"
    with wh.transaction() as con:
        done = con.execute(
            "UPDATE journeys SET status = ? WHERE journey_id = ? AND status IN ('active', 'paused') "
            "RETURNING 1",
            [to, journey_id],
        ).fetchall()
        if done and stop:
            con.execute(
                "UPDATE journey_runs SET state = 'exited', exit_reason = 'journey stopped' "
                "WHERE journey_id = ? AND state = 'active'",
                [journey_id],
            )
            con.execute(
                "UPDATE messages SET status = 'cancelled', reason = 'journey stopped' WHERE status = "
                "'queued' "
                "AND starts_with(campaign_id, ? || '.s')",
                [journey_id],
            )
            con.execute(
                "UPDATE campaigns SET status = 'cancelled', done_at = now() WHERE "
                "starts_with(campaign_id, ? || '.s')",
                [journey_id],
            )
    if not done:
        raise Conflict(f"journey {journey_id} is not running", field="status")
    audit(wh, AuditEntry(actor, f"journey.{to}", journey_id, to, None))
    return get(wh, journey_id)


# -- who enters ---------------------------------------------------------------------------------------


def _entrants_sql(wh: Warehouse, t: dict[str, Any], since: datetime, now: datetime) -> tuple[str, list[Any]]:
    """``(user_id, at)`` of users whose trigger fired in ``(since, now]``; for a state (a segment, a
    lifecycle stage, churn risk, a coming live session) everyone in it now, entering at ``now``."""
    kind = t["kind"]
    if kind == "event":
        return (
            "SELECT user_id, min(ts) FROM events WHERE ts > ? AND ts <= ? AND type = ? GROUP BY user_id",
            [since, now, t["event"]],
        )
    if kind == "first_purchase":
        return (
            "WITH b AS (SELECT user_id, ts FROM events WHERE type = 'purchase' UNION ALL "
            "SELECT user_id, ts FROM orders), f AS (SELECT user_id, min(ts) AS t FROM b GROUP BY user_id) "
            "SELECT user_id, t FROM f WHERE t > ? AND t <= ?",
            [since, now],
        )
    if kind == "cart_abandoned":
        wait = f"to_seconds({float(t['hours']) * 3600})"
        return (
            "WITH c AS (SELECT user_id, max(ts) AS t FROM events WHERE type = 'add_to_cart' GROUP BY "
            "user_id) "
            f"SELECT c.user_id, c.t + {wait} FROM c WHERE c.t + {wait} > ? AND c.t + {wait} <= ? "
            "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.user_id = c.user_id AND e.type = 'purchase' "
            f"AND e.ts > c.t AND e.ts <= c.t + {wait})",
            [since, now],
        )
    if kind == "live_preview":
        sessions = wh.sql(
            "SELECT session_id FROM live_sessions WHERE start_ts > ? AND start_ts <= ? + to_seconds(?)",
            [now, now, float(t["hours"]) * 3600],
        )
        parts, params = [], []
        for (session,) in sessions:
            r = audiences.resolve(
                wh, audiences.AudienceSpec(live_session=session, size=int(t.get("size", 1000)))
            )
            parts.append(f"SELECT user_id FROM ({r.query})")
            params += r.params
        if not parts:
            return "SELECT NULL::VARCHAR, NULL::TIMESTAMPTZ WHERE FALSE", []
        return f"SELECT DISTINCT user_id, ?::TIMESTAMPTZ FROM ({' UNION '.join(parts)})", [now, *params]
    where, value = {
        "segment_entry": (
            "segment_id IN (SELECT segment_id FROM segments WHERE ? IN (segment_id, name_zh, name_en))",
            t.get("segment"),
        ),
        "lifecycle": ("lifecycle = ?", t.get("stage")),
        "churn_risk": ("TRY_CAST(scores->>'$.churn_probability' AS DOUBLE) > ?", float(t.get("above", 1))),
    }[kind]
    return f"SELECT user_id, ?::TIMESTAMPTZ FROM profiles WHERE {where}", [now, value]


def _enter(wh: Warehouse, j: dict[str, Any], spec: JourneySpec, now: datetime) -> int:
    since = j["checked_to"] or j["activated_at"]
    query, params = _entrants_sql(wh, spec.trigger, since, now)
    cutoff = round(spec.holdout * 10000)
    jid = j["journey_id"]
    with wh.transaction() as con:
        n = con.execute(
            "INSERT INTO journey_runs (journey_id, user_id, entered_at, grp, step, state, next_at) "
            f"SELECT '{jid}', e.user_id, e.t, CASE WHEN hash('{jid}' || e.user_id) % 10000 < {cutoff} "
            "THEN 'holdout' ELSE 'treatment' END, 0, 'active', e.t "
            f"FROM ({query}) e(user_id, t) WHERE e.user_id IN (SELECT user_id FROM users) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            params,
        ).fetchall()
        con.execute("UPDATE journeys SET checked_to = ? WHERE journey_id = ?", [now, jid])
    return len(n)


# -- moving runs on ------------------------------------------------------------------------------------


def _condition_sql(wh: Warehouse, cond: str) -> tuple[str, list[Any]]:
    """A condition over run ``r`` (with ``r.user_id``, ``r.entered_at``); "since entry" is strictly after
    it, so the purchase that let a user in does not count."""
    if cond == "purchased":
        return (
            "(EXISTS (SELECT 1 FROM events e WHERE e.user_id = r.user_id AND e.type = 'purchase' "
            "AND e.ts > r.entered_at) OR EXISTS (SELECT 1 FROM orders o WHERE o.user_id = r.user_id "
            "AND o.ts > r.entered_at))",
            [],
        )
    if cond == "opened":
        return (
            "EXISTS (SELECT 1 FROM messages m WHERE m.user_id = r.user_id AND m.opened_at >= r.entered_at)",
            [],
        )
    if cond == "entered_room":
        return (
            "EXISTS (SELECT 1 FROM events e WHERE e.user_id = r.user_id AND e.type = 'enter_room' "
            "AND e.ts >= r.entered_at)",
            [],
        )
    sql, params, _ = compile_rule(cond[5:], audiences.fields(wh))
    return f"r.user_id IN (SELECT user_id FROM profiles WHERE {sql})", params


def _advance(wh: Warehouse, j: dict[str, Any], spec: JourneySpec, now: datetime) -> dict[str, int]:
    jid = j["journey_id"]
    counts = {"sent_steps": 0, "exited": 0, "done": 0}
    personal = spec.trigger["kind"] != "event"
    for _ in range(len(spec.steps) + 1):  # each pass moves due runs at least one step
        due = wh.sql(
            "SELECT step, count(*) FROM journey_runs WHERE journey_id = ? AND state = 'active' AND "
            "next_at <= ? "
            "GROUP BY step ORDER BY step",
            [jid, now],
        )
        if not due:
            break
        for step_no, _n in due:
            if step_no >= len(spec.steps):
                counts["done"] += len(
                    wh.sql(
                        "UPDATE journey_runs SET state = 'done', updated_at = now() WHERE journey_id = ? "
                        "AND state = 'active' AND step = ? RETURNING 1",
                        [jid, step_no],
                    )
                )
                continue
            ((kind, value),) = spec.steps[step_no].items()
            here = "r.journey_id = ? AND r.state = 'active' AND r.step = ? AND r.next_at <= ?"
            if kind == "issue_coupon":  # the coupon's own rules decide, each refusal with its reason
                counts["coupons"] = counts.get("coupons", 0) + _issue(wh, jid, step_no, value, now)
            with wh.transaction() as con:
                if kind == "issue_coupon":
                    con.execute(
                        f"UPDATE journey_runs r SET step = step + 1 WHERE {here}", [jid, step_no, now]
                    )
                elif kind == "wait_hours":
                    con.execute(
                        "UPDATE journey_runs r SET step = step + 1, next_at = next_at + "
                        f"to_seconds({float(value) * 3600}) "
                        f"WHERE {here}",
                        [jid, step_no, now],
                    )
                elif kind == "exit_if":
                    cond, cparams = _condition_sql(wh, value)
                    counts["exited"] += len(
                        con.execute(
                            "UPDATE journey_runs r SET state = 'exited', exit_reason = ? WHERE "
                            f"{here} AND {cond} "
                            "RETURNING 1",
                            [value, jid, step_no, now, *cparams],
                        ).fetchall()
                    )
                    con.execute(
                        f"UPDATE journey_runs r SET step = step + 1 WHERE {here}", [jid, step_no, now]
                    )
                else:
                    counts["sent_steps"] += _send(con, jid, step_no, value, spec, personal, now)
                    con.execute(
                        f"UPDATE journey_runs r SET step = step + 1 WHERE {here}", [jid, step_no, now]
                    )
    return counts


def _issue(wh: Warehouse, jid: str, step_no: int, coupon_id: str, now: datetime) -> int:
    """Give the treated runs due at this step the coupon (the holdout gets none: that is the experiment)."""
    from liveloop.campaigns import coupons

    users = [
        r[0]
        for r in wh.sql(
            "SELECT user_id FROM journey_runs WHERE journey_id = ? AND state = 'active' AND step = ? "
            "AND next_at <= ? AND grp = 'treatment'",
            [jid, step_no, now],
        )
    ]
    if not users:
        return 0
    return int(
        coupons.issue(wh, coupon_id, users, source=f"journey:{jid}", actor="journeys", now=now)["issued"]
    )


def _send(
    con: Any, jid: str, step_no: int, send: dict[str, Any], spec: JourneySpec, personal: bool, now: datetime
) -> int:
    """Messages for the runs due at a send step: the treated through the policies, the holdout recorded."""
    cid = f"{jid}.s{step_no}"
    due = (
        "SELECT user_id FROM journey_runs WHERE journey_id = ? AND state = 'active' AND step = ? "
        "AND next_at <= ?"
    )
    query = plan_sql(
        f"{due} AND grp = 'treatment'",
        list(send["channels"]),
        spec.policy,
        personal=personal,
        default_tz=get_settings().timezone,
        holdout=0.0,
        campaign_id=cid,
    )
    made = con.execute(
        "INSERT INTO messages (message_id, campaign_id, user_id, channel, status, reason, grp, scheduled_at, "
        "next_attempt_at, send_reason, source) "
        f"SELECT '{cid}:' || user_id, '{cid}', user_id, channel, status, reason, grp, scheduled_at, "
        "scheduled_at, "
        f"send_reason, 'journey' FROM ({query}) ON CONFLICT DO NOTHING RETURNING message_id",
        [now, jid, step_no, now],
    ).fetchall()
    held = con.execute(
        "INSERT INTO messages (message_id, campaign_id, user_id, channel, status, reason, grp, "
        "scheduled_at, source) "
        f"SELECT '{cid}:' || user_id, '{cid}', user_id, ?, 'holdout', 'holdout', 'holdout', ?, 'journey' "
        f"FROM ({due} AND grp = 'holdout') ON CONFLICT DO NOTHING RETURNING message_id",
        [send["channels"][0], now, jid, step_no, now],
    ).fetchall()
    con.execute(
        "INSERT INTO audit_log (actor, action, subject, decision, reason, details) "
        "SELECT 'journeys', 'campaign.message', user_id, status, "
        "coalesce(reason, send_reason, 'entered the journey'), "
        "json_object('campaign_id', campaign_id, 'channel', channel, 'at', scheduled_at) "
        "FROM messages WHERE list_contains(?::VARCHAR[], message_id)",
        [[m for (m,) in made + held]],
    )
    return len(made)


def tick(wh: Warehouse, *, now: datetime | None = None) -> dict[str, Any]:
    """Let new users in and move every active journey on; returns counts per journey."""
    now = now or utcnow()
    out = {}
    for (jid,) in wh.sql("SELECT journey_id FROM journeys WHERE status = 'active' ORDER BY journey_id"):
        j = get(wh, jid)
        spec = _spec(j)
        entered = _enter(wh, j, spec, now)
        out[jid] = {"entered": entered} | _advance(wh, j, spec, now)
    return out


def report(wh: Warehouse, journey_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Who entered (treated / holdout), where they are, why they left, each send step's funnel, and the
    lift: a purchase after entry (the one that triggered it does not count) within ``goal_days``,
    treated vs holdout, for runs whose window has closed."""
    from liveloop.campaigns.report import report as campaign_report

    j = get(wh, journey_id)
    spec = _spec(j)
    states = wh.sql(
        "SELECT grp, state, coalesce(exit_reason, ''), count(*) FROM journey_runs WHERE journey_id = ? "
        "GROUP BY ALL ORDER BY ALL",
        [journey_id],
    )
    outcome = wh.sql(
        "WITH b AS (SELECT user_id, ts FROM events WHERE type = 'purchase' UNION ALL SELECT user_id, "
        "ts FROM orders) "
        "SELECT r.grp, count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM b WHERE b.user_id = r.user_id "
        "AND b.ts > r.entered_at AND b.ts < r.entered_at + to_days(?))) "
        "FROM journey_runs r WHERE r.journey_id = ? AND r.entered_at + to_days(?) <= ? GROUP BY r.grp",
        [spec.goal_days, journey_id, spec.goal_days, now or utcnow()],
    )
    outcomes = {g: {"users": int(n), "bought": int(b), "entered": 0} for g, n, b in outcome}
    steps = []
    for i, step in enumerate(spec.steps):
        if "send" in step and wh.sql("SELECT 1 FROM campaigns WHERE campaign_id = ?", [f"{journey_id}.s{i}"]):
            r = campaign_report(wh, f"{journey_id}.s{i}")
            steps.append({"step": i + 1, "funnel": r["funnel"], "skipped": r["skipped"]})
    return {
        "journey": {k: v for k, v in j.items() if k != "spec"} | {"kind": spec.kind},
        "runs": [
            {"group": g, "state": s, "exit_reason": e or None, "users": int(n)} for g, s, e, n in states
        ],
        "send_steps": steps,
        "measured": outcomes,
        "lift": lift_of(outcomes),
        "goal_days": spec.goal_days,
    }


def _step(body: str, *channels: str, subject: str | None = None) -> dict[str, Any]:
    return {"send": {"channels": list(channels or ("in_app",)), "body": body, "subject": subject}}


#: The reference study's lifecycle (全生命周期): ready-made journeys, sent in-app unless told otherwise.
BUILTINS: dict[str, dict[str, Any]] = {
    "welcome": {
        "kind": "welcome",
        "trigger": {"kind": "event", "event": "signup"},
        "steps": [
            _step("欢迎加入！今晚直播间有新品首发，首单前先来看看。"),
            {"wait_hours": 72},
            {"exit_if": "purchased"},
            _step("还没逛够？下次直播的预告已经出炉，点击预约。"),
        ],
    },
    "cross_sell": {
        "kind": "cross_sell",
        "trigger": {"kind": "first_purchase"},
        "steps": [{"wait_hours": 24}, _step("感谢首单！为您挑了与 {{ top_category }} 搭配的好物。")],
    },
    "after_sales": {
        "kind": "service",
        "trigger": {"kind": "first_purchase"},
        "steps": [
            {"exit_if": "rule:not category:digital"},
            {"wait_hours": 48},
            _step("您的数码新品可加购延保服务，保障更安心。"),
        ],
    },
    "loyalty": {
        "kind": "loyalty",
        "trigger": {"kind": "lifecycle", "stage": "loyal"},
        "steps": [_step("感谢一路相伴：会员专享价与优先购买权已开通，每位会员同享。")],
    },
    "win_back": {
        "kind": "win_back",
        "trigger": {"kind": "churn_risk", "above": 0.7},
        "steps": [
            _step("好久不见！本周直播间上新，{{ top_category }} 有您喜欢的。"),
            {"wait_hours": 168},
            {"exit_if": "purchased"},
            _step("本周直播预告已出炉，期待您回来看看。"),
        ],
    },
    "live_preview": {
        "kind": "live_preview",
        "trigger": {"kind": "live_preview", "hours": 3, "size": 1000},
        "steps": [_step("您可能感兴趣的直播即将开始，点击预约不错过。")],
    },
}


#: What a built-in says when it gives a coupon first (the copy never claims a coupon it did not give).
COUPON_COPY = {
    "welcome": "欢迎加入！新人专享券已放入您的账户，首单可用。",
    "win_back": "好久不见！回归券已放入您的账户，本周直播间可用。",
}


def builtin(
    name: str, *, channels: tuple[str, ...] = (), holdout: float = 0.1, coupon: str | None = None
) -> JourneySpec:
    """A built-in journey (``channels`` replaces in-app on every send step; ``coupon``, for welcome and
    win_back, is issued before the first message, whose copy then says so)."""
    if name not in BUILTINS:
        raise ValidationFailed(
            f"unknown built-in journey {name!r}; one of {', '.join(BUILTINS)}", field="builtin"
        )
    data = json.loads(json.dumps(BUILTINS[name]))
    if coupon is not None:
        if name not in COUPON_COPY:
            raise ValidationFailed(
                f"the {name} journey gives no coupon; welcome and win_back do", field="coupon"
            )
        first = next(i for i, step in enumerate(data["steps"]) if "send" in step)
        data["steps"][first]["send"]["body"] = COUPON_COPY[name]
        data["steps"].insert(first, {"issue_coupon": coupon})
    if channels:
        for step in data["steps"]:
            if "send" in step:
                step["send"]["channels"] = list(channels)
    return JourneySpec.from_dict(data | {"name": name, "holdout": holdout})
