"""Recommendations: retrievers, the hybrid ranker, rules, online updates, live rooms, bundles, evaluation.

Public surface: ``RecommendService`` / ``get_service`` (serving and feedback), ``train`` (fit and record a
version), ``evaluate_dataset`` / ``evaluate_strategies`` / ``evaluate_obd`` (offline, Table 2, off-policy),
``mine_rules`` / ``product_bundles`` (bundles), ``rooms_for_user`` / ``pin_product`` (live rooms) and the
retrievers in their modules (``popularity``, ``knn``, ``factorization``, ``content``, ``sequential``,
``hybrid``).
"""

from liveloop.privacy import audit
from liveloop.recommend.bundles import mine_rules, product_bundles
from liveloop.recommend.evaluate import evaluate_dataset
from liveloop.recommend.explain import explain_list
from liveloop.recommend.live_rooms import pin_product, rooms_for_user
from liveloop.recommend.ope import evaluate_obd
from liveloop.recommend.service import RecommendService, get_service
from liveloop.recommend.strategies import evaluate_strategies
from liveloop.recommend.train import train

audit.register_explainer("recommend", explain_list)

__all__ = [
    "RecommendService",
    "evaluate_dataset",
    "evaluate_obd",
    "evaluate_strategies",
    "get_service",
    "mine_rules",
    "pin_product",
    "product_bundles",
    "rooms_for_user",
    "train",
]
