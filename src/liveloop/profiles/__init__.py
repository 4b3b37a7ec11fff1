"""User profiles: features, tags and lifecycle, K-means segments, value/churn/CLV, interest, similar users."""

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
