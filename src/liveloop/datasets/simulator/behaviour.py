"""One simulated day: browsing, live rooms, the purchase funnel, coupons, stock, refunds and comments.

Every draw comes from ``default_rng([seed, 100, day])`` (coupon claims from ``[seed, 300, day]``), so a
day's output does not depend on how the run is chunked; the only state carried between days is stock
left and refunds not yet due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liveloop.datasets.simulator import phrases
from liveloop.datasets.simulator.config import CATEGORIES
from liveloop.datasets.simulator.utility import funnel, sigmoid, utility
from liveloop.datasets.simulator.world import DAY, DIURNAL, World

EVENT_TYPES = (
    "signup",
    "view",
    "click",
    "add_to_cart",
    "favorite",
    "purchase",
    "refund",
    "enter_room",
    "leave_room",
    "like",
    "comment",
    "share",
    "follow",
    "gift",
    "coupon_claim",
    "coupon_redeem",
)
T = {name: i for i, name in enumerate(EVENT_TYPES)}
CHANNELS = ("feed", "search", "live", "in_app")
GIFT_VALUES = np.array([1.0, 6.6, 10.0, 52.0, 100.0, 520.0, 1314.0])
GIFT_P = np.array([0.5, 0.2, 0.14, 0.08, 0.05, 0.02, 0.01])
BIN = 10  # seconds per bin of the live-room intensity
REFUND_RATE = np.array([c[4] for c in CATEGORIES])


@dataclass
class Block:
    """Columns of one kind of event (all the same length)."""

    ts: np.ndarray
    user: np.ndarray
    type: np.ndarray
    session: np.ndarray
    product: np.ndarray
    channel: np.ndarray
    amount: np.ndarray
    quantity: np.ndarray
    ref: np.ndarray  # order index for purchase/refund/coupon_redeem, comment index for comment, else -1
    coupon: np.ndarray  # global lineup-slot index of the coupon for coupon_claim/coupon_redeem, else -1


def _block(
    ts: Any,
    user: Any,
    etype: str,
    *,
    session: Any = None,
    product: Any = None,
    channel: Any = 0,
    amount: Any = None,
    quantity: Any = None,
    ref: Any = None,
    coupon: Any = None,
) -> Block:
    """Events of one type; columns left out are null (-1, or NaN for amounts)."""
    n = len(ts)
    full = np.full
    return Block(
        ts=np.asarray(ts, dtype=np.float64),
        user=np.asarray(user, dtype=np.int64),
        type=full(n, T[etype], dtype=np.int8),
        session=full(n, -1, np.int64) if session is None else np.asarray(session, np.int64),
        product=full(n, -1, np.int64) if product is None else np.asarray(product, np.int64),
        channel=full(n, channel, np.int8) if np.isscalar(channel) else np.asarray(channel, np.int8),
        amount=full(n, np.nan) if amount is None else np.asarray(amount, np.float64),
        quantity=full(n, -1, np.int32) if quantity is None else np.asarray(quantity, np.int32),
        ref=full(n, -1, np.int64) if ref is None else np.asarray(ref, np.int64),
        coupon=full(n, -1, np.int64) if coupon is None else np.asarray(coupon, np.int64),
    )


def concat(blocks: list[Block]) -> Block:
    return Block(*(np.concatenate([getattr(b, f) for b in blocks]) for f in Block.__dataclass_fields__))


@dataclass
class DayOutput:
    events: Block
    orders: dict[str, np.ndarray]
    comments: dict[str, Any]
    #: per coupon of the day's sessions: its slot and its true expected purchases with and without it
    coupons: dict[str, np.ndarray]


@dataclass
class State:
    """What carries from one day to the next."""

    stock_left: np.ndarray
    pending_refunds: dict[str, np.ndarray] = field(default_factory=dict)
    next_order: int = 0
    next_comment: int = 0


def _local_hours(rng: np.random.Generator, world: World, users: np.ndarray) -> np.ndarray:
    """Local hour (fractional) of each activity: the user's own peak mixed with the diurnal curve."""
    own = (world.users.peak_hour[users] + rng.normal(0, 2.2, len(users))) % 24
    diurnal = rng.choice(24, len(users), p=DIURNAL / DIURNAL.sum()) + rng.random(len(users))
    return np.where(rng.random(len(users)) < 0.65, own, diurnal)


def _funnel_events(
    rng: np.random.Generator,
    world: World,
    users: np.ndarray,
    products: np.ndarray,
    t_view: np.ndarray,
    u: np.ndarray,
    channel: np.ndarray,
    session: np.ndarray,
    stay_end: np.ndarray,
) -> tuple[list[Block], dict[str, np.ndarray], np.ndarray]:
    """Cart and favourite events following each view, the purchase candidates and their mask."""
    p_cart, p_fav, p_buy = funnel(world, u)
    n = len(users)
    cart = rng.random(n) < p_cart
    fav = rng.random(n) < p_fav
    buy = cart & (rng.random(n) < p_buy)
    t_cart = np.minimum(t_view + rng.exponential(90, n) + 1, stay_end)
    t_fav = np.minimum(t_view + rng.exponential(60, n) + 1, stay_end)
    t_buy = np.minimum(t_cart + rng.exponential(300, n) + 1, stay_end)

    def follow(mask: np.ndarray, etype: str, ts: np.ndarray) -> Block:
        return _block(
            ts[mask], users[mask], etype, product=products[mask], session=session[mask], channel=channel[mask]
        )

    cand = {
        "ts": t_buy[buy],
        "user": users[buy],
        "product": products[buy],
        "session": session[buy],
        "channel": channel[buy],
    }
    return [follow(cart, "add_to_cart", t_cart), follow(fav, "favorite", t_fav)], cand, buy


def _browsing(
    rng: np.random.Generator, world: World, day: int, alive: np.ndarray, factor: float
) -> tuple[list[Block], dict[str, np.ndarray]]:
    """Off-live product views (feed and search) of every active user, and their funnels."""
    p = world.config.params
    u = world.users
    counts = rng.poisson(u.activity[alive] * p.browse_per_user_day * factor)
    users = np.repeat(alive, counts)
    n = len(users)
    hours = _local_hours(rng, world, users)
    ts = world.t0 + day * DAY + hours * 3600
    keep = (ts >= u.signup[users]) & (ts < u.churn[users])
    users, ts = users[keep], ts[keep]
    n = len(users)
    products = world.browse_products(rng, users)
    channel = np.where(rng.random(n) < 0.7, 0, 1)
    util = utility(world, users, products, day)
    views = _block(ts, users, "view", product=products, channel=channel)
    no_session = np.full(n, -1, np.int64)
    blocks, cand, _ = _funnel_events(
        rng, world, users, products, ts, util, channel, no_session, ts + 6 * 3600
    )
    cand["unit_price"] = np.round(world.shelf_prices(cand["product"], day), 2)
    cand["coupon"] = np.zeros(len(cand["ts"]))
    cand["slot"] = np.full(len(cand["ts"]), -1, np.int64)
    return [views, *blocks], cand


def _intensity(
    rng: np.random.Generator, world: World, sessions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per session, the cumulative comment/like intensity on a shared axis (sessions laid end to end).

    The intensity is 1 plus bursts — at each lineup slot start (the host presents a product) and at random
    moments — each decaying exponentially, normalised to mean 1 over the session.
    """
    p = world.config.params
    ss = world.sessions
    xs, ys, base = [], [], np.zeros(len(sessions))
    x0, y0 = 0.0, 0.0
    for i, s in enumerate(sessions):
        dur = ss.end[s] - ss.start[s]
        nb = int(np.ceil(dur / BIN))
        t = (np.arange(nb) + 0.5) * BIN
        n_slots = ss.lineup_ptr[s + 1] - ss.lineup_ptr[s]
        slot_len = dur / n_slots
        n_rand = rng.poisson(p.burst_per_min * dur / 60)
        taus = np.concatenate([np.arange(n_slots) * slot_len + 15, rng.uniform(0, dur, n_rand)])
        amps = np.concatenate([np.full(n_slots, 3.0), rng.lognormal(0.6, 0.9, n_rand)])
        m = np.ones(nb)
        span = int(6 * p.burst_decay_s / BIN)
        for tau, a in zip(taus, amps, strict=True):
            b0 = int(tau // BIN)
            seg = t[b0 : b0 + span]
            m[b0 : b0 + span] += a * np.exp(-np.maximum(seg - tau, 0) / p.burst_decay_s)
        m /= m.mean()
        base[i] = x0
        xs.append(x0 + np.arange(nb + 1) * BIN)
        ys.append(y0 + np.concatenate([[0.0], np.cumsum(m) * BIN]))
        x0 += nb * BIN + 1
        y0 = ys[-1][-1] + 1e-6
    return base, np.concatenate(xs), np.concatenate(ys)


def _live(
    rng: np.random.Generator, world: World, day: int, alive: np.ndarray, factor: float
) -> tuple[list[Block], dict[str, np.ndarray] | None, dict[str, Any] | None, dict[str, np.ndarray] | None]:
    """Every live session of the day: arrivals, leaves, engagement, product clicks, funnels, comments;
    and the product views of coupon slots with their truth (see ``_coupons``)."""
    p = world.config.params
    u, ss, hosts = world.users, world.sessions, world.hosts
    sessions = np.flatnonzero(ss.day == day)
    if len(sessions) == 0 or len(alive) == 0:
        return [], None, None, None
    # viewers: who comes depends on activity and taste for the host's category
    scale = len(alive) / (250.0 * max(hosts.n, 1))
    expected = p.viewers_per_session * hosts.charisma[ss.host[sessions]] * factor * scale
    n_view = rng.poisson(expected)
    sess = np.repeat(sessions, n_view)
    cats = hosts.category[ss.host[sess]]
    viewer = np.empty(len(sess), dtype=np.int64)
    for c in np.unique(cats):
        w = u.activity[alive] * u.pref[alive, c]
        cdf = np.cumsum(w) / w.sum()
        mask = cats == c
        viewer[mask] = alive[np.minimum(np.searchsorted(cdf, rng.random(mask.sum())), len(alive) - 1)]
    dur = (ss.end - ss.start)[sess].astype(float)
    early = rng.random(len(sess)) < 0.4
    frac = np.where(early, rng.beta(1.2, 6, len(sess)), rng.beta(1.0, 1.3, len(sess)))
    a = frac * dur * 0.97
    stay = rng.lognormal(np.log(p.stay_median_min * 60), p.stay_sigma, len(sess))
    b = np.minimum(a + np.maximum(stay, 5), dur)
    start = ss.start[sess].astype(float)
    ok = (start + a >= u.signup[viewer]) & (start + b < u.churn[viewer])
    sess, viewer, a, b, start, dur = sess[ok], viewer[ok], a[ok], b[ok], start[ok], dur[ok]
    nv = len(sess)
    blocks = [
        _block(start + a, viewer, "enter_room", session=sess, channel=2),
        _block(start + b, viewer, "leave_room", session=sess, channel=2),
    ]
    # comments, likes and gifts follow the session's bursty intensity (inverse-CDF sampling)
    pos = np.searchsorted(sessions, sess)
    base, xg, yg = _intensity(rng, world, sessions)
    ya, yb = np.interp(base[pos] + a, xg, yg), np.interp(base[pos] + b, xg, yg)
    social = u.social[viewer]

    def draw(rate_per_min: float) -> tuple[np.ndarray, np.ndarray]:
        k = rng.poisson(rate_per_min / 60 * social * (yb - ya))
        idx = np.repeat(np.arange(nv), k)
        y = ya[idx] + rng.random(len(idx)) * (yb - ya)[idx]
        return idx, np.interp(y, yg, xg) - base[pos[idx]]

    c_idx, c_t = draw(p.comment_rate)
    l_idx, l_t = draw(p.like_rate)
    g_idx, g_t = draw(p.gift_rate)
    blocks.append(_block(start[l_idx] + l_t, viewer[l_idx], "like", session=sess[l_idx], channel=2))
    gift_amount = rng.choice(GIFT_VALUES, len(g_idx), p=GIFT_P)
    blocks.append(
        _block(
            start[g_idx] + g_t,
            viewer[g_idx],
            "gift",
            session=sess[g_idx],
            channel=2,
            amount=gift_amount,
            quantity=np.ones(len(g_idx)),
        )
    )
    for etype, prob in (("follow", p.follow_p), ("share", p.share_p)):
        hit = rng.random(nv) < prob * social
        t = a[hit] + rng.random(hit.sum()) * (b - a)[hit]
        blocks.append(_block(start[hit] + t, viewer[hit], etype, session=sess[hit], channel=2))
    # lineup exposure: every slot a visit overlaps, then click -> view -> funnel
    n_slots = (ss.lineup_ptr[sess + 1] - ss.lineup_ptr[sess]).astype(float)
    slot_len = dur / n_slots
    k0 = np.floor(a / slot_len).astype(np.int64)
    k1 = np.minimum(np.floor((b - 1e-6) / slot_len).astype(np.int64), n_slots.astype(np.int64) - 1)
    reps = k1 - k0 + 1
    v = np.repeat(np.arange(nv), reps)
    k = k0[v] + (np.arange(len(v)) - np.repeat(np.cumsum(reps) - reps, reps))
    lo = np.maximum(a[v], k * slot_len[v])
    hi = np.minimum(b[v], (k + 1) * slot_len[v])
    slot = ss.lineup_ptr[sess[v]] + k
    prod = ss.slot_product[slot]
    price = world.slot_prices(slot)
    coupon = ss.slot_coupon[slot]
    util = utility(world, viewer[v], prod, day, price=price, coupon=coupon, live=True, position=k)
    p_click = sigmoid(util + p.c_click_live) * np.minimum(1.0, (hi - lo) / 120)
    truth = _coupon_truth(world, slot, coupon, util, p_click, prod)
    click = rng.random(len(v)) < p_click
    v, k, lo, hi, prod, price, coupon, util, slot = (
        x[click] for x in (v, k, lo, hi, prod, price, coupon, util, slot)
    )
    t_click = start[v] + lo + rng.random(len(v)) * (hi - lo)
    t_view = np.minimum(t_click + rng.uniform(1, 6, len(v)), start[v] + b[v])
    blocks.append(_block(t_click, viewer[v], "click", session=sess[v], product=prod, channel=2))
    blocks.append(_block(t_view, viewer[v], "view", session=sess[v], product=prod, channel=2))
    fblocks, cand, buy = _funnel_events(
        rng, world, viewer[v], prod, t_view, util, np.full(len(v), 2), sess[v], start[v] + b[v]
    )
    blocks.extend(fblocks)
    cand["unit_price"] = price[buy]
    cand["coupon"] = coupon[buy]
    cand["slot"] = slot[buy]
    has = coupon > 0
    t_buy = np.zeros(len(v))
    t_buy[buy] = cand["ts"]
    coupon_views = {
        "ts": t_view[has],
        "until": np.where(buy, t_buy, start[v] + b[v])[has],
        "user": viewer[v][has],
        "session": sess[v][has],
        "product": prod[has],
        "slot": slot[has],
        "util": util[has],
        "buy": buy[has],
        **truth,
    }
    # comment texts: intent depends on whether a product is on stage; mentions name the current slot
    c_sess, c_k = (
        sess[c_idx],
        np.minimum((c_t / slot_len[c_idx]).astype(np.int64), n_slots[c_idx].astype(int) - 1),
    )
    c_prod = ss.slot_product[ss.lineup_ptr[c_sess] + c_k]
    english = (viewer[c_idx] % 11 == 0) | (rng.random(len(c_idx)) < 0.03)
    on_stage = (c_t - c_k * slot_len[c_idx]) < 0.6 * slot_len[c_idx]
    tpl = phrases.pick_templates(rng, on_stage, english)
    comments = {
        "ts": start[c_idx] + c_t,
        "user": viewer[c_idx],
        "session": c_sess,
        "slot": c_k,
        "product": c_prod,
        "template": tpl,
    }
    return blocks, cand, comments, coupon_views


def _coupon_truth(
    world: World,
    slot: np.ndarray,
    coupon: np.ndarray,
    util: np.ndarray,
    p_click: np.ndarray,
    prod: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per coupon-slot exposure, the true expected purchases (each redeems the coupon) with the coupon and
    without it: click, cart and buy probabilities all include the coupon's utility."""
    p = world.config.params
    has = coupon > 0
    slot, util, p_click = slot[has], util[has], p_click[has]
    without = util - p.g_coupon * coupon[has] / world.products.price[prod[has]]
    ratio = sigmoid(without + p.c_click_live) / sigmoid(util + p.c_click_live)

    def buys(u: np.ndarray, click: np.ndarray) -> np.ndarray:
        p_cart, _, p_buy = funnel(world, u)
        return click * p_cart * p_buy

    return {
        "truth_slot": slot,
        "truth_with": buys(util, p_click),
        "truth_without": buys(without, p_click * ratio),
    }


def _coupons(
    rng: np.random.Generator, world: World, day: int, views: dict[str, np.ndarray] | None
) -> tuple[Block, dict[str, np.ndarray]]:
    """Coupon claims of the day's live product views, and the truth of every coupon of its sessions.

    A viewer who views a product in a coupon slot claims the coupon with ``sigmoid(u + c_claim)``; a buyer
    always claims it (at checkout at the latest). Drawn from their own stream, so the rest of the world
    is the same with or without them.
    """
    ss = world.sessions
    sessions = np.flatnonzero(ss.day == day)
    ranges = [np.arange(ss.lineup_ptr[s], ss.lineup_ptr[s + 1]) for s in sessions]
    slots = np.concatenate(ranges).astype(np.int64) if ranges else np.zeros(0, np.int64)
    slots = slots[ss.slot_coupon[slots] > 0]
    truth = {"slot": slots, "with": np.zeros(len(slots)), "without": np.zeros(len(slots))}
    if views is None or len(slots) == 0:
        return _block([], [], "coupon_claim"), truth
    pos = np.searchsorted(slots, views["truth_slot"])
    truth["with"] = np.bincount(pos, weights=views["truth_with"], minlength=len(slots))
    truth["without"] = np.bincount(pos, weights=views["truth_without"], minlength=len(slots))
    n = len(views["ts"])
    claim_p = sigmoid(views["util"] + world.config.params.c_claim)
    claim = views["buy"] | (rng.random(n) < claim_p)
    gap = np.where(views["buy"], views["until"] - views["ts"], np.minimum(60.0, views["until"] - views["ts"]))
    t_claim = views["ts"] + rng.random(n) * np.maximum(gap, 0.0)
    # a coupon is claimed once per user: keep each user's first claim of it
    idx = np.flatnonzero(claim)
    idx = idx[np.lexsort((t_claim[idx], views["user"][idx], views["slot"][idx]))]
    key = views["slot"][idx] * world.users.n + views["user"][idx]
    idx = idx[np.r_[True, key[1:] != key[:-1]]] if len(idx) else idx
    block = _block(
        t_claim[idx],
        views["user"][idx],
        "coupon_claim",
        session=views["session"][idx],
        product=views["product"][idx],
        channel=2,
        coupon=views["slot"][idx],
    )
    return block, truth


#: Units per order line and their probabilities (the mean is what the oracle's expectations use).
QUANTITIES, QUANTITY_P = (1, 2, 3), (0.82, 0.13, 0.05)
MEAN_QUANTITY = float(np.dot(QUANTITIES, QUANTITY_P))


def _settle(
    rng: np.random.Generator, world: World, cands: list[dict[str, np.ndarray]], state: State
) -> dict[str, np.ndarray]:
    """Turn purchase candidates into orders in time order, never selling more than the stock left."""
    cand = {key: np.concatenate([c[key] for c in cands]) for key in cands[0]}
    n = len(cand["ts"])
    qty = rng.choice(QUANTITIES, n, p=QUANTITY_P)
    order = np.lexsort((cand["ts"], cand["product"]))
    prod_sorted, qty_sorted = cand["product"][order], qty[order]
    csum = np.cumsum(qty_sorted)
    first = np.r_[0, np.flatnonzero(np.diff(prod_sorted)) + 1] if n else np.zeros(0, np.int64)
    group_start = np.repeat(csum[first] - qty_sorted[first], np.diff(np.r_[first, n]))
    ok_sorted = (csum - group_start) <= state.stock_left[prod_sorted]
    ok = np.zeros(n, bool)
    ok[order] = ok_sorted
    sold = np.bincount(cand["product"][ok], weights=qty[ok], minlength=len(state.stock_left)).astype(np.int64)
    state.stock_left -= sold
    keep = np.flatnonzero(ok)
    keep = keep[np.argsort(cand["ts"][keep], kind="stable")]
    out = {key: val[keep] for key, val in cand.items()}
    out["quantity"] = qty[keep]
    gross = np.round(out["unit_price"] * out["quantity"], 2)
    out["gross"] = gross
    out["amount"] = np.round(np.maximum(gross - out["coupon"], 0.01), 2)
    out["index"] = state.next_order + np.arange(len(keep))
    state.next_order += len(keep)
    # refunds: by category, more for impulsive buyers; due 1-10 days later, inside the window only
    cat = world.products.category[out["product"]]
    rate = REFUND_RATE[cat] * (0.7 + world.users.impulsiveness[out["user"]])
    refund = rng.random(len(keep)) < rate
    t_refund = out["ts"] + rng.uniform(1, 10, len(keep)) * DAY
    end = world.t0 + world.config.days * DAY
    refund &= t_refund < end
    out["refunded"] = refund
    pending = {
        "ts": t_refund[refund],
        "user": out["user"][refund],
        "product": out["product"][refund],
        "session": out["session"][refund],
        "amount": -out["amount"][refund],
        "order": out["index"][refund],
    }
    state.pending_refunds = {
        key: np.concatenate([state.pending_refunds.get(key, np.zeros(0)), val])
        for key, val in pending.items()
    }
    return out


def _due_refunds(world: World, day: int, state: State) -> Block:
    pend = state.pending_refunds
    if not pend or len(pend["ts"]) == 0:
        return _block([], [], "refund")
    day_end = world.t0 + (day + 1) * DAY
    due = pend["ts"] < day_end
    block = _block(
        pend["ts"][due],
        pend["user"][due],
        "refund",
        session=pend["session"][due],
        product=pend["product"][due],
        channel=0,
        amount=pend["amount"][due],
        ref=pend["order"][due],
    )
    state.pending_refunds = {key: val[~due] for key, val in pend.items()}
    return block


def simulate_day(world: World, day: int, state: State) -> DayOutput:
    """All events, orders and comments of one day, sorted by time."""
    rng = np.random.default_rng([world.config.seed, 100, day])
    u = world.users
    lo, hi = world.t0 + day * DAY, world.t0 + (day + 1) * DAY
    alive = np.flatnonzero((u.signup < hi) & (u.churn > lo))
    factor = world.day_factor(day)
    new = np.flatnonzero((u.signup >= lo) & (u.signup < hi))
    blocks = [_block(u.signup[new].astype(float), new, "signup", channel=3)]
    browse_blocks, browse_cand = _browsing(rng, world, day, alive, factor)
    blocks.extend(browse_blocks)
    live_blocks, live_cand, comments, coupon_views = _live(rng, world, day, alive, factor)
    blocks.extend(live_blocks)
    claims, coupon_truth = _coupons(
        np.random.default_rng([world.config.seed, 300, day]), world, day, coupon_views
    )
    blocks.append(claims)
    cands = [browse_cand] + ([live_cand] if live_cand is not None else [])
    orders = _settle(rng, world, cands, state)
    blocks.append(
        _block(
            orders["ts"],
            orders["user"],
            "purchase",
            session=orders["session"],
            product=orders["product"],
            channel=orders["channel"],
            amount=orders["amount"],
            quantity=orders["quantity"],
            ref=orders["index"],
        )
    )
    redeemed = orders["coupon"] > 0
    blocks.append(
        _block(
            orders["ts"][redeemed],
            orders["user"][redeemed],
            "coupon_redeem",
            session=orders["session"][redeemed],
            product=orders["product"][redeemed],
            channel=2,
            amount=orders["coupon"][redeemed],
            ref=orders["index"][redeemed],
            coupon=orders["slot"][redeemed],
        )
    )
    blocks.append(_due_refunds(world, day, state))
    if comments is None:  # no live session today: an empty, typed batch keeps every table's file
        empty = np.zeros(0, np.int64)
        comments = {
            "ts": np.zeros(0),
            "user": empty,
            "session": empty,
            "slot": empty,
            "product": empty,
            "template": empty,
        }
    n = len(comments["ts"])
    comments["index"] = state.next_comment + np.arange(n)
    state.next_comment += n
    blocks.append(
        _block(
            comments["ts"],
            comments["user"],
            "comment",
            session=comments["session"],
            channel=2,
            ref=comments["index"],
        )
    )
    events = concat(blocks)
    events = Block(
        *(getattr(events, f)[np.argsort(events.ts, kind="stable")] for f in Block.__dataclass_fields__)
    )
    return DayOutput(events, orders, comments, coupon_truth)
