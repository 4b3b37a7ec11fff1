"""The oracle: true answers about a simulated world, for decision-quality tests.

It rebuilds the world from its config (``truth/world.json``), so it knows every latent trait without
reading the training tables. Ids are the simulator's own (``s<seed>u…``, ``s<seed>p…``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.datasets.simulator import media
from liveloop.datasets.simulator.config import MESSAGE_CHANNELS, SEGMENTS, UPLIFT_TYPES, SimConfig
from liveloop.datasets.simulator.utility import funnel, sigmoid, utility
from liveloop.datasets.simulator.world import World, build_world

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

ArrayLike = Any


class Oracle:
    """Ground-truth response model of one simulated world."""

    def __init__(self, world: World):
        self.world = world
        self.prefix = f"s{world.config.seed}"

    @classmethod
    def from_config(cls, cfg: SimConfig) -> Oracle:
        return cls(build_world(cfg))

    @classmethod
    def load(cls, truth_dir: Path | str) -> Oracle:
        """The oracle of the world whose ground truth was written to ``truth_dir``."""
        path = Path(truth_dir) / "world.json"
        if not path.is_file():
            raise NotFound(
                f"no simulator ground truth at {path}: run `liveloop simulate` first", field="truth_dir"
            )
        return cls.from_config(SimConfig.from_dict(json.loads(path.read_text("utf-8"))["config"]))

    @classmethod
    def for_warehouse(cls, wh: Warehouse) -> Oracle:
        """The oracle of the world last simulated into ``wh`` (truth in LIVELOOP_HOME/simulator/truth)."""
        from liveloop.datasets.simulator.into_warehouse import simulator_dir

        return cls.load(simulator_dir(wh) / "truth")

    # -- ids ----------------------------------------------------------------------------------
    def _index(self, ids: ArrayLike, kind: str, size: int) -> np.ndarray:
        head = f"{self.prefix}{kind}"
        out = []
        for value in np.atleast_1d(np.asarray(ids, dtype=object)):
            text = str(value)
            number = text[len(head) :]
            if not text.startswith(head) or not number.isdigit() or int(number) >= size:
                raise NotFound(f"{text!r} is not an id of this simulated world ({head}…)", field="id")
            out.append(int(number))
        return np.asarray(out, dtype=np.int64)

    def _users(self, user_ids: ArrayLike) -> np.ndarray:
        return self._index(user_ids, "u", self.world.users.n)

    def user_indices(self, user_ids: ArrayLike) -> np.ndarray:
        """The world's index of each user id (``NotFound`` for an id of another world)."""
        return self._users(user_ids)

    def _products(self, product_ids: ArrayLike) -> np.ndarray:
        return self._index(product_ids, "p", self.world.products.n)

    @staticmethod
    def _result(values: np.ndarray, *likes: ArrayLike) -> Any:
        """A float when every argument was a scalar, else the array."""
        return float(np.ravel(values)[0]) if all(np.ndim(x) == 0 for x in likes) else values

    # -- purchases and prices -----------------------------------------------------------------
    def _utility(
        self, user_ids: ArrayLike, product_ids: ArrayLike, price: ArrayLike | None, day: int, **context: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        users, products = np.broadcast_arrays(self._users(user_ids), self._products(product_ids))
        prices = None if price is None else np.broadcast_to(np.asarray(price, dtype=float), users.shape)
        if prices is not None and (prices <= 0).any():
            raise ValidationFailed("price must be positive", field="price")
        return utility(self.world, users, products, day, price=prices, **context), users

    def purchase_probability(
        self,
        user_id: ArrayLike,
        product_id: ArrayLike,
        price: ArrayLike | None = None,
        *,
        day: int = 0,
        live: bool = False,
        coupon: float = 0.0,
        position: int = 0,
    ) -> Any:
        """P(purchase | the user views the product) at ``price`` (default: that day's list price)."""
        u, _ = self._utility(user_id, product_id, price, day, live=live, coupon=coupon, position=position)
        p_cart, _, p_buy = funnel(self.world, u)
        return self._result(p_cart * p_buy, user_id, product_id, price)

    def expected_purchases(
        self,
        user_id: ArrayLike,
        product_id: ArrayLike,
        price: ArrayLike | None = None,
        *,
        views: float = 1.0,
        **context: Any,
    ) -> Any:
        """Expected purchases from ``views`` views of the product at ``price``."""
        return np.multiply(views, self.purchase_probability(user_id, product_id, price, **context))

    def elasticity(
        self, user_id: ArrayLike, product_id: ArrayLike, price: ArrayLike | None = None, *, day: int = 0
    ) -> Any:
        """True price elasticity of the purchase probability: d log P / d log price."""
        u, users = self._utility(user_id, product_id, price, day)
        p_cart, _, p_buy = funnel(self.world, u)
        products = np.broadcast_to(self._products(product_id), users.shape)
        list_price = self.world.products.price[products]
        price_now = self.world.shelf_prices(products, day) if price is None else np.asarray(price)
        slope = self.world.users.beta[users] + self.world.config.params.g_discount * price_now / list_price
        value = -slope * (2 - p_cart - p_buy)
        return self._result(value, user_id, product_id, price)

    def segment_elasticity(self, segment: str, product_id: str, price: float | None = None) -> float:
        """Mean true elasticity over the users of a price-sensitivity segment."""
        names = [s[0] for s in SEGMENTS]
        if segment not in names:
            raise ValidationFailed(f"unknown segment {segment!r}: one of {', '.join(names)}", field="segment")
        members = np.flatnonzero(self.world.users.segment == names.index(segment))
        ids = np.array([f"{self.prefix}u{i:07d}" for i in members], dtype=object)
        return float(np.mean(self.elasticity(ids, np.full(len(ids), product_id, dtype=object), price)))

    def coupon_effect(
        self,
        user_id: ArrayLike,
        product_id: ArrayLike,
        coupon: float,
        price: ArrayLike | None = None,
        *,
        day: int = 0,
        live: bool = True,
        position: int = 0,
    ) -> Any:
        """True change in P(purchase | view) from a coupon worth ``coupon`` CNY (vs the same view without)."""
        if not coupon >= 0:
            raise ValidationFailed("coupon must be a non-negative amount", field="coupon")
        with_coupon, without = (
            self.purchase_probability(
                user_id, product_id, price, day=day, live=live, coupon=c, position=position
            )
            for c in (coupon, 0.0)
        )
        return np.subtract(with_coupon, without)

    def coupon_claim_probability(
        self,
        user_id: ArrayLike,
        product_id: ArrayLike,
        coupon: float,
        price: ArrayLike | None = None,
        *,
        day: int = 0,
        position: int = 0,
    ) -> Any:
        """True probability that a live viewer who views the product in a slot with this coupon claims it:
        ``sigmoid(u + c_claim)``, and every buyer claims it."""
        if not coupon > 0:
            raise ValidationFailed("coupon must be a positive amount", field="coupon")
        u, _ = self._utility(user_id, product_id, price, day, live=True, coupon=coupon, position=position)
        p_cart, _, p_buy = funnel(self.world, u)
        claim = sigmoid(u + self.world.config.params.c_claim)
        return self._result(1 - (1 - claim) * (1 - p_cart * p_buy), user_id, product_id, price)

    def media_curves(self) -> list[dict[str, float | str]]:
        """Each paid channel's true response: carry-over decay, Hill half-saturation and shape, the largest
        traffic lift, and the mean daily spend the curve's unit is (empty without a media budget)."""
        if not self.world.media_spend.size:
            return []
        mean = media.mean_spend(self.world.config)
        return [
            {"channel": name, "decay": float(media.DECAY[i]), "half": float(media.HALF[i]),
             "shape": float(media.SHAPE[i]), "beta": float(media.BETA[i]), "mean_spend": float(mean[i])}
            for i, name in enumerate(media.NAMES)
        ]  # fmt: skip

    def media_lift(self, daily: ArrayLike) -> np.ndarray:
        """Each channel's true share of extra traffic at constant daily spends (one per channel, CNY), once
        carry-over has settled: the response an allocation really gets."""
        return media.steady_lift(np.asarray(daily, dtype=float), media.mean_spend(self.world.config))

    def user_segment(self, user_id: str) -> str:
        return SEGMENTS[int(self.world.users.segment[self._users(user_id)[0]])][0]

    def optimal_price(
        self, product_id: str, *, grid: ArrayLike | None = None, user_ids: ArrayLike | None = None
    ) -> dict[str, float]:
        """The single price (same for everyone) maximising expected profit per view over ``user_ids``."""
        j = self._products(product_id)[0]
        list_price, cost = self.world.products.price[j], self.world.products.cost[j]
        prices = np.asarray(grid if grid is not None else np.round(list_price * np.linspace(0.5, 1.5, 41), 2))
        users = np.arange(self.world.users.n) if user_ids is None else self._users(user_ids)
        profit = []
        for p in prices:
            u = utility(self.world, users, np.full(len(users), j), 0, price=np.full(len(users), p))
            p_cart, _, p_buy = funnel(self.world, u)
            profit.append(float(np.mean(p_cart * p_buy) * (p - cost)))
        best = int(np.argmax(profit))
        return {
            "price": float(prices[best]),
            "expected_profit_per_view": profit[best],
            "list_price": float(list_price),
        }

    # -- live lineups --------------------------------------------------------------------------
    def reordered_slots(self, session_id: str, order: list[str]) -> np.ndarray:
        """The session's global slot indices rearranged so slot ``k`` shows ``order[k]``: each product
        keeps its own slot discount and coupon, only its time on stage moves."""
        s = self._index([session_id], "l", self.world.sessions.n)[0]
        ss = self.world.sessions
        slots = np.arange(ss.lineup_ptr[s], ss.lineup_ptr[s + 1])
        wanted = self._products(order)
        current = ss.slot_product[slots]
        if len(wanted) != len(slots) or sorted(wanted.tolist()) != sorted(current.tolist()):
            raise ValidationFailed(
                f"order must be a permutation of session {session_id}'s lineup", field="order"
            )
        free = list(slots)
        out = []
        for product in wanted:
            j = next(i for i, slot in enumerate(free) if ss.slot_product[slot] == product)
            out.append(free.pop(j))
        return np.array(out, dtype=np.int64)

    def expected_live_gmv(
        self, session_id: str, order: list[str], viewers: ArrayLike, enter_s: ArrayLike, leave_s: ArrayLike
    ) -> float:
        """Expected GMV of a session if its lineup ran in ``order``, for viewers present from ``enter_s`` to
        ``leave_s`` seconds after its start: the simulator's click and purchase probabilities per slot a
        visit overlaps, times the slot's price (with the product's own discount) net of its coupon."""
        from liveloop.datasets.simulator.behaviour import MEAN_QUANTITY

        w, ss = self.world, self.world.sessions
        s = self._index([session_id], "l", ss.n)[0]
        slots = self.reordered_slots(session_id, order)
        users = self._users(viewers)
        a, b = np.asarray(enter_s, dtype=float), np.asarray(leave_s, dtype=float)
        day = int(ss.day[s])
        slot_len = float(ss.end[s] - ss.start[s]) / len(slots)
        price = w.slot_prices(slots)
        total = 0.0
        for k, slot in enumerate(slots):
            overlap = np.minimum(b, (k + 1) * slot_len) - np.maximum(a, k * slot_len)
            here = overlap > 0
            if not here.any():
                continue
            prod = np.full(here.sum(), ss.slot_product[slot])
            coupon = float(ss.slot_coupon[slot])
            u = utility(
                w,
                users[here],
                prod,
                day,
                price=np.full(here.sum(), price[k]),
                coupon=coupon,
                live=True,
                position=k,
            )
            p_click = sigmoid(u + w.config.params.c_click_live) * np.minimum(1.0, overlap[here] / 120)
            p_cart, _, p_buy = funnel(w, u)
            total += float((p_click * p_cart * p_buy).sum() * max(price[k] * MEAN_QUANTITY - coupon, 0.01))
        return total

    # -- recommendations ----------------------------------------------------------------------
    def relevance(self, user_id: ArrayLike, product_id: ArrayLike, *, day: int = 0) -> Any:
        """True probability that the user clicks the product when it is recommended."""
        u, _ = self._utility(user_id, product_id, None, day)
        return self._result(sigmoid(u + self.world.config.params.c_relevance), user_id, product_id)

    # -- messages -----------------------------------------------------------------------------
    def uplift_type(self, user_id: str) -> str:
        return UPLIFT_TYPES[int(self.world.users.uplift[self._users(user_id)[0]])][0]

    def message_response(self, user_id: ArrayLike, channel: str, hour: int, *, treated: bool = True) -> Any:
        """True probability that the user responds (converts) with or without a message on ``channel`` at
        local ``hour``."""
        if channel not in MESSAGE_CHANNELS:
            raise ValidationFailed(
                f"unknown channel {channel!r}: one of {', '.join(MESSAGE_CHANNELS)}", field="channel"
            )
        if not 0 <= int(hour) <= 23:
            raise ValidationFailed("hour must be 0-23", field="hour")
        p = self.world.config.params
        idx = self._users(user_id)
        u = self.world.users
        kind = u.uplift[idx]
        base = np.array([p.base_persuadable, p.base_sure_thing, p.base_lost_cause, p.base_do_not_disturb])[
            kind
        ]
        if not treated:
            return self._result(base, user_id)
        gap = np.abs(((int(hour) - u.peak_hour[idx]) + 12) % 24 - 12)
        match = np.exp(-(gap**2) / (2 * p.hour_width**2))
        fit = np.minimum(1.0, 4 * u.channel_pref[idx, MESSAGE_CHANNELS.index(channel)] * match)
        quiet = p.quiet_hours_factor if (int(hour) >= 22 or int(hour) < 8) else 1.0
        treated_p = np.select(
            [kind == 0, kind == 3], [base + u.lift[idx] * fit * quiet, base * p.dnd_treated_factor], base
        )
        return self._result(treated_p, user_id)

    def uplift(self, user_id: ArrayLike, channel: str, hour: int) -> Any:
        """True treatment effect of a message: P(respond | sent) - P(respond | not sent)."""
        return np.subtract(
            self.message_response(user_id, channel, hour, treated=True),
            self.message_response(user_id, channel, hour, treated=False),
        )

    def sample_message_responses(
        self, user_ids: ArrayLike, channel: str, hour: int, *, treated: bool, seed: int = 0
    ) -> np.ndarray:
        """Draw responses from the true model (for simulated campaigns and uplift tests)."""
        prob = np.atleast_1d(self.message_response(user_ids, channel, hour, treated=treated))
        return np.random.default_rng(seed).random(len(prob)) < prob

    def randomised_campaign(
        self,
        user_ids: ArrayLike | None = None,
        *,
        channel: str = "app_push",
        hour: int = 20,
        treat_share: float = 0.5,
        seed: int = 0,
    ) -> pd.DataFrame:
        """A randomised message experiment drawn from the true model: who was treated, who responded, and
        each user's true uplift and type (the columns a learner must not see are ``true_*``)."""
        if not 0 < treat_share < 1:
            raise ValidationFailed("treat_share must be between 0 and 1", field="treat_share")
        ids = (
            np.array([f"{self.prefix}u{i:07d}" for i in range(self.world.users.n)], dtype=object)
            if user_ids is None
            else np.asarray(user_ids, dtype=object)
        )
        rng = np.random.default_rng(seed)
        treated = rng.random(len(ids)) < treat_share
        p_treated = np.atleast_1d(self.message_response(ids, channel, hour, treated=True))
        p_control = np.atleast_1d(self.message_response(ids, channel, hour, treated=False))
        responded = rng.random(len(ids)) < np.where(treated, p_treated, p_control)
        kinds = np.array([u[0] for u in UPLIFT_TYPES])[self.world.users.uplift[self._users(ids)]]
        return pd.DataFrame(
            {
                "user_id": ids.astype(str),
                "channel": channel,
                "hour": hour,
                "treated": treated,
                "responded": responded,
                "true_uplift": p_treated - p_control,
                "true_type": kinds,
            }
        )
