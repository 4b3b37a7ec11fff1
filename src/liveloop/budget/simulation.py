"""Bidders compared on a simulated auction stream (the simulator's worlds; never real data).

Each bidder is fitted on one stream (its winning curve, and λ or its base bid for the budget) and then
replayed, with pacing, on a second stream of the same world: the clicks and conversions it wins per
budget, at budgets of 1/2 … 1/64 of what winning every auction would cost, and the true expected
profit of the impressions won (click × conversion × margin, from the world's truth).
"""

from __future__ import annotations

from typing import Any

from liveloop.budget.bidding import STRATEGIES, fit_bidder, run_auctions
from liveloop.core.errors import ValidationFailed

BUDGET_SHARES = (2, 4, 8, 16, 32, 64)


def compare_bidders(
    *,
    scale: str = "small",
    seed: int = 7,
    impressions: int = 500_000,
    shares: tuple[int, ...] = BUDGET_SHARES,
    value: str = "clicks",
) -> dict[str, Any]:
    """Clicks and conversions won by each strategy at each budget share (``value``: bid on the predicted
    click rate, or on predicted click × conversion × margin with ``profit``)."""
    from liveloop.datasets.simulator import SimConfig
    from liveloop.datasets.simulator.auctions import auction_stream
    from liveloop.datasets.simulator.world import build_world

    if not 10_000 <= impressions <= 5_000_000:
        raise ValidationFailed("impressions must be between 10,000 and 5,000,000", field="impressions")
    if value not in ("clicks", "profit"):
        raise ValidationFailed("value must be clicks or profit", field="value")
    if not shares or any(s < 1 for s in shares):
        raise ValidationFailed(
            "budget shares are whole numbers from 1 (1/share of the full cost)", field="shares"
        )
    world = build_world(SimConfig.preset(scale, seed=seed))
    train = auction_stream(world, impressions, seed=1)
    test = auction_stream(world, impressions, seed=2)

    def theta(s: dict[str, Any]) -> Any:
        if value == "clicks":
            return s["predicted_ctr"]
        return s["predicted_ctr"] * s["cvr"] * s["margin"]

    rows = []
    for share in shares:
        budget_train = float(train["market_price"].sum()) / share
        budget = float(test["market_price"].sum()) / share
        row: dict[str, Any] = {"share": f"1/{share}", "budget": round(budget, 2)}
        for strategy in STRATEGIES:
            bidder = fit_bidder(strategy, theta(train), train["market_price"], budget_train)
            row[strategy] = run_auctions(
                bidder, theta(test), test["market_price"], budget,
                clicks=test["click"], conversions=test["conversion"],
                values=test["ctr"] * test["cvr"] * test["margin"],
            )  # fmt: skip
        rows.append(row)
    return {"scale": scale, "seed": seed, "impressions": impressions, "value": value, "budgets": rows,
            "clicks_available": int(test["click"].sum())}  # fmt: skip
