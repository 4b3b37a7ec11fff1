"""The behaviour model: one utility per (user, product, price, context), and the responses it drives.

    u = a0 + w_pref*log(K*pref[i,c]) + w_quality*quality[j] + season[j,t]
        - beta[i]*log(price/list_price[j]) + g_discount*discount + g_coupon*coupon/list_price[j]
        + live*(live_bonus + impulse_weight*impulsiveness[i] - attention_decay*slot_position)

P(add_to_cart | view) = sigmoid(u + c_cart), P(favorite | view) = sigmoid(u + c_fav),
P(purchase | cart) = sigmoid(u + c_buy_given_cart); hence P(purchase | view) is the product of the two
and the true price elasticity of purchases at price p is
-(beta[i] + g_discount*p/list_price) * (2 - P(cart|view) - P(buy|cart)).
"""

from __future__ import annotations

import numpy as np

from liveloop.datasets.simulator.config import ModelParams
from liveloop.datasets.simulator.world import K, World


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def utility(
    world: World,
    users: np.ndarray,
    products: np.ndarray,
    day: int,
    *,
    price: np.ndarray | None = None,
    coupon: np.ndarray | float = 0.0,
    live: np.ndarray | bool = False,
    position: np.ndarray | float = 0.0,
) -> np.ndarray:
    """The utility of each (user, product) pair on ``day`` at ``price`` (default: that day's price)."""
    p: ModelParams = world.config.params
    u, pr = world.users, world.products
    cat = pr.category[products]
    list_price = pr.price[products]
    if price is None:
        price = world.shelf_prices(products, day)
    discount = 1.0 - price / list_price
    value = (
        p.a0
        + p.w_pref * np.log(K * u.pref[users, cat])
        + p.w_quality * pr.quality[products]
        + world.season(products, day)
        - u.beta[users] * np.log(price / list_price)
        + p.g_discount * discount
        + p.g_coupon * np.asarray(coupon) / list_price
    )
    live_term = (
        p.live_bonus + p.impulse_weight * u.impulsiveness[users] - p.attention_decay * np.asarray(position)
    )
    return value + np.where(live, live_term, 0.0)


def funnel(world: World, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(cart|view), P(fav|view), P(buy|cart)) for utilities ``u``."""
    p = world.config.params
    return sigmoid(u + p.c_cart), sigmoid(u + p.c_fav), sigmoid(u + p.c_buy_given_cart)
