"""Export and erasure from the API (admin only) and the CLI: JSON and CSV, one call each."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pyarrow as pa

from liveloop.core.config import Settings
from liveloop.core.crypto import load_cipher
from liveloop.warehouse import Warehouse


def test_the_api_exports_a_user_as_json_and_zip_and_erases_them(live_server_factory) -> None:
    server = live_server_factory()
    with server.client("ingest") as app, server.client("admin") as admin, server.client("analyst") as analyst:
        made = app.post("/v1/users", json={"user_id": "u-rights", "phone": "13800002222", "region": "浙江"})
        assert made.status_code == 201, made.text
        events = [
            {
                "event_id": f"e{i}",
                "user_id": "u-rights",
                "type": "view",
                "product_id": "p1",
                "ts": "2026-05-01T10:00:00Z",
            }
            for i in range(3)
        ]
        assert app.post("/v1/events", json={"events": events}).status_code in (200, 202)
        grant = {"changes": [{"purpose": "marketing", "status": "granted", "channel": "sms"}]}
        assert app.post("/v1/users/u-rights/consents", json=grant).status_code == 200
        assert analyst.get("/v1/users/u-rights/export").status_code == 403  # PII: admins only
        assert app.post("/v1/users/u-rights/erase").status_code == 403
        for _ in range(50):  # events are written by the ingest queue a moment later
            got = admin.get("/v1/users/u-rights/export", params={"lang": "en"})
            if len(got.json().get("tables", {}).get("events", [])) == 3:
                break
        body = got.json()
        assert body["tables"]["users"][0]["phone"] == "13800002222"  # decrypted for the person
        assert len(body["tables"]["events"]) == 3 and body["tables"]["consents"][0]["channel"] == "sms"
        assert any(d["action"] == "consent.change" for d in body["decisions"])
        packed = admin.get("/v1/users/u-rights/export", params={"format": "zip"})
        assert packed.headers["content-type"] == "application/zip"
        names = set(zipfile.ZipFile(io.BytesIO(packed.content)).namelist())
        assert {
            "export.json",
            "csv/users.csv",
            "csv/events.csv",
            "csv/consents.csv",
            "csv/decisions.csv",
        } <= names
        erased = admin.post("/v1/users/u-rights/erase")
        assert erased.status_code == 200, erased.text
        assert erased.json()["verified"] and erased.json()["deleted"]["events"] == 3
        assert erased.json()["compacted"]["bytes_after"] > 0
        assert app.post("/v1/users", json={"user_id": "u-batch-1", "region": "浙江"}).status_code == 201
        assert app.post("/v1/users/erase", json={"user_ids": ["u-batch-1"]}).status_code == 403
        bad = admin.post("/v1/users/erase", json={"user_ids": ["u-batch-1", "u 2"]})
        assert bad.status_code == 422 and "user_ids" in bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert admin.post("/v1/users/erase", json={"user_ids": []}).status_code == 422
        both = admin.post("/v1/users/erase", json={"user_ids": ["u-batch-1", "u-batch-never-seen"]})
        assert both.status_code == 200, both.text
        assert [u["user_id"] for u in both.json()["users"]] == ["u-batch-1", "u-batch-never-seen"]
        assert both.json()["users"][0]["deleted"]["users"] == 1 and all(
            u["verified"] for u in both.json()["users"]
        )
        assert admin.get("/v1/users/u-batch-1").status_code == 404
        gone = admin.get("/v1/users/u-rights/export")
        assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")
        assert admin.get("/v1/users/u-rights").status_code == 404
        assert admin.get("/v1/users/u 1/export").status_code in (404, 422)
        assert analyst.get("/v1/overview").status_code in (
            200,
            404,
        )  # the server still serves after compaction


def test_the_cli_exports_to_a_folder_and_erases_only_when_confirmed(
    cli, wh: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    cipher = load_cipher(settings)
    wh.append(
        "users",
        pa.table(
            {
                "user_id": ["user-0005", "user-0006", "user-0007"],
                "email_enc": [cipher.encrypt(f"u{i}@example.cn", context="users.email") for i in (5, 6, 7)],
            }
        ),
    )
    wh.append(
        "events",
        pa.table(
            {
                "event_id": ["a", "b", "c"],
                "user_id": ["user-0005", "user-0006", "user-0007"],
                "type": ["view"] * 3,
                "ts": pa.array([0] * 3, pa.timestamp("s", tz="UTC")),
            }
        ),
    )
    wh.close()
    code, out, err = cli("users", "export", "user-0005", "--to", str(tmp_path / "out"), "--lang", "en")
    assert code == 0, err
    exported = json.loads((tmp_path / "out" / "export.json").read_text(encoding="utf-8"))
    assert exported["tables"]["users"][0]["email"] == "u5@example.cn"
    assert (tmp_path / "out" / "csv" / "events.csv").read_text(encoding="utf-8").count("\n") == 2
    code, _, err = cli("users", "erase", "user-0005")
    assert code != 0 and "--yes" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("users", "erase", "user-0005", "user-0006", "--yes", "--json")
    assert code == 0, err
    batch = json.loads(out)
    assert [u["user_id"] for u in batch["users"]] == ["user-0005", "user-0006"]
    assert all(u["verified"] is True and u["deleted"]["events"] == 1 for u in batch["users"])
    assert batch["compacted"]["bytes_after"] > 0  # one compaction for the two
    for gone in ("user-0005", "user-0006"):
        code, _, err = cli("users", "export", gone)
        assert code != 0 and "nothing" in err and "Traceback" not in err
    code, out, err = cli("users", "export", "user-0007", "--to", str(tmp_path / "kept"))
    assert code == 0, err  # the user not named is kept
    code, _, err = cli("users", "erase", "user-0007", "bad id", "--yes")
    assert code != 0 and "bad id" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("users", "export", "user-0007", "--to", str(tmp_path / "kept2"))
    assert code == 0, err  # a batch with a bad id erases nobody
