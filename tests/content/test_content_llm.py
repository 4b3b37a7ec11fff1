"""The language-model backend against a real local server speaking the OpenAI chat API, and fact_check.

The server's behaviour is chosen by the ``model`` of each request: ``ok`` echoes the user message,
``slow`` answers after the client has given up, ``flaky`` fails once with 500, ``busy`` always answers
429, ``bad``/``garbage``/``empty`` answer malformed bodies, ``auth`` wants the right bearer key.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fake_model import completion, serve
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from liveloop.content.llm import CLAIM_TERMS, ChatClient, LLMConfig, LLMError, build_prompt, fact_check

TIMEOUT_S = 5.0  # generous: only the slow test must time out, and it sets its own
SHORT_TIMEOUT_S = 0.3
SLOW_S = 1.0  # longer than SHORT_TIMEOUT_S
API_KEY = "sk-test-right-key"


@dataclass
class FakeModelServer:
    base_url: str
    calls: Counter[str] = field(default_factory=Counter)
    auth_headers: list[str | None] = field(default_factory=list)


def _app(state: FakeModelServer) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        model = body["model"]
        state.calls[model] += 1
        state.auth_headers.append(request.headers.get("authorization"))
        user = body["messages"][-1]["content"]
        if model == "slow":
            await asyncio.sleep(SLOW_S)
        elif model == "flaky" and state.calls[model] == 1:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        elif model == "busy":
            return JSONResponse({"error": {"message": "rate limited"}}, status_code=429)
        elif model == "bad":
            return JSONResponse({"id": "chatcmpl-test", "choices": []})
        elif model == "garbage":
            return PlainTextResponse("{not json", media_type="application/json")
        elif model == "empty":
            return JSONResponse(completion("   "))
        elif model == "auth" and request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
        return JSONResponse(completion(f"echo: {user} ({body['max_tokens']} tokens)"))

    return app


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeModelServer]:
    """The fake model server for the whole module."""
    state = FakeModelServer(base_url="")
    with serve(_app(state)) as url:
        state.base_url = url
        yield state


@pytest.fixture
def fake(model_server: FakeModelServer) -> FakeModelServer:
    """The shared server with its call counts cleared for this test."""
    model_server.calls.clear()
    model_server.auth_headers.clear()
    return model_server


def _client(fake: FakeModelServer, model: str, timeout_s: float = TIMEOUT_S, **kw: Any) -> ChatClient:
    return ChatClient(LLMConfig(base_url=fake.base_url, model=model, timeout_s=timeout_s, **kw))


# --- client -----------------------------------------------------------------------------------------


def test_happy_path_returns_the_content(fake: FakeModelServer) -> None:
    with _client(fake, "ok") as client:
        reply = client.complete("system", "新品上架", max_tokens=50)
    assert reply == "echo: 新品上架 (50 tokens)"
    assert fake.calls == {"ok": 1}
    assert fake.auth_headers == [None]  # no key configured: no Authorization header


def test_slow_server_times_out_after_every_try(fake: FakeModelServer) -> None:
    with _client(fake, "slow", SHORT_TIMEOUT_S, retries=2) as client, pytest.raises(LLMError) as err:
        client.complete("system", "hi")
    assert err.value.reason == "timed out after 3 tries"
    assert fake.calls["slow"] == 3


def test_flaky_server_recovers_on_retry(fake: FakeModelServer) -> None:
    with _client(fake, "flaky") as client:
        assert client.complete("system", "hi") == "echo: hi (400 tokens)"
    assert fake.calls["flaky"] == 2


def test_429_is_retried_then_reported(fake: FakeModelServer) -> None:
    with _client(fake, "busy", retries=1) as client, pytest.raises(LLMError) as err:
        client.complete("system", "hi")
    assert err.value.reason == "HTTP 429 from the model server after 2 tries"
    assert fake.calls["busy"] == 2


def test_401_is_not_retried(fake: FakeModelServer) -> None:
    with _client(fake, "auth", api_key="sk-wrong") as client, pytest.raises(LLMError) as err:
        client.complete("system", "hi")
    assert err.value.reason == "HTTP 401 from the model server"
    assert fake.calls["auth"] == 1


def test_right_key_is_sent_as_bearer(fake: FakeModelServer) -> None:
    with _client(fake, "auth", api_key=API_KEY) as client:
        assert client.complete("system", "hi").startswith("echo: hi")
    assert fake.auth_headers == [f"Bearer {API_KEY}"]


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("bad", "malformed response: no choices"),
        ("garbage", "malformed response: not JSON"),
        ("empty", "malformed response: empty content"),
    ],
)
def test_malformed_response_is_an_error(fake: FakeModelServer, model: str, reason: str) -> None:
    with _client(fake, model) as client, pytest.raises(LLMError) as err:
        client.complete("system", "hi")
    assert err.value.reason == reason
    assert fake.calls[model] == 1


def test_unreachable_server_is_reported_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        config = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="ok", timeout_s=TIMEOUT_S, retries=1)
        with ChatClient(config) as client, pytest.raises(LLMError) as err:
            client.complete("system", "hi")
    assert err.value.reason == "could not reach the model server after 2 tries"


# --- configuration ----------------------------------------------------------------------------------


def test_from_env_unset_is_none() -> None:
    assert LLMConfig.from_env({}) is None
    assert LLMConfig.from_env({"LIVELOOP_LLM_URL": "http://127.0.0.1:8000/v1"}) is None
    assert LLMConfig.from_env({"LIVELOOP_LLM_MODEL": "qwen2.5-7b-instruct"}) is None


def test_from_env_reads_every_variable_and_hides_the_key() -> None:
    config = LLMConfig.from_env(
        {
            "LIVELOOP_LLM_URL": "http://127.0.0.1:8000/v1",
            "LIVELOOP_LLM_MODEL": "qwen2.5-7b-instruct",
            "LIVELOOP_LLM_API_KEY": "sk-secret-123",
            "LIVELOOP_LLM_TIMEOUT_S": "2.5",
            "LIVELOOP_LLM_RETRIES": "1",
        }
    )
    assert config == LLMConfig("http://127.0.0.1:8000/v1", "qwen2.5-7b-instruct", "sk-secret-123", 2.5, 1)
    assert "sk-secret-123" not in repr(config)
    assert "sk-secret-123" not in repr(ChatClient(config))


@pytest.mark.parametrize(
    ("name", "value"),
    [("LIVELOOP_LLM_TIMEOUT_S", "soon"), ("LIVELOOP_LLM_TIMEOUT_S", "-1"), ("LIVELOOP_LLM_RETRIES", "2.5")],
)
def test_from_env_bad_number_names_the_variable(name: str, value: str) -> None:
    env = {"LIVELOOP_LLM_URL": "http://127.0.0.1:8000/v1", "LIVELOOP_LLM_MODEL": "m", name: value}
    with pytest.raises(LLMError) as err:
        LLMConfig.from_env(env)
    assert name in err.value.reason
    assert value in err.value.reason


# --- fact check -------------------------------------------------------------------------------------

FACTS = "玉兰油精华水 150ml，到手价 99 元，第二件 5 折，保湿补水，满 200 减 30，不包邮"


def test_fact_check_passes_supported_copy() -> None:
    assert fact_check("玉兰油精华水到手价99元，第二件5折，保湿补水！", FACTS) == []


def test_fact_check_reports_an_invented_number_and_claim() -> None:
    assert fact_check("到手价59元，美白又保湿", FACTS) == [
        "number 59 is not in the facts",
        "claim 美白 is not in the facts",
    ]


@pytest.mark.parametrize("price", ["99", "99.00", "¥99", "￥99", "99元", "９９元", "９９．００"])
def test_fact_check_compares_numbers_by_value(price: str) -> None:
    assert fact_check(f"到手价{price}", FACTS) == []
    assert fact_check(f"到手价{price}", "到手价 98 元") != []


def test_fact_check_normalises_full_width_digits_in_the_facts() -> None:
    assert fact_check("直降50%", "直降５０％") == []
    assert fact_check("直降60%", "直降５０％") == ["number 60 is not in the facts"]


def test_fact_check_negated_claim_is_not_the_claim() -> None:
    assert fact_check("不包邮", FACTS) == []
    assert fact_check("全国包邮", FACTS) == ["claim 包邮 is not in the facts"]


def test_fact_check_english_claims_and_chinese_numerals() -> None:
    assert fact_check("Organic, free shipping", "organic tea") == ["claim free shipping is not in the facts"]
    assert fact_check("三件八折", "3件8折") == []
    assert fact_check("三件七折", "3件8折") == ["number 七 is not in the facts"]


def test_claim_terms_cover_both_languages() -> None:
    assert 40 <= len(CLAIM_TERMS) <= 80
    assert len(set(CLAIM_TERMS)) == len(CLAIM_TERMS)
    assert {"美白", "包邮", "7天无理由", "whitening", "free shipping"} <= set(CLAIM_TERMS)


# --- prompt -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "marker"), [("zh", "只使用"), ("en", "ONLY")])
def test_build_prompt_holds_the_facts_and_the_limit(language: str, marker: str) -> None:
    system, user = build_prompt("push line of at most 40 characters", FACTS, language)
    assert FACTS in user
    assert "at most 40 characters" in user
    assert marker in system
    assert "第一" in system  # absolute terms are named as forbidden


def test_build_prompt_refuses_unknown_language_and_empty_facts() -> None:
    with pytest.raises(LLMError):
        build_prompt("push line", FACTS, "fr")
    with pytest.raises(LLMError):
        build_prompt("push line", "  ")
