"""The static world: users with latent traits, products, hosts and the live-session schedule.

Everything is drawn from ``numpy.random.default_rng([seed, stream])`` so that the same config gives the
same world regardless of chunking. Local times are Asia/Shanghai (UTC+8); stored times are UTC seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from liveloop.datasets.simulator import media
from liveloop.datasets.simulator.config import (
    CATEGORIES,
    CATEGORY_SHARE,
    MARKDOWN_DEPTHS,
    SEGMENTS,
    UPLIFT_TYPES,
    SimConfig,
)
from liveloop.datasets.simulator.names import (
    ADJECTIVES,
    AGE_BANDS,
    AGE_WEIGHTS,
    CATALOGUE_WORDS,
    REGION_WEIGHTS,
    REGIONS,
)

DAY = 86_400
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving
K = len(CATEGORIES)

#: Global diurnal shape of shopping traffic by local hour (relative), peaking 20:00-22:00.
DIURNAL = np.array(
    [
        0.35,
        0.2,
        0.12,
        0.08,
        0.06,
        0.08,
        0.15,
        0.3,
        0.5,
        0.65,
        0.75,
        0.85,
        0.95,
        0.85,
        0.75,
        0.75,
        0.8,
        0.85,
        0.95,
        1.1,
        1.35,
        1.5,
        1.3,
        0.8,
    ]
)


def _p(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


@dataclass
class Users:
    n: int
    gender: np.ndarray  # 0 female 1 male 2 unknown
    age: np.ndarray
    region: np.ndarray
    city_tier: np.ndarray
    segment: np.ndarray
    beta: np.ndarray  # price coefficient (true elasticity ~ -beta*(1-P))
    pref: np.ndarray  # (n, K) latent category preferences, rows sum to 1
    impulsiveness: np.ndarray
    social: np.ndarray
    activity: np.ndarray
    channel_pref: np.ndarray  # (n, 4) over MESSAGE_CHANNELS
    peak_hour: np.ndarray  # local hour of peak activity
    signup: np.ndarray  # UTC seconds
    churn: np.ndarray  # UTC seconds (may lie beyond the window)
    uplift: np.ndarray  # index into UPLIFT_TYPES
    lift: np.ndarray  # treated minus control response for persuadables (before channel/hour match)


@dataclass
class Products:
    n: int
    category: np.ndarray
    brand: np.ndarray
    noun: np.ndarray
    adjective: np.ndarray
    price: np.ndarray  # list price CNY (2 decimals)
    cost: np.ndarray
    stock: np.ndarray
    quality: np.ndarray
    popularity: np.ndarray  # log weight in browsing choice
    season_peak: np.ndarray  # month (1-12, fractional)
    season_amp: np.ndarray
    pack: np.ndarray


@dataclass
class Hosts:
    n: int
    category: np.ndarray
    charisma: np.ndarray
    start_hour: np.ndarray  # local hour
    duration_h: np.ndarray
    per_week: np.ndarray


@dataclass
class Sessions:
    n: int
    host: np.ndarray
    day: np.ndarray
    start: np.ndarray  # UTC seconds
    end: np.ndarray
    lineup_ptr: np.ndarray  # (n+1,) offsets into the slot arrays
    slot_product: np.ndarray
    slot_discount: np.ndarray
    slot_coupon: np.ndarray  # coupon value in CNY (0 = none)


@dataclass
class World:
    config: SimConfig
    t0: int  # UTC seconds of local midnight of the first day
    users: Users
    products: Products
    hosts: Hosts
    sessions: Sessions
    #: per category: its products and the cumulative browsing weights ``exp(popularity)``
    browse_cdfs: list[tuple[np.ndarray, np.ndarray]]
    #: (products, days): each product's shelf markdown on each day (0: none)
    markdown: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    #: (channels, days): paid-media spend in CNY (empty without a media budget); (days,): the traffic lift
    media_spend: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    media_lift: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def day_factor(self, day: int) -> float:
        """Traffic multiplier of a day: weekends, the run-up to 11.11 and the festival itself, and the lift
        paid media bought (``media``)."""
        p = self.config.params
        local = datetime.fromtimestamp(self.t0 + day * DAY + LOCAL_OFFSET, UTC)
        factor = p.weekend_factor if local.weekday() >= 5 else 1.0
        if (local.month, local.day) == (11, 11):
            factor *= p.festival_factor
        elif local.month == 11 and 8 <= local.day <= 10:
            factor *= p.pre_festival_factor
        elif local.month == 11 and 12 <= local.day <= 13:
            factor *= 1.3
        if self.media_lift.size and 0 <= day < self.media_lift.size:
            factor *= 1 + float(self.media_lift[day])
        return factor

    def festival_discount(self, day: int) -> float:
        """Site-wide discount applied to every list price on that day (one price for everyone)."""
        local = datetime.fromtimestamp(self.t0 + day * DAY + LOCAL_OFFSET, UTC)
        if (local.month, local.day) == (11, 11):
            return 0.15
        if local.month == 11 and 8 <= local.day <= 10:
            return 0.05
        return 0.0

    def shelf_discount(self, products: np.ndarray, day: int) -> np.ndarray:
        """Each product's discount off its list price on the shelf that day: its markdown or the festival's,
        whichever is deeper (one price for everyone)."""
        products = np.asarray(products, dtype=np.int64)
        off = np.full(products.shape, self.festival_discount(day))
        if self.markdown.size and 0 <= day < self.markdown.shape[1]:  # none outside the window
            off = np.maximum(off, self.markdown[products, day])
        return off

    def shelf_prices(self, products: np.ndarray, day: int) -> np.ndarray:
        """Each product's shelf price that day (unrounded: what the utility sees)."""
        products = np.asarray(products, dtype=np.int64)
        return self.products.price[products] * (1 - self.shelf_discount(products, day))

    def slot_prices(self, slots: np.ndarray) -> np.ndarray:
        """The price in each lineup slot (global slot indices): the slot's discount off the list price, or
        the site-wide festival discount of that day if larger."""
        s = self.sessions
        slots = np.asarray(slots, dtype=np.int64)
        festival = np.array([self.festival_discount(d) for d in range(self.config.days)])
        day = s.day[np.searchsorted(s.lineup_ptr, slots, side="right") - 1]
        off = np.maximum(s.slot_discount[slots], festival[day])
        return np.round(self.products.price[s.slot_product[slots]] * (1 - off), 2)

    def month_of(self, day: int) -> float:
        local = datetime.fromtimestamp(self.t0 + day * DAY + LOCAL_OFFSET, UTC)
        return local.month + (local.day - 1) / 31

    def browse_products(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """The product each browsing view of ``users`` lands on: a category by the user's taste, then a
        product of it by its browsing weight ``exp(popularity)``."""
        n = len(users)
        cum = np.cumsum(self.users.pref[users], axis=1)
        cat = (cum < rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1)
        products = np.empty(n, dtype=np.int64)
        for c, (members, cdf) in enumerate(self.browse_cdfs):
            mask = cat == c
            if mask.any() and len(members):
                pick = np.searchsorted(cdf, rng.random(mask.sum()))
                products[mask] = members[np.minimum(pick, len(cdf) - 1)]
            elif mask.any():
                products[mask] = rng.integers(0, self.products.n, mask.sum())
        return products

    def season(self, products: np.ndarray, day: int) -> np.ndarray:
        month = self.month_of(day)
        p = self.products
        return p.season_amp[products] * np.cos(2 * np.pi * (month - p.season_peak[products]) / 12)


def _users(cfg: SimConfig, t0: int) -> Users:
    rng = np.random.default_rng([cfg.seed, 1])
    n = cfg.users
    gender = rng.choice(3, n, p=[0.62, 0.36, 0.02])
    base = np.asarray(CATEGORY_SHARE) * 4.0
    pref = rng.gamma(np.broadcast_to(base, (n, K)))
    tilt = np.ones((n, K))
    tilt[gender == 1] = [0.4, 0.8, 1.0, 2.5, 1.0, 0.6, 0.5, 1.2]
    pref = pref * tilt + 1e-6
    pref /= pref.sum(axis=1, keepdims=True)
    segment = rng.choice(len(SEGMENTS), n, p=_p([s[1] for s in SEGMENTS]))
    beta = np.array([s[2] for s in SEGMENTS])[segment] * rng.lognormal(0, 0.15, n)
    social = rng.lognormal(-0.405, 0.9, n)
    sigma = cfg.params.activity_sigma
    activity = rng.lognormal(-(sigma**2) / 2, sigma, n)
    mix = rng.random(n)
    peak = (
        np.where(
            mix < 0.6,
            rng.normal(21, 1.3, n),
            np.where(mix < 0.85, rng.normal(12.5, 1.2, n), rng.uniform(8, 24, n)),
        )
        % 24
    )
    days = cfg.days
    new = rng.random(n) < cfg.params.new_signup_share
    signup = np.where(new, t0 + rng.uniform(0, days * DAY, n), t0 - rng.uniform(1, 540, n) * DAY).astype(
        np.int64
    )
    hazard = rng.gamma(2.0, cfg.params.churn_hazard_mean / 2.0, n)
    churn = (signup + rng.exponential(1.0 / hazard) * DAY).clip(max=2**40).astype(np.int64)
    uplift = rng.choice(len(UPLIFT_TYPES), n, p=_p([u[1] for u in UPLIFT_TYPES]))
    return Users(
        n=n,
        gender=gender,
        age=rng.choice(len(AGE_BANDS), n, p=_p(AGE_WEIGHTS)),
        region=rng.choice(len(REGIONS), n, p=_p(REGION_WEIGHTS)),
        city_tier=rng.choice(5, n, p=[0.15, 0.25, 0.25, 0.2, 0.15]) + 1,
        segment=segment,
        beta=beta,
        pref=pref,
        impulsiveness=rng.beta(2, 5, n),
        social=social,
        activity=activity,
        channel_pref=rng.dirichlet(np.ones(4), n),
        peak_hour=peak,
        signup=signup,
        churn=churn,
        uplift=uplift,
        lift=rng.uniform(0.05, 0.3, n),
    )


def _products(cfg: SimConfig) -> Products:
    rng = np.random.default_rng([cfg.seed, 2])
    n = cfg.products
    category = rng.choice(K, n, p=_p(CATEGORY_SHARE))
    codes = [c[0] for c in CATEGORIES]
    n_brands = np.array([len(CATALOGUE_WORDS[c][0]) for c in codes])
    n_nouns = np.array([len(CATALOGUE_WORDS[c][1]) for c in codes])
    brand = (rng.random(n) * n_brands[category]).astype(int)
    noun = (rng.random(n) * n_nouns[category]).astype(int)
    median = np.array([c[3] for c in CATEGORIES])[category]
    price = np.maximum(np.round(median * rng.lognormal(0, 0.55, n)) - 0.1, 4.9)
    cost = np.round(price * rng.uniform(0.35, 0.7, n), 2)
    popularity = rng.normal(0, cfg.params.popularity_sigma, n)
    weight = np.exp(popularity)
    share = weight / weight.sum()
    expected_sales = share * cfg.users * cfg.days * 0.06
    stock = (5 + expected_sales * rng.uniform(0.6, 3.0, n)).astype(np.int64)
    peak = rng.uniform(1, 13, n)
    peak[np.asarray(codes)[category] == "apparel"] = rng.normal(12.5, 1.0, (category == 1).sum())
    return Products(
        n=n,
        category=category,
        brand=brand,
        noun=noun,
        adjective=rng.integers(0, len(ADJECTIVES), n),
        price=np.round(price, 2),
        cost=cost,
        stock=stock,
        quality=rng.normal(0, 0.6, n),
        popularity=popularity,
        season_peak=peak,
        season_amp=rng.uniform(0, 0.4, n),
        pack=rng.choice([1, 1, 1, 2, 3, 6], n),
    )


def _hosts(cfg: SimConfig) -> Hosts:
    rng = np.random.default_rng([cfg.seed, 3])
    n = cfg.hosts
    return Hosts(
        n=n,
        category=rng.choice(K, n, p=_p(CATEGORY_SHARE)),
        charisma=rng.lognormal(0, 0.8, n),
        start_hour=rng.choice([10.0, 14.0, 19.0, 19.5, 20.0, 20.5], n, p=[0.08, 0.17, 0.2, 0.2, 0.2, 0.15]),
        duration_h=rng.uniform(1.5, 4.0, n),
        per_week=rng.integers(3, 8, n),
    )


def _draw(rng: np.random.Generator, cdf: np.ndarray, k: int) -> np.ndarray:
    """``k`` indices drawn with replacement from the distribution with cumulative weights ``cdf``."""
    return np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), len(cdf) - 1)


def _sessions(cfg: SimConfig, t0: int, hosts: Hosts, products: Products, world: World) -> Sessions:
    rng = np.random.default_rng([cfg.seed, 4])
    host_l, day_l, start_l, end_l, ptr = [], [], [], [], [0]
    slot_p: list[np.ndarray] = []
    slot_d: list[np.ndarray] = []
    slot_c: list[np.ndarray] = []
    weight = np.exp(products.popularity)
    by_cat = [members for members, _ in world.browse_cdfs]
    cdf_cat = [cdf for _, cdf in world.browse_cdfs]
    cdf_all = np.cumsum(weight) / weight.sum()
    for day in range(cfg.days):
        festival = world.festival_discount(day) >= 0.15
        live = rng.random(hosts.n) < np.where(festival, 1.0, hosts.per_week / 7)
        for h in np.flatnonzero(live):
            start = t0 + day * DAY + int((hosts.start_hour[h] + rng.normal(0, 0.25)) * 3600)
            duration = int(hosts.duration_h[h] * rng.uniform(0.8, 1.2) * 3600) // 60 * 60
            n_slots = int(np.clip(duration // 720, 4, 20))
            c = hosts.category[h]
            own = by_cat[c][_draw(rng, cdf_cat[c], 3 * n_slots)] if len(by_cat[c]) else np.zeros(0, np.int64)
            pool = np.concatenate([own[: round(n_slots * 0.8)], _draw(rng, cdf_all, 3 * n_slots)])
            _, first = np.unique(pool, return_index=True)
            lineup = pool[np.sort(first)][:n_slots]
            rng.shuffle(lineup)
            discount = rng.choice(
                [0.0, 0.05, 0.1, 0.15, 0.2, 0.3], len(lineup), p=[0.3, 0.2, 0.2, 0.15, 0.1, 0.05]
            )
            if festival:
                discount = np.maximum(discount, 0.15)
            coupon = np.where(rng.random(len(lineup)) < 0.3, np.round(products.price[lineup] * 0.1), 0.0)
            host_l.append(h)
            day_l.append(day)
            start_l.append(start)
            end_l.append(start + duration)
            ptr.append(ptr[-1] + len(lineup))
            slot_p.append(lineup)
            slot_d.append(discount)
            slot_c.append(coupon)
    cat = np.concatenate
    return Sessions(
        n=len(host_l),
        host=np.asarray(host_l, dtype=np.int64),
        day=np.asarray(day_l, dtype=np.int64),
        start=np.asarray(start_l, dtype=np.int64),
        end=np.asarray(end_l, dtype=np.int64),
        lineup_ptr=np.asarray(ptr, dtype=np.int64),
        slot_product=cat(slot_p) if slot_p else np.zeros(0, np.int64),
        slot_discount=cat(slot_d) if slot_d else np.zeros(0),
        slot_coupon=cat(slot_c) if slot_c else np.zeros(0),
    )


def _cdfs(products: Products) -> list[tuple[np.ndarray, np.ndarray]]:
    weight = np.exp(products.popularity)
    out = []
    for c in range(K):
        members = np.flatnonzero(products.category == c)
        cdf = np.cumsum(weight[members])
        out.append((members, cdf / cdf[-1] if len(cdf) else cdf))
    return out


def build_world(cfg: SimConfig) -> World:
    """Draw the whole static world for ``cfg``."""
    start_local = datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=UTC)
    t0 = int(start_local.timestamp()) - LOCAL_OFFSET
    users = _users(cfg, t0)
    products = _products(cfg)
    hosts = _hosts(cfg)
    world = World(
        cfg, t0, users, products, hosts, Sessions(0, *([np.zeros(0, np.int64)] * 8)), _cdfs(products)
    )
    world.sessions = _sessions(cfg, t0, hosts, products, world)
    world.markdown = _markdowns(cfg, products.n)
    if cfg.params.media_budget > 0:
        world.media_spend = media.spend_plan(cfg)
        world.media_lift = media.channel_lift(world.media_spend, media.mean_spend(cfg)).sum(axis=0)
    return world


def _markdowns(cfg: SimConfig, n: int) -> np.ndarray:
    """Shelf markdowns per product and day: each starts with ``markdown_rate`` a day, lasts a geometric number
    of days (mean ``markdown_days``) at a depth from MARKDOWN_DEPTHS. Its own random stream, so a
    world without markdowns is drawn exactly as before."""
    p = cfg.params
    out = np.zeros((n, cfg.days))
    if p.markdown_rate <= 0:
        return out
    rng = np.random.default_rng([cfg.seed, 311])
    depths = np.array([d for d, _ in MARKDOWN_DEPTHS])
    shares = np.array([s for _, s in MARKDOWN_DEPTHS])
    left = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n)
    for day in range(cfg.days):
        start = (left == 0) & (rng.random(n) < p.markdown_rate)
        k = int(start.sum())
        left[start] = rng.geometric(1 / max(p.markdown_days, 1.0), k)
        depth[start] = rng.choice(depths, k, p=shares / shares.sum())
        on = left > 0
        out[on, day] = depth[on]
        left[on] -= 1
    return out
