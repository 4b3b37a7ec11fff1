"""The campaign commands end to end in one process: an audience from a rule, its preview and export, a
channel, a campaign drafted, approved, dry-run, launched, delivered to a real SMTP server, reported."""

from __future__ import annotations

import json
from pathlib import Path

from liveloop.privacy import consent


def test_audience_and_campaign_commands(cli, shop, smtp, tmp_path: Path) -> None:
    box, url = smtp
    users = [r[0] for r in shop.sql("SELECT user_id FROM profiles ORDER BY user_id")]
    consent.record(
        shop,
        [
            consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel="email")
            for u in users
        ],
        actor="t",
    )
    consent.record(shop, [consent.ConsentChange(users[0], "sharing", "granted")], actor="t")
    shop.close()

    code, out, err = cli("audiences", "create", "big", "--rule", "frequency >= 1", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["preview"]["size"] > 0
    aid = made["audience_id"]
    code, out, err = cli("audiences", "create", "bad", "--rule", "shoe_size > 40")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "unknown feature 'shoe_size'" in err
    code, out, _ = cli("audiences", "export", aid, "--to", str(tmp_path / "aud.csv"), "--json")
    exported = json.loads(out)
    assert exported["exported"] == (tmp_path / "aud.csv").read_text().count("\n") - 1
    assert exported["exported"] + exported["withheld"] == made["preview"]["size"]

    assert (
        cli("channels", "set", "email", "--kind", "smtp", "--url", url, "--from", "shop@example.com")[0] == 0
    )
    code, out, err = cli(
        "campaigns",
        "create",
        "spring",
        "--audience",
        aid,
        "--channel",
        "email",
        "--subject",
        "上新",
        "--body",
        "{{ name }}，{{ top_category }} 上新",
        "--holdout",
        "0",
        "--json",
    )
    assert code == 0, err
    cid = json.loads(out)["campaign_id"]
    code, _, err = cli("campaigns", "launch", cid)
    assert code != 0 and "only an approved campaign" in err
    assert cli("campaigns", "approve", cid)[0] == 0
    code, out, _ = cli("campaigns", "dry-run", cid, "--json")
    plan = json.loads(out)
    assert plan["targeted"] == made["preview"]["size"]
    assert cli("campaigns", "launch", cid)[0] == 0
    code, out, _ = cli("campaigns", "deliver", "--json")
    sent = json.loads(out)["sent"]
    deferred = plan["deferred_quiet_hours"]  # the real clock may be in quiet hours: those wait
    assert sent == plan["to_send"] - deferred and len(box.mails) == sent
    code, out, _ = cli("campaigns", "report", cid, "--json")
    steps = {s["step"]: s["users"] for s in json.loads(out)["funnel"]}
    assert steps["sent"] == sent and steps["targeted"] == plan["targeted"]


def test_journey_commands(cli, shop) -> None:
    shop.close()
    code, out, err = cli("journeys", "create", "welcome", "--builtin", "--json")
    assert code == 0, err
    jid = json.loads(out)["journey_id"]
    code, _, err = cli("journeys", "create", "x", "--builtin", "--channel", "fax")
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert cli("journeys", "start", jid)[0] != 0  # not approved yet
    assert cli("journeys", "approve", jid)[0] == 0
    code, out, _ = cli("journeys", "start", jid, "--backfill-hours", "1", "--json")
    assert json.loads(out)["status"] == "active"
    code, out, _ = cli("journeys", "tick", "--json")
    assert jid in json.loads(out)
    code, out, _ = cli("journeys", "report", jid, "--json")
    assert json.loads(out)["journey"]["journey_id"] == jid
    assert cli("journeys", "stop", jid)[0] == 0
