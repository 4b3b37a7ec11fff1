"""A campaign from draft to delivered mail on a real SMTP server, its report, and its lifecycle rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from liveloop.campaigns import audiences, engine, inbound, outbox
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.engine import CampaignSpec
from liveloop.core.crypto import Cipher
from liveloop.core.errors import Conflict, PermissionDenied, ValidationFailed
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

#: 10:00 in Shanghai: outside quiet hours.
MORNING = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)


def grant(wh: Warehouse, users: list[str], channel: str = "email") -> None:
    consent.record(
        wh,
        [
            consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel=channel)
            for u in users
        ],
        actor="test",
    )


def users_of(wh: Warehouse) -> list[str]:
    return [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id")]


def email_campaign(wh: Warehouse, smtp_url: str, *, holdout: float = 0.0, **policy: object) -> str:
    set_provider(
        wh, Cipher(b"\0" * 32), Provider("email", "smtp", {"url": smtp_url, "from": "shop@example.com"})
    )
    aud = audiences.create(
        wh, "all profiled", audiences.AudienceSpec(rule='value_tier in ["high", "medium", "low"]')
    )
    c = engine.create(
        wh,
        CampaignSpec.from_dict(
            {
                "name": "spring sale",
                "audience_id": aud["audience_id"],
                "channels": ["email"],
                "subject": "{{ name }}，春季上新",
                "body": "您好 {{ name }}，{{ top_category }} 新品已上架。",
                "holdout": holdout,
                "policy": policy,
            }
        ),
        actor="key:marketer",
    )
    engine.approve(wh, c["campaign_id"], actor="key:admin")
    return str(c["campaign_id"])


def test_an_email_campaign_is_delivered_to_a_real_smtp_server_and_reported(shop, cipher, smtp) -> None:
    box, url = smtp
    users = users_of(shop)
    grant(shop, users[:30])
    cid = email_campaign(shop, url, holdout=0.4)  # ~23 users: a holdout of none has odds 0.6^23
    plan = engine.launch(shop, cid, actor="key:admin", now=MORNING)
    audience = set(audiences.user_ids(shop, engine.get(shop, cid)["audience_id"]))
    refused = len(audience - set(users[:30]))
    assert (
        plan["targeted"] == len(audience) > 20 and plan["skipped"] == {"no_consent": refused} and refused > 0
    )
    assert plan["to_send"] + plan["holdout"] == len(audience) - refused and plan["holdout"] > 0
    result = outbox.deliver(shop, cipher, outbox.DeliveryOptions(base_url="http://shop.test"), now=MORNING)
    assert result["sent"] == plan["to_send"] and result["campaigns_done"] == [cid]
    assert len(box.mails) == plan["to_send"]
    got = {m["to"][0] for m in box.mails}
    sent = {r[0] + "@example.com" for r in shop.sql("SELECT user_id FROM messages WHERE status = 'sent'")}
    assert got == sent
    mail = box.mails[0]
    assert "春季上新" in mail["subject"] and "亲" in mail["subject"]  # no names on file: the greeting
    assert mail["unsubscribe"].startswith("<http://shop.test/v1/messages/unsubscribe?token=")
    report = __import__("liveloop.campaigns.report", fromlist=["report"]).report(shop, cid)
    steps = {s["step"]: s["users"] for s in report["funnel"]}
    assert steps["targeted"] == len(audience) and steps["allowed"] == len(audience) - refused
    assert steps["sent"] == plan["to_send"] and report["holdout"]["users"] == plan["holdout"]
    assert report["skipped"] == {"no_consent": refused}
    assert engine.get(shop, cid)["status"] == "done"


def test_the_drafter_cannot_approve_and_only_approved_campaigns_launch(shop, smtp) -> None:
    _, url = smtp
    set_provider(shop, Cipher(b"\0" * 32), Provider("email", "smtp", {"url": url, "from": "a@b.cn"}))
    aud = audiences.create(shop, "loyal", audiences.AudienceSpec(lifecycle="active"))
    spec = CampaignSpec(name="x", audience_id=aud["audience_id"], channels=("email",), body="hi", subject="s")
    c = engine.create(shop, spec, actor="key:m")
    with pytest.raises(Conflict):
        engine.launch(shop, c["campaign_id"], actor="key:m")
    with pytest.raises(PermissionDenied):
        engine.approve(shop, c["campaign_id"], actor="key:m")
    engine.approve(shop, c["campaign_id"], actor="key:a")
    with pytest.raises(Conflict):
        engine.approve(shop, c["campaign_id"], actor="key:b")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": ["sms"]}, "channels"),  # no provider configured
        ({"channels": ["fax"]}, "channels"),
        ({"body": "hi {{ nickname }}"}, "body"),  # a variable that does not exist
        ({"body": "全网最低价，第一品牌"}, "body"),  # the advertising law
        ({"holdout": 0.9}, "holdout"),
        ({"policy": {"quiet_start": 25}}, "quiet_start"),
    ],
)
def test_bad_campaigns_are_refused_before_anything_is_sent(shop, smtp, change, field) -> None:
    _, url = smtp
    set_provider(shop, Cipher(b"\0" * 32), Provider("email", "smtp", {"url": url, "from": "a@b.cn"}))
    aud = audiences.create(shop, "all", audiences.AudienceSpec(everyone=True))
    data = {
        "name": "x",
        "audience_id": aud["audience_id"],
        "channels": ["email"],
        "subject": "s",
        "body": "hi",
    }
    with pytest.raises(ValidationFailed) as err:
        engine.create(shop, CampaignSpec.from_dict(data | change), actor="key:m")
    assert err.value.field == field
    assert shop.sql("SELECT count(*) FROM campaigns")[0][0] == 0
    assert shop.sql("SELECT count(*) FROM messages")[0][0] == 0


def test_an_unsubscribe_link_revokes_consent_and_the_next_campaign_skips_the_user(shop, cipher, smtp) -> None:
    box, url = smtp
    users = users_of(shop)
    grant(shop, users)
    cid = email_campaign(shop, url)
    engine.launch(shop, cid, actor="key:admin", now=MORNING)
    outbox.deliver(shop, cipher, outbox.DeliveryOptions(base_url="http://shop.test"), now=MORNING)
    token = box.mails[0]["unsubscribe"].split("token=")[1].rstrip(">")
    message_id = outbox.message_of_token(cipher, token)
    inbound.record(shop, [inbound.MessageEvent(message_id, "unsubscribe")], actor="link")
    user = message_id.split(":", 1)[1]
    assert not consent.allows(shop, user, "marketing", "email")
    with pytest.raises(ValidationFailed):
        outbox.message_of_token(cipher, token[:-1] + ("0" if token[-1] != "0" else "1"))
    later = email_campaign(shop, url)
    engine.launch(shop, later, actor="key:admin", now=datetime(2026, 4, 20, 2, 0, tzinfo=UTC))
    assert shop.sql(
        "SELECT status, reason FROM messages WHERE campaign_id = ? AND user_id = ?", [later, user]
    ) == [("skipped", "no_consent")]


def test_a_campaign_scheduled_weeks_ahead_is_approved_launched_and_waits(shop, cipher, smtp) -> None:
    from datetime import timedelta

    box, url = smtp
    grant(shop, users_of(shop))
    set_provider(shop, cipher, Provider("email", "smtp", {"url": url, "from": "s@example.com"}))
    aud = audiences.create(shop, "all", audiences.AudienceSpec(everyone=True))
    later = (datetime.now(UTC) + timedelta(days=40)).replace(hour=2, minute=0, second=0, microsecond=0)
    c = engine.create(
        shop,
        CampaignSpec.from_dict(
            {
                "name": "双11预热",
                "audience_id": aud["audience_id"],
                "channels": ["email"],
                "subject": "s",
                "body": "b",
                "start_ts": later.isoformat(),
            }
        ),
        actor="m",
    )
    engine.approve(shop, c["campaign_id"], actor="a")  # the stored start reads back
    plan = engine.launch(shop, c["campaign_id"], actor="a")
    assert plan["status"] == "scheduled" and plan["to_send"] > 0
    assert outbox.deliver(shop, cipher)["sent"] == 0 and box.mails == []  # not yet
    assert outbox.deliver(shop, cipher, now=later + timedelta(minutes=1))["sent"] == plan["to_send"]
    with pytest.raises(ValidationFailed) as err:
        CampaignSpec.from_dict(
            {
                "name": "x",
                "audience_id": "a",
                "channels": ["email"],
                "body": "b",
                "start_ts": (datetime.now(UTC) + timedelta(days=400)).isoformat(),
            }
        )
    assert err.value.field == "start_ts"
