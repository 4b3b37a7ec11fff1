"""Coupons and member privileges: published rules, issue and claim, budget caps, redemption, reports.

A coupon's value and eligibility are **published rules** applied alike to everyone who meets them
(DESIGN.md §8.2; the platform price-behaviour rules in force 2026-04-10; E-Commerce Law art. 18; PIPL
art. 24): the value is a fixed amount or percentage, never a function of the person; eligibility is a
rule over profile fields that may not name age, gender, occupation, spending level or willingness to pay
(:data:`FORBIDDEN_INPUTS`). :func:`describe` gives the disclosed text. Every grant, refusal and redemption
is audited and explained, and a refusal states its true reason (:data:`REFUSALS`).

A coupon of kind ``privilege`` is a standing membership benefit (a member price, priority purchase…):
:func:`privileges_of` lists a user's, and :func:`member_price` shows a product's one list price and the
one member price every member sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from liveloop.campaigns.audiences import fields as rule_fields
from liveloop.campaigns.rules import _tokens, compile_rule
from liveloop.core.clock import checked_time, display_time, utcnow
from liveloop.core.config import get_settings
from liveloop.core.errors import NotFound, ValidationFailed, reject_unknown
from liveloop.core.ids import is_valid_id, new_id
from liveloop.privacy.audit import AuditEntry, register_explainer
from liveloop.privacy.audit import write as audit_write
from liveloop.profiles.segments import ARCHETYPES, FEATURE_LABELS
from liveloop.profiles.tags import LIFECYCLE_NAMES
from liveloop.warehouse import Warehouse

KINDS = ("coupon", "privilege")
STATUSES = ("active", "paused")
CENT = Decimal("0.01")
MAX_MONEY = Decimal("1000000000")
MAX_ISSUE = 100_000
MAX_VALID_DAYS = 3650
#: Member benefits a privilege may list besides a member price: key -> (zh, en).
PERKS: dict[str, tuple[str, str]] = {
    "priority_purchase": ("优先购买：直播间开售前优先下单", "priority purchase: order before general sale"),
    "free_shipping": ("包邮", "free shipping"),
    "early_access": ("新品抢先看", "early access to new products"),
    "exclusive_service": ("专属客服", "dedicated customer service"),
}

_AGE = "age (personal characteristic)"
_SEX = "gender (personal characteristic: unreasonable differential treatment, PIPL art. 24)"
_JOB = "occupation"
_SPEND = "spending level"
_WTP = "willingness to pay"
#: Profile inputs a coupon's eligibility may never name, with the reason. DESIGN.md §8.2 and the platform
#: price-behaviour rules (in force 2026-04-10) forbid age, occupation, spending level and willingness to
#: pay as inputs to a price or coupon; PIPL art. 24 forbids unreasonable differential treatment in
#: transaction terms, so gender is refused too. ``user_id`` is refused because a list of named people is
#: not a published rule.
FORBIDDEN_INPUTS: dict[str, str] = {
    "age_band": _AGE,
    "gender": _SEX,
    "occupation": _JOB,
    "value_tier": _SPEND,
    "monetary": _SPEND,
    "net_monetary": _SPEND,
    "aov": _SPEND,
    "gift_amount": _SPEND,
    "refund_amount": _SPEND,
    "clv": _SPEND,
    "high_value_probability": _SPEND,
    "expected_purchases": _SPEND,
    "avg_unit_price": _WTP,
    "price_band": _WTP,
    "price_sensitivity": _WTP,
    "discount_share": _WTP,
    "coupon_rate": _WTP,
    "coupon_orders": _WTP,
    "coupon_redeems": _WTP,
    "coupon_claims": _WTP,
    "user_id": "an individual person: eligibility is a rule about groups, published to all",
}
#: Word parts that mark a feature as one of those inputs, so a feature added later (``spend_90d``,
#: ``income_band``) is refused too.
FORBIDDEN_WORDS: dict[str, str] = {
    "age": _AGE,
    "gender": _SEX,
    "sex": _SEX,
    "occupation": _JOB,
    "job": _JOB,
    "profession": _JOB,
    "income": _SPEND,
    "salary": _SPEND,
    "wealth": _SPEND,
    "monetary": _SPEND,
    "spend": _SPEND,
    "spending": _SPEND,
    "amount": _SPEND,
    "aov": _SPEND,
    "gmv": _SPEND,
    "revenue": _SPEND,
    "clv": _SPEND,
    "ltv": _SPEND,
    "value": _SPEND,
    "price": _WTP,
    "discount": _WTP,
    "coupon": _WTP,
    "wtp": _WTP,
}
#: Segments named for spending or price sensitivity (their names claim it): refused as eligibility.
_SPENDING_ARCHETYPES = ("high_value_loyal", "high_value", "price_sensitive")

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
#: Why a grant is refused, in the order they are checked.
REFUSALS = (
    "unknown_user",
    "paused",
    "not_started",
    "expired",
    "already_holds",
    "not_eligible",
    "non_personalised",
    "max_grants",
    "budget",
)
#: Why a redemption is refused.
REDEEM_REFUSALS = ("not_held", "already_redeemed", "not_started", "expired", "min_spend")


# -- money -----------------------------------------------------------------------------------------------


def money(value: Any, name: str) -> Decimal:
    """``value`` as a non-negative amount of at most two decimals (floats through their text form)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        d = Decimal(str(value)) if isinstance(value, float | int) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationFailed(f"{name} must be an amount of money such as 19.90", field=name) from None
    if not d.is_finite() or d < 0 or d > MAX_MONEY:
        raise ValidationFailed(f"{name} must be between 0 and {MAX_MONEY}", field=name)
    if d != d.quantize(CENT):
        raise ValidationFailed(f"{name} has more than two decimals", field=name)
    return d.quantize(CENT)


def discount_for(
    order_amount: Decimal,
    *,
    amount: Decimal | None = None,
    percent_off: Decimal | None = None,
    max_discount: Decimal | None = None,
) -> Decimal:
    """The money a coupon takes off an order: a fixed amount, or a percentage rounded half-up to the cent
    (capped by ``max_discount``); never more than the order, never negative."""
    order = Decimal(order_amount).quantize(CENT, ROUND_HALF_UP)
    if order <= 0:
        return Decimal("0.00")
    if amount is not None:
        off = Decimal(amount)
    elif percent_off is not None:
        off = (order * Decimal(percent_off) / 100).quantize(CENT, ROUND_HALF_UP)
    else:
        return Decimal("0.00")
    if max_discount is not None:
        off = min(off, Decimal(max_discount))
    return max(Decimal("0.00"), min(off, order)).quantize(CENT)


# -- the coupon ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    """Who may hold a coupon: a rule, a segment and a lifecycle stage, all of which must hold; nothing
    set means every user."""

    rule: str | None = None
    segment: str | None = None
    lifecycle: str | None = None

    @property
    def everyone(self) -> bool:
        return not (self.rule or self.segment or self.lifecycle)


@dataclass(frozen=True)
class CouponSpec:
    """A coupon as created. Exactly one of ``amount`` / ``percent_off`` for a coupon (a privilege may
    have neither, then it lists ``perks``); times are aware datetimes."""

    name: str
    amount: Decimal | None = None
    percent_off: Decimal | None = None
    max_discount: Decimal | None = None
    min_spend: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    valid_days: int | None = None
    budget: Decimal | None = None
    max_grants: int | None = None
    eligibility: Eligibility = field(default_factory=Eligibility)
    kind: str = "coupon"
    perks: tuple[str, ...] = ()
    #: may be held again once the last one is used or has expired (offer rounds); else one per person ever
    repeatable: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CouponSpec:
        data = {k: v for k, v in data.items() if v is not None}
        reject_unknown(data, cls, "coupon")
        elig = data.pop("eligibility", None) or {}
        if isinstance(elig, dict):
            reject_unknown(elig, Eligibility, "eligibility", "eligibility.")
            elig = Eligibility(**{k: v for k, v in elig.items() if v})
        for name in ("amount", "max_discount", "min_spend", "budget"):
            if name in data:
                data[name] = money(data[name], name)
        if "percent_off" in data:
            data["percent_off"] = _percent(data["percent_off"])
        for name in ("starts_at", "ends_at"):
            if name in data:
                data[name] = _time(data[name], name)
        perks = tuple(data.pop("perks", ()))
        return cls(**data, eligibility=elig, perks=perks)


def _percent(value: Any) -> Decimal:
    try:
        p = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed("percent_off must be a number", field="percent_off") from None
    if not (p.is_finite() and 0 < p < 100) or p != p.quantize(CENT):
        raise ValidationFailed(
            "percent_off must be above 0 and below 100, with at most two decimals", field="percent_off"
        )
    return p.quantize(CENT)


def _time(value: Any, name: str) -> datetime:
    """An ISO time or datetime as aware UTC; one without an offset is in the configured zone (the zone
    the published rules are shown in)."""
    from zoneinfo import ZoneInfo

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(f"{name} must be an ISO 8601 time", field=name) from None
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{name} must be a time", field=name)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return value.astimezone(UTC)


def forbidden_reason(name: str) -> str | None:
    """Why ``name`` may not decide a coupon (None: it may)."""
    if name in FORBIDDEN_INPUTS:
        return FORBIDDEN_INPUTS[name]
    for part in name.lower().split("_"):
        if part in FORBIDDEN_WORDS:
            return FORBIDDEN_WORDS[part]
    return None


def _spending_segments(wh: Warehouse) -> dict[str, str]:
    """Segment id -> English name, for segments whose name claims high spending or price sensitivity."""
    names = {a.name_en for a in ARCHETYPES if a.key in _SPENDING_ARCHETYPES}
    names |= {f"Above-average {en}" for col, (_zh, en) in FEATURE_LABELS.items() if forbidden_reason(col)}
    rows = wh.sql("SELECT segment_id, name_en FROM segments")
    return {sid: en for sid, en in rows if en in names}


def _refuse(what: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        f"eligibility may not use {what} ({why}): age, occupation, spending level and willingness to pay "
        "are never inputs to a coupon (DESIGN.md §8.2)",
        field="eligibility",
    )


def _rule_names(rule: str) -> list[str]:
    """The names a rule compares (not its words, tag values or quoted values)."""
    toks = _tokens(rule)
    names = []
    for i, (kind, text) in enumerate(toks):
        after = toks[i + 1] if i + 1 < len(toks) else None
        before = toks[i - 1] if i else None
        if kind != "word" or text.lower() in _KEYWORDS or before == ("punct", ":") or after == ("punct", ":"):
            continue
        names.append(text)
    return names


def _check_eligibility(wh: Warehouse, elig: Eligibility) -> dict[str, Any]:
    """Validate eligibility and return its stored form (segment names frozen as published)."""
    out: dict[str, Any] = {}
    spending = _spending_segments(wh)
    if elig.rule:
        for name in _rule_names(elig.rule):  # before compiling: a name the profiles lack is refused too
            why = forbidden_reason(name)
            if why:
                raise _refuse(repr(name), why)
        try:
            _cond, params, names = compile_rule(elig.rule, rule_fields(wh))
        except ValidationFailed as exc:
            raise ValidationFailed(exc.detail, field="eligibility") from None
        if "segment" in names:
            for value in params:
                hit = next((s for s, en in spending.items() if value in (s, en)), None)
                if hit is not None:
                    raise _refuse(f"segment {value!r}", f"{_SPEND} or {_WTP}")
        out["rule"] = elig.rule
    if elig.segment:
        found = wh.sql(
            "SELECT segment_id, name_zh, name_en FROM segments WHERE ? IN (segment_id, name_zh, name_en)",
            [elig.segment],
        )
        if not found:
            raise NotFound(f"segment {elig.segment!r} is unknown", field="eligibility")
        sid, zh, en = found[0]
        if sid in spending:
            raise _refuse(f"segment {en!r}", f"{_SPEND} or {_WTP}")
        out |= {"segment": sid, "segment_zh": zh, "segment_en": en}
    if elig.lifecycle:
        if elig.lifecycle not in LIFECYCLE_NAMES:
            raise ValidationFailed(
                f"unknown lifecycle stage {elig.lifecycle!r}; one of {', '.join(LIFECYCLE_NAMES)}",
                field="eligibility",
            )
        out["lifecycle"] = elig.lifecycle
    return out


def _check(spec: CouponSpec) -> None:
    if not spec.name.strip() or len(spec.name) > 200:
        raise ValidationFailed("a coupon needs a name of 1 to 200 characters", field="name")
    if spec.kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    both = spec.amount is not None and spec.percent_off is not None
    if both or (spec.kind == "coupon" and spec.amount is None and spec.percent_off is None):
        raise ValidationFailed("give exactly one of amount or percent_off", field="amount")
    if spec.amount is not None and spec.amount <= 0:
        raise ValidationFailed("amount must be above 0", field="amount")
    if spec.max_discount is not None and spec.percent_off is None:
        raise ValidationFailed("max_discount caps a percent_off coupon only", field="max_discount")
    if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        raise ValidationFailed("ends_at must come after starts_at", field="ends_at")
    if spec.valid_days is not None and not 1 <= spec.valid_days <= MAX_VALID_DAYS:
        raise ValidationFailed(f"valid_days must be between 1 and {MAX_VALID_DAYS}", field="valid_days")
    if spec.max_grants is not None and spec.max_grants < 1:
        raise ValidationFailed("max_grants must be at least 1", field="max_grants")
    bad = next((p for p in spec.perks if p not in PERKS), None)
    if bad is not None:
        raise ValidationFailed(f"unknown perk {bad!r}; one of {', '.join(PERKS)}", field="perks")
    if spec.kind == "coupon":
        if spec.ends_at is None and spec.valid_days is None:
            raise ValidationFailed("a coupon needs ends_at or valid_days (its validity)", field="ends_at")
        if spec.perks:
            raise ValidationFailed("perks belong to a privilege", field="perks")
        if spec.budget is not None and spec.percent_off is not None and spec.max_discount is None:
            raise ValidationFailed(
                "a percent_off coupon with a budget needs max_discount (its worst case per use)",
                field="max_discount",
            )
        return
    if spec.amount is None and spec.percent_off is None and not spec.perks:
        raise ValidationFailed(
            "a privilege needs a member price (amount or percent_off) or perks", field="perks"
        )
    if spec.budget is not None or spec.min_spend is not None:
        raise ValidationFailed(
            "a privilege applies to every purchase: it takes no budget or min_spend", field="budget"
        )


def _rule_text(elig: dict[str, Any]) -> str:
    """Eligibility in the rule language (the ``coupons.rule`` column)."""
    parts = [f"({elig['rule']})"] if elig.get("rule") else []
    if elig.get("segment"):
        parts.append(f'segment = "{elig["segment"]}"')
    if elig.get("lifecycle"):
        parts.append(f'lifecycle = "{elig["lifecycle"]}"')
    return " and ".join(parts) or "everyone"


def create(wh: Warehouse, spec: CouponSpec, *, actor: str | None) -> dict[str, Any]:
    """Store a coupon or privilege after checking it (forbidden eligibility inputs are refused)."""
    _check(spec)
    elig = _check_eligibility(wh, spec.eligibility)
    coupon_id = new_id("cpn")
    props = {
        "kind": spec.kind,
        "max_discount": None if spec.max_discount is None else str(spec.max_discount),
        "perks": list(spec.perks),
        "currency": get_settings().currency,
        "repeatable": bool(spec.repeatable),
    }
    wh.sql(
        "INSERT INTO coupons (coupon_id, name, rule, amount, percent_off, min_spend, starts_at, ends_at, "
        "props, status, budget, max_grants, valid_days, eligibility, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, now())",
        [
            coupon_id,
            spec.name.strip(),
            _rule_text(elig),
            spec.amount,
            None if spec.percent_off is None else float(spec.percent_off),
            spec.min_spend,
            spec.starts_at,
            spec.ends_at,
            json.dumps(props),
            spec.budget,
            spec.max_grants,
            spec.valid_days,
            json.dumps(elig, ensure_ascii=False),
            actor,
        ],
    )
    coupon = get(wh, coupon_id)
    audit_write(wh, [AuditEntry(actor, "coupon.create", coupon_id, "created", coupon["rules"]["en"]["text"])])
    return coupon


_COLUMNS = (
    "coupon_id", "name", "rule", "amount", "percent_off", "min_spend", "starts_at", "ends_at", "props",
    "status", "budget", "max_grants", "valid_days", "eligibility", "created_by", "created_at",
)  # fmt: skip


def _row(row: Sequence[Any]) -> dict[str, Any]:
    c = dict(zip(_COLUMNS, row, strict=True))
    props = json.loads(c.pop("props") or "{}")
    c["kind"] = props.get("kind", "coupon")
    c["perks"] = props.get("perks", [])
    c["repeatable"] = bool(props.get("repeatable", False))
    c["currency"] = props.get("currency", "CNY")
    c["max_discount"] = None if props.get("max_discount") is None else Decimal(props["max_discount"])
    c["percent_off"] = None if c["percent_off"] is None else Decimal(str(c["percent_off"])).quantize(CENT)
    c["eligibility"] = json.loads(c["eligibility"] or "{}")
    c["rules"] = describe(c)
    return c


def get(wh: Warehouse, coupon_id: str) -> dict[str, Any]:
    """A coupon with its published rules (``rules``: zh and en)."""
    rows = wh.sql(f"SELECT {', '.join(_COLUMNS)} FROM coupons WHERE coupon_id = ?", [coupon_id])
    if not rows:
        raise NotFound(f"coupon {coupon_id!r} is unknown", field="coupon_id")
    return _row(rows[0])


def list_coupons(
    wh: Warehouse, *, kind: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Coupons and privileges, newest first."""
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    rows = wh.sql(
        f"SELECT {', '.join(_COLUMNS)} FROM coupons "
        "WHERE (? IS NULL OR coalesce(props->>'$.kind', 'coupon') = ?) AND (? IS NULL OR status = ?) "
        "ORDER BY created_at DESC NULLS LAST LIMIT 500",
        [kind, kind, status, status],
    )
    return [_row(r) for r in rows]


def set_status(wh: Warehouse, coupon_id: str, status: str, *, actor: str | None) -> dict[str, Any]:
    """Pause or resume issuing (coupons already held stay valid: a held coupon is honoured)."""
    if status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    get(wh, coupon_id)
    wh.sql("UPDATE coupons SET status = ? WHERE coupon_id = ?", [status, coupon_id])
    audit_write(wh, [AuditEntry(actor, "coupon.status", coupon_id, status, None)])
    return get(wh, coupon_id)


# -- the published rules ---------------------------------------------------------------------------------


def _yuan(d: Decimal | None) -> str:
    return "—" if d is None else f"¥{Decimal(d).quantize(CENT):,}"


def _when(t: datetime | None) -> str:
    return display_time(t, get_settings().timezone)


def _pct(p: Decimal) -> str:
    return f"{p.normalize():f}%"


def _zhe(p: Decimal) -> str:
    """A percentage off as Chinese 折 (15% off = 8.5折)."""
    return f"{((100 - p) / 10).normalize():f}折"


def _value_text(c: dict[str, Any]) -> tuple[str, str]:
    amount, pct, cap, floor = c["amount"], c["percent_off"], c["max_discount"], c["min_spend"]
    member = c["kind"] == "privilege"
    if amount is not None:
        zh, en = f"立减{_yuan(amount)}", f"{_yuan(amount)} off"
    elif pct is not None:
        zh, en = f"{_zhe(pct)}（{_pct(pct)} off）", f"{_pct(pct)} off"
        if cap is not None:
            zh, en = zh + f"，最多优惠{_yuan(cap)}", en + f", at most {_yuan(cap)}"
    else:
        zh, en = "无价格优惠", "no price benefit"
    if member and (amount is not None or pct is not None):
        zh, en = (
            f"会员价：每件商品标价{zh}，所有会员相同",
            f"member price: {en} each product's list price, the same for every member",
        )
    if floor is not None:
        zh, en = f"满{_yuan(floor)}可用，{zh}", f"{en} on orders of {_yuan(floor)} or more"
    perks = c.get("perks") or []
    if perks:
        zh += "；" + "；".join(PERKS[p][0] for p in perks)
        en += "; " + "; ".join(PERKS[p][1] for p in perks)
    return zh, en


def _eligibility_text(e: dict[str, Any]) -> tuple[str, str]:
    zh_parts, en_parts = [], []
    if e.get("rule"):
        zh_parts.append(f"符合规则 {e['rule']}")
        en_parts.append(f"matching the rule {e['rule']}")
    if e.get("segment"):
        zh_parts.append(f"属于分群「{e['segment_zh']}」({e['segment']})")
        en_parts.append(f"in the segment “{e['segment_en']}” ({e['segment']})")
    if e.get("lifecycle"):
        zh_name, en_name = LIFECYCLE_NAMES[e["lifecycle"]]
        zh_parts.append(f"生命周期阶段为「{zh_name}」")
        en_parts.append(f"whose lifecycle stage is “{en_name}”")
    if not zh_parts:
        return "所有用户", "every user"
    return "、且".join(zh_parts) + "的用户", "users " + " and ".join(en_parts)


def _validity_text(c: dict[str, Any]) -> tuple[str, str]:
    zh, en = [], []
    if c["starts_at"] is not None:
        zh.append(f"{_when(c['starts_at'])} 起")
        en.append(f"from {_when(c['starts_at'])}")
    if c["ends_at"] is not None:
        zh.append(f"至 {_when(c['ends_at'])} 止")
        en.append(f"until {_when(c['ends_at'])}")
    if c["valid_days"] is not None:
        zh.append(f"领取后 {c['valid_days']} 天内有效")
        en.append(f"valid {c['valid_days']} days after it is issued")
    if not zh:
        return "长期有效", "no end date"
    return "，".join(zh), ", ".join(en)


def _limits_text(c: dict[str, Any]) -> tuple[str, str]:
    if c.get("repeatable"):
        zh, en = (
            ["每人同时限持一张，用完或过期后可再领"],
            ["one at a time per person; again once used or expired"],
        )
    else:
        zh, en = ["每人限一张"], ["one per person"]
    if c["max_grants"] is not None:
        zh.append(f"限量 {c['max_grants']:,} 张")
        en.append(f"{c['max_grants']:,} in all")
    if c["budget"] is not None:
        zh.append(f"总预算 {_yuan(c['budget'])}，用完即止")
        en.append(f"while the budget of {_yuan(c['budget'])} lasts")
    return "，".join(zh), ", ".join(en)


_SAME_FOR_ALL = (
    "优惠金额对所有符合条件的用户相同，不因年龄、职业、消费水平或支付意愿而不同。",
    "The value is the same for everyone who qualifies; it never depends on age, occupation, spending "
    "or willingness to pay.",
)


def describe(coupon: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The published rules of a coupon — value, eligibility, validity, limits — in ``zh`` and ``en``,
    each with the whole ``text`` as disclosed to users."""
    sections = {
        "value": _value_text(coupon),
        "eligibility": _eligibility_text(coupon["eligibility"]),
        "validity": _validity_text(coupon),
        "limits": _limits_text(coupon),
    }
    zh = {k: v[0] for k, v in sections.items()}
    en = {k: v[1] for k, v in sections.items()}
    zh["text"] = (
        f"「{coupon['name']}」：{zh['value']}。领取条件：{zh['eligibility']}。有效期：{zh['validity']}。"
        f"规则：{zh['limits']}。{_SAME_FOR_ALL[0]}"
    )
    en["text"] = (
        f"“{coupon['name']}”: {en['value']}. Who may have it: {en['eligibility']}. Validity: "
        f"{en['validity']}. Rules: {en['limits']}. {_SAME_FOR_ALL[1]}"
    )
    return {"zh": zh, "en": en}


# -- messages: one text per outcome, the same for the caller and the audit explanation --------------------


def message(code: str, info: dict[str, Any], lang: str) -> str:
    """The text of an outcome (a grant, refusal or redemption) from its code and details."""
    n = info.get("name", "?")
    zh = lang == "zh"
    q = f"「{n}」" if zh else f"“{n}”"
    texts: dict[str, tuple[str, str]] = {
        "granted": (
            f"已向您发放{q}" + (f"，有效期至 {info['expires']}" if info.get("expires") else ""),
            f"{q} was issued to you" + (f"; valid until {info['expires']}" if info.get("expires") else ""),
        ),
        "unknown_user": ("用户不存在", "unknown user"),
        "paused": (f"{q}已暂停发放", f"{q} is paused: it is not being issued now"),
        "not_started": (
            f"{q}自 {info.get('starts')} 起可用",
            f"{q} starts at {info.get('starts')}",
        ),
        "expired": (f"{q}已于 {info.get('ends')} 结束", f"{q} ended at {info.get('ends')}"),
        "already_holds": (f"您已领取过{q}（每人限一张）", f"you already have {q} (one per person)"),
        "not_eligible": (
            f"您不符合{q}公布的领取条件：{info.get('requires_zh')}"
            + (f"（您当前：{info['yours_zh']}）" if info.get("yours_zh") else ""),
            f"you do not meet the published eligibility of {q}: {info.get('requires_en')}"
            + (f" (yours: {info['yours_en']})" if info.get("yours_en") else ""),
        ),
        "non_personalised": (
            f"您关闭了个性化，按画像发放的{q}不会主动发给您；您仍可自行领取",
            f"you switched personalisation off, so {q}, targeted by profile, is not pushed to you; you "
            "can still claim it yourself",
        ),
        "max_grants": (
            f"{q}已发完（限量 {info.get('max_grants')} 张）",
            f"all {info.get('max_grants')} of {q} have been given out",
        ),
        "budget": (
            f"{q}的预算（{info.get('budget')}）已用完",
            f"the budget of {q} ({info.get('budget')}) is used up",
        ),
        "redeemed": (
            f"订单 {info.get('order_id')} 使用{q}优惠 {info.get('discount')}",
            f"{q} took {info.get('discount')} off order {info.get('order_id')}",
        ),
        "not_held": (f"您没有{q}", f"you do not hold {q}"),
        "already_redeemed": (
            f"{q}已在订单 {info.get('used_on')} 中使用",
            f"{q} was already used on order {info.get('used_on')}",
        ),
        "min_spend": (
            f"订单金额 {info.get('order_amount')} 未达到{q}的使用门槛 {info.get('min_spend')}",
            f"order {info.get('order_amount')} is below the minimum spend {info.get('min_spend')} of {q}",
        ),
    }
    pair = texts.get(code, (code, code))
    return pair[0] if zh else pair[1]


def _explain(_user: str, decision: str | None, reason: str | None, details: Any, lang: str) -> str:
    info = json.loads(details) if isinstance(details, str) else (details or {})
    code = decision if decision in ("granted", "redeemed") else (reason or decision or "")
    return message(code, info, lang)


register_explainer("coupon.grant", _explain)
register_explainer("coupon.redeem", _explain)


def _outcome(code: str, info: dict[str, Any]) -> dict[str, Any]:
    return {"reason": code, "message": {"zh": message(code, info, "zh"), "en": message(code, info, "en")}}


# -- issue and claim -------------------------------------------------------------------------------------


def _worst_case(c: dict[str, Any]) -> Decimal | None:
    """The most one grant can cost (None: unbounded)."""
    if c["amount"] is not None:
        return Decimal(c["amount"])
    return c["max_discount"]


def _usage(con: Any, coupon_id: str, now: datetime) -> tuple[int, Decimal, int]:
    """(grants ever, discount redeemed, grants outstanding) of a coupon."""
    n, spent, outstanding = con.execute(
        "SELECT count(*), coalesce(sum(discount) FILTER (WHERE status = 'redeemed'), 0), "
        "count(*) FILTER (WHERE status = 'issued' AND (expires_at IS NULL OR expires_at > ?)) "
        "FROM coupon_grants WHERE coupon_id = ?",
        [now, coupon_id],
    ).fetchall()[0]
    return int(n), Decimal(spent), int(outstanding)


def _coupon_state(c: dict[str, Any], now: datetime) -> str | None:
    if c["status"] == "paused":
        return "paused"
    if c["starts_at"] is not None and now < c["starts_at"]:
        return "not_started"
    if c["ends_at"] is not None and now >= c["ends_at"]:
        return "expired"
    return None


def _eligibility_parts(wh: Warehouse, e: dict[str, Any]) -> list[tuple[str, list[Any], str, str, str | None]]:
    """(condition over profiles, params, requirement zh, requirement en, the profile column shown)."""
    parts: list[tuple[str, list[Any], str, str, str | None]] = []
    if e.get("rule"):
        cond, params, _ = compile_rule(e["rule"], rule_fields(wh))
        parts.append((cond, params, f"符合规则 {e['rule']}", f"the rule {e['rule']}", None))
    if e.get("segment"):
        zh, en = f"分群「{e['segment_zh']}」", f"segment “{e['segment_en']}”"
        parts.append(("segment_id = ?", [e["segment"]], zh, en, "segment"))
    if e.get("lifecycle"):
        zh, en = LIFECYCLE_NAMES[e["lifecycle"]]
        parts.append(
            (
                "lifecycle = ?",
                [e["lifecycle"]],
                f"生命周期阶段「{zh}」",
                f"lifecycle stage “{en}”",
                "lifecycle",
            )
        )
    return parts


def _ineligible(wh: Warehouse, con: Any, c: dict[str, Any], users: list[str]) -> dict[str, dict[str, Any]]:
    """Users who fail the eligibility: user -> the first requirement they fail (and their own value)."""
    out: dict[str, dict[str, Any]] = {}
    parts = _eligibility_parts(wh, c["eligibility"])
    if not parts or not users:
        return out
    among = "user_id IN (SELECT unnest(?::VARCHAR[]))"
    profiles = {
        u: (lc, seg)
        for u, lc, seg in con.execute(
            f"SELECT user_id, lifecycle, segment_id FROM profiles WHERE {among}", [users]
        ).fetchall()
    }
    for cond, params, zh, en, shown in parts:
        query = f"SELECT user_id FROM profiles WHERE {among} AND {cond}"
        passing = {r[0] for r in con.execute(query, [users, *params]).fetchall()}
        for u in users:
            if u in out or u in passing:
                continue
            lc, seg = profiles.get(u, (None, None))
            yours: tuple[str | None, str | None] = (None, None)
            if u not in profiles:
                yours = ("尚无画像", "no profile yet")
            elif shown == "lifecycle":
                yours = LIFECYCLE_NAMES.get(lc or "", (lc or "—", lc or "—"))
            elif shown == "segment":
                yours = (seg or "—", seg or "—")
            out[u] = {"requires_zh": zh, "requires_en": en, "yours_zh": yours[0], "yours_en": yours[1]}
    return out


def _expiry(c: dict[str, Any], now: datetime) -> datetime | None:
    ends = [
        t for t in (c["ends_at"], now + timedelta(days=c["valid_days"]) if c["valid_days"] else None) if t
    ]
    return min(ends) if ends else None


def _info(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "coupon_id": c["coupon_id"],
        "name": c["name"],
        "kind": c["kind"],
        "starts": _when(c["starts_at"]) if c["starts_at"] else None,
        "ends": _when(c["ends_at"]) if c["ends_at"] else None,
        "max_grants": c["max_grants"],
        "budget": _yuan(c["budget"]) if c["budget"] is not None else None,
    }


def _ids(user_ids: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for u in user_ids:
        if not isinstance(u, str) or not is_valid_id(u):
            raise ValidationFailed(f"user id {u!r} is not a valid id", field="user_ids")
        seen.setdefault(u, None)
    if len(seen) > MAX_ISSUE:
        raise ValidationFailed(f"at most {MAX_ISSUE} users per issue", field="user_ids")
    return list(seen)


def issue(
    wh: Warehouse,
    coupon_id: str,
    user_ids: Iterable[str],
    *,
    source: str,
    actor: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give the coupon to each user, or refuse with the true reason (:data:`REFUSALS`, first that applies).

    In one transaction: max grants count every grant ever made; the budget counts redeemed discounts
    plus the worst case of every outstanding grant. ``source`` says where it came from (``claim`` when
    the user asked; an audience, campaign or journey id otherwise). A user who switched personalisation
    off is not sent a coupon whose eligibility reads the profile, but may claim it.
    """
    users = _ids(user_ids)
    if not source or len(source) > 200:
        raise ValidationFailed("source must be 1 to 200 characters", field="source")
    now = now or utcnow()
    claim = source == "claim"
    granted: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    with wh.transaction() as con:
        c = get(wh, coupon_id)
        info = _info(c)
        state = _coupon_state(c, now)
        known = {
            r[0]: bool(r[1])
            for r in con.execute(
                "SELECT user_id, non_personalised FROM users WHERE user_id IN (SELECT unnest(?::VARCHAR[]))",
                [users],
            ).fetchall()
        }
        held = {
            r[0]
            for r in con.execute(
                "SELECT user_id FROM coupon_grants WHERE coupon_id = ? "
                "AND user_id IN (SELECT unnest(?::VARCHAR[])) "
                "AND (NOT ? OR (status = 'issued' AND (expires_at IS NULL OR expires_at > ?)))",
                [coupon_id, users, c["repeatable"], now],
            ).fetchall()
        }
        ineligible = _ineligible(wh, con, c, [u for u in users if u in known and u not in held])
        personal = bool(c["eligibility"])
        n, spent, outstanding = _usage(con, coupon_id, now)
        worst = _worst_case(c)
        committed = spent + outstanding * (worst or Decimal(0))
        expires = _expiry(c, now)
        for u in users:
            code: str | None = None
            extra: dict[str, Any] = {}
            if u not in known:
                code = "unknown_user"
            elif state is not None:
                code = state
            elif u in held:
                code = "already_holds"
            elif u in ineligible:
                code, extra = "not_eligible", ineligible[u]
            elif personal and known[u] and not claim:
                code = "non_personalised"
            elif c["max_grants"] is not None and n >= c["max_grants"]:
                code = "max_grants"
            elif c["budget"] is not None and worst is not None and committed + worst > c["budget"]:
                code = "budget"
            if code is not None:
                refused.append({"user_id": u, **_outcome(code, info | extra), "details": info | extra})
                continue
            n += 1
            committed += worst or Decimal(0)
            grant = {"grant_id": new_id("grt"), "user_id": u, "issued_at": now, "expires_at": expires}
            granted.append(grant)
        _write_grants(wh, con, c, granted, source)
        if claim and granted:
            _write_events(
                con,
                "coupon_claim",
                [(g["user_id"], now, None, {"grant_id": g["grant_id"]}) for g in granted],
                c,
            )
        entries = [
            AuditEntry(
                actor,
                "coupon.grant",
                g["user_id"],
                "granted",
                source,
                info
                | {"grant_id": g["grant_id"], "expires": _when(g["expires_at"]) if g["expires_at"] else None},
                now,
            )
            for g in granted
        ] + [
            AuditEntry(actor, "coupon.grant", r["user_id"], "refused", r["reason"], r.pop("details"), now)
            for r in refused
        ]
        audit_write(wh, entries, con=con)
    for g in granted:
        g.update(_outcome("granted", info | {"expires": _when(g["expires_at"]) if g["expires_at"] else None}))
        g["reason"] = None
    by_reason: dict[str, int] = {}
    for r in refused:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    return {
        "coupon_id": coupon_id,
        "source": source,
        "issued": len(granted),
        "refused_by_reason": by_reason,
        "granted": granted,
        "refused": refused,
    }


def _write_grants(
    wh: Warehouse, con: Any, c: dict[str, Any], grants: list[dict[str, Any]], source: str
) -> None:
    if not grants:
        return
    wh.append(
        "coupon_grants",
        pa.table(
            {
                "grant_id": [g["grant_id"] for g in grants],
                "coupon_id": [c["coupon_id"]] * len(grants),
                "user_id": [g["user_id"] for g in grants],
                "source": [source] * len(grants),
                "issued_at": pa.array([g["issued_at"] for g in grants], pa.timestamp("us", tz="UTC")),
                "expires_at": pa.array([g["expires_at"] for g in grants], pa.timestamp("us", tz="UTC")),
            }
        ),
        con=con,
    )


def _write_events(
    con: Any, kind: str, rows: list[tuple[str, datetime, Decimal | None, dict[str, Any]]], c: dict[str, Any]
) -> None:
    """``coupon_claim`` / ``coupon_redeem`` events, once each: the event id is the coupon and user's."""
    for user, ts, amount, props in rows:
        con.execute(
            "INSERT INTO events (event_id, ts, user_id, type, amount, props, source) "
            "SELECT ?, ?, ?, ?, ?, ?, 'coupons' WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ?)",
            [
                f"{kind}:{c['coupon_id']}:{user}",
                ts,
                user,
                kind,
                amount,
                json.dumps({"coupon_id": c["coupon_id"], **props}),
                f"{kind}:{c['coupon_id']}:{user}",
            ],
        )


def claim(
    wh: Warehouse, coupon_id: str, user_id: str, *, actor: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """A user claims a coupon (the app calls this): the grant, or the refusal with its true reason."""
    done = issue(wh, coupon_id, [user_id], source="claim", actor=actor, now=now)
    if done["granted"]:
        return {"coupon_id": coupon_id, "granted": True, **done["granted"][0]}
    return {"coupon_id": coupon_id, "granted": False, **done["refused"][0]}


# -- redemption ------------------------------------------------------------------------------------------


def redeem(
    wh: Warehouse,
    *,
    user_id: str,
    order_id: str,
    order_amount: Any,
    coupon_id: str | None = None,
    grant_id: str | None = None,
    ts: datetime | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Use a held coupon on an order: checks validity, min_spend and single use; records the discount
    (Decimal, percent rounded half-up to the cent, never above the order) and a ``coupon_redeem`` event.
    Repeating the same order's redemption returns it again, unchanged."""
    if (coupon_id is None) == (grant_id is None):
        raise ValidationFailed("give coupon_id or grant_id", field="coupon_id")
    for name, value in (("user_id", user_id), ("order_id", order_id)):
        if not isinstance(value, str) or not is_valid_id(value):
            raise ValidationFailed(f"{name} {value!r} is not a valid id", field=name)
    order = money(order_amount, "order_amount")
    ts = checked_time(ts, "ts") if ts is not None else utcnow()
    with wh.transaction() as con:
        if grant_id is not None:
            found = con.execute(
                "SELECT coupon_id FROM coupon_grants WHERE grant_id = ? AND user_id = ?", [grant_id, user_id]
            ).fetchall()
            if not found:
                raise NotFound(f"grant {grant_id!r} of user {user_id!r} is unknown", field="grant_id")
            coupon_id = found[0][0]
        assert coupon_id is not None
        c = get(wh, coupon_id)
        if c["kind"] == "privilege":
            raise ValidationFailed(
                "a privilege is not redeemed per order: its member price applies at checkout",
                field="coupon_id",
            )
        info = _info(c) | {
            "order_id": order_id,
            "order_amount": _yuan(order),
            "min_spend": _yuan(c["min_spend"]),
        }
        grant = con.execute(
            "SELECT grant_id, status, expires_at, order_id, discount FROM coupon_grants "
            "WHERE coupon_id = ? AND user_id = ? "
            # a repeatable coupon may have several grants: this order's, else the newest unused one
            "ORDER BY coalesce(order_id = ?, false) DESC, status = 'issued' DESC, issued_at DESC",
            [coupon_id, user_id, order_id],
        ).fetchall()
        code: str | None = None
        discount = Decimal("0.00")
        if not grant:
            code = "not_held"
        else:
            gid, status, expires, used_on, used = grant[0]
            info["grant_id"] = gid
            if status == "redeemed":
                if used_on == order_id:
                    info["discount"] = _yuan(used)
                    return _redeemed(c, info, user_id, order, Decimal(used), gid, repeat=True)
                code, info["used_on"] = "already_redeemed", used_on
            elif c["starts_at"] is not None and ts < c["starts_at"]:
                code = "not_started"
            elif expires is not None and ts >= expires:
                code, info["ends"] = "expired", _when(expires)
            elif c["min_spend"] is not None and order < c["min_spend"]:
                code = "min_spend"
            else:
                discount = discount_for(
                    order, amount=c["amount"], percent_off=c["percent_off"], max_discount=c["max_discount"]
                )
                info["discount"] = _yuan(discount)
                con.execute(
                    "UPDATE coupon_grants SET status = 'redeemed', redeemed_at = ?, order_id = ?, "
                    "discount = ? WHERE grant_id = ?",
                    [ts, order_id, discount, gid],
                )
                _write_events(
                    con,
                    "coupon_redeem",
                    [(user_id, ts, discount, {"grant_id": gid, "order_id": order_id})],
                    c,
                )
        decision = "refused" if code else "redeemed"
        audit_write(
            wh, [AuditEntry(actor, "coupon.redeem", user_id, decision, code or order_id, info)], con=con
        )
    if code is not None:
        return {
            "coupon_id": coupon_id,
            "user_id": user_id,
            "order_id": order_id,
            "redeemed": False,
            **_outcome(code, info),
        }
    return _redeemed(c, info, user_id, order, discount, info["grant_id"], repeat=False)


def _redeemed(
    c: dict[str, Any],
    info: dict[str, Any],
    user_id: str,
    order: Decimal,
    discount: Decimal,
    grant_id: str,
    *,
    repeat: bool,
) -> dict[str, Any]:
    return {
        "coupon_id": c["coupon_id"],
        "user_id": user_id,
        "grant_id": grant_id,
        "order_id": info["order_id"],
        "redeemed": True,
        "repeat": repeat,
        "order_amount": order,
        "discount": discount,
        "pay": order - discount,
        **_outcome("redeemed", info),
        "reason": None,
    }


# -- report ----------------------------------------------------------------------------------------------


def report(wh: Warehouse, coupon_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Issued, redeemed, redemption rate, discount spent and committed against the budget, refusals by
    reason (grants and redemptions), and grants by source."""
    now = now or utcnow()
    c = get(wh, coupon_id)
    with wh.transaction() as con:
        issued, spent, outstanding = _usage(con, coupon_id, now)
        redeemed, expired = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'redeemed'), count(*) FILTER (WHERE status = 'issued' "
            "AND expires_at <= ?) FROM coupon_grants WHERE coupon_id = ?",
            [now, coupon_id],
        ).fetchall()[0]
        by_source = dict(
            con.execute(
                "SELECT coalesce(source, '—'), count(*) FROM coupon_grants WHERE coupon_id = ? "
                "GROUP BY 1 ORDER BY 2 DESC",
                [coupon_id],
            ).fetchall()
        )
        refusals = con.execute(
            "SELECT action, reason, count(*) FROM audit_log "
            "WHERE action IN ('coupon.grant', 'coupon.redeem') AND decision = 'refused' "
            "AND details->>'$.coupon_id' = ? GROUP BY ALL ORDER BY 3 DESC",
            [coupon_id],
        ).fetchall()
    worst = _worst_case(c)
    committed = spent + outstanding * (worst or Decimal(0))
    return {
        "coupon": {k: c[k] for k in ("coupon_id", "name", "kind", "status", "budget", "max_grants")},
        "issued": issued,
        "redeemed": int(redeemed),
        "outstanding": outstanding,
        "expired_unused": int(expired),
        "redemption_rate": int(redeemed) / issued if issued else None,
        "discount_spent": Decimal(spent).quantize(CENT),
        "committed": committed.quantize(CENT),
        "budget": c["budget"],
        "budget_left": None if c["budget"] is None else (c["budget"] - committed).quantize(CENT),
        "by_source": by_source,
        "refused": {r: n for a, r, n in refusals if a == "coupon.grant"},
        "redeem_refused": {r: n for a, r, n in refusals if a == "coupon.redeem"},
    }


# -- member privileges -----------------------------------------------------------------------------------


def _held_privileges(wh: Warehouse, user_id: str, now: datetime) -> list[tuple[dict[str, Any], Any]]:
    rows = wh.sql(
        f"SELECT {', '.join('c.' + k for k in _COLUMNS)}, g.grant_id, g.expires_at FROM coupon_grants g "
        "JOIN coupons c USING (coupon_id) WHERE g.user_id = ? AND g.status = 'issued' "
        "AND (g.expires_at IS NULL OR g.expires_at > ?) AND c.props->>'$.kind' = 'privilege' "
        "AND (c.starts_at IS NULL OR c.starts_at <= ?) AND (c.ends_at IS NULL OR c.ends_at > ?) "
        "ORDER BY c.created_at",
        [user_id, now, now, now],
    )
    return [(_row(r[: len(_COLUMNS)]), r[len(_COLUMNS) :]) for r in rows]


def privileges_of(wh: Warehouse, user_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The member privileges a user holds now, each with its published rules."""
    now = now or utcnow()
    held = _held_privileges(wh, user_id, now)
    return {
        "user_id": user_id,
        "member": bool(held),
        "privileges": [
            {
                "coupon_id": c["coupon_id"],
                "name": c["name"],
                "grant_id": grant_id,
                "expires_at": expires,
                "perks": c["perks"],
                "priority_purchase": "priority_purchase" in c["perks"],
                "member_price": c["amount"] is not None or c["percent_off"] is not None,
                "rules": c["rules"],
            }
            for c, (grant_id, expires) in held
        ],
    }


def _member_prices(wh: Warehouse, list_price: Decimal, now: datetime) -> list[dict[str, Any]]:
    """Every active privilege with a price benefit and the member price it gives (published to all)."""
    out = []
    for c in list_coupons(wh, kind="privilege", status="active"):
        if c["amount"] is None and c["percent_off"] is None:
            continue
        if _coupon_state(c, now) is not None:
            continue
        off = discount_for(
            list_price, amount=c["amount"], percent_off=c["percent_off"], max_discount=c["max_discount"]
        )
        out.append(
            {
                "coupon_id": c["coupon_id"],
                "name": c["name"],
                "member_price": list_price - off,
                "eligibility": {"zh": c["rules"]["zh"]["eligibility"], "en": c["rules"]["en"]["eligibility"]},
            }
        )
    return out


def member_price(
    wh: Warehouse, product_id: str, user_id: str | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """A product's one list price, the published member prices, and what this user pays: the lowest
    member price of the privileges they hold — the same for every holder — or the list price."""
    now = now or utcnow()
    found = wh.sql("SELECT price, currency FROM products WHERE product_id = ?", [product_id])
    if not found:
        raise NotFound(f"product {product_id!r} is unknown", field="product_id")
    price, currency = found[0]
    if price is None:
        raise NotFound(f"product {product_id!r} has no list price", field="product_id")
    list_price = Decimal(price).quantize(CENT)
    published = _member_prices(wh, list_price, now)
    held = {c["coupon_id"] for c, _ in _held_privileges(wh, user_id, now)} if user_id else set()
    mine = [p for p in published if p["coupon_id"] in held]
    best = min(mine, key=lambda p: (p["member_price"], p["coupon_id"])) if mine else None
    return {
        "product_id": product_id,
        "currency": currency,
        "list_price": list_price,
        "user_id": user_id,
        "member": bool(mine),
        "price": best["member_price"] if best else list_price,
        "privilege": best["coupon_id"] if best else None,
        "member_prices": published,
    }
