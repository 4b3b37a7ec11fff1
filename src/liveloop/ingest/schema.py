"""The native import schema: for each table, its columns, their kinds and the rules rows must obey."""

from __future__ import annotations

from dataclasses import dataclass, field

from liveloop.core.types import ALL_CHANNELS, Channel, ConsentStatus, EventType, Gender, Purpose

#: Longest free text accepted (comments, event text); longer values are quarantined, not cut.
MAX_TEXT = 2000
#: Longest short string (titles, names, labels).
MAX_STR = 500

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
#: Statuses of an imported message (history from another tool).
MESSAGE_STATUSES = ("sent", "delivered", "failed", "bounced")
#: Kinds of a price-history row: the everyday list price, a site-wide festival price, a live-session slot
#: price, a markdown.
PRICE_KINDS = ("list", "festival", "slot", "markdown")


@dataclass(frozen=True)
class Field:
    """One importable column.

    kind: id | str | text | enum | label | ts | money | int | bool | json | list | phone | email | name
    """

    name: str
    kind: str
    required: bool = False
    values: tuple[str, ...] = ()
    max_len: int = MAX_STR
    min: int | None = None
    max: int | None = None
    label: str | None = None  # label_map kind used to normalise the value
    reason: str | None = None  # reason code for an enum value that is not allowed
    synonyms: tuple[tuple[str, str], ...] = ()  # built-in (raw lower-case, canonical) pairs

    @property
    def pii(self) -> bool:
        return self.kind in ("phone", "email", "name")


@dataclass(frozen=True)
class TableSpec:
    """How rows of one warehouse table are validated and de-duplicated."""

    table: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    #: SQL (over parsed columns) true for refund rows, which alone may carry negative amounts.
    refund: str = "FALSE"
    #: natural-key columns hashed into the key when the key column is absent (``prefix``, columns).
    derive_key: tuple[str, tuple[str, ...]] | None = None
    checks: tuple[tuple[str, str, str], ...] = field(default=())  # extra (bad-if SQL, reason, field)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def pii_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.pii)


def _ids(*names: str, required: bool = False) -> tuple[Field, ...]:
    return tuple(Field(n, "id", required=required) for n in names)


EVENT_TYPES = tuple(e.value for e in EventType)
CHANNELS = tuple(c.value for c in Channel)
PURPOSES = tuple(p.value for p in Purpose)
CONSENT_STATUSES = tuple(s.value for s in ConsentStatus)
GENDERS = tuple(g.value for g in Gender)
GENDER_SYNONYMS = (("f", "female"), ("m", "male"), ("女", "female"), ("男", "male"), ("u", "unknown"))
EVENT_SYNONYMS = (
    ("pv", "view"),
    ("cart", "add_to_cart"),
    ("fav", "favorite"),
    ("buy", "purchase"),
    ("order", "purchase"),
    ("pageview", "page"),
)

SPECS: dict[str, TableSpec] = {
    "events": TableSpec(
        "events",
        (
            Field("event_id", "id", required=True),
            Field("ts", "ts", required=True),
            Field("user_id", "id", required=True),
            Field(
                "type",
                "enum",
                required=True,
                values=EVENT_TYPES,
                label="event_type",
                reason="unknown_event_type",
                synonyms=EVENT_SYNONYMS,
            ),
            *_ids("session_id", "product_id"),
            Field("category", "label", label="category", max_len=128),
            Field("channel", "enum", values=CHANNELS, label="channel", reason="unknown_channel"),
            Field("amount", "money"),
            Field("quantity", "int", min=0, max=1_000_000),
            Field("text", "text", max_len=MAX_TEXT),
            Field("props", "json"),
        ),
        key=("event_id",),
        refund="type = 'refund'",
        derive_key=("ev", ("user_id", "type", "ts", "product_id", "session_id")),
    ),
    "users": TableSpec(
        "users",
        (
            Field("user_id", "id", required=True),
            Field("signup_ts", "ts"),
            Field(
                "gender",
                "enum",
                values=GENDERS,
                label="gender",
                reason="unknown_gender",
                synonyms=GENDER_SYNONYMS,
            ),
            Field("age_band", "str", max_len=32),
            Field("region", "label", label="region", max_len=128),
            Field("city_tier", "int", min=1, max=6),
            Field("phone", "phone"),
            Field("email", "email"),
            Field("name", "name", max_len=200),
            Field("non_personalised", "bool"),
            Field("props", "json"),
        ),
        key=("user_id",),
    ),
    "products": TableSpec(
        "products",
        (
            Field("product_id", "id", required=True),
            Field("title", "str"),
            Field("title_en", "str"),
            Field("category", "label", label="category", max_len=128),
            Field("brand", "str", max_len=128),
            Field("price", "money"),
            Field("currency", "str", max_len=3),
            Field("cost", "money"),
            Field("stock", "int", min=0),
            Field("attributes", "json"),
        ),
        key=("product_id",),
    ),
    "hosts": TableSpec(
        "hosts",
        (
            Field("host_id", "id", required=True),
            Field("name", "str", max_len=200),
            Field("category", "label", label="category", max_len=128),
            Field("props", "json"),
        ),
        key=("host_id",),
    ),
    "live_sessions": TableSpec(
        "live_sessions",
        (
            Field("session_id", "id", required=True),
            Field("host_id", "id"),
            Field("title", "str"),
            Field("start_ts", "ts"),
            Field("end_ts", "ts"),
            Field("lineup", "list"),
            Field("props", "json"),
        ),
        key=("session_id",),
        checks=(("end_ts < start_ts", "'bad_interval: end_ts is before start_ts'", "end_ts"),),
    ),
    "orders": TableSpec(
        "orders",
        (
            Field("order_id", "id", required=True),
            Field("user_id", "id", required=True),
            Field("ts", "ts", required=True),
            Field("status", "enum", values=ORDER_STATUSES, reason="unknown_status"),
            Field("amount", "money", required=True),
            Field("currency", "str", max_len=3),
            Field("session_id", "id"),
            Field("channel", "enum", values=CHANNELS, label="channel", reason="unknown_channel"),
            Field("coupon_id", "id"),
        ),
        key=("order_id",),
        refund="status = 'refunded'",
    ),
    "order_items": TableSpec(
        "order_items",
        (
            Field("order_id", "id", required=True),
            Field("line_no", "int", required=True, min=1),
            Field("product_id", "id", required=True),
            Field("quantity", "int", required=True, min=0, max=1_000_000),
            Field("unit_price", "money", required=True),
            Field("amount", "money"),
        ),
        key=("order_id", "line_no"),
    ),
    "comments": TableSpec(
        "comments",
        (
            Field("comment_id", "id", required=True),
            Field("session_id", "id"),
            Field("user_id", "id"),
            Field("ts", "ts", required=True),
            Field("text", "text", required=True, max_len=MAX_TEXT),
            Field("lang", "str", max_len=16),
        ),
        key=("comment_id",),
        derive_key=("cm", ("session_id", "user_id", "ts", "text")),
    ),
    "consents": TableSpec(
        "consents",
        (
            Field("consent_id", "id"),
            Field("user_id", "id", required=True),
            Field("purpose", "enum", required=True, values=PURPOSES, reason="unknown_purpose"),
            Field(
                "channel", "enum", values=(ALL_CHANNELS, *CHANNELS), label="channel", reason="unknown_channel"
            ),
            Field("status", "enum", required=True, values=CONSENT_STATUSES, reason="unknown_status"),
            Field("ts", "ts", required=True),
            Field("proof", "str", max_len=2000),
        ),
        key=("consent_id",),
        derive_key=("cs", ("user_id", "purpose", "channel", "status", "ts")),
        checks=(
            (
                "purpose <> 'marketing' AND coalesce(channel, 'all') <> 'all'",
                "'per_channel: only marketing is consented per channel; use channel all'",
                "channel",
            ),
        ),
    ),
    "messages": TableSpec(  # message history from another tool: what the send-time model learns from
        "messages",
        (
            Field("message_id", "id"),
            Field("campaign_id", "id"),
            Field("user_id", "id", required=True),
            Field(
                "channel", "enum", required=True, values=CHANNELS, label="channel", reason="unknown_channel"
            ),
            Field("status", "enum", required=True, values=MESSAGE_STATUSES, reason="unknown_status"),
            Field("sent_at", "ts"),
            Field("delivered_at", "ts"),
            Field("opened_at", "ts"),
            Field("clicked_at", "ts"),
            Field("bounced_at", "ts"),
            Field("unsubscribed_at", "ts"),
        ),
        key=("message_id",),
        derive_key=("msg", ("user_id", "channel", "sent_at", "campaign_id")),
        checks=(
            (
                "opened_at < sent_at OR clicked_at < sent_at",
                "'before_sent: opened or clicked before it was sent'",
                "opened_at",
            ),
        ),
    ),
    "costs": TableSpec(  # marketing spend, what CAC, ROI and ROAS divide by
        "costs",
        (
            Field("cost_id", "id"),
            Field("day", "ts", required=True),
            Field(
                "channel", "enum", required=True, values=CHANNELS, label="channel", reason="unknown_channel"
            ),
            Field("campaign_id", "id"),
            Field("session_id", "id"),
            Field("amount", "money", required=True),
            Field("currency", "str", max_len=3),
        ),
        key=("cost_id",),
        derive_key=("cost", ("day", "channel", "campaign_id", "session_id")),
    ),
    "prices": TableSpec(  # the price history: what elasticities learn from and the was-price rule reads
        "prices",
        (
            Field("price_id", "id"),
            Field("product_id", "id", required=True),
            Field("start_ts", "ts", required=True),
            Field("end_ts", "ts"),
            Field("price", "money", required=True),
            Field("currency", "str", max_len=3),
            Field("kind", "enum", values=PRICE_KINDS, reason="unknown_price_kind"),
            Field("session_id", "id"),
            Field("was_price", "money"),
            Field("reason", "str"),
        ),
        key=("price_id",),
        derive_key=("price", ("product_id", "start_ts", "kind", "session_id")),
        checks=(
            ("end_ts <= start_ts", "'bad_interval: end_ts is not after start_ts'", "end_ts"),
            ("price <= 0", "'not_positive: a price must be above zero'", "price"),
        ),
    ),
    "competitor_prices": TableSpec(  # observed prices of the same product elsewhere (the optimiser's cap)
        "competitor_prices",
        (
            Field("observation_id", "id"),
            Field("product_id", "id", required=True),
            Field("competitor", "str", required=True, max_len=128),
            Field("ts", "ts", required=True),
            Field("price", "money", required=True),
            Field("currency", "str", max_len=3),
        ),
        key=("observation_id",),
        derive_key=("cprice", ("product_id", "competitor", "ts")),
        checks=(("price <= 0", "'not_positive: a price must be above zero'", "price"),),
    ),
}

#: Tables the native adapter imports (others are written by liveloop itself).
IMPORTABLE = tuple(SPECS)
