"""``liveloop audiences|campaigns|channels …``: who to reach, through which channel, with what, and how
it went. Each command parses, calls one function of ``liveloop.campaigns`` and prints."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from liveloop.cli.common import JsonOpt, cipher, console, emit, open_warehouse
from liveloop.core.errors import ValidationFailed

audiences_app = typer.Typer(
    help="Audiences (人群): define, preview, compare and export.", no_args_is_help=True
)
campaigns_app = typer.Typer(
    help="Campaigns: draft, approve, dry-run, launch, deliver, report.", no_args_is_help=True
)
channels_app = typer.Typer(
    help="Message channels and their providers (SMTP, webhooks).", no_args_is_help=True
)

ACTOR = "cli"


def register(app: typer.Typer) -> None:
    app.add_typer(audiences_app, name="audiences")
    app.add_typer(campaigns_app, name="campaigns")
    app.add_typer(channels_app, name="channels")
    app.add_typer(journeys_app, name="journeys")


# -- audiences -------------------------------------------------------------------------------------------


def _spec(
    rule: str | None,
    segment: str | None,
    lifecycle: str | None,
    tags: list[str] | None,
    users: Path | None,
    lookalike_of: str | None,
    live_session: str | None,
    everyone: bool,
    size: int | None,
    uplift_of: str | None = None,
) -> Any:
    from liveloop.campaigns.audiences import AudienceSpec

    listed: tuple[str, ...] = ()
    if users is not None:
        if not users.is_file():
            raise ValidationFailed(f"{users} is not a file of user ids", field="users")
        listed = tuple(
            line.strip().split(",")[0]
            for line in users.read_text(encoding="utf-8").splitlines()[:100_001]
            if line.strip() and line.strip() != "user_id"
        )
    return AudienceSpec(
        rule=rule,
        segment=segment,
        lifecycle=lifecycle,
        tags=tuple(tags or ()),
        users=listed,
        lookalike_of=lookalike_of,
        live_session=live_session,
        uplift_of=uplift_of,
        everyone=everyone,
        size=size,
    )


RuleOpt = typer.Option(
    None, "--rule", help="A rule, e.g. 'value_tier = \"high\" and churn_probability > 0.6'."
)
SegmentOpt = typer.Option(None, "--segment", help="A segment id or name.")
StageOpt = typer.Option(None, "--lifecycle", help="A lifecycle stage (new, active, loyal, at_risk…).")
TagOpt = typer.Option(None, "--tag", help="An interest tag such as category:beauty (repeatable).")
UsersOpt = typer.Option(None, "--users", help="A file of user ids, one per line (or a CSV's first column).")
LookalikeOpt = typer.Option(None, "--lookalike-of", help="Expand this audience id with similar users.")
SessionOpt = typer.Option(None, "--live-session", help="Users most likely to watch this live session.")
UpliftOpt = typer.Option(None, "--uplift-of", help="Who this past campaign (with a holdout) would persuade.")
EveryoneOpt = typer.Option(False, "--everyone", help="Every user (a broadcast: no personal data used).")
SizeOpt = typer.Option(None, "--size", help="How many (look-alike and live-session audiences; default 1000).")


def _render_preview(p: dict[str, Any]) -> None:
    line = f"{p['size']} users"
    if "reachable" in p:
        line += f"; {p['reachable']} reachable on {p['channel']} now (consent, personalisation switch)"
    console.print(line, markup=False)
    table = Table("segment", "users", title="by segment")
    for s in p["by_segment"]:
        table.add_row(f"{s['segment_zh']} / {s['segment_en']}", str(s["users"]))
    console.print(table)
    sample = Table("user", "segment", "lifecycle", "value tier", title="sample")
    for u in p["sample"]:
        sample.add_row(u["user_id"], u["segment_id"] or "—", u["lifecycle"] or "—", u["value_tier"] or "—")
    console.print(sample)


@audiences_app.command("create")
def audiences_create(
    name: str = typer.Argument(..., help="A name for the audience."),
    rule: str | None = RuleOpt,
    segment: str | None = SegmentOpt,
    lifecycle: str | None = StageOpt,
    tag: list[str] | None = TagOpt,
    users: Path | None = UsersOpt,
    lookalike_of: str | None = LookalikeOpt,
    live_session: str | None = SessionOpt,
    everyone: bool = EveryoneOpt,
    size: int | None = SizeOpt,
    uplift_of: str | None = UpliftOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Store an audience (checked: an unknown feature or stage is an error) and preview it."""
    from liveloop.campaigns import audiences

    spec = _spec(rule, segment, lifecycle, tag, users, lookalike_of, live_session, everyone, size, uplift_of)
    with open_warehouse() as wh:
        made = audiences.public(audiences.create(wh, name, spec, actor=ACTOR))
        made["preview"] = audiences.preview(wh, made["audience_id"])

    def render(m: dict[str, Any]) -> None:
        console.print(f"audience {m['audience_id']} ({m['name']})", markup=False)
        _render_preview(m["preview"])

    emit(made, as_json, render)


@audiences_app.command("preview")
def audiences_preview(
    audience_id: str | None = typer.Argument(
        None, help="A stored audience (or define one with the options)."
    ),
    rule: str | None = RuleOpt,
    segment: str | None = SegmentOpt,
    lifecycle: str | None = StageOpt,
    tag: list[str] | None = TagOpt,
    users: Path | None = UsersOpt,
    lookalike_of: str | None = LookalikeOpt,
    live_session: str | None = SessionOpt,
    everyone: bool = EveryoneOpt,
    size: int | None = SizeOpt,
    channel: str | None = typer.Option(None, "--channel", help="Also count who may be messaged there now."),
    as_json: bool = JsonOpt,
) -> None:
    """Size, breakdown and a sample of an audience, without storing anything."""
    from liveloop.campaigns import audiences

    target = audience_id or _spec(
        rule, segment, lifecycle, tag, users, lookalike_of, live_session, everyone, size
    )
    with open_warehouse(read_only=True) as wh:
        emit(audiences.preview(wh, target, channel=channel), as_json, _render_preview)


@audiences_app.command("list")
def audiences_list(as_json: bool = JsonOpt) -> None:
    """Stored audiences, newest first."""
    from liveloop.campaigns import audiences

    with open_warehouse(read_only=True) as wh:
        found = audiences.list_audiences(wh)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "definition", title=f"{len(rows)} audiences")
        for a in rows:
            table.add_row(a["audience_id"], a["name"], json.dumps(a["definition"], ensure_ascii=False))
        console.print(table)

    emit(found, as_json, render)


@audiences_app.command("overlap")
def audiences_overlap(
    first: str = typer.Argument(..., help="An audience id."),
    second: str = typer.Argument(..., help="Another audience id."),
    as_json: bool = JsonOpt,
) -> None:
    """How much two audiences share."""
    from liveloop.campaigns import audiences

    with open_warehouse(read_only=True) as wh:
        found = audiences.overlap(wh, first, second)
    emit(
        found,
        as_json,
        lambda o: console.print(
            f"{o['first']} and {o['second']} users; {o['both']} in both; Jaccard {o['jaccard']:.3f}",
            markup=False,
        ),
    )


@audiences_app.command("export")
def audiences_export(
    audience_id: str = typer.Argument(..., help="An audience id."),
    to: Path = typer.Option(..., "--to", help="The file to write (人群包)."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    as_json: bool = JsonOpt,
) -> None:
    """Write an audience's user ids to a file, without users who have not allowed sharing."""
    from liveloop.campaigns import audiences

    with open_warehouse() as wh:
        found = audiences.export(wh, audience_id, to, fmt=fmt, actor=ACTOR)
    emit(
        found,
        as_json,
        lambda r: console.print(
            f"wrote {r['exported']} of {r['size']} users to {r['path']} ({r['withheld']} have not "
            "allowed sharing)",
            markup=False,
        ),
    )


# -- channels --------------------------------------------------------------------------------------------


@channels_app.command("set")
def channels_set(
    channel: str = typer.Argument(..., help="email, sms, app_push, social, webhook, in_app or live."),
    kind: str = typer.Option(..., "--kind", help="smtp, webhook or in_app."),
    url: str | None = typer.Option(None, "--url", help="smtp://host:port, or the webhook's https:// URL."),
    sender: str | None = typer.Option(None, "--from", help="The From address (SMTP)."),
    username: str | None = typer.Option(None, "--username", help="SMTP login."),
    secret_env: str | None = typer.Option(
        None, "--secret-env", help="The environment variable holding the webhook secret or SMTP password."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Configure a channel's provider; its secret is read from the environment and stored encrypted."""
    import os

    from liveloop.campaigns.channels import Provider, set_provider

    secret = None
    if secret_env:
        secret = os.environ.get(secret_env)
        if not secret:
            raise ValidationFailed(f"the environment variable {secret_env} is not set", field="secret_env")
    config = {k: v for k, v in {"url": url, "from": sender, "username": username}.items() if v}
    with open_warehouse() as wh:
        done = set_provider(wh, cipher(), Provider(channel, kind, config, secret), actor=ACTOR)
    emit(done, as_json, lambda d: console.print(f"{d['channel']}: {d['kind']} {d['config']}", markup=False))


@channels_app.command("list")
def channels_list(as_json: bool = JsonOpt) -> None:
    """Configured channels (secrets are never shown)."""
    from liveloop.campaigns.channels import providers

    with open_warehouse(read_only=True) as wh:
        found = [p.public() for p in providers(wh).values()]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("channel", "kind", "settings", "secret", title="channels (in_app and live need none)")
        for p in rows:
            table.add_row(p["channel"], p["kind"], json.dumps(p["config"]), "set" if p["secret"] else "—")
        console.print(table)

    emit(found, as_json, render)


# -- campaigns -------------------------------------------------------------------------------------------


def _render_plan(p: dict[str, Any]) -> None:
    console.print(
        f"{p['campaign_id']} ({p['status']}): {p['targeted']} targeted, {p['to_send']} to send "
        f"{p['by_channel']}, {p['holdout']} held out, {p['deferred_quiet_hours']} deferred past quiet hours; "
        f"expected cost ¥{p['expected_cost']:.2f}",
        markup=False,
    )
    for reason, n in p["skipped"].items():
        console.print(f"  skipped {n}: {reason}", markup=False)
    for w in p.get("warnings") or []:
        console.print(f"  warning: {w}", markup=False)
    if "expected_lift" in p:
        lift = p["expected_lift"]
        console.print(
            "  expected lift: "
            + (f"{lift['difference']:+.2%} ({lift['basis']})" if lift else "no past campaign of this kind"),
            markup=False,
        )


def _render_campaign(c: dict[str, Any]) -> None:
    spec = c["spec"]
    console.print(
        f"{c['campaign_id']} {c['name']!r}: {c['status']}; audience {c['audience_id']}; channels "
        f"{', '.join(spec['channels'])}; holdout {spec['holdout']:.0%}; drafted by {c['created_by']}"
        + (f", approved by {c['approved_by']}" if c["approved_by"] else ""),
        markup=False,
    )
    for w in c["warnings"]:
        console.print(f"  warning: {w}", markup=False)


@campaigns_app.command("create")
def campaigns_create(
    name: str = typer.Argument(..., help="The campaign's name."),
    audience: str = typer.Option(..., "--audience", help="An audience id."),
    channel: list[str] = typer.Option(
        ..., "--channel", help="A channel, in order of preference (repeatable)."
    ),
    body: str | None = typer.Option(
        None, "--body", help="The message (Jinja2: {{ name }}, {{ session_title }} …)."
    ),
    subject: str | None = typer.Option(None, "--subject", help="The subject (e-mail)."),
    copy_from: str | None = typer.Option(
        None, "--copy-from", help="Write the message from this product's copy (content studio)."
    ),
    persona: str | None = typer.Option(None, "--persona", help="The persona the copy is for (--copy-from)."),
    kind: str = typer.Option("promotion", "--kind", help="promotion, live_preview, welcome, cross_sell…"),
    session: str | None = typer.Option(None, "--session", help="The live session it is about."),
    start: datetime | None = typer.Option(None, "--start", help="When to send (default: at launch)."),
    holdout: float = typer.Option(0.1, "--holdout", help="The random share kept out to measure lift."),
    send_time: str = typer.Option("start", "--send-time", help="start, or learned (each user's best hour)."),
    as_json: bool = JsonOpt,
) -> None:
    """Draft a campaign (checked now: providers, template variables, the advertising law)."""
    from liveloop.campaigns import engine

    data = {
        "name": name,
        "audience_id": audience,
        "channels": channel,
        "body": body,
        "subject": subject,
        "kind": kind,
        "session_id": session,
        "start_ts": start,
        "holdout": holdout,
        "send_time": send_time,
    }
    from liveloop.campaigns.copy_source import fill_message

    with open_warehouse() as wh:
        data = fill_message(wh, data, copy_from, persona=persona)
        made = engine.create(wh, engine.CampaignSpec.from_dict(data), actor=ACTOR)
    emit(made, as_json, _render_campaign)


@campaigns_app.command("list")
def campaigns_list(
    status: str | None = typer.Option(None, "--status", help="Only campaigns in this state."),
    as_json: bool = JsonOpt,
) -> None:
    """Campaigns, newest first."""
    from liveloop.campaigns import engine

    with open_warehouse(read_only=True) as wh:
        found = engine.list_campaigns(wh, status)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "name", "status", "channels", "created", title=f"{len(rows)} campaigns")
        for c in rows:
            table.add_row(
                c["campaign_id"],
                c["name"],
                c["status"],
                ", ".join(c["spec"]["channels"]),
                str(c["created_at"])[:16],
            )
        console.print(table)

    emit(found, as_json, render)


@campaigns_app.command("approve")
def campaigns_approve(
    campaign_id: str = typer.Argument(..., help="A draft campaign."), as_json: bool = JsonOpt
) -> None:
    """Approve a draft (on the service an admin who did not draft it approves; here the local operator)."""
    from liveloop.campaigns import engine

    with open_warehouse() as wh:
        emit(engine.approve(wh, campaign_id, actor=ACTOR, separate=False), as_json, _render_campaign)


@campaigns_app.command("dry-run")
def campaigns_dry_run(
    campaign_id: str = typer.Argument(..., help="A campaign."), as_json: bool = JsonOpt
) -> None:
    """Who would be sent, held out, deferred or skipped (and why), the cost and the expected lift."""
    from liveloop.campaigns import engine

    with open_warehouse(read_only=True) as wh:
        emit(engine.dry_run(wh, campaign_id), as_json, _render_plan)


@campaigns_app.command("launch")
def campaigns_launch(
    campaign_id: str = typer.Argument(..., help="An approved campaign."), as_json: bool = JsonOpt
) -> None:
    """Write the campaign's plan into the outbox and start it (``deliver`` sends)."""
    from liveloop.campaigns import engine

    with open_warehouse() as wh:
        emit(engine.launch(wh, campaign_id, actor=ACTOR), as_json, _render_plan)


@campaigns_app.command("deliver")
def campaigns_deliver(
    base_url: str | None = typer.Option(
        None, "--base-url", help="The service's public URL (unsubscribe links)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many messages."),
    batch: int = typer.Option(200, "--batch", min=1, max=5000, help="Messages per claimed batch."),
    as_json: bool = JsonOpt,
) -> None:
    """Send every message that is due (resuming what an interrupted pass left)."""
    from liveloop.campaigns import outbox

    opts = outbox.DeliveryOptions(base_url=base_url, limit=limit, batch=batch)
    with open_warehouse() as wh:
        found = outbox.deliver(wh, cipher(), opts)
    emit(
        found,
        as_json,
        lambda r: console.print(
            f"sent {r['sent']}, retry later {r['retry']}, failed {r['failed']}, bounced {r['bounced']}"
            f" (resumed {r['recovered']}); finished: {', '.join(r['campaigns_done']) or '—'}",
            markup=False,
        ),
    )


@campaigns_app.command("cancel")
def campaigns_cancel(
    campaign_id: str = typer.Argument(..., help="A campaign."), as_json: bool = JsonOpt
) -> None:
    """Stop a campaign: nothing still queued is sent."""
    from liveloop.campaigns import engine

    with open_warehouse() as wh:
        emit(engine.cancel(wh, campaign_id, actor=ACTOR), as_json, _render_campaign)


def render_report(r: dict[str, Any]) -> None:
    c = r["campaign"]
    console.print(f"{c['campaign_id']} {c['name']!r} ({c['status']}, {c['kind']})", markup=False)
    table = Table("step", "users", title="funnel")
    for s in r["funnel"]:
        table.add_row(s["step"], str(s["users"]))
    console.print(table)
    for reason, n in r["skipped"].items():
        console.print(f"  skipped {n}: {reason}", markup=False)
    lift = r["lift"]
    if lift is None:
        console.print("lift: no holdout group", markup=False)
    else:
        lo, hi = lift["ci95"]
        console.print(
            f"bought within {r['attribution_days']} days: treated {lift['treated_rate']:.2%} vs holdout "
            f"{lift['holdout_rate']:.2%}; lift {lift['difference']:+.2%} (95% CI {lo:+.2%} … {hi:+.2%})",
            markup=False,
        )


@campaigns_app.command("report")
def campaigns_report(
    campaign_id: str = typer.Argument(..., help="A campaign."), as_json: bool = JsonOpt
) -> None:
    """The funnel (targeted → … → bought), skips by reason, and the lift against the holdout."""
    from liveloop.campaigns.report import report

    with open_warehouse(read_only=True) as wh:
        emit(report(wh, campaign_id), as_json, render_report)


@campaigns_app.command("suppress")
def campaigns_suppress(
    user_id: str = typer.Argument(..., help="User id."),
    channel: str = typer.Option("all", "--channel", help="A channel, or all."),
    remove: bool = typer.Option(False, "--remove", help="Take the user off the list."),
    as_json: bool = JsonOpt,
) -> None:
    """Put a user on (or take them off) the do-not-contact list."""
    from liveloop.campaigns import inbound

    with open_warehouse() as wh:
        if remove:
            found: dict[str, Any] = {"removed": inbound.unsuppress(wh, user_id, channel=channel, actor=ACTOR)}
        else:
            found = inbound.suppress(wh, user_id, channel=channel, actor=ACTOR)
    emit(found, as_json)


# -- journeys --------------------------------------------------------------------------------------------

journeys_app = typer.Typer(
    help="Journeys: trigger → wait / send / exit, with a holdout.", no_args_is_help=True
)


def _render_journey(j: dict[str, Any]) -> None:
    spec = j["spec"]
    trigger = json.dumps(spec["trigger"], ensure_ascii=False)
    console.print(
        f"{j['journey_id']} {j['name']!r}: {j['status']}; trigger {trigger}; "
        f"{len(spec['steps'])} steps; holdout {spec['holdout']:.0%}",
        markup=False,
    )
    for w in j["warnings"]:
        console.print(f"  warning: {w}", markup=False)


@journeys_app.command("create")
def journeys_create(
    name: str = typer.Argument(..., help="A name, or a built-in journey's name with --builtin."),
    builtin: bool = typer.Option(
        False, "--builtin", help="NAME is a built-in: welcome, cross_sell, after_sales…"
    ),
    file: Path | None = typer.Option(
        None, "--file", help="A JSON definition: trigger, steps, holdout, kind."
    ),
    channel: list[str] | None = typer.Option(None, "--channel", help="Send on these channels (repeatable)."),
    holdout: float = typer.Option(0.1, "--holdout", help="The random share kept out to measure lift."),
    coupon: str | None = typer.Option(None, "--coupon", help="welcome / win_back: give this coupon first."),
    as_json: bool = JsonOpt,
) -> None:
    """Draft a journey (checked now)."""
    from liveloop.campaigns import journeys

    if builtin == (file is not None):
        raise ValidationFailed("give --builtin or --file", field="file")
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationFailed(f"{file}: not a JSON definition ({exc})", field="file") from exc
        spec = journeys.JourneySpec.from_dict({"holdout": holdout, **data, "name": name})
    else:
        spec = journeys.builtin(name, channels=tuple(channel or ()), holdout=holdout, coupon=coupon)
    with open_warehouse() as wh:
        emit(journeys.create(wh, spec, actor=ACTOR), as_json, _render_journey)


@journeys_app.command("builtins")
def journeys_builtins(as_json: bool = JsonOpt) -> None:
    """The built-in lifecycle journeys."""
    from liveloop.campaigns.journeys import BUILTINS

    def render(found: dict[str, Any]) -> None:
        for name, definition in found.items():
            console.print(f"{name}: {json.dumps(definition, ensure_ascii=False)}", markup=False)

    emit(BUILTINS, as_json, render)


@journeys_app.command("list")
def journeys_list(as_json: bool = JsonOpt) -> None:
    """Journeys, newest first."""
    from liveloop.campaigns import journeys

    with open_warehouse(read_only=True) as wh:
        found = journeys.list_journeys(wh)

    def render(rows: list[dict[str, Any]]) -> None:
        for j in rows:
            _render_journey(j)

    emit(found, as_json, render)


@journeys_app.command("approve")
def journeys_approve(
    journey_id: str = typer.Argument(..., help="A draft journey."), as_json: bool = JsonOpt
) -> None:
    """Approve a draft journey (the local operator)."""
    from liveloop.campaigns import journeys

    with open_warehouse() as wh:
        emit(journeys.approve(wh, journey_id, actor=ACTOR, separate=False), as_json, _render_journey)


@journeys_app.command("start")
def journeys_start(
    journey_id: str = typer.Argument(..., help="An approved or paused journey."),
    backfill_hours: float = typer.Option(
        0, "--backfill-hours", min=0, max=720, help="Also let in who triggered it this long ago."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Start (or resume) a journey."""
    from liveloop.campaigns import journeys

    with open_warehouse() as wh:
        emit(
            journeys.activate(wh, journey_id, actor=ACTOR, backfill_hours=backfill_hours),
            as_json,
            _render_journey,
        )


@journeys_app.command("stop")
def journeys_stop(
    journey_id: str = typer.Argument(..., help="A running journey."),
    pause: bool = typer.Option(False, "--pause", help="Pause instead (runs wait; `start` resumes)."),
    as_json: bool = JsonOpt,
) -> None:
    """Stop a journey (runs end, nothing queued is sent) or pause it."""
    from liveloop.campaigns import journeys

    with open_warehouse() as wh:
        emit(journeys.pause(wh, journey_id, actor=ACTOR, stop=not pause), as_json, _render_journey)


@journeys_app.command("tick")
def journeys_tick(as_json: bool = JsonOpt) -> None:
    """Let new users into every running journey and move runs on (the service does this by itself)."""
    from liveloop.campaigns import journeys

    with open_warehouse() as wh:
        emit(journeys.tick(wh), as_json)


@journeys_app.command("report")
def journeys_report(
    journey_id: str = typer.Argument(..., help="A journey."), as_json: bool = JsonOpt
) -> None:
    """Who entered, where they are, why they left, each send's funnel, and the lift against the holdout."""
    from liveloop.campaigns import journeys

    with open_warehouse(read_only=True) as wh:
        found = journeys.report(wh, journey_id)

    def render(r: dict[str, Any]) -> None:
        j = r["journey"]
        console.print(f"{j['journey_id']} {j['name']!r}: {j['status']} ({j['kind']})", markup=False)
        for run in r["runs"]:
            console.print(
                f"  {run['group']}: {run['users']} {run['state']} {run['exit_reason'] or ''}", markup=False
            )
        lift = r["lift"]
        if lift:
            lo, hi = lift["ci95"]
            console.print(
                f"bought within {r['goal_days']} days: treated {lift['treated_rate']:.2%} vs holdout "
                f"{lift['holdout_rate']:.2%}; "
                f"lift {lift['difference']:+.2%} (95% CI {lo:+.2%} … {hi:+.2%})",
                markup=False,
            )
        else:
            console.print(
                "lift: not yet measurable (no holdout, or no run past its goal window)", markup=False
            )

    emit(found, as_json, render)
