"""An optional language-model backend for marketing copy, over the OpenAI-compatible chat API.

Any server that answers ``POST {base_url}/chat/completions`` works: vLLM, Ollama, the llama.cpp
server, hosted Qwen or DeepSeek. Nothing here is required: without ``LIVELOOP_LLM_URL`` and
``LIVELOOP_LLM_MODEL``, :meth:`LLMConfig.from_env` returns ``None`` and callers keep their templates.
What a model writes is never trusted: :func:`fact_check` lists every number and claim in it that the
facts given to the model do not support, and the compliance checker still runs on it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from liveloop.core.errors import LiveloopError

log = logging.getLogger(__name__)

#: First pause between tries, doubled each time and capped (seconds).
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 2.0
#: A larger response body is refused (a chat completion of a few hundred tokens is a few KiB).
MAX_RESPONSE_BYTES = 1 << 20


class LLMError(LiveloopError):
    """The language-model backend failed or is misconfigured; ``reason`` says how, in a few words."""

    status, title, type_slug = 502, "Language-model backend failed", "llm-backend"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LLMConfig:
    """Where the model server is and how long to wait for it (the API key never appears in a repr)."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    retries: int = 2

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise LLMError(f"base URL {self.base_url!r} must start with http:// or https://")
        if not self.model.strip():
            raise LLMError("model name is empty")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise LLMError(f"timeout must be a positive number of seconds, got {self.timeout_s!r}")
        if self.retries < 0:
            raise LLMError(f"retries must be 0 or more, got {self.retries!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMConfig | None:
        """The configuration in ``LIVELOOP_LLM_*`` variables, or ``None`` when URL or model is unset."""
        env = os.environ if env is None else env
        url = env.get("LIVELOOP_LLM_URL", "").strip()
        model = env.get("LIVELOOP_LLM_MODEL", "").strip()
        if not url or not model:
            return None
        timeout_s = _env_number(env, "LIVELOOP_LLM_TIMEOUT_S", 10.0, float)
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise LLMError(f"LIVELOOP_LLM_TIMEOUT_S must be a positive number of seconds, got {timeout_s!r}")
        retries = _env_number(env, "LIVELOOP_LLM_RETRIES", 2, int)
        if not 0 <= retries <= 10:
            raise LLMError(f"LIVELOOP_LLM_RETRIES must be a whole number from 0 to 10, got {retries!r}")
        api_key = env.get("LIVELOOP_LLM_API_KEY", "").strip() or None
        return cls(base_url=url, model=model, api_key=api_key, timeout_s=timeout_s, retries=retries)


def _env_number(env: Mapping[str, str], name: str, default: Any, kind: Callable[[str], Any]) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise LLMError(f"{name} must be {what}, got {raw!r}") from None


def _tries(n: int) -> str:
    return f"{n} {'try' if n == 1 else 'tries'}"


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_BASE_S * 2**attempt, BACKOFF_CAP_S))


_THINK = re.compile(r"^\s*<think>.*?</think>", re.S)


class ChatClient:
    """A blocking client for one model; retries timeouts, connection errors, 429 and 5xx."""

    def __init__(self, config: LLMConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._http = httpx.Client(headers=headers, transport=transport, follow_redirects=False)

    def close(self) -> None:
        """Close the connection pool (the client is also a context manager)."""
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ChatClient({self.config!r})"

    def complete(self, system: str, user: str, *, max_tokens: int = 400, temperature: float = 0.7) -> str:
        """The model's reply to one system and one user message (stripped, never empty).

        One call takes at most about ``(retries + 1) * timeout_s`` plus the pauses between tries.
        """
        if max_tokens < 1:
            raise LLMError(f"max_tokens must be at least 1, got {max_tokens!r}")
        if not 0 <= temperature <= 2:
            raise LLMError(f"temperature must be between 0 and 2, got {temperature!r}")
        cfg = self.config
        payload = {
            "model": cfg.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": False,
        }
        budget = (cfg.retries + 1) * cfg.timeout_s + sum(_backoff(n) for n in range(cfg.retries))
        deadline = time.monotonic() + budget
        failure = "no try was made"
        tries = 0
        for attempt in range(cfg.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tries += 1
            try:
                status, body = self._post(payload, min(cfg.timeout_s, remaining), deadline)
            except httpx.UnsupportedProtocol:
                raise LLMError(f"unsupported base URL {cfg.base_url!r}") from None
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.TransportError as exc:
                failure = "could not reach the model server"
                log.debug("model server %s: %s", cfg.base_url, type(exc).__name__)
            else:
                if 200 <= status < 300:
                    return _content(body)
                if status != 429 and status < 500:
                    raise LLMError(f"HTTP {status} from the model server")
                failure = f"HTTP {status} from the model server"
            log.info("model server %s try %d: %s", cfg.base_url, tries, failure)
            if attempt < cfg.retries:
                pause = min(_backoff(attempt), deadline - time.monotonic())
                if pause > 0:
                    time.sleep(pause)
        raise LLMError(f"{failure} after {_tries(tries)}")

    def _post(self, payload: dict[str, Any], timeout_s: float, deadline: float) -> tuple[int, bytes]:
        request = self._http.build_request("POST", self._url, json=payload, timeout=timeout_s)
        response = self._http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise LLMError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("deadline passed while reading the response", request=request)
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
        finally:
            response.close()


def _content(body: bytes) -> str:
    """``choices[0].message.content`` of a completion, or an LLMError naming what is missing."""
    try:
        data = json.loads(body)
    except ValueError:
        raise LLMError("malformed response: not JSON") from None
    if not isinstance(data, dict):
        raise LLMError("malformed response: not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise LLMError("malformed response: no choices")
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise LLMError("malformed response: no message in the first choice")
    content = message.get("content")
    if not isinstance(content, str):
        raise LLMError("malformed response: message content is not text")
    content = _THINK.sub("", content).strip()
    if not content:
        raise LLMError("malformed response: empty content")
    return content


# --- Fact check -----------------------------------------------------------------------------------------

#: Claims a marketer (or a model) could invent: each one in a text must also be in its facts.
CLAIM_TERMS: tuple[str, ...] = (
    # efficacy
    "美白",
    "祛斑",
    "淡斑",
    "抗皱",
    "防晒",
    "保湿",
    "补水",
    "控油",
    "修复",
    "舒缓",
    "抗衰",
    "紧致",
    "去屑",
    "防脱",
    "生发",
    "祛痘",
    "减肥",
    "瘦身",
    "排毒",
    "助眠",
    "增强免疫",
    # composition and origin
    "低糖",
    "无糖",
    "低脂",
    "零脂",
    "无添加",
    "有机",
    "天然",
    "纯天然",
    "进口",
    "原装",
    "正品",
    "专利",
    "认证",
    # offer and service
    "包邮",
    "赠品",
    "赠送",
    "买一送一",
    "第二件半价",
    "满减",
    "优惠券",
    "限量",
    "限时",
    "秒杀",
    "7天无理由",
    "退换",
    "退货",
    "保修",
    "质保",
    "假一赔",
    "运费险",
    # English
    "whitening",
    "anti-aging",
    "anti-wrinkle",
    "moisturizing",
    "SPF",
    "organic",
    "natural",
    "imported",
    "authentic",
    "sugar-free",
    "low-fat",
    "free shipping",
    "gift",
    "buy one get one",
    "limited",
    "refund",
    "warranty",
    "guarantee",
)

_WIDE = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "％": "%", "￥": "¥"})
_NEGATION = ("不是", "并非", "没有", "不", "非", "无", "未", "not ", "no ", "non-")
_ARABIC = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(万|亿|[wWkK](?![A-Za-z])))?")
_MULTIPLIER = {"万": 10**4, "亿": 10**8, "w": 10**4, "W": 10**4, "k": 10**3, "K": 10**3}
_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
#: A Chinese numeral counts as a number only when a unit follows (三件, 五折), and a lone 一 never does.
_CHINESE = re.compile(
    r"(?<![\d.])([零一二两三四五六七八九十百千万]+)(?=折|元|块|件|倍|天|周|年|个月|小时|分钟|瓶|盒|支|片|袋|包|克|斤|毫升|人|份|次)"
)


def _claim_pattern(term: str) -> re.Pattern[str]:
    if term.isascii():
        return re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?:s|es)?(?![A-Za-z])", re.I)
    return re.compile(re.escape(term))


_CLAIMS = [(term, _claim_pattern(term)) for term in CLAIM_TERMS]


def _chinese_value(numeral: str) -> int:
    total = section = digit = 0
    for ch in numeral:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        else:  # 万
            total += (section + digit or 1) * 10**4
            section = digit = 0
    return total + section + digit


def _numbers(text: str) -> list[tuple[int, str, Decimal]]:
    """(position, literal, value) of every number in ``text`` (already width-normalised)."""
    found: list[tuple[int, str, Decimal]] = []
    for m in _ARABIC.finditer(text):
        try:
            value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        except InvalidOperation:  # pragma: no cover - the pattern only matches digits
            continue
        if m.group(3):
            value *= _MULTIPLIER[m.group(3)]
        found.append((m.start(), m.group(0).replace(" ", ""), value))
    for m in _CHINESE.finditer(text):
        if m.group(1) != "一":
            found.append((m.start(), m.group(1), Decimal(_chinese_value(m.group(1)))))
    return found


def _claims(text: str) -> list[tuple[int, str, bool]]:
    """(position, term, negated) of every claim term in ``text``; 不包邮 is the negated 包邮."""
    found = []
    for term, pattern in _CLAIMS:
        for m in pattern.finditer(text):
            before = text[: m.start()].lower()
            found.append((m.start(), term, before.endswith(_NEGATION)))
    return found


def fact_check(text: str, facts: str) -> list[str]:
    """The numbers and claims in ``text`` that ``facts`` does not support, in the order they appear.

    Numbers compare by value whatever their dress (99 == 99.00 == ¥99 == ９９元, 3万 == 30000); a claim
    term (:data:`CLAIM_TERMS`) must be in the facts with the same polarity (包邮 is not 不包邮).
    """
    text, facts = text.translate(_WIDE), facts.translate(_WIDE)
    known_numbers = {value for _, _, value in _numbers(facts)}
    known_claims = {(term, negated) for _, term, negated in _claims(facts)}
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for pos, literal, value in _numbers(text):
        message = f"number {literal} is not in the facts"
        if value not in known_numbers and message not in seen:
            seen.add(message)
            problems.append((pos, message))
    for pos, term, negated in _claims(text):
        shown = (("not " if term.isascii() else "不") + term) if negated else term
        message = f"claim {shown} is not in the facts"
        if (term, negated) not in known_claims and message not in seen:
            seen.add(message)
            problems.append((pos, message))
    return [message for _, message in sorted(problems, key=lambda p: p[0])]


# --- Prompt ---------------------------------------------------------------------------------------------

_SYSTEM = {
    "zh": (
        "你是直播电商的营销文案助手。只使用用户给出的事实写文案："
        "不得出现事实中没有的数字、价格、折扣、功效或承诺（如包邮、赠品、限时、正品）；"
        "不得使用绝对化用语（最、第一、国家级、顶级、唯一、100% 等）；不得编造用户评价或销量。"
        "用简体中文写。只输出文案本身，不要解释，不要加引号。"
    ),
    "en": (
        "You write marketing copy for live-stream e-commerce. Use ONLY the facts the user gives: "
        "no number, price, discount, effect or promise (free shipping, gift, limited time, authentic) "
        "that is not in the facts; no absolute terms (best, No. 1, top, only, 100%, 最, 第一, 国家级); "
        "no invented reviews or sales figures. Write in English. Output the copy only: no explanation, "
        "no quotation marks."
    ),
}
_USER = {
    "zh": "任务：{task}\n\n事实（只能使用这些）：\n{facts}",
    "en": "Task: {task}\n\nFacts (use only these):\n{facts}",
}


def build_prompt(task: str, facts: str, language: str = "zh") -> tuple[str, str]:
    """The (system, user) messages asking for copy for ``task`` from ``facts`` alone, in zh or en."""
    if language not in _SYSTEM:
        raise LLMError(f"unsupported language {language!r}: use 'zh' or 'en'")
    if not task.strip():
        raise LLMError("the task is empty")
    if not facts.strip():
        raise LLMError("no facts given: the model may only use facts, so it has nothing to write from")
    return _SYSTEM[language], _USER[language].format(task=task.strip(), facts=facts.strip())
