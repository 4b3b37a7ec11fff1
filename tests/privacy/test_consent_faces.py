"""Consents from every face: imported from a file (bad rows quarantined), set and read over the API by the
app's key, set and shown by the CLI; every change explained in the user's decisions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from liveloop.ingest import import_file
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse


def test_a_consent_file_imports_its_history_and_quarantines_what_is_wrong(
    wh: Warehouse, tmp_path: Path
) -> None:
    src = tmp_path / "consents.csv"
    src.write_text(
        "user_id,purpose,channel,status,ts,proof\n"
        "u1,marketing,email,granted,2026-01-05T10:00:00+08:00,signup form v3\n"
        "u1,marketing,,revoked,2026-02-01T10:00:00+08:00,unsubscribe link\n"
        "u2,profiling,,denied,2026-01-06T10:00:00Z,\n"
        "u3,ads,,granted,2026-01-06T10:00:00Z,\n"
        "u4,profiling,sms,granted,2026-01-06T10:00:00Z,\n",
        encoding="utf-8",
    )
    report = import_file(wh, src)
    again = import_file(wh, src)
    assert report.to_dict()["tables"]["consents"]["loaded"] == 3
    assert again.to_dict()["tables"]["consents"]["loaded"] == 0  # a re-import records nothing twice
    reasons = {r[0] for r in wh.sql("SELECT reason FROM quarantine WHERE target_table = 'consents'")}
    assert any(r.startswith("unknown_purpose") for r in reasons) and any(
        r.startswith("per_channel") for r in reasons
    )
    assert not consent.allows(wh, "u1", "marketing", "email")  # the later "stop everything" rules
    assert "u2" in consent.withheld(wh, "profiling")
    assert [h["channel"] for h in consent.of_user(wh, "u1")["history"]] == ["all", "email"]


def test_the_app_sets_consents_over_the_api_and_reads_them_back(server) -> None:
    uid = f"u-{uuid.uuid4().hex[:8]}"
    with server.client("ingest") as app, server.client("analyst") as analyst:
        body = {
            "changes": [{"purpose": "marketing", "status": "granted", "channel": "sms", "proof": "opt-in #9"}]
        }
        made = app.post(f"/v1/users/{uid}/consents", json=body)
        assert made.status_code == 200, made.text
        assert made.json()["recorded"] == 1
        read = analyst.get(f"/v1/users/{uid}/consents").json()
        sms = next(c for c in read["current"] if c["channel"] == "sms")
        assert sms["allowed"] and sms["basis"] == "statement" and read["history"][0]["source"] == "api"
        assert analyst.post(f"/v1/users/{uid}/consents", json=body).status_code == 403  # analysts only read
        bad = app.post(
            f"/v1/users/{uid}/consents", json={"changes": [{"purpose": "ads", "status": "granted"}]}
        )
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert "purpose" in bad.text
        wrong = app.post(
            f"/v1/users/{uid}/consents",
            json={"changes": [{"purpose": "profiling", "status": "denied", "channel": "sms"}]},
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "channel"
        said = analyst.get(f"/v1/users/{uid}/decisions", params={"lang": "en"}).json()["decisions"]
        assert [d["action"] for d in said] == ["consent.change"]


def test_the_cli_records_and_shows_consents(cli, wh: Warehouse) -> None:
    wh.close()
    code, out, _ = cli("users", "consent", "u7", "marketing", "granted", "--channel", "email", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["recorded"] == 1 and shown["history"][0]["source"] == "cli"
    code, out, _ = cli("users", "consents", "u7")
    assert code == 0 and "marketing" in out and "email" in out
    code, _, err = cli("users", "consent", "u7", "marketing", "perhaps")
    assert code != 0 and "status" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
