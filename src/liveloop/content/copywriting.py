"""Copy per channel: product titles, push lines, SMS, e-mail, social posts and live-preview invitations.

Templates are filled with the product's facts, its mined selling points and the audience's persona;
several variants per message so a campaign can test them. Each channel has a length limit (push ≤ 40
characters; SMS ≤ 70 with the signature and the unsubscribe text). Where a language model is configured
(``LIVELOOP_LLM_URL`` and ``LIVELOOP_LLM_MODEL``), it writes one more variant from the same facts; its
text is used only if every number and claim is in the facts, it fits the limit and it passes the gate —
otherwise the reason is reported and the templates stand. Every variant passes the compliance gate with
the product's facts; a blocked one is never returned as usable, only listed with its reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from liveloop.content.compliance import ComplianceChecker, default_checker
from liveloop.content.facts import ProductFacts, one_product
from liveloop.content.llm import ChatClient, LLMConfig, LLMError, build_prompt, fact_check
from liveloop.content.mining import aspect_label
from liveloop.content.personas import ARCHETYPE_ALIASES, EMPHASIS, PRICE_LED, TALKING_POINTS, persona_key
from liveloop.content.selling import product_points
from liveloop.core.clock import utcnow
from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

CHANNELS = ("title", "push", "sms", "email", "social", "preview")
#: Length limits in characters (SMS: the whole message, signature and unsubscribe text included).
LIMITS = {"title": 30, "push": 40, "sms": 70, "email": 40, "social": 300, "preview": 60}
EMAIL_BODY_LIMIT = 1000
SMS_OPT_OUT = {"zh": "回T退订", "en": "Reply T to opt out"}
MAX_VARIANTS = 5
_CUT = re.compile(r"[\s,，;；/|｜]+")


def short_name(f: ProductFacts, lang: str, limit: int) -> str:
    """The product's name cut to ``limit`` characters at a word boundary where one is near."""
    name = f.name(lang).strip()
    if len(name) <= limit:
        return name
    parts = _CUT.split(name)
    out = ""
    for part in parts:
        nxt = f"{out} {part}".strip() if lang == "en" else out + part
        if len(nxt) > limit:
            break
        out = nxt
    return out or name[:limit]


def _hook(persona: str | None, lang: str) -> str:
    key = persona_key(persona) if persona else "mainstream"
    zh, en = {
        True: ("好价提醒", "Good price"),
        False: ("为你推荐", "Picked for you"),
    }[key in PRICE_LED]
    if key in ("premium", "high_value", "high_value_loyal"):
        zh, en = "品质之选", "Quality pick"
    elif key == "new_customers":
        zh, en = "新人看过来", "New here?"
    return en if lang == "en" else zh


def _points(points: dict[str, Any], persona: str | None) -> list[dict[str, Any]]:
    stress = EMPHASIS.get(persona_key(persona) if persona else "mainstream", ())
    usable = [p for p in points.get("selling_points", []) if p["quote_verdict"] == "pass"]
    return sorted(usable, key=lambda p: (p["aspect"] not in stress, -p["count"]))


def _phrase(p: dict[str, Any], lang: str) -> str:
    if lang == "en":
        return f"buyers praise its {aspect_label(p['aspect'], 'en')}"
    term = p["terms"][0] if p.get("terms") else p["aspect"]
    return f"买家说{term}"


def _price(f: ProductFacts, lang: str) -> str:
    if f.price is None:
        return ""
    return f"{f.price:g} yuan" if lang == "en" else f"¥{f.price:g}"


def _upcoming(wh: Warehouse, product_id: str, now: datetime) -> dict[str, Any] | None:
    rows = wh.sql(
        "SELECT s.session_id, s.title, coalesce(h.name, s.host_id), s.start_ts FROM live_sessions s "
        "LEFT JOIN hosts h USING (host_id) WHERE list_contains(s.lineup, ?) AND s.start_ts > ? "
        "ORDER BY s.start_ts LIMIT 1",
        [product_id, now],
    )
    if not rows:
        return None
    sid, title, host, start = rows[0]
    return {"session_id": str(sid), "title": str(title), "host": str(host), "start": start}


def _templates(
    channel: str, f: ProductFacts, phrases: list[str], persona: str | None, lang: str, extra: dict[str, Any]
) -> list[dict[str, str]]:
    """Candidate texts for a channel (``text``; for e-mail ``subject`` and ``body``), longest name first;
    :func:`_fit` shortens the name until the limit holds."""
    en = lang == "en"
    price, hook = _price(f, lang), _hook(persona, lang)
    first = phrases[0] if phrases else ""
    second = phrases[1] if len(phrases) > 1 else ""
    sep = ", " if en else "，"
    if channel == "title":
        cat = f.category_name(lang)
        return [
            {"text": "{name}"},
            {"text": f"{{name}} {cat}".strip()},
            {"text": f"{f.brand or ''} {{name}}".strip()},
        ]
    if channel == "push":
        out = [{"text": f"{hook}: {{name}} {price}" if en else f"{hook}：{{name}} {price}"}]
        if first:  # for a persona its hook leads; otherwise what buyers say
            out.insert(
                1 if persona else 0,
                {"text": f"{{name}} | {first}, {price}" if en else f"{{name}}｜{first}，{price}"},
            )
            out.append({"text": f"{{name}}: {first}" if en else f"{{name}}：{first}"})
        return out
    if channel == "sms":
        sig, opt_out = extra["signature"], SMS_OPT_OUT["en" if en else "zh"]
        bodies = [f"{{name}} {price}. "] if en else [f"{{name}}，{price}。"]
        if first:
            bodies.insert(0, f"{{name}}: {first}, {price}. " if en else f"{{name}}，{first}，{price}。")
        bodies.append(f"{hook}: {{name}}. " if en else f"{hook}：{{name}}。")
        return [{"text": f"【{sig}】{b}{opt_out}"} for b in bodies]
    if channel == "email":
        lines = [f"{{name}}{sep}{price}" if price else "{name}"] + [p for p in (first, second) if p]
        body = ("Hello,\n\n" if en else "亲，\n\n") + "\n".join(f"· {x}" for x in lines)
        subjects = [f"{hook}: {{name}}" if en else f"{hook}：{{name}}"]
        if first:
            subjects.append(f"{{name}}: {first}" if en else f"{{name}}｜{first}")
        return [{"subject": s, "text": s, "body": body} for s in subjects]
    if channel == "social":
        tags = " ".join(f"#{t}" for t in (f.brand, f.category_name(lang)) if t)
        text = "\n".join(x for x in ("{name}", first, second, price, tags) if x)
        return [
            {"text": text},
            {"text": "\n".join(x for x in (f"{hook}{'!' if en else '！'}{{name}}", first, tags) if x)},
        ]
    if channel == "preview":
        up, mid = extra.get("upcoming"), f"{sep}{first}" if first else ""
        if up:
            when, host = up["when"], up["host"]
            texts = (
                [
                    f"{when}, {host} live: {{name}}{mid}. Set a reminder",
                    f"{when} live: {{name}} {price}. Set a reminder",
                ]
                if en
                else [
                    f"{when}{host}直播间上架{{name}}{mid}，记得预约",
                    f"{when}直播：{{name}} {price}，记得预约",
                ]
            )
        else:
            texts = (
                [f"{{name}} is coming to our live room{mid}. Follow us", "{name}: live soon. Follow us"]
                if en
                else [f"{{name}}即将在直播间上架{mid}，关注直播间不错过", "{name}即将开播，关注直播间"]
            )
        return [{"text": t} for t in texts]
    raise ValidationFailed(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}", field="channel")


def _fit(template: dict[str, str], f: ProductFacts, lang: str, limit: int) -> dict[str, str] | None:
    """The template with the longest name that keeps ``text`` within ``limit``; None when none fits."""
    overhead = len(template["text"].replace("{name}", ""))
    room = limit - overhead
    if room < 4:
        return None
    name = short_name(f, lang, room)
    out = {k: v.replace("{name}", name) for k, v in template.items()}
    return out if len(out["text"]) <= limit else None


def _llm_variant(
    client: ChatClient,
    channel: str,
    f: ProductFacts,
    lang: str,
    persona: str | None,
    limit: int,
    facts_text: str,
    checker: ComplianceChecker,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    task = f"{channel} copy for {f.name(lang)}, at most {limit} characters" + (
        f", for viewers who are {persona}: {TALKING_POINTS[persona_key(persona)]}" if persona else ""
    )
    system, user = build_prompt(task, facts_text, lang)
    try:
        text = client.complete(system, user, max_tokens=200, temperature=0.7).strip()
    except LLMError as exc:
        return None, _note(
            f"language model unavailable: {exc.reason}; templates used", "语言模型不可用，已用模板"
        )
    problems = fact_check(text, facts_text)
    if problems:
        why = "; ".join(problems[:3])
        return None, _note(
            f"language-model text failed the fact check ({why}); templates used",
            "语言模型的文案有事实中没有的数字或宣称，已用模板",
        )
    if len(text) > limit:
        return None, _note(
            f"language-model text is {len(text)} characters, over the {limit} limit; templates used",
            f"语言模型的文案 {len(text)} 字，超过 {limit} 字限制，已用模板",
        )
    result = checker.check(text, f.claim_facts())
    if result.verdict == "block":
        return None, _note(
            f"language-model text failed the compliance gate ({result.reason}); templates used",
            f"语言模型的文案未通过合规检查（{result.reason_zh}），已用模板",
        )
    return _variant({"text": text}, result, "llm"), _note(
        "language-model variant added", "已加入语言模型写的文案"
    )


def _note(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


def _variant(fields: dict[str, str], result: Any, source: str) -> dict[str, Any]:
    return {
        **fields,
        "length": len(fields["text"]),
        "verdict": result.verdict,
        "findings": [h.to_dict() for h in result.hits],
        "source": source,
    }


def product_copy(
    wh: Warehouse,
    product_id: str,
    channel: str,
    *,
    persona: str | None = None,
    lang: str = "zh",
    variants: int = 3,
    signature: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    client: ChatClient | None = None,
) -> dict[str, Any]:
    """Up to ``variants`` pieces of copy for ``product_id`` on ``channel``, each with its gate verdict."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}", field="channel")
    if lang not in ("zh", "en"):
        raise ValidationFailed(f"unknown language {lang!r}; use zh or en", field="lang")
    if persona is not None and persona not in TALKING_POINTS and persona not in ARCHETYPE_ALIASES:
        known = ", ".join(sorted(TALKING_POINTS))
        raise ValidationFailed(f"unknown persona {persona!r}; known: {known}", field="persona")
    if not 1 <= variants <= MAX_VARIANTS:
        raise ValidationFailed(f"variants must be 1 to {MAX_VARIANTS}", field="variants")
    settings = settings or get_settings()
    now = now or utcnow()
    f = one_product(wh, product_id, now=now)
    checker = default_checker(settings)
    notes: list[dict[str, str]] = []
    if not f.attributes and f.price is None:
        notes.append(
            _note(
                "the product has no attributes or price: copy names it only",
                "商品没有属性和价格：文案只写商品名",
            )
        )
    points = product_points(wh, {product_id: f}, checker, settings)[product_id]
    chosen = _points(points, persona)
    if not chosen:
        notes.append(
            _note(
                "no review or comment points for this product or its category: copy without them",
                "该商品及其类目没有可引用的评价或评论：文案不含卖点",
            )
        )
    phrases = [_phrase(p, lang) for p in chosen[:2]]
    extra: dict[str, Any] = {"signature": signature or f.brand or "liveloop"}
    if channel == "preview":
        up = _upcoming(wh, product_id, now)
        if up is None:
            notes.append(
                _note(
                    "no upcoming session features this product: the invitation names no time",
                    "没有即将开播的场次包含该商品：邀请不写时间",
                )
            )
        else:
            from zoneinfo import ZoneInfo

            local = up["start"].astimezone(ZoneInfo(settings.timezone))
            up["when"] = local.strftime("%m-%d %H:%M") if lang == "en" else local.strftime("%m月%d日%H:%M")
            extra["upcoming"] = up
    limit = LIMITS[channel]
    out: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for template in _templates(channel, f, phrases, persona, lang, extra):
        fitted = _fit(template, f, lang, limit)
        if fitted is None:
            rejected.append(
                {
                    "text": template["text"],
                    "reason": f"does not fit {limit} characters",
                    "reason_zh": f"超过 {limit} 字的限制",
                }
            )
            continue
        if channel == "email" and len(fitted["body"]) > EMAIL_BODY_LIMIT:
            fitted["body"] = fitted["body"][:EMAIL_BODY_LIMIT]
        whole = fitted["text"] + ("\n" + fitted["body"] if "body" in fitted else "")
        result = checker.check(whole, f.claim_facts())
        if result.verdict == "block":
            rejected.append(
                {
                    "text": fitted["text"],
                    "reason": result.reason,
                    "reason_zh": result.reason_zh,
                    "findings": [h.to_dict() for h in result.hits],
                }
            )
        elif all(v["text"] != fitted["text"] for v in out):
            out.append(_variant(fitted, result, "template"))
    llm_note = _note(
        "no language model configured (LIVELOOP_LLM_URL, LIVELOOP_LLM_MODEL): templates only",
        "未配置语言模型：只用模板",
    )
    config = None if client is not None else LLMConfig.from_env()
    if client is not None or config is not None:
        facts_text = "\n".join(f.lines(lang) + [str(p) for p in phrases])
        owned = client or ChatClient(config)  # type: ignore[arg-type]
        try:
            variant, llm_note = _llm_variant(owned, channel, f, lang, persona, limit, facts_text, checker)
        finally:
            if client is None:
                owned.close()
        if variant is not None:
            if channel == "email":
                variant["subject"] = variant["text"]
                variant["body"] = out[0]["body"] if out else variant["text"]
            out.insert(0, variant)
    return {
        "product_id": product_id,
        "channel": channel,
        "lang": lang,
        "persona": persona,
        "limit": limit,
        "variants": out[:variants],
        "rejected": rejected,
        "notes": notes,
        "language_model": llm_note,
        "points": [
            {"aspect": p["aspect"], "label_en": p["label_en"], "count": p["count"], "quotes": p["quotes"]}
            for p in chosen[:3]
        ],
        "facts": f.to_dict(),
    }
