"""Batch user features as Ibis expressions over the warehouse, cut at a window so nothing later leaks.

Every ``*_features`` function returns an Ibis table keyed by ``user_id``; :func:`build_features` joins
them onto the user universe in one query and adds the few ratios that are easier in pandas. The
catalogue of columns is in ``docs/profiles.md``.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

#: Weights of each interaction when scoring a user's interest in a category or brand.
INTEREST_WEIGHTS: dict[str, float] = {
    "purchase": 5.0,
    "add_to_cart": 3.0,
    "favorite": 2.0,
    "click": 1.0,
    "view": 1.0,
    "search": 1.0,
    "coupon_claim": 1.0,
    "comment": 0.5,
    "like": 0.5,
    "share": 1.0,
}
#: Order statuses that are not a completed purchase.
VOID_ORDER_STATUS = ("cancelled", "canceled", "refunded", "failed")
#: Channels with their own response-rate columns.
RESPONSE_CHANNELS = ("app_push", "sms", "email", "social")
#: Longest plausible single watch of one live session, minutes (caps missing leave_room events).
MAX_WATCH_MINUTES = 360.0

_BEHAVIOUR_COUNTS = {
    "views": "view",
    "clicks": "click",
    "carts": "add_to_cart",
    "favorites": "favorite",
    "searches": "search",
    "likes": "like",
    "comments": "comment",
    "shares": "share",
    "follows": "follow",
    "gifts": "gift",
    "room_entries": "enter_room",
    "coupon_claims": "coupon_claim",
    "coupon_redeems": "coupon_redeem",
}


def _f(expr: Any) -> Any:
    return expr.cast("float64")


def _union(*tables: Any, distinct: bool = False) -> Any:
    """UNION of tables with the same columns, ignoring NOT NULL differences between sources."""
    relaxed = [t.cast({c: dtype.copy(nullable=True) for c, dtype in t.schema().items()}) for t in tables]
    return ibis.union(*relaxed, distinct=distinct)


def user_universe(wh: Warehouse, win: Window) -> Any:
    """Every user known before the cutoff: registered, or seen in events or orders."""
    users = wh.table("users")
    registered = users.filter(users.signup_ts.isnull() | (users.signup_ts < ibis.timestamp(win.cutoff)))
    seen = [
        registered.select("user_id"),
        win.clip(wh.table("events")).select("user_id"),
        win.clip(wh.table("orders")).select("user_id"),
    ]
    return _union(*seen, distinct=True)


def basic_features(wh: Warehouse, win: Window) -> Any:
    """Demographics as registered (age band, gender, region, city tier) and tenure."""
    u = wh.table("users")
    return u.select(
        "user_id",
        age_band=u.age_band,
        gender=u.gender,
        region=u.region,
        city_tier=u.city_tier,
        signup_days=win.days_before_cutoff(u.signup_ts),
    )


def purchase_lines(wh: Warehouse, win: Window) -> Any:
    """Completed purchases in the window: orders, plus purchase events that are not also an order."""
    orders = win.clip(wh.table("orders"))
    paid = orders.filter(~orders.status.lower().isin(VOID_ORDER_STATUS))
    from_orders = paid.select(
        "user_id", "ts", amount=_f(paid.amount), coupon=paid.coupon_id.notnull().cast("int64")
    )
    ev = win.clip(wh.table("events"))
    all_orders = wh.table("orders").select(order_id=ibis._.order_id)
    pev = ev.filter(ev.type == "purchase")
    pev = pev.anti_join(all_orders, pev.event_id == all_orders.order_id)
    from_events = pev.select(
        "user_id", "ts", amount=_f(pev.amount.fill_null(0)), coupon=ibis.literal(0, "int64")
    )
    return _union(from_orders, from_events)


def consumption_features(wh: Warehouse, win: Window) -> Any:
    """Recency, frequency, monetary value, AOV, purchase days and coupon use."""
    p = purchase_lines(wh, win)
    return p.group_by("user_id").aggregate(
        frequency=p.count(),
        monetary=p.amount.sum(),
        purchase_days=p.ts.date().nunique(),
        recency_days=win.days_before_cutoff(p.ts.max()),
        first_purchase_days=win.days_before_cutoff(p.ts.min()),
        coupon_orders=p.coupon.sum(),
    )


def refund_features(wh: Warehouse, win: Window) -> Any:
    """Refund events and refunded/cancelled orders."""
    ev = win.clip(wh.table("events"))
    r = ev.filter(ev.type == "refund").select("user_id", amount=_f(ev.amount.abs().fill_null(0)))
    o = win.clip(wh.table("orders"))
    ro = o.filter(o.status.lower().isin(VOID_ORDER_STATUS)).select("user_id", amount=_f(o.amount.abs()))
    both = _union(r, ro)
    return both.group_by("user_id").aggregate(refunds=both.count(), refund_amount=both.amount.sum())


def price_features(wh: Warehouse, win: Window) -> Any:
    """Average paid unit price and the share of lines bought below the list price (discount use)."""
    orders = win.clip(wh.table("orders"))
    items = wh.table("order_items")
    products = wh.table("products")
    lines = items.join(orders.select("order_id", "user_id"), "order_id").left_join(
        products.select("product_id", list_price=products.price), "product_id"
    )
    order_lines = lines.select(
        "user_id",
        unit_price=_f(lines.unit_price),
        discounted=_f(
            (lines.list_price.notnull() & (lines.unit_price < lines.list_price * 0.995)).cast("int64")
        ),
    )
    ev = win.clip(wh.table("events"))
    pev = ev.filter((ev.type == "purchase") & ev.amount.notnull() & (ev.amount > 0))
    ev_lines = pev.select(
        "user_id",
        unit_price=_f(pev.amount) / _f(pev.quantity.fill_null(1).clip(lower=1)),
        discounted=ibis.literal(float("nan"), "float64"),
    )
    both = _union(order_lines, ev_lines)
    return both.group_by("user_id").aggregate(
        avg_unit_price=both.unit_price.mean(),
        discount_share=both.discounted.mean(),
    )


def behaviour_features(wh: Warehouse, win: Window, offset_s: int | None = None) -> Any:
    """Event counts by type, active days, local hour-of-day histogram and weekend share."""
    ev = win.clip(wh.table("events"))
    offset = win.utc_offset_s if offset_s is None else offset_s
    local_s = ev.ts.epoch_seconds() + offset
    hour = ((local_s // 3600) % 24).cast("int64")
    dow = ((local_s // 86400 + 3) % 7).cast("int64")  # 1970-01-01 was a Thursday; 0 = Monday
    ev = ev.mutate(_hour=hour, _dow=dow)
    counts = {name: (ev.type == kind).cast("int64").sum() for name, kind in _BEHAVIOUR_COUNTS.items()}
    hours = {f"h{h:02d}": _f((ev._hour == h).cast("int64").sum()) / _f(ev.count()) for h in range(24)}
    return ev.group_by("user_id").aggregate(
        events=ev.count(),
        active_days=ev.ts.date().nunique(),
        last_active_days=win.days_before_cutoff(ev.ts.max()),
        first_seen_days=win.days_before_cutoff(ev.ts.min()),
        gift_amount=_f(ev.amount.fill_null(0) * (ev.type == "gift").cast("int64")).sum(),
        weekend_share=_f((ev._dow >= 5).cast("int64").sum()) / _f(ev.count()),
        **counts,
        **hours,
    )


def watch_features(wh: Warehouse, win: Window) -> Any:
    """Live sessions watched and watch minutes (first enter to last leave per session, capped)."""
    ev = win.clip(wh.table("events"))
    live = ev.filter(ev.type.isin(("enter_room", "leave_room")) & ev.session_id.notnull())
    per = live.group_by(["user_id", "session_id"]).aggregate(
        enter=live.ts.epoch_seconds().min(where=live.type == "enter_room"),
        leave=live.ts.epoch_seconds().max(where=live.type == "leave_room"),
    )
    minutes = ((per.leave - per.enter) / 60.0).clip(lower=0, upper=MAX_WATCH_MINUTES)
    per = per.mutate(minutes=ibis.ifelse(per.leave > per.enter, _f(minutes), 0.0))
    return per.group_by("user_id").aggregate(
        sessions_watched=per.enter.count(), watch_minutes=per.minutes.sum()
    )


def sentiment_features(wh: Warehouse, win: Window) -> Any:
    """Mean comment sentiment score (filled by the live copilot's NLP columns when present)."""
    c = win.clip(wh.table("comments"))
    c = c.filter(c.user_id.notnull())
    return c.group_by("user_id").aggregate(
        comment_sentiment=c.sentiment_score.mean(), comments_scored=c.sentiment_score.count()
    )


def channel_features(wh: Warehouse, win: Window) -> Any:
    """Message response: opens and clicks over messages sent, overall and per channel."""
    m = wh.table("messages")
    m = m.filter(
        (m.created_at < ibis.timestamp(win.cutoff))
        & m.status.lower().isin(("sent", "delivered", "opened", "clicked"))
    )
    opened = (m.opened_at.notnull() & (m.opened_at < ibis.timestamp(win.cutoff))).cast("int64")
    clicked = (m.clicked_at.notnull() & (m.clicked_at < ibis.timestamp(win.cutoff))).cast("int64")
    per_channel: dict[str, Any] = {}
    for ch in RESPONSE_CHANNELS:
        sent = (m.channel == ch).cast("int64").sum()
        per_channel[f"sent_{ch}"] = sent
        per_channel[f"opens_{ch}"] = (opened * (m.channel == ch).cast("int64")).sum()
        per_channel[f"clicks_{ch}"] = (clicked * (m.channel == ch).cast("int64")).sum()
    return m.group_by("user_id").aggregate(
        messages_sent=m.count(), messages_opened=opened.sum(), messages_clicked=clicked.sum(), **per_channel
    )


def affinity(wh: Warehouse, win: Window, key: str = "category") -> Any:
    """Long table (user_id, <key>, score, buys): weighted interactions per category or brand.

    Tags a user removed (``tag_overrides`` rows ``category:X`` / ``brand:X``) are excluded here, so
    every consumer of interest (tags, shares, models) respects them.
    """
    ev = win.clip(wh.table("events"))
    products = wh.table("products").select("product_id", p_category=ibis._.category, p_brand=ibis._.brand)
    ev = ev.left_join(products, "product_id")
    value = ev.category.fill_null(ev.p_category) if key == "category" else ev.p_brand
    weight = ibis.cases(*((ev.type == t, w) for t, w in INTEREST_WEIGHTS.items()), else_=0.0)
    ev = ev.select("user_id", item=value.cast("string"), w=weight, buy=(ev.type == "purchase").cast("int64"))
    orders = win.clip(wh.table("orders"))
    paid = orders.filter(~orders.status.lower().isin(VOID_ORDER_STATUS)).select("order_id", "user_id")
    items = (
        wh.table("order_items")
        .select("order_id", "product_id")
        .join(paid, "order_id")
        .left_join(products, "product_id")
    )
    item_value = items.p_category if key == "category" else items.p_brand
    from_orders = items.select(
        "user_id",
        item=item_value.cast("string"),
        w=ibis.literal(INTEREST_WEIGHTS["purchase"]),
        buy=ibis.literal(1, "int64"),
    )
    both = _union(ev, from_orders)
    both = both.filter(both.item.notnull() & (both.w > 0))
    agg = both.group_by(["user_id", "item"]).aggregate(score=both.w.sum(), buys=both.buy.sum())
    overrides = wh.table("tag_overrides")
    removed = overrides.filter(overrides.tag.startswith(f"{key}:")).select(
        o_user=overrides.user_id, o_item=overrides.tag.substr(len(key) + 1)
    )
    agg = agg.anti_join(removed, (agg.user_id == removed.o_user) & (agg.item == removed.o_item))
    return agg.rename({key: "item"})


def _category_summary(wh: Warehouse, win: Window) -> Any:
    a = affinity(wh, win, "category")
    ranked = a.mutate(
        _rank=ibis.row_number().over(group_by=a.user_id, order_by=[a.score.desc(), a.category]),
        _total=a.score.sum().over(group_by=a.user_id),
    )
    return ranked.group_by("user_id").aggregate(
        n_categories=ranked.count(),
        top_category=ranked.category.arbitrary(where=ranked._rank == 0),
        top_category_share=(ranked.score / ranked._total).max(),
    )


def feature_query(wh: Warehouse, win: Window) -> Any:
    """One Ibis expression: the universe left-joined to every feature family."""
    out = user_universe(wh, win)
    for part in (
        basic_features(wh, win),
        consumption_features(wh, win),
        refund_features(wh, win),
        price_features(wh, win),
        behaviour_features(wh, win),
        watch_features(wh, win),
        sentiment_features(wh, win),
        channel_features(wh, win),
        _category_summary(wh, win),
    ):
        out = out.left_join(part, "user_id")
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    return out


#: Columns that stay missing (NaN / None) rather than 0 when a user has no data for them.
_KEEP_MISSING = {
    "age_band",
    "gender",
    "region",
    "city_tier",
    "signup_days",
    "recency_days",
    "first_purchase_days",
    "avg_unit_price",
    "discount_share",
    "last_active_days",
    "first_seen_days",
    "comment_sentiment",
    "top_category",
    "top_category_share",
    "weekend_share",
}


_TEXT_COLUMNS = {"age_band", "gender", "region", "top_category"}


def _safe_div(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).astype(float)


def build_features(wh: Warehouse, win: Window) -> pd.DataFrame:
    """The feature table (one row per user, indexed by ``user_id``) for the window."""
    df = feature_query(wh, win).to_pandas()
    df = df.set_index("user_id").sort_index()
    for col in df.columns:
        if col not in _TEXT_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
        if col not in _KEEP_MISSING and col not in _TEXT_COLUMNS:
            df[col] = df[col].fillna(0).astype(float)
    for col in [c for c in df.columns if c.startswith("h") and len(c) == 3 and c[1:].isdigit()]:
        df[col] = df[col].fillna(0.0)
    df["monetary"] = df["monetary"].clip(lower=0)
    df["net_monetary"] = (df["monetary"] - df["refund_amount"]).clip(lower=0)
    df["aov"] = _safe_div(df["monetary"], df["frequency"]).fillna(0.0)
    df["coupon_rate"] = (
        _safe_div(df["coupon_orders"] + df["coupon_redeems"], df["frequency"]).clip(upper=1).fillna(0.0)
    )
    df["refund_rate"] = _safe_div(df["refunds"], df["frequency"] + df["refunds"]).fillna(0.0)
    df["cart_rate"] = _safe_div(df["carts"], df["views"] + df["clicks"]).fillna(0.0)
    df["conversion_rate"] = (
        _safe_div(df["frequency"], df["views"] + df["clicks"] + df["carts"]).clip(upper=1).fillna(0.0)
    )
    df["social_actions"] = df[["likes", "comments", "shares", "follows", "gifts"]].sum(axis=1)
    df["open_rate"] = _safe_div(df["messages_opened"], df["messages_sent"])
    df["click_rate"] = _safe_div(df["messages_clicked"], df["messages_sent"])
    rates = pd.DataFrame(
        {ch: _safe_div(df[f"opens_{ch}"] + df[f"clicks_{ch}"], df[f"sent_{ch}"]) for ch in RESPONSE_CHANNELS}
    )
    any_rate = rates.notna().any(axis=1)
    df["best_channel"] = None
    if any_rate.any():
        df.loc[any_rate, "best_channel"] = rates[any_rate].fillna(-1.0).idxmax(axis=1)
    hours = df[[f"h{h:02d}" for h in range(24)]]
    df["peak_hour"] = np.where(df["events"] > 0, hours.to_numpy().argmax(axis=1), -1)
    df["price_band"] = price_bands(df["avg_unit_price"])
    df["price_sensitivity"] = price_sensitivity(df)
    return df


def price_bands(avg_price: pd.Series) -> pd.Series:
    """low / mid / high by tertile of the average paid unit price among buyers; None for non-buyers."""
    known = avg_price.dropna()
    out = pd.Series(None, index=avg_price.index, dtype=object)
    if known.nunique() < 3:
        out[known.index] = "mid"
        return out
    lo, hi = known.quantile([1 / 3, 2 / 3])
    out[known.index] = np.where(known <= lo, "low", np.where(known > hi, "high", "mid"))
    return out


def price_sensitivity(df: pd.DataFrame) -> pd.Series:
    """0..1: mean of coupon use, discount share and (1 - price percentile) over the signals present.

    Missing (NaN) when the data carry none of these signals: no coupons, list prices or paid prices.
    """
    price_pct = df["avg_unit_price"].rank(pct=True)
    coupons_seen = (df["coupon_orders"].sum() + df["coupon_redeems"].sum()) > 0
    parts = pd.DataFrame(
        {
            "coupon": df["coupon_rate"].where((df["frequency"] > 0) & coupons_seen),
            "discount": df["discount_share"],
            "cheap": 1 - price_pct,
        }
    )
    return parts.mean(axis=1, skipna=True)
