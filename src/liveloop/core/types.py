"""Domain enums shared by every floor."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    REFUND = "refund"
    FAVORITE = "favorite"
    SEARCH = "search"
    ENTER_ROOM = "enter_room"
    LEAVE_ROOM = "leave_room"
    LIKE = "like"
    COMMENT = "comment"
    SHARE = "share"
    FOLLOW = "follow"
    GIFT = "gift"
    IMPRESSION = "impression"
    MESSAGE_OPEN = "message_open"
    MESSAGE_CLICK = "message_click"
    COUPON_CLAIM = "coupon_claim"
    COUPON_REDEEM = "coupon_redeem"
    SIGNUP = "signup"
    RATE = "rate"
    PAGE = "page"


class Purpose(StrEnum):
    """What a user's data may be used for (the consent registry's purposes)."""

    PERSONALISATION = "personalisation"  # recommendations and ranking from the user's own behaviour
    PROFILING = "profiling"  # features, tags, segments and scores built about the user
    MARKETING = "marketing"  # messages sent to the user, per channel
    SHARING = "sharing"  # the user's data handed to a third party (an exported audience)


#: The consent channel that stands for every channel of a purpose.
ALL_CHANNELS = "all"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


#: Event types that move money; only refunds may carry a negative amount.
MONEY_EVENTS = frozenset({EventType.PURCHASE, EventType.REFUND, EventType.GIFT, EventType.COUPON_REDEEM})


class Channel(StrEnum):
    APP_PUSH = "app_push"
    SMS = "sms"
    EMAIL = "email"
    SOCIAL = "social"
    WEBHOOK = "webhook"
    IN_APP = "in_app"
    LIVE = "live"
    SEARCH = "search"
    FEED = "feed"
    OTHER = "other"


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    MARKETER = "marketer"
    HOST = "host"
    INGEST = "ingest"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


#: What a live comment does (the intent labels of the comment models and the annotated set).
COMMENT_INTENTS: tuple[str, ...] = (
    "question",
    "purchase_intent",
    "price_question",
    "logistics_question",
    "complaint",
    "praise",
    "chit_chat",
)
#: The intents that ask something (a question, or its price / logistics kinds).
QUESTION_INTENTS: tuple[str, ...] = ("question", "price_question", "logistics_question")
