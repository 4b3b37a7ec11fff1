"""User profiles: features, tags and lifecycle, K-means segments, value/churn/CLV, interest, similar users."""

from typing import TYPE_CHECKING

from liveloop.core.lazy import lazy_exports

if TYPE_CHECKING:
    from liveloop.profiles.btyd import BetaGeoFitter, GammaGammaFitter, rfm_summary
    from liveloop.profiles.build import BuildOptions, build_profiles
    from liveloop.profiles.directory import UserQuery, list_users
    from liveloop.profiles.features import build_features
    from liveloop.profiles.interest import InterestModel, InterestState
    from liveloop.profiles.realtime import InterestTracker, lookalikes, predict_interest, similar_users
    from liveloop.profiles.segments import SegmentModel
    from liveloop.profiles.service import (
        forget_user,
        get_segment,
        list_segments,
        user_profile,
        user_tags,
        user_timeline,
    )
    from liveloop.profiles.similar import SimilarUsers
    from liveloop.profiles.tags import LifecycleRules, load_rules, remove_tag, restore_tag
    from liveloop.profiles.value import HighValueModel
    from liveloop.profiles.window import Window

#: Each public name and its module (imported on first use: the models load torch and scikit-learn).
_EXPORTS = {
    "BetaGeoFitter": "btyd",
    "BuildOptions": "build",
    "GammaGammaFitter": "btyd",
    "HighValueModel": "value",
    "InterestModel": "interest",
    "InterestState": "interest",
    "InterestTracker": "realtime",
    "LifecycleRules": "tags",
    "SegmentModel": "segments",
    "SimilarUsers": "similar",
    "UserQuery": "directory",
    "Window": "window",
    "build_features": "features",
    "build_profiles": "build",
    "forget_user": "service",
    "get_segment": "service",
    "list_segments": "service",
    "list_users": "directory",
    "load_rules": "tags",
    "lookalikes": "realtime",
    "predict_interest": "realtime",
    "remove_tag": "tags",
    "restore_tag": "tags",
    "rfm_summary": "btyd",
    "similar_users": "realtime",
    "user_profile": "service",
    "user_tags": "service",
    "user_timeline": "service",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BetaGeoFitter",
    "BuildOptions",
    "GammaGammaFitter",
    "HighValueModel",
    "InterestModel",
    "InterestState",
    "InterestTracker",
    "LifecycleRules",
    "SegmentModel",
    "SimilarUsers",
    "UserQuery",
    "Window",
    "build_features",
    "build_profiles",
    "forget_user",
    "get_segment",
    "list_segments",
    "list_users",
    "load_rules",
    "lookalikes",
    "predict_interest",
    "remove_tag",
    "restore_tag",
    "rfm_summary",
    "similar_users",
    "user_profile",
    "user_tags",
    "user_timeline",
]
