"""Each policy sends to a user it must skip and checks the skip and its reason (DESIGN.md §8.1, §8.4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from liveloop.campaigns import audiences, engine, inbound, outbox
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.engine import CampaignSpec
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

MORNING = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NIGHT = datetime(2026, 4, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


def setup(wh: Warehouse, cipher, url: str, users: list[str]) -> str:
    set_provider(wh, cipher, Provider("email", "smtp", {"url": url, "from": "shop@example.com"}))
    consent.record(
        wh,
        [
            consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel="email")
            for u in users
        ],
        actor="test",
    )
    return str(audiences.create(wh, "two", audiences.AudienceSpec(users=tuple(users)))["audience_id"])


def run(wh: Warehouse, audience_id: str, *, now: datetime = MORNING, spec: dict | None = None) -> dict:
    c = engine.create(
        wh,
        CampaignSpec.from_dict(
            {
                "name": "c",
                "audience_id": audience_id,
                "channels": ["email"],
                "subject": "s",
                "body": "b",
                "holdout": 0,
            }
            | (spec or {})
        ),
        actor="key:m",
    )
    engine.approve(wh, c["campaign_id"], actor="key:a")
    engine.launch(wh, c["campaign_id"], actor="key:a", now=now)
    rows = wh.sql("SELECT user_id, status, reason FROM messages WHERE campaign_id = ?", [c["campaign_id"]])
    return {u: (s, r) for u, s, r in rows}


@pytest.fixture
def pair(shop, cipher, smtp):
    box, url = smtp
    users = [r[0] for r in shop.sql("SELECT user_id FROM profiles ORDER BY user_id LIMIT 2")]
    return shop, cipher, box, setup(shop, cipher, url, users), users


def test_consent_a_user_who_revoked_email_is_skipped_for_no_consent(pair) -> None:
    wh, _, _, aud, (a, b) = pair
    consent.record(
        wh,
        [consent.ConsentChange(user_id=b, purpose="marketing", status="revoked", channel="email")],
        actor="t",
    )
    got = run(wh, aud)
    assert got[a] == ("queued", None) and got[b] == ("skipped", "no_consent")


def test_suppression_a_do_not_contact_user_is_skipped(pair) -> None:
    wh, _, _, aud, (a, b) = pair
    inbound.suppress(wh, b, reason="do_not_contact", actor="ops")
    got = run(wh, aud)
    assert got[a][0] == "queued" and got[b] == ("skipped", "suppressed")


def test_non_personalised_switch_skips_profile_audiences_but_not_broadcasts(pair) -> None:
    wh, _, _, aud, (a, b) = pair
    wh.sql("UPDATE users SET non_personalised = TRUE WHERE user_id = ?", [b])
    ruled = audiences.create(wh, "rule", audiences.AudienceSpec(rule=f'user_id in ["{a}", "{b}"]'))
    got = run(wh, ruled["audience_id"])
    assert got[a][0] == "queued" and got[b] == ("skipped", "non_personalised")
    listed = run(wh, aud, now=datetime(2026, 4, 12, 2, 0, tzinfo=UTC))  # an explicit list uses no profile
    assert listed[b][0] == "queued"


def test_quiet_hours_defer_to_nine_local_or_skip(pair) -> None:
    wh, cipher, box, aud, (a, b) = pair
    wh.sql("UPDATE users SET props = json_object('timezone', 'Europe/London') WHERE user_id = ?", [a])
    got = run(wh, aud, now=NIGHT)  # 23:00 in Shanghai, 16:00 in London
    assert got[a] == ("queued", None) and got[b] == ("queued", "deferred: quiet_hours")
    at = dict(wh.sql("SELECT user_id, scheduled_at FROM messages WHERE status = 'queued'"))
    assert at[b] == datetime(2026, 4, 3, 1, 0, tzinfo=UTC)  # 09:00 the next morning in Shanghai
    outbox.deliver(wh, cipher, now=NIGHT)
    assert [m["to"] for m in box.mails] == [[f"{a}@example.com"]]  # b waits for the morning
    skipped = run(
        wh, aud, now=datetime(2026, 4, 10, 15, 0, tzinfo=UTC), spec={"policy": {"quiet_mode": "skip"}}
    )
    assert skipped[b] == ("skipped", "quiet_hours")


def test_frequency_caps_per_day_week_and_fatigue(pair) -> None:
    wh, _, _, aud, (a, _b) = pair
    first = run(wh, aud)
    assert first[a][0] == "queued"
    same_day = run(wh, aud, now=datetime(2026, 4, 2, 5, 0, tzinfo=UTC))
    assert same_day[a] == ("skipped", "cap_day")
    run(wh, aud, now=datetime(2026, 4, 3, 5, 0, tzinfo=UTC))
    run(wh, aud, now=datetime(2026, 4, 4, 5, 0, tzinfo=UTC))
    fourth = run(wh, aud, now=datetime(2026, 4, 5, 5, 0, tzinfo=UTC))
    assert fourth[a] == ("skipped", "cap_week")
    tired = run(
        wh,
        aud,
        now=datetime(2026, 4, 6, 5, 0, tzinfo=UTC),
        spec={"policy": {"cap_week": 10, "fatigue_week": 3}},
    )
    assert tired[a] == ("skipped", "fatigue")


def test_no_address_skips_a_user_without_an_email(pair) -> None:
    wh, _, _, aud, (_a, b) = pair
    wh.sql("UPDATE users SET email_enc = NULL WHERE user_id = ?", [b])
    assert run(wh, aud)[b] == ("skipped", "no_address")


def test_every_decision_is_audited_and_explained_to_the_user(pair) -> None:
    from liveloop.privacy.audit import decisions

    wh, _, _, aud, (a, b) = pair
    inbound.suppress(wh, b, actor="ops")
    run(wh, aud)
    mine = [d for d in decisions(wh, b, lang="en") if d["action"] == "campaign.message"]
    assert mine and "do-not-contact" in mine[0]["explanation"]
    zh = [d for d in decisions(wh, a, lang="zh") if d["action"] == "campaign.message"]
    assert zh and "目标人群" in zh[0]["explanation"]


def test_learned_send_time_sends_at_the_hour_the_user_opens_and_says_why(pair) -> None:
    wh, _, _, aud, (a, b) = pair
    for d in range(1, 29):  # opened at 20:00 in Shanghai, never at 10:00, 13:00 or 16:00
        for i, hour_utc in enumerate((12, 2, 5, 8)):
            t = datetime(2026, 2, d, hour_utc, 0, tzinfo=UTC)  # weeks before: no cap counts them
            wh.sql(
                "INSERT INTO messages (message_id, user_id, channel, status, sent_at, opened_at) "
                "VALUES (?, ?, 'email', 'sent', ?, ?)",
                [f"old{d}-{i}", a, t, t if hour_utc == 12 else None],
            )
    got = run(wh, aud, spec={"send_time": "learned"})
    assert got[a][0] == "queued"
    at, why = wh.sql(
        "SELECT scheduled_at, send_reason FROM messages WHERE user_id = ? AND campaign_id IS NOT NULL", [a]
    )[0]
    assert at.astimezone(UTC).hour == 12 and "28 of 28" in why, why  # 20:00 local, the hour it opens
    other = wh.sql("SELECT send_reason FROM messages WHERE user_id = ? AND campaign_id IS NOT NULL", [b])[0][
        0
    ]
    assert other and "no message history" in other


def test_each_user_gets_the_first_channel_that_may_carry_the_message(pair, webhook) -> None:
    wh, cipher, _, aud, (a, b) = pair
    _, url = webhook
    set_provider(wh, cipher, Provider("app_push", "webhook", {"url": url}, "s3cret"))
    consent.record(wh, [consent.ConsentChange(a, "marketing", "granted", "app_push")], actor="t")
    got = run(wh, aud, spec={"channels": ["app_push", "email"]})
    channels = dict(wh.sql("SELECT user_id, channel FROM messages WHERE status = 'queued'"))
    assert got[a][0] == got[b][0] == "queued"
    assert channels == {a: "app_push", b: "email"}  # b never allowed push: e-mail, the next in line
