"""Batch user features as Ibis expressions over the warehouse, cut at a window so nothing later leaks.

Every ``*_features`` function returns an Ibis table keyed by ``user_id``; :func:`build_features` joins
them onto the user universe in one query and adds the few ratios that are easier in pandas. The
catalogue of columns is in ``docs/profiles.md``.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from liveloop.profiles.portable import epoch_micros, epoch_seconds, json_text
from liveloop.profiles.window import Window
from liveloop.warehouse import TableSource

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


def _cents_sum(amount: Any) -> Any:
    """The sum of money amounts, added up exactly in cents (so every engine gives the same float)."""
    return _f(amount.cast(dt.Decimal(18, 2)).sum())


def _union(*tables: Any, distinct: bool = False) -> Any:
    """UNION of tables with the same columns, ignoring NOT NULL differences between sources."""
    relaxed = [t.cast({c: dtype.copy(nullable=True) for c, dtype in t.schema().items()}) for t in tables]
    return ibis.union(*relaxed, distinct=distinct)


def user_universe(wh: TableSource, win: Window) -> Any:
    """Every user known before the cutoff: registered, or seen in events or orders."""
    users = wh.table("users")
    registered = win.users(
        users.filter(users.signup_ts.isnull() | (users.signup_ts < ibis.timestamp(win.cutoff)))
    )
    seen = [
        registered.select("user_id"),
        win.clip(wh.table("events")).select("user_id"),
        win.clip(wh.table("orders")).select("user_id"),
    ]
    return _union(*seen, distinct=True)


def basic_features(wh: TableSource, win: Window) -> Any:
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


def standalone_purchases(wh: TableSource, win: Window) -> Any:
    """``purchase`` events that do not repeat an order (matched by ``event_id`` or ``props.order_id``)."""
    ev = win.clip(wh.table("events"))
    pev = ev.filter(ev.type == "purchase")
    pev = pev.mutate(_order_ref=json_text(pev.props, "order_id").fill_null(pev.event_id))
    all_orders = win.users(wh.table("orders")).select(_oid=ibis._.order_id)  # the same user's orders
    return pev.anti_join(all_orders, pev._order_ref == all_orders._oid).drop("_order_ref")


def purchase_lines(wh: TableSource, win: Window) -> Any:
    """Completed purchases in the window: orders, plus purchase events that are not also an order."""
    orders = win.clip(wh.table("orders"))
    paid = orders.filter(~orders.status.lower().isin(VOID_ORDER_STATUS))
    from_orders = paid.select(
        "user_id", "ts", amount=_f(paid.amount), coupon=paid.coupon_id.notnull().cast("int64")
    )
    pev = standalone_purchases(wh, win)
    from_events = pev.select(
        "user_id", "ts", amount=_f(pev.amount.fill_null(0)), coupon=ibis.literal(0, "int64")
    )
    return _union(from_orders, from_events)


def consumption_features(wh: TableSource, win: Window) -> Any:
    """Recency, frequency, monetary value, AOV, purchase days and coupon use."""
    p = purchase_lines(wh, win)
    return p.group_by("user_id").aggregate(
        frequency=p.count(),
        monetary=_cents_sum(p.amount),
        purchase_days=p.ts.date().nunique(),
        recency_days=win.days_before_cutoff(p.ts.max()),
        first_purchase_days=win.days_before_cutoff(p.ts.min()),
        coupon_orders=p.coupon.sum(),
    )


def refund_features(wh: TableSource, win: Window) -> Any:
    """Refund events and refunded/cancelled orders."""
    ev = win.clip(wh.table("events"))
    r = ev.filter(ev.type == "refund").select("user_id", amount=_f(ev.amount.abs().fill_null(0)))
    o = win.clip(wh.table("orders"))
    ro = o.filter(o.status.lower().isin(VOID_ORDER_STATUS)).select("user_id", amount=_f(o.amount.abs()))
    both = _union(r, ro)
    return both.group_by("user_id").aggregate(refunds=both.count(), refund_amount=_cents_sum(both.amount))


def price_features(wh: TableSource, win: Window) -> Any:
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
    pev = standalone_purchases(wh, win)
    pev = pev.filter(pev.amount.notnull() & (pev.amount > 0))
    ev_lines = pev.select(
        "user_id",
        unit_price=_f(pev.amount) / _f(pev.quantity.fill_null(1).clip(lower=1)),
        discounted=ibis.literal(float("nan"), "float64"),
    )
    both = _union(order_lines, ev_lines)
    return both.group_by("user_id").aggregate(
        # in cents (an exact sum, then one division): ranks and tertiles of it are the same on any engine
        avg_unit_price=_cents_sum(both.unit_price) / _f(both.unit_price.count()),
        discount_share=both.discounted.mean(),
    )


def _local_events(wh: TableSource, win: Window) -> Any:
    """Events in the window with the local day number, hour and weekday (display time zone at the cutoff)."""
    ev = win.clip(wh.table("events"))
    local_s = (epoch_seconds(ev.ts) + win.utc_offset_s).floor()
    return ev.mutate(
        _day=local_s // 86400,
        _hour=(local_s // 3600) % 24,
        _dow=(local_s // 86400 + 3) % 7,  # 1970-01-01 was a Thursday; 0 = Monday
    )


def behaviour_features(wh: TableSource, win: Window) -> Any:
    """Event counts by type, local hour-of-day histogram and weekend share."""
    ev = _local_events(wh, win)
    n = _f(ev.count())
    counts = {name: ev.count(where=ev.type == kind) for name, kind in _BEHAVIOUR_COUNTS.items()}
    hours = {f"h{h:02d}": _f(ev.count(where=ev._hour == h)) / n for h in range(24)}
    return ev.group_by("user_id").aggregate(
        events=ev.count(),
        last_active_days=win.days_before_cutoff(ev.ts.max()),
        first_seen_days=win.days_before_cutoff(ev.ts.min()),
        gift_amount=_f(ev.amount.sum(where=ev.type == "gift")).fill_null(0.0),
        weekend_share=_f(ev.count(where=ev._dow >= 5)) / n,
        **counts,
        **hours,
    )


def active_day_features(wh: TableSource, win: Window) -> Any:
    """Distinct local days with an event (two plain aggregations: cheaper than COUNT DISTINCT per user)."""
    ev = _local_events(wh, win)
    days = ev.select("user_id", "_day").distinct()
    return days.group_by("user_id").aggregate(active_days=days.count())


def watch_features(wh: TableSource, win: Window) -> Any:
    """Live sessions watched and watch minutes (first enter to last leave per session, capped)."""
    ev = win.clip(wh.table("events"))
    live = ev.filter(ev.type.isin(("enter_room", "leave_room")) & ev.session_id.notnull())
    per = live.group_by(["user_id", "session_id"]).aggregate(  # whole microseconds: exact on any engine
        enter=epoch_micros(live.ts).min(where=live.type == "enter_room"),
        leave=epoch_micros(live.ts).max(where=live.type == "leave_room"),
    )
    watched = (per.leave - per.enter).clip(lower=0, upper=int(MAX_WATCH_MINUTES * 60_000_000))
    per = per.mutate(watched=ibis.ifelse(per.leave > per.enter, watched, 0))
    return per.group_by("user_id").aggregate(
        sessions_watched=per.enter.count(), watch_minutes=_f(per.watched.sum()) / 60_000_000
    )


def sentiment_features(wh: TableSource, win: Window) -> Any:
    """Mean comment sentiment score (filled by the live copilot's NLP columns when present)."""
    c = win.clip(wh.table("comments"))
    c = c.filter(c.user_id.notnull())
    return c.group_by("user_id").aggregate(
        comment_sentiment=c.sentiment_score.mean(), comments_scored=c.sentiment_score.count()
    )


def channel_features(wh: TableSource, win: Window) -> Any:
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


def interactions(wh: TableSource, win: Window) -> Any:
    """Interest-bearing interactions, one row each: (user_id, ts, ref, product_id, category, brand, w, buy).

    Events of the types in ``INTEREST_WEIGHTS`` (a purchase event that repeats an order is left to the
    order's lines) and paid order lines, weighted as a purchase. ``ref`` orders rows with equal ``ts``.
    """
    products = wh.table("products").select("product_id", p_category=ibis._.category, p_brand=ibis._.brand)
    ev = win.clip(wh.table("events"))
    ev = _union(
        ev.filter(ev.type.isin(tuple(t for t in INTEREST_WEIGHTS if t != "purchase"))),
        standalone_purchases(wh, win),
    ).left_join(products, "product_id")
    weight = ibis.cases(*((ev.type == t, w) for t, w in INTEREST_WEIGHTS.items()), else_=0.0)
    from_events = ev.select(
        "user_id",
        "ts",
        ref=ev.event_id,
        product_id=ev.product_id,
        category=ev.category.fill_null(ev.p_category).cast("string"),
        brand=ev.p_brand.cast("string"),
        w=weight,
        buy=(ev.type == "purchase").cast("int64"),
    )
    orders = win.clip(wh.table("orders"))
    paid = orders.filter(~orders.status.lower().isin(VOID_ORDER_STATUS)).select("order_id", "user_id", "ts")
    items = (
        wh.table("order_items")
        .select("order_id", "line_no", "product_id")
        .join(paid, "order_id")
        .left_join(products, "product_id")
    )
    from_orders = items.select(
        "user_id",
        "ts",
        ref=items.order_id.concat("#", items.line_no.cast("string")),
        product_id=items.product_id,
        category=items.p_category.cast("string"),
        brand=items.p_brand.cast("string"),
        w=ibis.literal(INTEREST_WEIGHTS["purchase"], "float64"),
        buy=ibis.literal(1, "int64"),
    )
    return _union(from_events, from_orders)


def without_removed(table: Any, wh: TableSource, kind: str) -> Any:
    """``table`` without the rows whose ``kind`` column (category or brand) the user removed as a tag."""
    overrides = wh.table("tag_overrides")
    removed = overrides.filter(overrides.tag.startswith(f"{kind}:")).select(
        _o_user=overrides.user_id, _o_item=overrides.tag.substr(len(kind) + 1)
    )
    return table.anti_join(removed, (table.user_id == removed._o_user) & (table[kind] == removed._o_item))


def interaction_totals(wh: TableSource, win: Window) -> Any:
    """``interactions`` summed per (user_id, product_id, category, brand): everything ``affinity`` and
    ``product_affinity`` read, small enough for a build to materialise once and share (``totals=``)."""
    t = interactions(wh, win)
    return t.group_by(["user_id", "product_id", "category", "brand"]).aggregate(w=t.w.sum(), buy=t.buy.sum())


def affinity(wh: TableSource, win: Window, key: str = "category", totals: Any = None) -> Any:
    """Long table (user_id, <key>, score, buys): weighted interactions per category or brand.

    Tags a user removed (``tag_overrides`` rows ``category:X`` / ``brand:X``) are excluded here, so
    every consumer of interest (tags, shares, segments) respects them. ``totals``: a materialised
    ``interaction_totals`` of the same window to read instead of the events.
    """
    t = interactions(wh, win) if totals is None else totals
    t = t.filter(t[key].notnull() & (t.w > 0))
    agg = t.group_by(["user_id", key]).aggregate(score=t.w.sum(), buys=t.buy.sum())
    return without_removed(agg, wh, key)


def interest_events(wh: TableSource, win: Window) -> Any:
    """(user_id, ts, ref, category) of every interaction with a category, the user's removed ones left out."""
    t = interactions(wh, win)
    t = without_removed(t.filter(t.category.notnull()), wh, "category")
    return t.select("user_id", "ts", "ref", "category")


def product_affinity(wh: TableSource, win: Window, totals: Any = None) -> Any:
    """(user_id, product_id, score): weighted interactions per product, without products in a category
    or of a brand the user removed (the input of the similar-users model)."""
    t = interactions(wh, win) if totals is None else totals
    t = t.filter(t.product_id.notnull() & (t.w > 0))
    t = without_removed(without_removed(t, wh, "category"), wh, "brand")
    return t.group_by(["user_id", "product_id"]).aggregate(score=t.w.sum())


def _category_summary(wh: TableSource, win: Window, totals: Any = None) -> Any:
    a = affinity(wh, win, "category", totals)
    ranked = a.mutate(
        _rank=ibis.row_number().over(group_by=a.user_id, order_by=[a.score.desc(), a.category]),
        _total=a.score.sum().over(group_by=a.user_id),
    )
    return ranked.group_by("user_id").aggregate(
        n_categories=ranked.count(),
        top_category=ranked.category.arbitrary(where=ranked._rank == 0),
        top_category_share=(ranked.score / ranked._total).max(),
    )


def feature_query(wh: TableSource, win: Window, totals: Any = None) -> Any:
    """One Ibis expression: the universe left-joined to every feature family."""
    out = user_universe(wh, win)
    for part in (
        basic_features(wh, win),
        consumption_features(wh, win),
        refund_features(wh, win),
        price_features(wh, win),
        behaviour_features(wh, win),
        active_day_features(wh, win),
        watch_features(wh, win),
        sentiment_features(wh, win),
        channel_features(wh, win),
        _category_summary(wh, win, totals),
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


def build_features(wh: TableSource, win: Window, totals: Any = None) -> pd.DataFrame:
    """The feature table (one row per user, indexed by ``user_id``) for the window."""
    df = feature_query(wh, win, totals).to_pyarrow().to_pandas()
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
