"""Live scripts: tonight's session, written for the audience it is expected to draw.

For a session's lineup: the expected viewers (:func:`liveloop.recommend.live_rooms.expected_viewers`)
and their personas; a product order that puts the products the audience wants most (category interest,
recent sales), with stock and margin, into the slots the host's past sessions drew the most viewers in;
per product the price, the points to stress for the dominant personas (real customers' words), the pain
points to address, and the questions past sessions asked most about it; when to run the lottery and
remind about coupons; an opening and a closing. Every line is bilingual and passes the compliance gate
with the product's facts — a blocked line is left out and listed with its reason.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from liveloop.content.compliance import ComplianceChecker, default_checker
from liveloop.content.facts import ProductFacts, product_facts
from liveloop.content.mining import aspect_label
from liveloop.content.personas import TALKING_POINTS, emphasis, persona_key, personas_of, price_led
from liveloop.content.selling import product_points
from liveloop.core.clock import utcnow
from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.recommend.live_rooms import expected_viewers
from liveloop.warehouse import Warehouse

AUDIENCE_SIZE = 500
LOW_STOCK = 20
DEMAND_DAYS = 30
HISTORY_SESSIONS = 20
#: What to say in advance about a pain point (zhijiang aspect -> zh, en).
PAIN_ADVICE: dict[str, tuple[str, str]] = {
    "物流": ("说清发货时间和快递", "say when it ships and with which carrier"),
    "包装": ("说明包装方式", "explain how it is packed"),
    "价格": ("讲清到手价怎么算", "explain how the final price is reached"),
    "真伪": ("出示品牌授权和正品保障", "show the brand authorisation and authenticity guarantee"),
    "服务": ("说明售后和退换流程", "explain after-sales and returns"),
    "气味": ("如实描述气味", "describe the scent honestly"),
    "功效": ("如实讲使用感受，不承诺效果", "describe how it feels honestly, promise no result"),
    "使用体验": ("现场演示用法", "demonstrate how to use it"),
    "尺寸": ("报清规格尺码", "give the exact size"),
    "新鲜度": ("说明保质期和生产日期", "state the shelf life and production date"),
}


@dataclass
class Line:
    """One thing the host says (or a note for the host), in both languages, with its gate verdict."""

    kind: str
    zh: str
    en: str
    source: str = "template"
    verdict: str = "pass"
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "zh": self.zh,
            "en": self.en,
            "source": self.source,
            "verdict": self.verdict,
            "findings": self.findings,
        }


@dataclass
class Gate:
    """Checks lines against the compliance gate and keeps what it blocked."""

    checker: ComplianceChecker
    blocked: list[dict[str, Any]] = field(default_factory=list)

    def line(
        self,
        kind: str,
        zh: str,
        en: str,
        *,
        source: str = "template",
        facts: ProductFacts | None = None,
        price: float | None = None,
    ) -> Line | None:
        claim = facts.claim_facts(price) if facts is not None else None
        results = [self.checker.check(zh, claim), self.checker.check(en, claim)]
        worst = max(results, key=lambda r: ("pass", "flag", "block").index(r.verdict))
        findings = [f.to_dict() for r in results for f in r.hits]
        if worst.verdict == "block":
            self.blocked.append(
                {
                    "kind": kind,
                    "zh": zh,
                    "en": en,
                    "reason": worst.reason,
                    "reason_zh": worst.reason_zh,
                    "findings": findings,
                }
            )
            return None
        return Line(kind, zh, en, source, worst.verdict, findings)


@dataclass
class Session:
    session_id: str
    title: str
    host_id: str | None
    host: str
    start: datetime | None
    end: datetime | None
    lineup: list[str]
    slot_prices: list[float | None]
    slot_coupons: list[float]

    @property
    def minutes(self) -> float:
        if self.start and self.end and self.end > self.start:
            return (self.end - self.start).total_seconds() / 60
        return 2.0 * 60


def load_session(wh: Warehouse, session_id: str) -> Session:
    """A session with its lineup, live prices and coupons; clear errors for an unknown id or an "
    "empty lineup."""
    rows = wh.sql(
        "SELECT s.session_id, s.title, s.host_id, coalesce(h.name, s.host_id), s.start_ts, s.end_ts, "
        "s.lineup, "
        "s.props FROM live_sessions s LEFT JOIN hosts h USING (host_id) WHERE s.session_id = ?",
        [session_id],
    )
    if not rows:
        raise NotFound(f"live session {session_id!r} is unknown", field="session_id")
    sid, title, host_id, host, start, end, lineup, props = rows[0]
    lineup = [str(p) for p in (lineup or [])]
    if not lineup:
        raise ValidationFailed(
            f"live session {session_id!r} has an empty lineup: add products before writing its script",
            field="lineup",
        )
    try:
        extra = json.loads(props) if isinstance(props, str) else (props or {})
    except ValueError:
        extra = {}
    extra = extra if isinstance(extra, dict) else {}

    def per_slot(key: str, default: Any) -> list[Any]:
        values = extra.get(key)
        if not isinstance(values, list) or len(values) != len(lineup):
            return [default] * len(lineup)
        return [v if isinstance(v, int | float) else default for v in values]

    return Session(
        str(sid),
        str(title or sid),
        host_id,
        str(host or "主播"),
        start,
        end,
        lineup,
        per_slot("slot_prices", None),
        [float(c or 0) for c in per_slot("slot_coupons", 0.0)],
    )


def expected_audience(wh: Warehouse, session: Session) -> tuple[list[str], Counter[str], dict[str, str]]:
    """The expected viewers, their personas and a note on where they came from."""
    query, params = expected_viewers(wh, session.session_id, AUDIENCE_SIZE)
    users = [str(r[0]) for r in wh.sql(query, params)]
    if not users:
        return (
            [],
            Counter(),
            {
                "en": "no expected audience (no built profiles match the lineup or host): general script",
                "zh": "没有预计观众（没有与排品或主播匹配的用户画像）：通用脚本",
            },
        )
    personas: Counter[str] = Counter()
    for persona, traits in personas_of(wh, users).values():
        personas[persona] += 1
        for t in traits:
            personas[t] += 1
    return (
        users,
        personas,
        {
            "en": f"{len(users)} expected viewers (lineup interest and host affinity)",
            "zh": f"预计观众 {len(users)} 人（按排品兴趣与主播亲和度）",
        },
    )


def attendance_curve(wh: Warehouse, session: Session, bins: int) -> tuple[list[float], dict[str, str]]:
    """Expected viewers present per slot (share of the peak), from the host's past sessions' enter and
    leave events; flat when there is no history."""
    rows = wh.sql(
        "WITH s AS (SELECT session_id, start_ts, end_ts FROM live_sessions WHERE host_id = ? "
        "AND session_id <> ? AND end_ts > start_ts AND end_ts <= ? ORDER BY start_ts DESC LIMIT ?), "
        "ev AS (SELECT least(? - 1, greatest(0, floor(? * epoch(e.ts - s.start_ts) / "
        "epoch(s.end_ts - s.start_ts))))::INT AS bin, CASE e.type WHEN 'enter_room' THEN 1 ELSE -1 END AS d "
        "FROM events e JOIN s USING (session_id) WHERE e.type IN ('enter_room', 'leave_room')) "
        "SELECT bin, sum(d), (SELECT count(*) FROM s) FROM ev GROUP BY bin ORDER BY bin",
        [session.host_id, session.session_id, session.start or utcnow(), HISTORY_SESSIONS, bins, bins],
    )
    if not rows:
        return [1.0] * bins, {
            "en": "no past sessions of this host: the lineup's own order decides ties",
            "zh": "该主播没有往期场次：同分时按原排品顺序",
        }
    net = dict((int(b), float(d)) for b, d, _ in rows)
    present, level = [], 0.0
    for b in range(bins):
        step = net.get(b, 0.0)
        present.append(max(level + step / 2, 0.0))
        level += step
    peak = max(present) or 1.0
    sessions = rows[0][2]
    return [round(p / peak, 3) for p in present], {
        "en": f"{sessions} past sessions of this host",
        "zh": f"该主播往期 {sessions} 场的在线人数",
    }


def _category_interest(wh: Warehouse, users: list[str]) -> dict[str, float]:
    if not users:
        return {}
    rows = wh.sql(
        "SELECT substr(tag, 10), count(DISTINCT user_id) FROM (SELECT user_id, unnest(tags) AS tag "
        "FROM profiles "
        "WHERE user_id IN (SELECT unnest(?::VARCHAR[]))) WHERE tag LIKE 'category:%' GROUP BY 1",
        [users],
    )
    return {str(c): n / len(users) for c, n in rows}


def _demand(wh: Warehouse, products: list[str], now: datetime) -> dict[str, float]:
    rows = wh.sql(
        "SELECT i.product_id, sum(i.quantity) FROM order_items i JOIN orders o USING (order_id) "
        "WHERE o.ts >= ? AND o.ts < ? AND o.status <> 'cancelled' AND i.product_id IN (SELECT "
        "unnest(?::VARCHAR[])) GROUP BY 1",
        [now - timedelta(days=DEMAND_DAYS), now, products],
    )
    return {str(p): float(n) for p, n in rows}


def _costs(wh: Warehouse, products: list[str]) -> dict[str, float]:
    rows = wh.sql(
        "SELECT product_id, cost::DOUBLE FROM products WHERE product_id IN (SELECT unnest(?::VARCHAR[]))",
        [products],
    )
    return {str(p): float(c) for p, c in rows if c is not None}


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:g}"


def _plan_order(
    session: Session,
    facts: dict[str, ProductFacts],
    interest: dict[str, float],
    demand: dict[str, float],
    costs: dict[str, float],
    curve: list[float],
) -> list[dict[str, Any]]:
    top_demand = max(demand.values(), default=0.0) or 1.0
    scored: list[dict[str, Any]] = []
    for slot, pid in enumerate(session.lineup):
        f = facts.get(pid)
        price = (
            session.slot_prices[slot] if session.slot_prices[slot] is not None else (f.price if f else None)
        )
        cat = f.category if f else None
        share = interest.get(str(cat), 0.0) if interest else 0.0
        sold = demand.get(pid, 0.0) / top_demand
        want = 0.6 * share + 0.4 * sold if interest else sold
        stock = f.stock if f else None
        f_stock = 1.0 if stock is None else (0.0 if stock <= 0 else min(1.0, stock / LOW_STOCK))
        cost = costs.get(pid)
        f_margin = min(1.0, max(0.05, (price - cost) / price)) if price and cost else 0.5
        score = (0.05 + want) * max(f_stock, 0.01 if stock == 0 else 0.0) * f_margin
        reasons_zh = (
            [f"预计观众中 {share:.0%} 对{f.category_name('zh') if f else '该类目'}感兴趣"] if interest else []
        )
        reasons_en = (
            [f"{share:.0%} of expected viewers like {f.category_name('en') if f else 'its category'}"]
            if interest
            else []
        )
        reasons_zh += [f"近{DEMAND_DAYS}天售出 {demand.get(pid, 0):g} 件", f"毛利系数 {f_margin:.2f}"]
        reasons_en += [f"{demand.get(pid, 0):g} sold in {DEMAND_DAYS} days", f"margin factor {f_margin:.2f}"]
        if stock is not None:
            reasons_zh.append("已售罄，放最后或下架" if stock <= 0 else f"库存 {stock}")
            reasons_en.append("out of stock: last, or drop it" if stock <= 0 else f"stock {stock}")
        scored.append(
            {
                "product_id": pid,
                "default_slot": slot + 1,
                "price": price,
                "coupon": session.slot_coupons[slot],
                "score": round(score, 4),
                "reasons_zh": reasons_zh,
                "reasons_en": reasons_en,
                "stock": stock,
            }
        )
    best_first = sorted(scored, key=lambda s: (s["stock"] == 0, -float(s["score"]), int(s["default_slot"])))
    slots = sorted(range(len(curve)), key=lambda i: (-curve[i], i))
    placed: list[dict[str, Any] | None] = [None] * len(curve)
    for item, slot in zip(best_first, slots, strict=True):
        placed[slot] = {**item, "slot": slot + 1, "attendance": curve[slot]}
    return [p for p in placed if p is not None]


def _product_lines(
    gate: Gate,
    n: int,
    item: dict[str, Any],
    f: ProductFacts | None,
    points: dict[str, Any],
    stress: tuple[str, ...],
    lead_with_price: bool,
    faqs: list[dict[str, Any]],
) -> list[Line]:
    name_zh, name_en = (f.name("zh"), f.name("en")) if f else (item["product_id"], item["product_id"])
    price, coupon = item["price"], item["coupon"]
    out: list[Line | None] = [gate.line("pitch", f"{n}号链接：{name_zh}", f"Link {n}: {name_en}", facts=f)]
    zh = f"直播间价 {_money(price)} 元" + (f"，领券再减 {coupon:g} 元" if coupon else "")
    en = f"Live price {_money(price)} yuan" + (f", {coupon:g} yuan off with the coupon" if coupon else "")
    price_line = gate.line("price", zh, en, facts=f, price=price)
    sells = sorted(
        points.get("selling_points", []),
        key=lambda p: (
            p["aspect"] not in stress,
            stress.index(p["aspect"]) if p["aspect"] in stress else 0,
            -p["count"],
        ),
    )
    said: list[Line | None] = []
    quoted: set[str] = set()
    for p in sells:
        if len(said) == 2:
            break
        if not p["quotes"] or p["quote_verdict"] == "none":
            continue
        fresh = [q for q in p["quotes"] if q not in quoted] or p["quotes"]
        q = fresh[(n - 1) % len(fresh)]  # neighbours in a lineup quote different buyers
        quoted.add(q)
        label = aspect_label(p["aspect"], "en")
        where_zh = "条评论" if p["source"] == "comments" else "条同类评价"
        where_en = "comments" if p["source"] == "comments" else "reviews of the category"
        said.append(
            gate.line(
                "point",
                f"说{p['aspect']}：买过的人说「{q}」（{p['count']}{where_zh}提到）",
                f"On {label}: buyers say “{q}” ({p['count']} {where_en} mention it)",
                source=p["source"],
                facts=f,
            )
        )
    out += [price_line, *said] if lead_with_price else [*said, price_line]
    pains = [p for p in points.get("pain_points", []) if p["aspect"] in PAIN_ADVICE]
    if pains:
        p = pains[0]
        zh_adv, en_adv = PAIN_ADVICE[p["aspect"]]
        out.append(
            gate.line(
                "note",
                f"提前回应：有顾客在意{p['aspect']}（{p['count']} 条），{zh_adv}",
                f"Address early: customers mind the {aspect_label(p['aspect'], 'en')} ({p['count']}); "
                f"{en_adv}",
                source=p["source"],
                facts=f,
            )
        )
    if item["stock"] is not None and 0 < item["stock"] <= LOW_STOCK:
        out.append(
            gate.line("stock", f"库存只有 {item['stock']} 件", f"Only {item['stock']} in stock", facts=f)
        )
    for q in faqs[:3]:
        answer = q["answer"] or "（请主播现场回答）"
        answer_en = q["answer"] or "(answer it live)"
        out.append(
            gate.line(
                "faq",
                f"常见问题（{q['askers']} 人问过）：「{q['text']}」→ {answer}",
                f"Asked by {q['askers']} viewers before: “{q['text']}” → {answer_en}",
                source="questions",
                facts=f,
            )
        )
    return [line for line in out if line is not None]


def _past_questions(wh: Warehouse, session: Session) -> dict[str, list[dict[str, Any]]]:
    rows = wh.sql(
        "SELECT product_id, text, sum(askers) AS askers, any_value(answer) FILTER (WHERE status = "
        "'answered') "
        "FROM live_questions WHERE product_id IN (SELECT unnest(?::VARCHAR[])) AND session_id <> ? "
        "GROUP BY product_id, text ORDER BY askers DESC",
        [session.lineup, session.session_id],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for pid, text, askers, answer in rows:
        out.setdefault(str(pid), []).append({"text": str(text), "askers": int(askers), "answer": answer})
    return out


def _interactions(session: Session, order: list[dict[str, Any]]) -> list[dict[str, Any]]:
    slot_min = session.minutes / max(len(order), 1)
    curve = [o["attendance"] for o in order]
    drops = [(curve[i] - curve[i + 1], i) for i in range(len(curve) - 1)]
    out = []
    lottery_slots = {max(0, len(order) // 3 - 1)}
    if drops and max(drops)[0] > 0.05:
        lottery_slots.add(max(drops)[1])
    else:
        lottery_slots.add(max(0, 2 * len(order) // 3 - 1))
    for i in sorted(lottery_slots):
        at = round((i + 1) * slot_min - 2)
        why_zh = (
            "预计观众开始流失之前" if drops and max(drops)[1] == i and max(drops)[0] > 0.05 else "暖场之后"
        )
        why_en = "before viewers are expected to leave" if why_zh.startswith("预计") else "after the warm-up"
        out.append(
            {
                "minute": max(at, 1),
                "kind": "lottery",
                "zh": f"第 {max(at, 1)} 分钟抽奖（{why_zh}），先讲清抽奖规则",
                "en": f"Lottery at minute {max(at, 1)} ({why_en}); state its rules first",
            }
        )
    for i, o in enumerate(order):
        if o["coupon"]:
            at = round(i * slot_min)
            out.append(
                {
                    "minute": at,
                    "kind": "coupon",
                    "zh": f"第 {at} 分钟提醒领取 {o['coupon']:g} 元券（{i + 1}号链接）",
                    "en": f"Minute {at}: remind viewers of the {o['coupon']:g} yuan coupon (link {i + 1})",
                }
            )
    end = round(session.minutes - 5)
    if any(o["coupon"] for o in order) and end > 0:
        out.append(
            {
                "minute": end,
                "kind": "coupon",
                "zh": f"第 {end} 分钟：提醒已领的券按券面规则使用",
                "en": f"Minute {end}: remind viewers to use the coupons they claimed, per the coupon rules",
            }
        )
    return sorted(out, key=lambda x: x["minute"])


def _next_session(wh: Warehouse, session: Session) -> tuple[str, datetime] | None:
    rows = wh.sql(
        "SELECT title, start_ts FROM live_sessions WHERE host_id = ? AND start_ts > ? ORDER BY "
        "start_ts LIMIT 1",
        [session.host_id, session.end or session.start or utcnow()],
    )
    return (str(rows[0][0]), rows[0][1]) if rows else None


def session_script(
    wh: Warehouse, session_id: str, *, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Tonight's script for ``session_id`` (see the module docstring), with how long it took."""
    began = time.perf_counter()
    settings = settings or get_settings()
    now = now or utcnow()
    session = load_session(wh, session_id)
    gate = Gate(default_checker(settings))
    users, personas, audience_note = expected_audience(wh, session)
    facts = product_facts(wh, session.lineup, now=now)
    curve, curve_note = attendance_curve(wh, session, len(session.lineup))
    order = _plan_order(
        session,
        facts,
        _category_interest(wh, users),
        _demand(wh, session.lineup, now),
        _costs(wh, session.lineup),
        curve,
    )
    points = product_points(wh, facts, gate.checker, settings)
    stress = emphasis(personas) if personas else ("整体", "使用体验", "价格")
    lead_price = price_led(personas)
    faqs = _past_questions(wh, session)
    top = [p for p, _ in personas.most_common(3)]
    total = sum(personas.values()) or 1
    audience = [
        {"persona": p, "share": round(personas[p] / total, 3), "point": TALKING_POINTS[persona_key(p)]}
        for p in top
    ]
    products = []
    for n, item in enumerate(order, start=1):
        f = facts.get(item["product_id"])
        products.append(
            {
                **{
                    k: item[k]
                    for k in ("product_id", "slot", "default_slot", "price", "coupon", "score", "stock")
                },
                "name": f.name("zh") if f else item["product_id"],
                "name_en": f.name("en") if f else item["product_id"],
                "expected_attendance": item["attendance"],
                "reason": "；".join(item["reasons_zh"]),
                "reason_en": "; ".join(item["reasons_en"]),
                "lines": [
                    line.to_dict()
                    for line in _product_lines(
                        gate,
                        n,
                        item,
                        f,
                        points.get(item["product_id"], {}),
                        stress,
                        lead_price,
                        faqs.get(item["product_id"], []),
                    )
                ],
                "sources": points.get(item["product_id"], {}).get("sources", []),
            }
        )
    names_zh = "、".join(p["name"] for p in sorted(products, key=lambda p: -p["score"])[:3])
    names_en = ", ".join(p["name_en"] for p in sorted(products, key=lambda p: -p["score"])[:3])
    opening = [
        gate.line(
            "opening",
            f"欢迎来到{session.host}！今晚「{session.title}」一共 {len(products)} "
            f"款商品，{names_zh}都在后面。",
            f"Welcome to {session.host}! Tonight, “{session.title}”: {len(products)} products, "
            f"including {names_en}.",
        ),
    ]
    if audience:
        opening.append(
            gate.line(
                "note",
                f"观众提示：{TALKING_POINTS[persona_key(top[0])]}",
                f"Audience note: {TALKING_POINTS[persona_key(top[0])]}",
            )
        )
    interactions = _interactions(session, order)
    if any(i["kind"] == "lottery" for i in interactions):
        first = next(i for i in interactions if i["kind"] == "lottery")
        opening.append(
            gate.line(
                "opening",
                f"第 {first['minute']} 分钟有抽奖，先点关注不迷路。",
                f"There is a lottery at minute {first['minute']}: follow the room so you do not miss it.",
            )
        )
    closing = [
        gate.line(
            "closing",
            f"感谢大家今晚的陪伴！今晚的 {len(products)} 款商品链接都还在购物车里。",
            f"Thank you for tonight! All {len(products)} products are still in the cart.",
        )
    ]
    upcoming = _next_session(wh, session)
    if upcoming:
        when = upcoming[1].astimezone(_zone(settings)).strftime("%m-%d %H:%M")
        closing.append(
            gate.line(
                "closing",
                f"下一场「{upcoming[0]}」{when} 开播，记得预约。",
                f"Next: “{upcoming[0]}” at {when}; set a reminder.",
            )
        )
    return {
        "session_id": session.session_id,
        "title": session.title,
        "host": session.host,
        "start": session.start.isoformat() if session.start else None,
        "minutes": round(session.minutes),
        "audience": {"size": len(users), "note": audience_note, "personas": audience, "stress": list(stress)},
        "order_basis": curve_note,
        "opening": [line.to_dict() for line in opening if line],
        "products": products,
        "interactions": interactions,
        "closing": [line.to_dict() for line in closing if line],
        "blocked": gate.blocked,
        "generated_ms": round((time.perf_counter() - began) * 1000, 1),
    }


def _zone(settings: Settings) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.timezone)


def render(script: dict[str, Any], lang: str = "zh") -> str:
    """The script as plain text for the host (one language)."""
    key = "en" if lang == "en" else "zh"
    out = [f"# {script['title']} · {script['host']}", ""]
    for line in script["opening"]:
        out.append(f"- {line[key]}")
    for i, p in enumerate(script["products"], start=1):
        reason = p["reason_en"] if key == "en" else p["reason"]
        out += ["", f"## {i}. {p['name_en'] if key == 'en' else p['name']}  ({reason})"]
        out += [f"- {line[key]}" + (" [review]" if line["verdict"] == "flag" else "") for line in p["lines"]]
    out += ["", "## " + ("Interaction plan" if key == "en" else "互动安排")]
    out += [f"- {i[key]}" for i in script["interactions"]]
    out += [""] + [f"- {line[key]}" for line in script["closing"]]
    if script["blocked"]:
        out += ["", ("Left out by the compliance gate:" if key == "en" else "合规检查拦下的句子：")]
        out += [f"- {b[key]} — {b['reason']}" for b in script["blocked"]]
    return "\n".join(out)


def pick_sessions(wh: Warehouse, *, now: datetime | None = None, limit: int = 12) -> list[dict[str, Any]]:
    """Sessions to write a script for: the next ones to start, then the latest that started."""
    now = now or utcnow()
    rows = wh.sql(
        "SELECT s.session_id, s.title, coalesce(h.name, s.host_id), s.start_ts, len(s.lineup), "
        "s.start_ts >= ? "
        "FROM live_sessions s LEFT JOIN hosts h USING (host_id) WHERE len(s.lineup) > 0 "
        "ORDER BY (s.start_ts >= ?) DESC, CASE WHEN s.start_ts >= ? THEN epoch(s.start_ts) "
        "ELSE -epoch(s.start_ts) END, s.session_id LIMIT ?",
        [now, now, now, limit],
    )
    keys = ("session_id", "title", "host", "start_ts", "products", "upcoming")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def stage_points(
    wh: Warehouse, product_ids: list[str], *, settings: Settings | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per product, the selling points a host can say while it is on stage (aspect, zh, en), each a real
    customer's words that pass the gate with the product's facts — what the live advisor offers."""
    settings = settings or get_settings()
    facts = product_facts(wh, product_ids)
    checker = default_checker(settings)
    points = product_points(wh, facts, checker, settings)
    out: dict[str, list[dict[str, Any]]] = {}
    for pid, f in facts.items():
        lines = []
        for p in points[pid]["selling_points"]:
            if p["quote_verdict"] != "pass":
                continue
            q = p["quotes"][0]
            zh = f"讲{f.name('zh')}的{p['aspect']}：买过的人说「{q}」"
            en = f"On {f.name('en')}'s {aspect_label(p['aspect'], 'en')}: buyers say “{q}”"
            if checker.check(zh, f.claim_facts()).verdict == "pass":
                lines.append({"aspect": p["aspect"], "zh": zh, "en": en, "count": p["count"]})
        out[pid] = lines
    return out
