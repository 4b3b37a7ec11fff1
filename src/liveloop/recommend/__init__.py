"""Recommendations: retrievers, the hybrid ranker, rules, online updates, live rooms, bundles, evaluation.

Public surface: ``RecommendService`` / ``get_service`` (serving and feedback), ``train.train`` (fit and record
a version), ``evaluate_dataset`` / ``evaluate_strategies`` / ``evaluate_obd`` (offline, Table 2, off-policy),
``mine_rules`` / ``product_bundles`` (bundles), ``rooms_for_user`` / ``pin_product`` (live rooms) and the
retrievers in their modules (``popularity``, ``knn``, ``factorization``, ``content``, ``sequential``,
``hybrid``).
"""

from typing import TYPE_CHECKING

from liveloop.core.lazy import lazy_exports
from liveloop.privacy import audit
from liveloop.recommend.explain import explain_list

if TYPE_CHECKING:
    from liveloop.recommend.bundles import mine_rules, product_bundles
    from liveloop.recommend.evaluate import evaluate_dataset
    from liveloop.recommend.live_rooms import pin_product, rooms_for_user
    from liveloop.recommend.ope import evaluate_obd
    from liveloop.recommend.service import RecommendService, get_service
    from liveloop.recommend.strategies import evaluate_strategies

#: Each public name and its module (imported on first use: some load torch or scikit-learn).
_EXPORTS = {
    "RecommendService": "service",
    "evaluate_dataset": "evaluate",
    "evaluate_obd": "ope",
    "evaluate_strategies": "strategies",
    "get_service": "service",
    "mine_rules": "bundles",
    "pin_product": "live_rooms",
    "product_bundles": "bundles",
    "rooms_for_user": "live_rooms",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)

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
]
