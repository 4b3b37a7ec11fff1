"""Fraud with known truth, injected into a simulated world already in the warehouse (never real data).

``inject_fraud(wh, seed=…)`` adds, through the same ingestion path as ``simulate_into_warehouse``:

- **fake-engagement campaigns (刷量)** in a share of the live sessions: bot accounts (created minutes to
  hours before, or "aged" accounts bought in bulk with a little cover browsing), each campaign using some
  of: synchronised joins (all bots enter within seconds), a burst of near-identical comments (one
  template with emoji, punctuation, repeated characters and changed numbers), a like burst (each bot
  tapping dozens of likes within a minute or two) and a gift burst;
- **coupon-abuse rings (羊毛党)**: new linked accounts (sharing a device, or an address, or nothing but
  their script) that claim a live slot's coupon and order it within the same second, slot after slot;
- **refund abusers**: established users placing extra orders and refunding most of them;
- **households**: every user gets a device and an address in ``users.props``, and a few pairs of real
  users share an address (and some a device) — innocent links a ring detector must not flag.

It returns the truth (:class:`FraudTruth`) and writes it to ``LIVELOOP_HOME/simulator/truth/fraud.json``;
the simulator itself is untouched. Draws come from ``default_rng([seed, 900, part])``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from liveloop.datasets.simulator import phrases
from liveloop.datasets.simulator.into_warehouse import simulator_dir
from liveloop.datasets.simulator.tables import money, ts_array

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

DAY = 86400.0
#: Scripted comments of paid engagement: hype and fake purchase claims ({n}: a number).
BOT_TEMPLATES = (
    "主播太美了，已经下单{n}件了！",
    "宝宝们冲啊，这个价格太划算了",
    "已拍{n}单，质量超好，推荐大家买",
    "{n}号链接已拍，家人们闭眼入",
    "第一次买就爱上了，回购{n}次了",
    "这个价格全网最低，赶紧下单",
    "主播人美心善，支持支持",
    "刚收到货，质量真的很好，好评",
    "姐妹们快去抢，库存不多了",
    "买了{n}套送朋友，都说好",
    "great deal, already ordered {n}!",
    "best price ever, buy now guys",
)
NUMBERS = ("1", "2", "3", "5", "一", "两", "三", "五")
TAILS = ("！", "！！", "~", "~~", "。", "!!!", "")
GIFTS = (1.0, 1.0, 6.6)


@dataclass(frozen=True)
class FraudConfig:
    """How much fraud to inject (shares of the world's sessions and users)."""

    campaign_share: float = 0.15
    bots: tuple[int, int] = (10, 40)
    fresh_share: float = 0.6
    p_joins: float = 0.7
    p_comments: float = 0.8
    p_likes: float = 0.5
    p_gifts: float = 0.3
    rings_per_1000_users: float = 3.0
    ring_size: tuple[int, int] = (3, 8)
    ring_hits: tuple[int, int] = (2, 4)
    abuser_share: float = 0.01
    household_share: float = 0.06


@dataclass
class FraudTruth:
    """What was injected. Account and item ids per tactic; sessions per tactic; (session, minute) pairs
    of the like and gift bursts (minute as ISO UTC)."""

    seed: int
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    bots: set[str] = field(default_factory=set)
    fresh_bots: set[str] = field(default_factory=set)
    comment_accounts: set[str] = field(default_factory=set)
    comment_ids: set[str] = field(default_factory=set)
    new_comment_accounts: set[str] = field(default_factory=set)
    join_accounts: set[str] = field(default_factory=set)
    like_accounts: set[str] = field(default_factory=set)
    like_minutes: set[tuple[str, str]] = field(default_factory=set)
    gift_accounts: set[str] = field(default_factory=set)
    gift_minutes: set[tuple[str, str]] = field(default_factory=set)
    sessions: dict[str, set[str]] = field(default_factory=dict)
    rings: list[dict[str, Any]] = field(default_factory=list)
    ring_accounts: set[str] = field(default_factory=set)
    ring_orders: set[str] = field(default_factory=set)
    refund_abusers: set[str] = field(default_factory=set)
    abuser_orders: set[str] = field(default_factory=set)
    households: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, set):
                out[k] = sorted(v)
        out["sessions"] = {k: sorted(v) for k, v in self.sessions.items()}
        return out


class _Rows:
    """Column lists of the rows to import, per table."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.n: dict[str, int] = {}
        self.events: dict[str, list[Any]] = {
            k: []
            for k in (
                "event_id", "ts", "user_id", "type", "session_id", "product_id", "category", "channel",
                "amount", "quantity", "text", "props",
            )
        }  # fmt: skip
        self.users: dict[str, list[Any]] = {k: [] for k in ("user_id", "signup_ts", "gender", "props")}
        self.orders: dict[str, list[Any]] = {
            k: []
            for k in ("order_id", "user_id", "ts", "status", "amount", "session_id", "channel", "coupon_id")
        }
        self.items: dict[str, list[Any]] = {
            k: [] for k in ("order_id", "line_no", "product_id", "quantity", "unit_price")
        }
        self.comments: dict[str, list[Any]] = {
            k: [] for k in ("comment_id", "session_id", "user_id", "ts", "text")
        }

    def id(self, kind: str) -> str:
        k = self.n.get(kind, 0)
        self.n[kind] = k + 1
        return f"{self.prefix}{kind}{k:07d}"

    def event(self, ts: float, user: str, etype: str, **cols: Any) -> str:
        eid = self.id("e")
        row = {"event_id": eid, "ts": ts, "user_id": user, "type": etype, "channel": "live"} | cols
        for k, v in self.events.items():
            v.append(row.get(k))
        return eid

    def user(self, user: str, signup: float, props: dict[str, str]) -> None:
        self.users["user_id"].append(user)
        self.users["signup_ts"].append(signup)
        self.users["gender"].append("unknown")
        self.users["props"].append(json.dumps(props, sort_keys=True))

    def comment(self, ts: float, user: str, session: str, text: str) -> str:
        cid = self.id("c")
        for k, v in zip(
            ("comment_id", "session_id", "user_id", "ts", "text"), (cid, session, user, ts, text), strict=True
        ):
            self.comments[k].append(v)
        self.event(ts, user, "comment", session_id=session, text=text)
        return cid

    def order(
        self,
        ts: float,
        user: str,
        session: str,
        product: tuple[str, str, float],
        coupon: tuple[str, float] | None,
        refunded_at: float | None,
    ) -> str:
        oid = self.id("o")
        pid, category, price = product
        amount = price - (coupon[1] if coupon else 0.0)
        values: tuple[Any, ...] = (
            oid,
            user,
            ts,
            "refunded" if refunded_at else "paid",
            amount,
            session,
            "live",
            coupon[0] if coupon else None,
        )
        for k, v in zip(self.orders, values, strict=True):
            self.orders[k].append(v)
        for k, w in zip(self.items, (oid, 1, pid, 1, price), strict=True):
            self.items[k].append(w)
        common = {"session_id": session, "product_id": pid, "category": category}
        self.event(
            ts, user, "purchase", amount=amount, quantity=1, props=json.dumps({"order_id": oid}), **common
        )
        if coupon:
            self.event(
                ts,
                user,
                "coupon_redeem",
                props=json.dumps({"coupon_id": coupon[0], "order_id": oid}),
                **common,
            )
        if refunded_at:
            self.event(
                refunded_at, user, "refund", amount=amount, props=json.dumps({"order_id": oid}), **common
            )
        return oid

    def tables(self) -> dict[str, pa.Table]:
        e, u, o, i, c = self.events, self.users, self.orders, self.items, self.comments
        return {
            "users": pa.table(
                {
                    "user_id": pa.array(u["user_id"], pa.string()),
                    "signup_ts": ts_array(np.array(u["signup_ts"], dtype=np.float64)),
                    "gender": pa.array(u["gender"], pa.string()),
                    "props": pa.array(u["props"], pa.string()),
                }
            ),
            "events": pa.table(
                {
                    "event_id": pa.array(e["event_id"], pa.string()),
                    "ts": ts_array(np.array(e["ts"], dtype=np.float64)),
                    "user_id": pa.array(e["user_id"], pa.string()),
                    "type": pa.array(e["type"], pa.string()),
                    "session_id": pa.array(e["session_id"], pa.string()),
                    "product_id": pa.array(e["product_id"], pa.string()),
                    "category": pa.array(e["category"], pa.string()),
                    "channel": pa.array(e["channel"], pa.string()),
                    "amount": money(
                        np.array([np.nan if a is None else a for a in e["amount"]], dtype=np.float64)
                    ),
                    "quantity": pa.array(e["quantity"], pa.int32()),
                    "text": pa.array(e["text"], pa.string()),
                    "props": pa.array(e["props"], pa.string()),
                }
            ),
            "orders": pa.table(
                {
                    "order_id": pa.array(o["order_id"], pa.string()),
                    "user_id": pa.array(o["user_id"], pa.string()),
                    "ts": ts_array(np.array(o["ts"], dtype=np.float64)),
                    "status": pa.array(o["status"], pa.string()),
                    "amount": money(np.array(o["amount"], dtype=np.float64)),
                    "currency": pa.array(["CNY"] * len(o["order_id"]), pa.string()),
                    "session_id": pa.array(o["session_id"], pa.string()),
                    "channel": pa.array(o["channel"], pa.string()),
                    "coupon_id": pa.array(o["coupon_id"], pa.string()),
                }
            ),
            "order_items": pa.table(
                {
                    "order_id": pa.array(i["order_id"], pa.string()),
                    "line_no": pa.array(i["line_no"], pa.int32()),
                    "product_id": pa.array(i["product_id"], pa.string()),
                    "quantity": pa.array(i["quantity"], pa.int32()),
                    "unit_price": money(np.array(i["unit_price"], dtype=np.float64)),
                    "amount": money(np.array(i["unit_price"], dtype=np.float64)),
                }
            ),
            "comments": pa.table(
                {
                    "comment_id": pa.array(c["comment_id"], pa.string()),
                    "session_id": pa.array(c["session_id"], pa.string()),
                    "user_id": pa.array(c["user_id"], pa.string()),
                    "ts": ts_array(np.array(c["ts"], dtype=np.float64)),
                    "text": pa.array(c["text"], pa.string()),
                }
            ),
        }


@dataclass
class _World:
    """What the injection reads from the warehouse."""

    start: float
    end: float
    sessions: list[tuple[str, float, float, list[str]]]
    products: dict[str, tuple[str, str, float]]
    coupons: list[tuple[str, str, str, float, float, float]]
    users: list[tuple[str, float | None]]


def _read_world(wh: Warehouse) -> _World:
    span = wh.sql("SELECT epoch(min(ts)), epoch(max(ts)) FROM events")[0]
    if span[0] is None:
        from liveloop.core.errors import InsufficientData

        raise InsufficientData("the warehouse holds no events: simulate a world first", field="warehouse")
    sessions = [
        (s, float(a), float(b), list(lineup or []))
        for s, a, b, lineup in wh.sql(
            "SELECT session_id, epoch(start_ts), epoch(end_ts), lineup FROM live_sessions "
            "WHERE start_ts IS NOT NULL AND end_ts IS NOT NULL ORDER BY session_id"
        )
    ]
    products = {
        p: (p, c or "", float(price))
        for p, c, price in wh.sql(
            "SELECT product_id, category, CAST(price AS DOUBLE) FROM products WHERE price IS NOT NULL "
            "ORDER BY product_id"
        )
    }
    coupons = [
        (c, s, p, float(a), float(t0), float(t1))
        for c, s, p, a, t0, t1 in wh.sql(
            "SELECT coupon_id, json_extract_string(props, '$.session_id'), json_extract_string(props, "
            "'$.product_id'), CAST(amount AS DOUBLE), epoch(starts_at), epoch(ends_at) FROM coupons "
            "WHERE amount IS NOT NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL "
            "AND json_extract_string(props, '$.session_id') IS NOT NULL ORDER BY coupon_id"
        )
        if p in products
    ]
    users = [
        (u, None if t is None else float(t))
        for u, t in wh.sql("SELECT user_id, epoch(signup_ts) FROM users ORDER BY user_id")
    ]
    return _World(float(span[0]), float(span[1]), sessions, products, coupons, users)


def _hex(rng: np.random.Generator, prefix: str) -> str:
    return prefix + "".join(f"{x:02x}" for x in rng.integers(0, 256, 8))


def _text(rng: np.random.Generator, template: str) -> str:
    """One scripted comment: the template with a number, a tail, maybe an emoji or a doubled character."""
    text = template.replace("{n}", NUMBERS[rng.integers(len(NUMBERS))])
    if rng.random() < 0.15 and len(text) > 2:
        k = int(rng.integers(len(text)))
        text = text[: k + 1] + text[k] + text[k + 1 :]
    text += TAILS[rng.integers(len(TAILS))]
    if rng.random() < 0.5:
        text += phrases.EMOJI[rng.integers(len(phrases.EMOJI))] * int(rng.integers(1, 4))
    return text


def _template(rng: np.random.Generator) -> str:
    """A bot template (60%) or an ordinary phrase of the simulator's bank (its mention made a link)."""
    if rng.random() < 0.6:
        return BOT_TEMPLATES[rng.integers(len(BOT_TEMPLATES))]
    tpl = phrases.BANK[rng.integers(len(phrases.BANK))]
    return tpl[3].replace("{m}", "{n}号链接" if tpl[2] == "zh" else "link {n}")


def _households(rng: np.random.Generator, world: _World, cfg: FraudConfig, truth: FraudTruth) -> pa.Table:
    """A device and an address for every simulated user; a few pairs share the address (half of them the
    device too)."""
    ids = [u for u, _ in world.users]
    devices = {u: _hex(rng, "d") for u in ids}
    addresses = {u: _hex(rng, "a") for u in ids}
    pairs = int(len(ids) * cfg.household_share / 2)
    chosen = rng.permutation(len(ids))[: 2 * pairs]
    for a, b in zip(chosen[0::2], chosen[1::2], strict=True):
        addresses[ids[b]] = addresses[ids[a]]
        if rng.random() < 0.5:
            devices[ids[b]] = devices[ids[a]]
    truth.households = pairs
    return pa.table(
        {
            "user_id": pa.array(ids, pa.string()),
            "props": pa.array(
                [json.dumps({"address_hash": addresses[u], "device_id": devices[u]}) for u in ids],
                pa.string(),
            ),
        }
    )


def _campaign(
    rng: np.random.Generator,
    rows: _Rows,
    world: _World,
    cfg: FraudConfig,
    truth: FraudTruth,
    session: tuple[str, float, float, list[str]],
) -> None:
    sid, start, end, lineup = session
    n = int(rng.integers(cfg.bots[0], cfg.bots[1] + 1))
    fresh = bool(rng.random() < cfg.fresh_share)
    t0 = float(rng.uniform(start + 600, end - 1200))
    tactics = {
        "joins": rng.random() < cfg.p_joins,
        "comments": rng.random() < cfg.p_comments,
        "likes": rng.random() < cfg.p_likes,
        "gifts": rng.random() < cfg.p_gifts,
    }
    if not (tactics["joins"] or tactics["comments"] or tactics["likes"]):
        tactics["comments"] = True
    batch = t0 - float(rng.uniform(0.2, 12.0)) * 3600
    bots = []
    for _ in range(n):
        bot = rows.id("u")
        signup = batch + float(rng.uniform(0, 600)) if fresh else t0 - float(rng.uniform(20, 400)) * DAY
        rows.user(bot, signup, {"device_id": _hex(rng, "d"), "address_hash": _hex(rng, "a")})
        if signup >= world.start:
            rows.event(signup, bot, "signup", channel="in_app")
        if not fresh:  # a little cover browsing in the fortnight before
            for t in rng.uniform(max(world.start, t0 - 14 * DAY), t0 - 3600, int(rng.integers(0, 7))):
                p = world.products[lineup[int(rng.integers(len(lineup)))]] if lineup else None
                if p:
                    rows.event(float(t), bot, "view", product_id=p[0], category=p[1], channel="feed")
        bots.append(bot)
    truth.bots.update(bots)
    if fresh:
        truth.fresh_bots.update(bots)
    spread = float(rng.uniform(2, 15))
    enters = t0 + rng.uniform(0, spread, n) if tactics["joins"] else rng.uniform(t0 - 900, t0 + 120, n)
    for bot, t in zip(bots, enters, strict=True):
        rows.event(float(t), bot, "enter_room", session_id=sid)
        rows.event(float(min(t + rng.uniform(300, 2400), end)), bot, "leave_room", session_id=sid)
    if tactics["joins"]:
        truth.join_accounts.update(bots)
    if tactics["comments"]:
        template = _template(rng)
        c0 = t0 + spread + float(rng.uniform(20, 120))
        width = float(rng.uniform(20, 100))
        posters = _some(rng, bots, float(rng.uniform(0.6, 1.0)))
        for bot in posters:
            for _ in range(1 + int(rng.random() < 0.2)):
                cid = rows.comment(c0 + float(rng.uniform(0, width)), bot, sid, _text(rng, template))
                truth.comment_ids.add(cid)
        truth.comment_accounts.update(posters)
        if fresh:
            truth.new_comment_accounts.update(posters)
    if tactics["likes"]:
        l0 = t0 + float(rng.uniform(60, 600))
        width = float(rng.uniform(40, 150))
        likers = _some(rng, bots, float(rng.uniform(0.5, 1.0)))
        for bot in likers:
            for t in l0 + rng.uniform(0, width, int(rng.integers(15, 61))):
                rows.event(float(t), bot, "like", session_id=sid)
                truth.like_minutes.add((sid, _minute(float(t))))
        truth.like_accounts.update(likers)
    if tactics["gifts"]:
        g0 = t0 + float(rng.uniform(60, 900))
        width = float(rng.uniform(20, 90))
        senders = _some(rng, bots, float(rng.uniform(0.5, 1.0)))
        for bot in senders:
            for t in g0 + rng.uniform(0, width, int(rng.integers(1, 4))):
                rows.event(
                    float(t), bot, "gift", session_id=sid, amount=GIFTS[rng.integers(len(GIFTS))], quantity=1
                )
                truth.gift_minutes.add((sid, _minute(float(t))))
        truth.gift_accounts.update(senders)
    for tactic, on in tactics.items():
        if on:
            truth.sessions.setdefault(tactic, set()).add(sid)
    truth.campaigns.append(
        {"session_id": sid, "bots": n, "fresh": fresh, "t0": t0} | {k: bool(v) for k, v in tactics.items()}
    )


def _some(rng: np.random.Generator, bots: list[str], share: float) -> list[str]:
    """Each bot with probability ``share`` (at least one)."""
    return [b for b in bots if rng.random() < share] or bots[:1]


def _minute(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t - t % 60, UTC).isoformat()


def _ring(rng: np.random.Generator, rows: _Rows, world: _World, cfg: FraudConfig, truth: FraudTruth) -> None:
    size = int(rng.integers(cfg.ring_size[0], cfg.ring_size[1] + 1))
    hits = int(rng.integers(cfg.ring_hits[0], cfg.ring_hits[1] + 1))
    usable = [c for c in world.coupons if c[4] >= world.start + 2 * DAY]
    if len(usable) < hits:
        return
    chosen = sorted(
        (usable[int(i)] for i in rng.choice(len(usable), hits, replace=False)), key=lambda c: c[4]
    )
    link = str(rng.choice(["device_id", "address_hash", "none"], p=[0.35, 0.35, 0.3]))
    shared = {"device_id": _hex(rng, "d"), "address_hash": _hex(rng, "a")}
    first = chosen[0][4]
    accounts = []
    for _ in range(size):
        acct = rows.id("u")
        signup = first - float(rng.uniform(1, 30)) * DAY
        props = {"device_id": _hex(rng, "d"), "address_hash": _hex(rng, "a")}
        if link != "none":
            props[link] = shared[link]
        rows.user(acct, signup, props)
        if signup >= world.start:
            rows.event(signup, acct, "signup", channel="in_app")
        for t in rng.uniform(max(world.start, signup), first, int(rng.integers(0, 6))):
            p = list(world.products.values())[int(rng.integers(len(world.products)))]
            rows.event(float(t), acct, "view", product_id=p[0], category=p[1], channel="feed")
        accounts.append(acct)
    orders = []
    for coupon_id, sid, pid, amount, t_start, t_end in chosen:
        product = world.products[pid]
        tc = float(rng.uniform(t_start + 10, min(t_end - 60, t_start + 600)))
        delay = float(rng.uniform(3, 20))
        for acct in accounts:
            if rng.random() > 0.9:
                continue
            rows.event(tc - float(rng.uniform(5, 60)), acct, "enter_room", session_id=sid)
            rows.event(
                tc + float(rng.uniform(0, 1)),
                acct,
                "coupon_claim",
                session_id=sid,
                props=json.dumps({"coupon_id": coupon_id}),
            )
            ts = tc + delay + float(rng.uniform(0, 1))
            refunded = ts + float(rng.uniform(1, 3)) * DAY if rng.random() < 0.05 else None
            orders.append(rows.order(ts, acct, sid, product, (coupon_id, amount), refunded))
    truth.ring_accounts.update(accounts)
    truth.ring_orders.update(orders)
    truth.rings.append(
        {"accounts": accounts, "link": link, "coupons": [c[0] for c in chosen], "orders": len(orders)}
    )


def _abuser(rng: np.random.Generator, rows: _Rows, world: _World, user: str, truth: FraudTruth) -> None:
    m = int(rng.integers(5, 13))
    rate = float(rng.uniform(0.6, 0.95))
    limit = world.start + 0.75 * (world.end - world.start)
    live = [s for s in world.sessions if s[1] < limit and s[3]]
    refunds = set(rng.permutation(m)[: max(3, round(rate * m))].tolist())
    for j, k in enumerate(rng.choice(len(live), m, replace=True)):
        sid, start, end, lineup = live[int(k)]
        pid = lineup[int(rng.integers(len(lineup)))]
        if pid not in world.products:
            continue
        ts = float(rng.uniform(start, end))
        refunded = ts + float(rng.uniform(1, 4)) * DAY if j in refunds else None
        truth.abuser_orders.add(rows.order(ts, user, sid, world.products[pid], None, refunded))
    truth.refund_abusers.add(user)


def inject_fraud(wh: Warehouse, *, seed: int = 1, config: FraudConfig | None = None) -> FraudTruth:
    """Inject fake engagement, coupon-abuse rings, refund abusers and households into the simulated
    world in ``wh`` (see the module's description); returns what was injected."""
    from liveloop.ingest import import_file

    cfg = config or FraudConfig()
    world = _read_world(wh)
    truth = FraudTruth(seed=seed)
    rows = _Rows(f"fz{seed}")
    rng = np.random.default_rng([seed, 900, 0])
    homes = _households(rng, world, cfg, truth)
    rng = np.random.default_rng([seed, 900, 1])
    eligible = [s for s in world.sessions if s[2] - s[1] >= 2400 and s[3]]
    k = max(1, round(cfg.campaign_share * len(eligible)))
    for i in sorted(rng.choice(len(eligible), min(k, len(eligible)), replace=False)):
        _campaign(rng, rows, world, cfg, truth, eligible[int(i)])
    rng = np.random.default_rng([seed, 900, 2])
    for _ in range(max(2, round(cfg.rings_per_1000_users * len(world.users) / 1000))):
        _ring(rng, rows, world, cfg, truth)
    rng = np.random.default_rng([seed, 900, 3])
    old = [u for u, t in world.users if t is not None and t < world.start]
    n_abusers = min(len(old), max(3, round(cfg.abuser_share * len(world.users))))
    for i in rng.choice(len(old), n_abusers, replace=False):
        _abuser(rng, rows, world, old[int(i)], truth)
    staging = simulator_dir(wh) / f"fraud-staging-{seed}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for table, data in rows.tables().items():
            path = staging / f"{table}.parquet"
            pq.write_table(data, path)
            report = import_file(wh, path, adapter="native", table=table)
            truth.rows[table] = report.loaded
        with wh.transaction() as con:
            con.register("_fraud_homes", homes)
            try:
                con.execute(
                    "UPDATE users SET props = json_merge_patch(coalesce(users.props, '{}'), h.props) "
                    "FROM _fraud_homes h WHERE users.user_id = h.user_id"
                )
            finally:
                con.unregister("_fraud_homes")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _save(wh, truth)
    return truth


def _save(wh: Warehouse, truth: FraudTruth) -> Path:
    path = simulator_dir(wh) / "truth" / "fraud.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth.to_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path
