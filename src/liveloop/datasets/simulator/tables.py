"""Arrow tables in liveloop's native schema (training tables) and the separate ground-truth tables."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from liveloop.datasets.simulator import phrases
from liveloop.datasets.simulator.behaviour import CHANNELS, EVENT_TYPES, Block
from liveloop.datasets.simulator.config import (
    CATEGORIES,
    CATEGORY_CODES,
    MESSAGE_CHANNELS,
    SEGMENTS,
    UPLIFT_TYPES,
)
from liveloop.datasets.simulator.names import ADJECTIVES, AGE_BANDS, CATALOGUE_WORDS, HOST_NAMES, REGIONS
from liveloop.datasets.simulator.world import DAY, World

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(18, 2)
GENDERS = ("female", "male", "unknown")
SOURCE = "simulator"


class Ids:
    """Deterministic string ids for one world: ``s<seed><kind><number>``."""

    def __init__(self, world: World):
        seed = world.config.seed
        self.prefix = f"s{seed}"
        self.users = pa.array([f"s{seed}u{i:07d}" for i in range(world.users.n)], pa.string())
        self.products = pa.array([f"s{seed}p{i:06d}" for i in range(world.products.n)], pa.string())
        self.hosts = pa.array([f"s{seed}h{i:04d}" for i in range(world.hosts.n)], pa.string())
        self.sessions = pa.array([f"s{seed}l{i:06d}" for i in range(world.sessions.n)], pa.string())
        self.n_slots = len(world.sessions.slot_product)
        self._coupons: pa.Array | None = None

    def coupons(self) -> pa.Array:
        """A coupon id per lineup slot (``s<seed>k<slot>``; only slots with a coupon have a coupon row)."""
        if self._coupons is None:
            self._coupons = self.seq("k", np.arange(self.n_slots))
        return self._coupons

    def seq(self, kind: str, numbers: np.ndarray) -> pa.Array:
        digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), 8, "0")
        return pc.binary_join_element_wise(pa.scalar(f"{self.prefix}{kind}"), digits, "")


def take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]`` with -1 meaning null."""
    index = np.asarray(index, dtype=np.int64)
    return pc.take(values, pa.array(index, mask=index < 0))


def ts_array(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.round(np.asarray(seconds, dtype=np.float64) * 1000).astype(np.int64) * 1000, TS)


def money(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(np.round(values, 2), mask=np.isnan(values)).cast(MONEY, safe=False)


def _json(rows: list) -> pa.Array:
    return pa.array([json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows], pa.string())


def users_table(world: World, ids: Ids) -> pa.Table:
    u = world.users
    return pa.table(
        {
            "user_id": ids.users,
            "signup_ts": ts_array(u.signup),
            "gender": take(pa.array(GENDERS), u.gender),
            "age_band": take(pa.array(AGE_BANDS), u.age),
            "region": take(pa.array(REGIONS), u.region),
            "city_tier": pa.array(u.city_tier, pa.int32()),
        }
    )


def products_table(world: World, ids: Ids) -> pa.Table:
    p = world.products
    titles, titles_en, brands = [], [], []
    for i in range(p.n):
        brand_list, nouns = CATALOGUE_WORDS[CATEGORY_CODES[p.category[i]]]
        (bz, be), (nz, ne), (az, ae) = brand_list[p.brand[i]], nouns[p.noun[i]], ADJECTIVES[p.adjective[i]]
        pack_zh = f" {p.pack[i]}件装" if p.pack[i] > 1 else ""
        pack_en = f", pack of {p.pack[i]}" if p.pack[i] > 1 else ""
        titles.append(f"{bz}{az}{nz}{pack_zh}")
        titles_en.append(f"{be} {ae} {ne}{pack_en}")
        brands.append(be)
    attributes = [{"pack": int(p.pack[i]), "style": ADJECTIVES[p.adjective[i]][1]} for i in range(p.n)]
    return pa.table(
        {
            "product_id": ids.products,
            "title": pa.array(titles),
            "title_en": pa.array(titles_en),
            "category": take(pa.array(CATEGORY_CODES), p.category),
            "brand": pa.array(brands),
            "price": money(p.price),
            "currency": pa.array(["CNY"] * p.n, pa.string()),
            "cost": money(p.cost),
            "stock": pa.array(p.stock, pa.int32()),
            "attributes": _json(attributes),
        }
    )


def prices_table(world: World, ids: Ids) -> pa.Table:
    """The price history the world ran on: every product's list price (from a month before the first
    day), each run of days at another shelf price (a markdown or a festival price, with the lawful was-price:
    the lowest price of the 7 days before), and each live slot's price."""
    p, s = world.products, world.sessions
    n, days = p.n, world.config.days
    shelf = np.stack([np.round(world.shelf_prices(np.arange(n), d), 2) for d in range(days)], axis=1)
    markdown = world.markdown if world.markdown.size else np.zeros((n, days))
    festival = np.array([world.festival_discount(d) for d in range(days)])
    history = np.hstack([np.repeat(p.price[:, None], 7, axis=1), shelf])  # 7 list-price days before
    rows: dict[str, list] = {k: [] for k in ("start", "end", "price", "kind", "product", "session", "was")}

    def add(*values: Any) -> None:
        for key, value in zip(rows, values, strict=True):
            rows[key].append(np.asarray(value))

    add(
        np.full(n, world.t0 - 30 * DAY),
        np.full(n, np.nan),
        p.price,
        np.zeros(n),
        np.arange(n),
        -np.ones(n),
        np.nan * np.ones(n),
    )
    off = shelf != np.round(p.price, 2)[:, None]
    new_run = off & np.hstack([np.ones((n, 1), bool), shelf[:, 1:] != shelf[:, :-1]])
    for j, d in zip(*np.nonzero(new_run), strict=True):
        last = d
        while last + 1 < days and off[j, last + 1] and shelf[j, last + 1] == shelf[j, d]:
            last += 1
        add(
            [world.t0 + d * DAY],
            [world.t0 + (last + 1) * DAY],
            [shelf[j, d]],
            [3 if markdown[j, d] > festival[d] else 1],
            [j],
            [-1],
            [history[j, d : d + 7].min()],
        )
    slots = np.arange(len(s.slot_product))
    session = np.searchsorted(s.lineup_ptr, slots, side="right") - 1
    add(
        s.start[session],
        s.end[session],
        world.slot_prices(slots),
        np.full(len(slots), 2),
        s.slot_product,
        session,
        np.full(len(slots), np.nan),
    )
    col = {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}
    start, end = col["start"].astype(np.float64), col["end"].astype(np.float64)
    end_ts = pa.array(np.round(np.nan_to_num(end) * 1000).astype(np.int64) * 1000, TS, mask=np.isnan(end))
    return pa.table(
        {
            "price_id": ids.seq("r", np.arange(len(start))),
            "product_id": take(ids.products, col["product"].astype(np.int64)),
            "start_ts": ts_array(start),
            "end_ts": end_ts,
            "price": money(col["price"].astype(np.float64)),
            "currency": pa.array(["CNY"] * len(start), pa.string()),
            "kind": take(pa.array(["list", "festival", "slot", "markdown"]), col["kind"].astype(np.int64)),
            "session_id": take(ids.sessions, col["session"].astype(np.int64)),
            "was_price": money(col["was"].astype(np.float64)),
        }
    )


def hosts_table(world: World, ids: Ids) -> pa.Table:
    h = world.hosts
    names = [
        f"{HOST_NAMES[i % len(HOST_NAMES)]}{'' if i < len(HOST_NAMES) else i // len(HOST_NAMES) + 1}的直播间"
        for i in range(h.n)
    ]
    return pa.table(
        {
            "host_id": ids.hosts,
            "name": pa.array(names),
            "category": take(pa.array(CATEGORY_CODES), h.category),
            "props": _json([{"usual_start_hour_local": float(h.start_hour[i])} for i in range(h.n)]),
        }
    )


def sessions_table(world: World, ids: Ids) -> pa.Table:
    s, h = world.sessions, world.hosts
    lineups, props, titles = [], [], []
    prices = world.slot_prices(np.arange(len(s.slot_product)))
    for i in range(s.n):
        lo, hi = s.lineup_ptr[i], s.lineup_ptr[i + 1]
        lineups.append([ids.products[int(j)].as_py() for j in s.slot_product[lo:hi]])
        price = prices[lo:hi]
        props.append(
            {
                "slot_seconds": int((s.end[i] - s.start[i]) // (hi - lo)),
                "slot_prices": [float(x) for x in price],
                "slot_coupons": [float(x) for x in s.slot_coupon[lo:hi]],
            }
        )
        titles.append(
            f"{CATEGORIES[h.category[s.host[i]]][1]}专场 · {CATEGORIES[h.category[s.host[i]]][2]} live"
        )
    return pa.table(
        {
            "session_id": ids.sessions,
            "host_id": take(ids.hosts, s.host),
            "title": pa.array(titles),
            "start_ts": ts_array(s.start),
            "end_ts": ts_array(s.end),
            "lineup": _json(lineups),  # a JSON array of product ids, as the native import schema reads lists
            "props": _json(props),
        }
    )


def _event_props(ids: Ids, ev: Block) -> pa.Array:
    """``props`` of each event: the order of purchases, refunds and coupon redemptions, and the coupon of
    coupon claims and redemptions (JSON with sorted keys); null for the rest."""
    kind = {name: ev.type == EVENT_TYPES.index(name) for name in EVENT_TYPES}
    order = kind["purchase"] | kind["refund"] | kind["coupon_redeem"]
    order_ids = ids.seq("o", np.where(order, ev.ref, 0))
    coupon_ids = ids.seq("k", np.maximum(ev.coupon, 0))
    join = pc.binary_join_element_wise
    by_order = join('{"order_id": "', order_ids, '"}', "")
    by_coupon = join('{"coupon_id": "', coupon_ids, '"}', "")
    both = join('{"coupon_id": "', coupon_ids, '", "order_id": "', order_ids, '"}', "")
    none = pa.scalar(None, pa.string())
    return pc.if_else(
        pa.array(kind["coupon_redeem"]),
        both,
        pc.if_else(pa.array(kind["coupon_claim"]), by_coupon, pc.if_else(pa.array(order), by_order, none)),
    )


def events_table(world: World, ids: Ids, day: int, ev: Block, texts: pa.Array | None) -> pa.Table:
    p = world.products
    props = _event_props(ids, ev)
    is_comment = ev.type == EVENT_TYPES.index("comment")
    text = pa.nulls(len(ev.ts), pa.string())
    if texts is not None and is_comment.any():
        text = take(texts, np.where(is_comment, ev.ref - int(ev.ref[is_comment].min()), -1))
    cat = np.where(ev.product >= 0, p.category[np.maximum(ev.product, 0)], -1)
    return pa.table(
        {
            "event_id": ids.seq(f"e{day:03d}_", np.arange(len(ev.ts))),
            "ts": ts_array(ev.ts),
            "user_id": take(ids.users, ev.user),
            "type": take(pa.array(EVENT_TYPES), ev.type),
            "session_id": take(ids.sessions, ev.session),
            "product_id": take(ids.products, ev.product),
            "category": take(pa.array(CATEGORY_CODES), cat),
            "channel": take(pa.array(CHANNELS), ev.channel),
            "amount": money(ev.amount),
            "quantity": pa.array(ev.quantity, pa.int32(), mask=ev.quantity < 0),
            "text": text,
            "props": props,
        }
    )


def order_tables(world: World, ids: Ids, orders: dict[str, np.ndarray]) -> tuple[pa.Table, pa.Table]:
    order_id = ids.seq("o", orders["index"])
    head = pa.table(
        {
            "order_id": order_id,
            "user_id": take(ids.users, orders["user"]),
            "ts": ts_array(orders["ts"]),
            "status": pa.array(np.where(orders["refunded"], "refunded", "paid")),
            "amount": money(orders["amount"]),
            "currency": pa.array(["CNY"] * len(order_id), pa.string()),
            "session_id": take(ids.sessions, orders["session"]),
            "channel": take(pa.array(CHANNELS), orders["channel"]),
            "coupon_id": take(ids.coupons(), np.where(orders["coupon"] > 0, orders["slot"], -1)),
        }
    )
    items = pa.table(
        {
            "order_id": order_id,
            "line_no": pa.array(np.ones(len(order_id), np.int32)),
            "product_id": take(ids.products, orders["product"]),
            "quantity": pa.array(orders["quantity"], pa.int32()),
            "unit_price": money(orders["unit_price"]),
            "amount": money(orders["gross"]),
        }
    )
    return head, items


def comment_tables(
    world: World, ids: Ids, comments: dict, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table, pa.Array]:
    """The comments training table (text only) and its ground-truth labels, kept apart."""
    p = world.products
    prod = comments["product"]
    nouns = [CATALOGUE_WORDS[CATEGORY_CODES[p.category[j]]][1][p.noun[j]] for j in prod]
    texts, has_mention, mixed = phrases.render(
        rng,
        comments["template"],
        np.where(rng.random(len(prod)) < 0.9, comments["slot"], -1),
        [n[0] for n in nouns],
        [n[1] for n in nouns],
    )
    text = pa.array(texts, pa.string())
    comment_id = ids.seq("c", comments["index"])
    intent, sentiment, lang = phrases.labels(comments["template"])
    table = pa.table(
        {
            "comment_id": comment_id,
            "session_id": take(ids.sessions, comments["session"]),
            "user_id": take(ids.users, comments["user"]),
            "ts": ts_array(comments["ts"]),
            "text": text,
        }
    )
    truth = pa.table(
        {
            "comment_id": comment_id,
            "lang": pa.array(np.where(mixed, "mixed", lang)),
            "sentiment": pa.array(sentiment),
            "intent": pa.array(intent),
            "product_mention": take(ids.products, np.where(has_mention, prod, -1)),
            "slot_position": pa.array(comments["slot"] + 1, pa.int32()),
        }
    )
    return table, truth, text


def coupons_table(world: World, ids: Ids) -> pa.Table:
    """One published coupon per lineup slot that offers one: a fixed amount off that product, claimable
    from the slot's start and redeemable until the session ends; the same rule for every viewer."""
    s = world.sessions
    slots = np.flatnonzero(s.slot_coupon > 0)
    session = np.searchsorted(s.lineup_ptr, slots, side="right") - 1
    position = slots - s.lineup_ptr[session]
    n_slots = s.lineup_ptr[session + 1] - s.lineup_ptr[session]
    slot_start = s.start[session] + (s.end[session] - s.start[session]) * position / np.maximum(n_slots, 1)
    amount = s.slot_coupon[slots]
    price = world.slot_prices(slots)
    names = [
        f"{k + 1}号链接 立减{a:g}元 / {a:g} CNY off link {k + 1}"
        for k, a in zip(position, amount, strict=True)
    ]
    props = [
        {
            "session_id": ids.sessions[int(i)].as_py(),
            "product_id": ids.products[int(j)].as_py(),
            "slot_position": int(k + 1),
            "scope": "live_slot",
            "eligibility": "every viewer of the slot, one per order",
        }
        for i, j, k in zip(session, s.slot_product[slots], position, strict=True)
    ]
    return pa.table(
        {
            "coupon_id": take(ids.coupons(), slots),
            "name": pa.array(names, pa.string()),
            "rule": pa.array(["amount_off"] * len(slots), pa.string()),
            "amount": money(amount),
            "percent_off": pa.nulls(len(slots), pa.float64()),
            "min_spend": money(price),
            "starts_at": ts_array(np.floor(slot_start)),
            "ends_at": ts_array(s.end[session]),
            "props": _json(props),
        }
    )


def coupon_truth_table(world: World, ids: Ids, truth: dict[str, np.ndarray]) -> pa.Table:
    """Per coupon of a day: the true expected purchases of its product by the slot's actual audience (each
    one redeems the coupon), and what they would have been without the coupon."""
    return pa.table(
        {
            "coupon_id": take(ids.coupons(), truth["slot"]),
            "expected_purchases": pa.array(truth["with"], pa.float64()),
            "expected_purchases_without_coupon": pa.array(truth["without"], pa.float64()),
        }
    )


def user_truth_table(world: World, ids: Ids) -> pa.Table:
    u = world.users
    cols: dict[str, pa.Array] = {
        "user_id": ids.users,
        "segment": take(pa.array([s[0] for s in SEGMENTS]), u.segment),
        "price_beta": pa.array(u.beta),
        "impulsiveness": pa.array(u.impulsiveness),
        "social_activity": pa.array(u.social),
        "activity": pa.array(u.activity),
        "peak_hour_local": pa.array(u.peak_hour),
        "churn_ts": ts_array(np.minimum(u.churn, 4_102_444_800)),
        "uplift_type": take(pa.array([t[0] for t in UPLIFT_TYPES]), u.uplift),
        "message_lift": pa.array(u.lift),
    }
    for k, code in enumerate(CATEGORY_CODES):
        cols[f"pref_{code}"] = pa.array(u.pref[:, k])
    for k, ch in enumerate(MESSAGE_CHANNELS):
        cols[f"channel_pref_{ch}"] = pa.array(u.channel_pref[:, k])
    return pa.table(cols)


def product_truth_table(world: World, ids: Ids) -> pa.Table:
    p = world.products
    return pa.table(
        {
            "product_id": ids.products,
            "quality": pa.array(p.quality),
            "popularity": pa.array(p.popularity),
            "season_peak_month": pa.array(p.season_peak),
            "season_amplitude": pa.array(p.season_amp),
        }
    )


def host_truth_table(world: World, ids: Ids) -> pa.Table:
    return pa.table({"host_id": ids.hosts, "charisma": pa.array(world.hosts.charisma)})
