"""Live scripts and copy on a simulated world: the order and its reasons, the gate on every line, the
channel limits, the persona, bad input, and the language-model variant with its fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_model import completion, serve
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from liveloop.content import copywriting, scripts
from liveloop.content.llm import ChatClient, LLMConfig
from liveloop.core.config import Settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.profiles import build_profiles
from liveloop.warehouse import Warehouse


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    """A small simulated world with built profiles, shared by the module (nothing here writes to it
    except the tests that add their own session or product)."""
    home = tmp_path_factory.mktemp("content-world")
    wh = Warehouse.open(Settings(home=home, data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=11, users=400, days=7)
    build_profiles(wh)
    yield wh
    wh.close()


def _busiest(wh: Warehouse) -> str:
    return str(
        wh.sql("SELECT session_id FROM live_sessions ORDER BY len(lineup) DESC, session_id LIMIT 1")[0][0]
    )


def test_script_orders_the_whole_lineup_with_reasons_and_gated_lines(world: Warehouse) -> None:
    sid = _busiest(world)
    lineup = world.sql("SELECT lineup FROM live_sessions WHERE session_id = ?", [sid])[0][0]
    s = scripts.session_script(world, sid)
    assert sorted(p["product_id"] for p in s["products"]) == sorted(lineup)
    assert [p["slot"] for p in s["products"]] == list(range(1, len(lineup) + 1))
    assert s["audience"]["size"] > 0 and s["audience"]["personas"]
    for p in s["products"]:
        assert p["reason"] and p["reason_en"] and p["lines"]
        assert p["lines"][0]["kind"] == "pitch"
        assert all(line["verdict"] in ("pass", "flag") for line in p["lines"])
        assert all(line["zh"] and line["en"] for line in p["lines"])
    # the products the audience wants most sit where past sessions drew the most viewers
    ranked = sorted((p for p in s["products"] if p["stock"] != 0), key=lambda p: -p["score"])
    attendance = [p["expected_attendance"] for p in ranked]
    assert attendance == sorted(attendance, reverse=True)
    assert any(i["kind"] == "lottery" for i in s["interactions"])
    assert s["opening"] and s["closing"]
    text = scripts.render(s, "en")
    assert all(p["name_en"] in text for p in s["products"])


def test_quotes_are_real_review_words_and_pass_the_gate(world: Warehouse) -> None:
    s = scripts.session_script(world, _busiest(world))
    points = [line for p in s["products"] for line in p["lines"] if line["kind"] == "point"]
    assert points, "a beauty, food or electronics lineup gets points from real reviews"
    assert all(line["verdict"] == "pass" for line in points)
    assert all("「" in line["zh"] and line["source"] in ("reviews", "comments") for line in points)


def test_a_product_whose_name_breaks_the_law_is_left_out_of_the_pitch(world: Warehouse) -> None:
    sid = _busiest(world)
    pid = "p_content_bad"
    world.sql(
        "INSERT INTO products (product_id, title, title_en, category, brand, price, stock) "
        "VALUES (?, '全网最低价 根治痘痘面霜', 'Cheapest cream that cures acne', 'beauty', 'X', 99, 50)",
        [pid],
    )
    world.sql(
        "INSERT INTO live_sessions (session_id, host_id, title, start_ts, end_ts, lineup) "
        "SELECT 's_content_bad', host_id, title, start_ts, end_ts, list_append(lineup, ?) "
        "FROM live_sessions WHERE session_id = ?",
        [pid, sid],
    )
    s = scripts.session_script(world, "s_content_bad")
    bad = next(p for p in s["products"] if p["product_id"] == pid)
    assert all("根治" not in line["zh"] for line in bad["lines"])
    assert any("根治" in b["zh"] and "medical" in b["reason"] for b in s["blocked"])


def test_bad_sessions_give_clear_errors(world: Warehouse) -> None:
    with pytest.raises(NotFound) as unknown:
        scripts.session_script(world, "no_such_session")
    assert unknown.value.field == "session_id"
    world.sql(
        "INSERT INTO live_sessions (session_id, host_id, title, lineup) VALUES ('s_empty', 'h', 'x', [])"
    )
    with pytest.raises(ValidationFailed) as empty:
        scripts.session_script(world, "s_empty")
    assert empty.value.field == "lineup" and "empty lineup" in empty.value.detail


def test_a_session_without_expected_audience_gets_a_general_script(settings: Settings, wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="tiny", seed=5, users=60, days=2)  # no profiles built
    sid = _busiest(wh)
    s = scripts.session_script(wh, sid)
    assert s["audience"]["size"] == 0 and "general script" in s["audience"]["note"]["en"]
    assert len(s["products"]) == len(
        wh.sql("SELECT lineup FROM live_sessions WHERE session_id = ?", [sid])[0][0]
    )


@pytest.mark.parametrize("channel", copywriting.CHANNELS)
def test_copy_fits_each_channel_and_passes_the_gate(world: Warehouse, channel: str) -> None:
    pid = _busiest_product(world)
    for lang in ("zh", "en"):
        r = copywriting.product_copy(world, pid, channel, lang=lang, signature="小店")
        assert r["variants"], r
        for v in r["variants"]:
            assert v["length"] == len(v["text"]) <= copywriting.LIMITS[channel]
            assert v["verdict"] in ("pass", "flag")
            if channel == "sms":
                assert v["text"].startswith("【小店】") and v["text"].endswith(copywriting.SMS_OPT_OUT[lang])
            if channel == "email":
                assert v["subject"] and v["body"]


def _busiest_product(wh: Warehouse) -> str:
    return str(
        wh.sql(
            "SELECT p.product_id FROM products p JOIN order_items i USING (product_id) "
            "WHERE p.category = 'beauty' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        )[0][0]
    )


def test_persona_changes_the_lead_and_bad_choices_are_refused(world: Warehouse) -> None:
    pid = _busiest_product(world)
    cheap = copywriting.product_copy(world, pid, "push", persona="bargain_hunter", variants=5)
    quality = copywriting.product_copy(world, pid, "push", persona="premium", variants=5)
    assert any(v["text"].startswith("好价提醒") for v in cheap["variants"])
    assert any(v["text"].startswith("品质之选") for v in quality["variants"])
    for kwargs, field in (
        ({"channel": "fax"}, "channel"),
        ({"channel": "push", "persona": "rich_people"}, "persona"),
        ({"channel": "push", "lang": "fr"}, "lang"),
        ({"channel": "push", "variants": 9}, "variants"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            copywriting.product_copy(world, pid, **kwargs)  # type: ignore[arg-type]
        assert bad.value.field == field
    with pytest.raises(NotFound) as unknown:
        copywriting.product_copy(world, "no_such_product", "push")
    assert unknown.value.field == "product_id"


def test_a_bare_product_still_gets_copy_and_says_what_it_lacks(world: Warehouse) -> None:
    world.sql("INSERT INTO products (product_id, title) VALUES ('p_bare', '手工皂')")
    r = copywriting.product_copy(world, "p_bare", "push")
    assert r["variants"] and any("no attributes" in n["en"] for n in r["notes"])
    assert any("no review or comment points" in n["en"] and n["zh"] for n in r["notes"])


# -- the language model: its variant is used only when it is grounded, fits and passes the gate --------


@pytest.fixture(scope="module")
def model() -> Iterator[dict[str, Any]]:
    """A local server speaking the OpenAI chat API; each test sets the reply it should give."""
    state: dict[str, Any] = {"reply": "", "calls": 0, "prompts": []}
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        state["calls"] += 1
        state["prompts"].append(body["messages"])
        if state["reply"] is None:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse(completion(state["reply"]))

    with serve(app) as url:
        state["url"] = url
        yield state


def _copy_with(world: Warehouse, model: dict[str, Any], reply: str | None) -> dict[str, Any]:
    model["reply"] = reply
    client = ChatClient(LLMConfig(base_url=model["url"], model="m", timeout_s=5, retries=0))
    with client:
        return copywriting.product_copy(world, _busiest_product(world), "push", client=client)


def test_a_grounded_model_line_is_added_first(world: Warehouse, model: dict[str, Any]) -> None:
    pid = _busiest_product(world)
    price = world.sql("SELECT price::DOUBLE FROM products WHERE product_id = ?", [pid])[0][0]
    r = _copy_with(world, model, f"今晚好物，只要{price:g}元")
    assert r["variants"][0]["source"] == "llm" and "added" in r["language_model"]["en"]
    system, user = (m["content"] for m in model["prompts"][-1])
    assert f"{price:g}" in user and "最" in system  # the prompt carries the facts and the rules


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("只要9元，买到就是赚到", "fact check"),  # a price the facts do not hold
        ("美白神器今晚开抢", "fact check"),  # a claim the facts do not hold
        ("好物推荐" * 20, "over the 40 limit"),
        ("全网第一的好物", "compliance gate"),
        (None, "unavailable"),
    ],
)
def test_model_text_that_fails_falls_back_to_templates(
    world: Warehouse, model: dict[str, Any], reply: str | None, why: str
) -> None:
    r = _copy_with(world, model, reply)
    assert why in r["language_model"]["en"] and "templates used" in r["language_model"]["en"]
    assert r["variants"] and all(v["source"] == "template" for v in r["variants"])
    assert reply is None or all(v["text"] != reply for v in r["variants"])


def test_the_script_is_json_serialisable(world: Warehouse) -> None:
    s = scripts.session_script(world, _busiest(world))
    assert json.loads(json.dumps(s, default=str))["session_id"] == s["session_id"]


def test_a_campaign_message_written_from_a_products_copy(world: Warehouse) -> None:
    from liveloop.campaigns import audiences, engine
    from liveloop.campaigns.copy_source import fill_message, message_from_copy

    pid = _busiest_product(world)
    written = message_from_copy(world, pid, ["in_app"], persona="bargain_hunter")
    push = copywriting.product_copy(world, pid, "push", persona="bargain_hunter", variants=1)
    assert written["body"] == push["variants"][0]["text"] and written["subject"] is None
    audience = audiences.create(world, "content-test", audiences.AudienceSpec(everyone=True), actor="t")
    spec = engine.CampaignSpec.from_dict(
        {
            "name": "copy",
            "audience_id": audience["audience_id"],
            "channels": ["in_app"],
            "body": written["body"],
        }
    )
    made = engine.create(world, spec, actor="t")
    assert made["spec"]["body"] == written["body"]
    with pytest.raises(ValidationFailed) as bad:
        message_from_copy(world, pid, ["fax"])
    assert bad.value.field == "channels"
    draft = {"name": "x", "audience_id": audience["audience_id"], "channels": ["email"], "subject": "mine"}
    filled = fill_message(world, draft, pid)
    assert filled["subject"] == "mine" and filled["body"]  # given text kept, the rest written
    with pytest.raises(ValidationFailed) as bad:
        fill_message(world, draft, None)
    assert bad.value.field == "body"


def test_apparel_points_come_from_the_rated_english_reviews(data_home: Path) -> None:
    from liveloop.content import apparel
    from liveloop.content.selling import category_points

    rated = apparel.reviews()
    got = category_points("apparel")
    assert got is not None and got["selling_points"] and got["pain_points"]
    texts = " ".join(rated["text"].tolist())
    for p in got["selling_points"][:3]:
        assert p["quotes"] and all(q in texts for q in p["quotes"])
        assert all(apparel.PRAISE.search(q) and not apparel.COMPLAINT.search(q) for q in p["quotes"])
    for p in got["pain_points"][:3]:
        assert all(apparel.COMPLAINT.search(q) for q in p["quotes"])
    # counts are reviews whose stars agree: a selling point is never counted from a 1–2 star review
    assert max(p["count"] for p in got["selling_points"]) <= int((rated["polarity"] == "positive").sum())
