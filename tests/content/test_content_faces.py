"""The content studio's faces on a simulated world: the ``/v1/content/…`` routes on a real server (script,
copy, points, check; roles; problem+json naming the field) and the ``liveloop content …`` commands through
the CLI entry point (text and JSON output, the check's exit code, one-line failures)."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.warehouse import Warehouse

pytestmark = pytest.mark.slow

EMPTY_SESSION = "content-empty-show"
#: A product whose name fits no channel's limit whole: the copy must cut it.
LONG_PRODUCT = "content-long-title"
LONG_TITLE = "小鹿家水润补水面霜 敏感肌适用 清爽质地不黏腻 大容量家庭装 50ml 3件装 日常护理 早晚可用"
LONG_TITLE_EN = "Xiaolu Hydrating Face Cream for Sensitive Skin, Light Texture, Family Size 50ml, Pack of 3"
SIGNATURE = "小鹿直播旗舰店"
#: Appended to the first lineup product's title: its pitch line must be left out of the script.
BANNED = "（全网第一）"
BLOCKED, CLEAN = "好评返现5元", "补水保湿面霜"


@dataclass(frozen=True)
class World:
    home: Path
    secret_key: str
    session_id: str
    lineup: list[str]
    titles: dict[str, str]
    product_id: str  # a lineup product with a clean title (the first one's holds BANNED)

    @property
    def db(self) -> Path:
        return self.home / "liveloop.duckdb"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> World:
    """A small simulated world with built profiles, plus a session whose lineup is empty (seeded once)."""
    from datetime import UTC, datetime, timedelta

    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.profiles import build_profiles

    home = tmp_path_factory.mktemp("content-world") / "home"
    settings = Settings(home=home, data_home=data_home, secret_key=generate_key())
    with Warehouse.open(settings) as wh:
        simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
        build_profiles(wh, settings=settings)
        sid, lineup, host = wh.sql(
            "SELECT session_id, lineup, host_id FROM live_sessions WHERE len(lineup) BETWEEN 5 AND 10 "
            "ORDER BY session_id LIMIT 1"
        )[0]
        start = datetime.now(UTC) + timedelta(days=1)
        wh.sql(
            "INSERT INTO live_sessions (session_id, host_id, title, start_ts, end_ts, lineup, props, source) "
            "VALUES (?, ?, '空场', ?, ?, []::VARCHAR[], '{}', 'test')",
            [EMPTY_SESSION, host, start, start + timedelta(hours=2)],
        )
        wh.sql(
            "INSERT INTO products (product_id, title, title_en, category, brand, price, cost, stock, "
            "attributes, source) VALUES (?, ?, ?, 'beauty', '小鹿家', 89.9, 30, 120, '{}', 'test')",
            [LONG_PRODUCT, LONG_TITLE, LONG_TITLE_EN],
        )
        wh.sql("UPDATE products SET title = title || ? WHERE product_id = ?", [BANNED, lineup[0]])
        titles = dict(
            wh.sql(
                "SELECT product_id, title FROM products WHERE list_contains(?::VARCHAR[], product_id)",
                [list(lineup)],
            )
        )
        assert set(titles) == set(lineup)
    product = max(lineup[1:], key=lambda p: (len(titles[p]), p))
    return World(home, settings.secret_key, str(sid), list(lineup), titles, product)


@pytest.fixture(scope="module")
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, world: World
) -> Iterator[Any]:
    """One real server for the module, on a copy of the world's home (the CLI tests read the original).

    ``live_server_factory`` is per test and would start (and seed) a server for each; the module's
    tests only read, so they share one, made with the same ``LiveServer`` class."""
    live_server = next(
        (p.LiveServer for p in request.config.pluginmanager.get_plugins() if hasattr(p, "LiveServer")), None
    )
    assert live_server is not None, "tests/conftest.py no longer defines LiveServer"
    home = tmp_path_factory.mktemp("content-server") / "home"
    shutil.copytree(world.home, home)
    server = live_server(home, env={"LIVELOOP_SECRET_KEY": world.secret_key})
    yield server
    server.stop()


def _problem(resp: Any, status: int, field: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["field"] == field, body
    assert body["detail"] and body["title"]
    return body


# -- the API ------------------------------------------------------------------------------------------------


def test_api_script_follows_the_warehouse_lineup(srv, world: World) -> None:
    resp = srv.client("host").get(f"/v1/content/scripts/{world.session_id}")
    assert resp.status_code == 200, resp.text
    script = resp.json()
    assert script["session_id"] == world.session_id
    products = script["products"]
    assert len(products) == len(world.lineup)
    assert sorted(p["product_id"] for p in products) == sorted(world.lineup)  # one per lineup item
    assert sorted(p["slot"] for p in products) == list(range(1, len(world.lineup) + 1))
    assert {p["product_id"]: p["name"] for p in products} == world.titles
    lines = [line for p in products for line in p["lines"]] + script["opening"] + script["closing"]
    assert all(p["lines"] for p in products) and script["closing"]
    assert all(line["verdict"] in ("pass", "flag") for line in lines), [
        line for line in lines if line["verdict"] not in ("pass", "flag")
    ]
    assert all(line["zh"] and line["en"] for line in lines)
    assert not any(BANNED in line["zh"] for line in lines)
    # the banned title's pitch is left out, and listed with its reason
    pitch = next(b for b in script["blocked"] if b["kind"] == "pitch")
    assert BANNED in pitch["zh"] and pitch["reason"].startswith("must not be published")
    assert any(f["rule"] == "absolute" and f["severity"] == "block" for f in pitch["findings"])
    assert isinstance(script["generated_ms"], int | float) and script["generated_ms"] > 0


def test_api_copy_keeps_the_channel_limits(srv, world: World) -> None:
    marketer = srv.client("marketer")
    for pid in (world.product_id, LONG_PRODUCT):
        resp = marketer.get(f"/v1/content/copy/{pid}", params={"channel": "push", "variants": 5})
        assert resp.status_code == 200, resp.text
        push = resp.json()
        assert push["channel"] == "push" and push["limit"] == 40 and push["product_id"] == pid
        assert 1 <= len(push["variants"]) <= 5
        for v in push["variants"]:
            assert len(v["text"]) <= 40 and v["length"] == len(v["text"]) and v["verdict"] != "block", v
            assert pid != LONG_PRODUCT or LONG_TITLE not in v["text"]  # the long name was cut to fit

    for lang, opt_out in (("zh", "回T退订"), ("en", "Reply T to opt out")):
        resp = marketer.get(
            f"/v1/content/copy/{LONG_PRODUCT}",
            params={"channel": "sms", "signature": SIGNATURE, "lang": lang, "persona": "price_sensitive"},
        )
        assert resp.status_code == 200, resp.text
        sms = resp.json()
        assert sms["limit"] == 70 and sms["lang"] == lang and 1 <= len(sms["variants"]) <= 3
        assert sms["facts"]["title"] == LONG_TITLE
        for v in sms["variants"]:
            text = v["text"]
            assert len(text) <= 70 and v["length"] == len(text), v
            assert text.startswith(f"【{SIGNATURE}】") and text.endswith(opt_out), text
            assert v["verdict"] != "block", v

    points = marketer.get(f"/v1/content/points/{world.product_id}")
    assert points.status_code == 200, points.text
    assert {"selling_points", "pain_points", "sources"} <= set(points.json())


def test_api_check_blocks_passes_and_settles_prices_against_the_product(srv, world: World) -> None:
    analyst = srv.client("analyst")
    resp = analyst.post("/v1/content/check", json={"texts": [BLOCKED, CLEAN]})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["block"], report["flag"], report["pass"]) == (1, 0, 1)
    blocked, clean = report["lines"]
    assert blocked["text"] == BLOCKED and blocked["verdict"] == "block"
    hit = next(f for f in blocked["findings"] if f["severity"] == "block")
    assert hit["rule"] == "inducement" and hit["suggestion"]
    start, end = hit["span"]
    assert BLOCKED[start:end] == hit["term"] == "好评返现"
    assert clean["verdict"] == "pass" and all(f["severity"] == "pass" for f in clean["findings"])

    was = "原价99999"  # far above the product's 7-day lowest actual price
    alone = analyst.post("/v1/content/check", json={"texts": [was]}).json()
    assert alone["lines"][0]["verdict"] != "block"  # without the facts it can only be flagged
    settled = analyst.post("/v1/content/check", json={"texts": [was], "product_id": world.product_id})
    assert settled.status_code == 200, settled.text
    line = settled.json()["lines"][0]
    assert settled.json()["product_id"] == world.product_id and line["verdict"] == "block"
    assert any(f["rule"] == "reference_price" and f["severity"] == "block" for f in line["findings"])


def test_api_roles_read_and_ingest_is_refused(srv, world: World) -> None:
    reads = [
        ("GET", f"/v1/content/scripts/{world.session_id}", None),
        ("GET", f"/v1/content/copy/{world.product_id}?channel=title", None),
        ("GET", f"/v1/content/points/{world.product_id}", None),
        ("POST", "/v1/content/check", {"texts": [CLEAN]}),
    ]
    for role in ("analyst", "marketer", "host"):
        with srv.client(role) as client:
            for method, url, body in reads:
                resp = client.request(method, url, json=body)
                assert resp.status_code == 200, (role, url, resp.text)
    with srv.client("ingest") as ingest:
        for method, url, body in reads:
            resp = ingest.request(method, url, json=body)
            assert resp.status_code == 403, (url, resp.text)
            assert resp.headers["content-type"] == "application/problem+json"
            assert resp.json()["status"] == 403


def test_api_bad_input_is_problem_json_naming_the_field(srv, world: World) -> None:
    marketer = srv.client("marketer")
    _problem(marketer.get("/v1/content/scripts/no-such-show"), 404, "session_id")
    body = _problem(marketer.get(f"/v1/content/scripts/{EMPTY_SESSION}"), 422, "lineup")
    assert "empty lineup" in body["detail"]
    _problem(marketer.get("/v1/content/copy/no-such-product", params={"channel": "sms"}), 404, "product_id")
    _problem(marketer.get("/v1/content/points/no-such-product"), 404, "product_id")
    _problem(
        marketer.post("/v1/content/check", json={"texts": [CLEAN], "product_id": "no-such-product"}),
        404,
        "product_id",
    )
    copy = f"/v1/content/copy/{world.product_id}"
    _problem(marketer.get(copy, params={"channel": "fax"}), 422, "channel")
    _problem(marketer.get(copy, params={"channel": "sms", "variants": 9}), 422, "variants")
    _problem(marketer.get(copy, params={"channel": "sms", "persona": "astronaut"}), 422, "persona")
    _problem(marketer.post("/v1/content/check", json={"texts": []}), 422, "texts")


# -- the CLI ------------------------------------------------------------------------------------------------


@pytest.fixture
def on_world(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The CLI reads the module's world (read-only: the commands never write)."""
    monkeypatch.setenv("LIVELOOP_HOME", str(world.home))
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", world.secret_key)
    return world


def _one_line_failure(code: int, out: str, err: str, *needles: str) -> None:
    assert code != 0, out
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err + out, err
    for needle in needles:
        assert needle in err, err


def test_cli_script_prints_the_products_and_its_json_parses(cli, on_world: World) -> None:
    code, out, err = cli("content", "script", on_world.session_id)
    assert code == 0, err
    assert all(title in out for title in on_world.titles.values()), out
    assert "互动安排" in out and "合规检查拦下的句子：" in out
    code, out, err = cli("content", "script", on_world.session_id, "--lang", "en")
    assert code == 0 and "Interaction plan" in out, err

    code, out, err = cli("content", "script", on_world.session_id, "--json")
    assert code == 0, err
    script = json.loads(out)
    assert sorted(p["product_id"] for p in script["products"]) == sorted(on_world.lineup)
    assert all(line["verdict"] != "block" for p in script["products"] for line in p["lines"])
    assert script["blocked"]


def test_cli_copy_prints_variants(cli, on_world: World) -> None:
    code, out, err = cli("content", "copy", LONG_PRODUCT, "--channel", "sms", "--signature", SIGNATURE)
    assert code == 0, err
    assert out.startswith(f"{LONG_PRODUCT} · sms (≤ 70 characters)"), out
    variants = re.findall(r"^\d\. (【.+?回T退订)  \((\d+), template\)", out, flags=re.M)
    assert variants, out
    for text, length in variants:
        assert text.startswith(f"【{SIGNATURE}】") and len(text) == int(length) <= 70, text

    code, out, err = cli("content", "copy", LONG_PRODUCT, "--channel", "push", "--json")
    assert code == 0, err
    push = json.loads(out)
    assert push["variants"] and all(len(v["text"]) <= 40 for v in push["variants"])

    code, out, err = cli("content", "points", on_world.product_id, "--json")
    assert code == 0 and {"selling_points", "pain_points"} <= set(json.loads(out)), err


def test_cli_check_exits_1_on_a_blocked_line_and_0_on_clean_lines(
    cli, on_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(f"{CLEAN}\n\n  {BLOCKED}  \n", encoding="utf-8")
    code, out, err = cli("content", "check", str(mixed))
    assert code == 1, (out, err)
    assert f"BLOCK {BLOCKED}" in out and f"PASS  {CLEAN}" in out and "inducement" in out
    assert out.rstrip().endswith("1 pass, 0 flag, 1 block")

    clean = tmp_path / "clean.txt"
    clean.write_text(f"{CLEAN}\n今晚八点开播\n", encoding="utf-8")
    code, out, err = cli("content", "check", str(clean), "--json")
    assert code == 0, (out, err)
    assert json.loads(out)["pass"] == 2

    was = tmp_path / "was.txt"
    was.write_text("原价99999\n", encoding="utf-8")
    assert cli("content", "check", str(was))[0] == 0  # flagged only: nothing to settle it against
    code, out, err = cli("content", "check", str(was), "--product", on_world.product_id, "--json")
    assert code == 1 and json.loads(out)["lines"][0]["verdict"] == "block", (out, err)

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{BLOCKED}\n"))
    code, out, _ = cli("content", "check", "-")
    assert code == 1 and f"BLOCK {BLOCKED}" in out


def test_cli_bad_input_is_one_line_on_stderr(
    cli, on_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_line_failure(*cli("content", "check", str(tmp_path / "missing.txt")), "no such file")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("crème brûlée à 5 francs\n".encode("latin-1"))
    _one_line_failure(*cli("content", "check", str(latin)), "not UTF-8")
    product = on_world.product_id
    _one_line_failure(*cli("content", "copy", product, "--channel", "fax"), "unknown channel 'fax'")
    _one_line_failure(*cli("content", "copy", "no-such-product", "--channel", "sms"), "no-such-product")
    _one_line_failure(*cli("content", "points", "no-such-product"), "no-such-product")
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{CLEAN}\n"))
    _one_line_failure(*cli("content", "check", "-", "--product", "no-such-product"), "no-such-product")
    # GBK on stdin (as a POSIX locale decodes it) is refused like a GBK file, not checked as mojibake
    gbk = io.TextIOWrapper(
        io.BytesIO(f"{BLOCKED}\n".encode("gbk")), encoding="utf-8", errors="surrogateescape"
    )
    monkeypatch.setattr(sys, "stdin", gbk)
    _one_line_failure(*cli("content", "check", "-"), "not UTF-8")
    _one_line_failure(*cli("content", "script", "no-such-show"), "no-such-show")
    _one_line_failure(*cli("content", "script", EMPTY_SESSION), "empty lineup")
    _one_line_failure(*cli("content", "copy", product, "--channel", "sms", "--variants", "9"), "variants")
