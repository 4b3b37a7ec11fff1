"""liveloop.pricing: elasticities from sales, the lawful list-price optimiser and its guardrails.

One price per product and time slot for everyone (DESIGN.md §8.2); was-prices never above the 7-day low
and no raise just before a markdown (§8.3).
"""

from liveloop.pricing.elasticity import ElasticityResult, estimate
from liveloop.pricing.optimiser import PriceRules, ProductState, Recommendation, recommend, what_if
from liveloop.pricing.service import (
    apply_price,
    fit,
    latest_fit,
    price_history,
    recommend_prices,
    what_if_price,
)

__all__ = [
    "ElasticityResult",
    "PriceRules",
    "ProductState",
    "Recommendation",
    "apply_price",
    "estimate",
    "fit",
    "latest_fit",
    "price_history",
    "recommend",
    "recommend_prices",
    "what_if",
    "what_if_price",
]
