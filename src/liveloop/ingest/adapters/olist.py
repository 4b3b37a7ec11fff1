"""Olist's seller-acquisition funnel: marketing-qualified leads (MQLs) and the deals closed with them.

Each lead is a user (``ol:<mql_id>``, signed up at its first contact) and a ``signup`` event on the channel
it came from; each closed deal is a ``purchase`` event of that user at the time it was won and a paid order
(amount 0 BRL: the data gives no deal value) on the lead's channel, so funnels and KPIs read it as a
conversion. Olist's ``origin`` is kept in ``props.origin`` and mapped onto liveloop's
channels: organic and paid search → ``search``, ``social``, ``email``, display ads → ``feed``, referral,
direct traffic and the other named origins → ``other``; ``unknown`` and an empty origin → no channel. The
dates are São Paulo time (a first contact is a day: its midnight). Importing either file brings the other
along, leads first.
"""

from __future__ import annotations

from collections.abc import Sequence

from liveloop.ingest.adapters.base import Adapter, Feed, require
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import Target

ZONE = "America/Sao_Paulo"
#: Olist's origins and the channel each maps to (anything else: ``other``; unknown or empty: none).
ORIGINS = {
    "organic_search": "search",
    "paid_search": "search",
    "social": "social",
    "email": "email",
    "display": "feed",
    "referral": "other",
    "direct_traffic": "other",
    "other_publicities": "other",
    "other": "other",
}
#: Leads were captured from 2017-06-14 to 2018-05-31, deals won from 2017-12-05 to 2018-11-14.
LEAD_WINDOW = ("2017-06-01 00:00:00-03", "2018-06-01 00:00:00-03")
DEAL_WINDOW = ("2017-06-01 00:00:00-03", "2018-12-01 00:00:00-03")


def _text(column: str) -> str:
    return f"NULLIF(trim({column}), '')"


def _local(column: str) -> str:
    return f"CAST(timezone('{ZONE}', TRY_CAST({_text(column)} AS TIMESTAMP)) AS VARCHAR)"


def _channel() -> str:
    cases = " ".join(f"WHEN '{origin}' THEN '{channel}'" for origin, channel in ORIGINS.items())
    return (
        f"CASE WHEN {_text('origin')} IS NULL OR lower(trim(origin)) = 'unknown' THEN NULL "
        f"ELSE CASE lower(trim(origin)) {cases} ELSE 'other' END END"
    )


_USERS = (
    "users",
    "INSERT INTO users (user_id, signup_ts, props, source) SELECT user_id, ts, props, ? FROM _new "
    "ON CONFLICT DO NOTHING",
)
_ORDERS = (
    "orders",
    "INSERT INTO orders (order_id, user_id, ts, status, amount, currency, channel, source) "
    "SELECT n.x_order_id, n.user_id, n.ts, 'paid', 0, 'BRL', l.channel, ? FROM _new n "
    "LEFT JOIN events l ON l.event_id = n.x_lead_event ON CONFLICT DO NOTHING",
)


def _leads(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    require(columns, ("mql_id", "first_contact_date", "landing_page_id", "origin"), "the Olist leads file")
    return (
        Target(
            SPECS["events"],
            {
                "event_id": "'ol:lead:' || trim(mql_id)",
                "ts": _local("first_contact_date"),
                "user_id": "'ol:' || trim(mql_id)",
                "type": "'signup'",
                "channel": _channel(),
                "props": f"json_object('origin', {_text('origin')}, 'landing_page_id', "
                f"{_text('landing_page_id')})",
            },
            window=LEAD_WINDOW,
            derived=(_USERS,),
        ),
    )


_DEAL_PROPS = (
    "seller_id",
    "sdr_id",
    "sr_id",
    "business_segment",
    "lead_type",
    "lead_behaviour_profile",
    "has_company",
    "has_gtin",
    "average_stock",
    "business_type",
    "declared_product_catalog_size",
)


def _deals(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    require(columns, ("mql_id", "won_date"), "the Olist closed-deals file")
    props = ", ".join(f"'{c}', {_text(c)}" for c in _DEAL_PROPS if c in columns)
    if "declared_monthly_revenue" in columns:
        props += ", 'declared_monthly_revenue', TRY_CAST(declared_monthly_revenue AS DOUBLE)"
    return (
        Target(
            SPECS["events"],
            {
                "event_id": "'ol:deal:' || trim(mql_id)",
                "ts": _local("won_date"),
                "user_id": "'ol:' || trim(mql_id)",
                "type": "'purchase'",
                "props": f"json_object({props})",
            },
            extra={"x_order_id": "'ol:' || trim(mql_id)", "x_lead_event": "'ol:lead:' || trim(mql_id)"},
            window=DEAL_WINDOW,
            derived=(_ORDERS,),
        ),
    )


OLIST_FUNNEL = Adapter(
    name="olist_funnel",
    description="Olist marketing funnel: MQLs (origin channel, first contact) and closed deals (won date)",
    dataset="olist_marketing_funnel",
    bundle=True,
    feeds=(
        Feed("leads", "csv", _leads, match=("*marketing_qualified_leads*.csv",)),
        Feed("deals", "csv", _deals, match=("*closed_deals*.csv",)),
    ),
)
