"""Scale presets and the documented parameters of the simulator's behaviour model (docs/simulator.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

#: Live-commerce categories: (code, Chinese, English, median list price CNY, refund rate).
CATEGORIES: tuple[tuple[str, str, str, float, float], ...] = (
    ("beauty", "美妆", "Beauty", 129.0, 0.06),
    ("apparel", "服饰", "Apparel", 159.0, 0.22),
    ("food", "食品", "Food", 39.0, 0.03),
    ("electronics", "数码", "Electronics", 399.0, 0.08),
    ("home", "家居", "Home", 79.0, 0.07),
    ("baby", "母婴", "Baby", 99.0, 0.05),
    ("jewelry", "珠宝", "Jewelry", 299.0, 0.12),
    ("health", "保健", "Health", 149.0, 0.04),
)
CATEGORY_CODES = tuple(c[0] for c in CATEGORIES)
#: Share of the catalogue (and of traffic) per category: beauty and apparel lead live commerce.
CATEGORY_SHARE = (0.24, 0.22, 0.16, 0.09, 0.11, 0.07, 0.05, 0.06)

#: Price-sensitivity segments: (name, population share, true price coefficient beta in the utility).
SEGMENTS: tuple[tuple[str, float, float], ...] = (
    ("bargain_hunter", 0.35, 1.4),
    ("mainstream", 0.45, 0.8),
    ("premium", 0.20, 0.3),
)

#: Depths of a shelf markdown and their shares (median 15 %, as in real retail price histories).
MARKDOWN_DEPTHS: tuple[tuple[float, float], ...] = (
    (0.05, 0.2),
    (0.10, 0.25),
    (0.15, 0.25),
    (0.20, 0.2),
    (0.30, 0.1),
)
#: The markdown rate the realism check matched to real price histories (see docs/simulator.md).
REALISTIC_MARKDOWN_RATE = 0.1

#: Uplift types for messages: (name, share).
UPLIFT_TYPES: tuple[tuple[str, float], ...] = (
    ("persuadable", 0.20),
    ("sure_thing", 0.15),
    ("lost_cause", 0.55),
    ("do_not_disturb", 0.10),
)
MESSAGE_CHANNELS = ("app_push", "sms", "email", "social")

#: Paid-media channels of a world with ``media_budget`` > 0: (name, Chinese, share of the budget,
#: carry-over decay per day, half-saturation K and shape S of the Hill curve — K in units of the adstock
#: level a constant mean spend reaches — and the largest traffic lift beta). Ranges as published
#: marketing-mix studies report them (docs/simulator.md): decays 0.1–0.7, S from concave to S-shaped.
MEDIA_CHANNELS: tuple[tuple[str, str, float, float, float, float, float], ...] = (
    ("feed_ads", "信息流广告", 0.45, 0.3, 1.0, 1.2, 0.20),
    ("search_ads", "搜索广告", 0.20, 0.1, 0.6, 1.0, 0.08),
    ("kol", "达人种草", 0.25, 0.7, 1.2, 2.0, 0.12),
    ("social", "社交广告", 0.10, 0.5, 0.8, 1.0, 0.05),
)
#: Flighting: each channel's spend is set week by week to one of these multiples of its mean (off weeks
#: included), independently per channel, with day-to-day noise of this relative size.
MEDIA_LEVELS = (0.0, 0.5, 1.0, 1.5, 2.0)
MEDIA_DAILY_NOISE = 0.2


@dataclass(frozen=True)
class ModelParams:
    """Constants of the utility and response model; every one is named in docs/simulator.md."""

    # utility u = a0 + w_pref*log(K*pref) + quality + season - beta*log(p/p_ref) + g_disc*disc + live terms
    a0: float = -0.5
    w_pref: float = 0.55
    w_quality: float = 0.7
    g_discount: float = 0.8
    g_coupon: float = 1.8
    live_bonus: float = 0.5
    impulse_weight: float = 1.2
    attention_decay: float = 0.06  # utility lost per lineup position
    # funnel offsets on top of u (logit scale)
    c_cart: float = -2.9
    c_fav: float = -3.6
    c_buy_given_cart: float = -0.75
    c_click_live: float = -1.6
    c_relevance: float = -2.2
    c_claim: float = -1.0  # claiming a live slot's coupon after viewing its product
    # shelf markdowns: per product and day the chance one starts (0: the list price all window), its mean
    # length in days; depths are drawn from MARKDOWN_DEPTHS (docs/simulator.md has the real-data check)
    markdown_rate: float = 0.0
    markdown_days: float = 10.0
    # traffic: browsing picks products with weight exp(popularity), popularity ~ N(0, popularity_sigma)
    popularity_sigma: float = 1.0
    activity_sigma: float = 0.8  # user activity ~ lognormal with mean 1
    browse_per_user_day: float = 3.0
    weekend_factor: float = 1.15
    festival_factor: float = 3.5  # 11.11 itself
    pre_festival_factor: float = 1.7  # the three days before
    # live rooms
    viewers_per_session: float = 100.0
    stay_median_min: float = 7.0
    stay_sigma: float = 1.0
    comment_rate: float = 0.06  # per viewer-minute at average social activity
    like_rate: float = 0.35
    burst_per_min: float = 0.25
    burst_decay_s: float = 40.0
    follow_p: float = 0.015
    share_p: float = 0.01
    gift_rate: float = 0.004  # per viewer-minute
    # lifecycle
    churn_hazard_mean: float = 1 / 180
    new_signup_share: float = 0.2
    # messages: control response by uplift type, and the treated response of the other types
    hour_width: float = 3.0
    base_sure_thing: float = 0.35
    base_persuadable: float = 0.03
    base_lost_cause: float = 0.01
    base_do_not_disturb: float = 0.12
    dnd_treated_factor: float = 0.25
    quiet_hours_factor: float = 0.5
    # paid media: CNY a day per 1,000 users across MEDIA_CHANNELS (0: none, the world is drawn as before)
    media_budget: float = 0.0


@dataclass(frozen=True)
class Scale:
    users: int
    days: int
    products: int
    hosts: int


SCALES: dict[str, Scale] = {
    "tiny": Scale(users=300, days=6, products=80, hosts=4),
    "small": Scale(users=2_000, days=21, products=300, hosts=8),
    "medium": Scale(users=30_000, days=45, products=3_000, hosts=40),
    "large": Scale(users=66_000, days=60, products=10_000, hosts=120),
}

FESTIVAL = (11, 11)


@dataclass(frozen=True)
class SimConfig:
    """Everything a run depends on: same config (and seed) gives byte-identical output."""

    seed: int = 7
    users: int = 2_000
    days: int = 21
    products: int = 300
    hosts: int = 8
    start: date = date(2026, 10, 28)
    chunk_days: int = 1
    params: ModelParams = field(default_factory=ModelParams)

    @classmethod
    def preset(
        cls,
        scale: str = "small",
        *,
        seed: int = 7,
        users: int | None = None,
        days: int | None = None,
        start: date | None = None,
        markdown_rate: float | None = None,
        media_budget: float | None = None,
    ) -> SimConfig:
        """The ``scale`` preset with optional overrides; by default 11.11 falls two thirds into the window.
        ``markdown_rate`` turns shelf markdowns on (``REALISTIC_MARKDOWN_RATE`` matches real histories),
        ``media_budget`` paid media (CNY a day per 1,000 users, see ``MEDIA_CHANNELS``)."""
        if scale not in SCALES:
            from liveloop.core.errors import ValidationFailed

            raise ValidationFailed(
                f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}", field="scale"
            )
        s = SCALES[scale]
        n_users = users or s.users
        n_days = days or s.days
        ratio = n_users / s.users
        products = max(30, int(s.products * min(1.0, ratio**0.5))) if users else s.products
        hosts = max(2, int(s.hosts * min(1.0, ratio**0.5))) if users else s.hosts
        if start is None:
            start = date(2026, *FESTIVAL) - timedelta(days=(2 * n_days) // 3)
        if markdown_rate is not None and not 0 <= markdown_rate <= 1:
            from liveloop.core.errors import ValidationFailed

            raise ValidationFailed("the markdown rate is a daily chance, from 0 to 1", field="markdown_rate")
        if media_budget is not None and media_budget < 0:
            from liveloop.core.errors import ValidationFailed

            raise ValidationFailed(
                "the media budget is CNY a day per 1,000 users, 0 or more", field="media_budget"
            )
        params = ModelParams(markdown_rate=markdown_rate or 0.0, media_budget=media_budget or 0.0)
        return cls(
            seed=seed, users=n_users, days=n_days, products=products, hosts=hosts, start=start, params=params
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        """The inverse of ``to_dict`` (used to rebuild a world from its ``truth/world.json``)."""
        values = dict(data)
        values["start"] = date.fromisoformat(values["start"])
        values["params"] = ModelParams(**values.get("params", {}))
        return cls(**values)

    def with_(self, **changes: Any) -> SimConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out
