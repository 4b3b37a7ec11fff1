"""Taobao-format behaviour logs: Tianchi UserBehavior (dataset 649) and the Tianchi mobile sample.

Ids are prefixed (``tb:``, ``tm:``) so several data sets can share one warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence

from liveloop.ingest.adapters.base import Adapter, Feed, require
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import Target

#: UserBehavior covers 2017-11-25 .. 2017-12-03 China time; rows outside are the raw data's outliers.
TAOBAO_WINDOW = ("2017-11-25 00:00:00+08", "2017-12-04 00:00:00+08")
_BEHAVIOUR = (
    "CASE lower(trim({c})) WHEN 'pv' THEN 'view' WHEN 'cart' THEN 'add_to_cart' "
    "WHEN 'fav' THEN 'favorite' WHEN 'buy' THEN 'purchase' ELSE trim({c}) END"
)


def _products(prefix: str) -> tuple[str, str]:
    return (
        "products",
        "INSERT INTO products (product_id, category, source) SELECT DISTINCT ON (product_id) product_id, "
        "category, ? FROM _new WHERE product_id IS NOT NULL ON CONFLICT DO NOTHING",
    )


_USERS = (
    "users",
    "INSERT INTO users (user_id, source) SELECT DISTINCT user_id, ? FROM _new ON CONFLICT DO NOTHING",
)


def _key(prefix: str, *cols: str) -> str:
    parts = ", ".join(f"coalesce({c}, '')" for c in cols)
    return f"'{prefix}_' || left(md5(concat_ws(chr(31), {parts})), 24)"


def _userbehavior(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    return (
        Target(
            SPECS["events"],
            {
                "event_id": _key("tb", "user_id", "item_id", "behavior_type", "ts"),
                "ts": "ts",
                "user_id": "'tb:' || trim(user_id)",
                "type": _BEHAVIOUR.format(c="behavior_type"),
                "product_id": "'tb:' || trim(item_id)",
                "category": "'tb:' || trim(category_id)",
            },
            window=TAOBAO_WINDOW,
            derived=(_products("tb"), _USERS),
        ),
    )


TAOBAO = Adapter(
    name="taobao",
    description="Taobao UserBehavior CSV, no header: user,item,category,pv|cart|fav|buy,unix seconds",
    dataset="taobao_userbehavior_head",
    feeds=(
        Feed(
            "UserBehavior",
            "csv",
            _userbehavior,
            columns=("user_id", "item_id", "category_id", "behavior_type", "ts"),
            match=("*.csv", "*.txt"),
        ),
    ),
)

_MOBILE_BEHAVIOUR = (
    "CASE trim(behavior_type) WHEN '1' THEN 'click' WHEN '2' THEN 'favorite' "
    "WHEN '3' THEN 'add_to_cart' WHEN '4' THEN 'purchase' ELSE trim(behavior_type) END"
)


def _mobile_behaviour(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    require(
        columns,
        ("user_id", "item_id", "behavior_type", "item_category", "time"),
        "the Tianchi behaviour file",
    )
    return (
        Target(
            SPECS["events"],
            {
                "event_id": _key(
                    "tm", "user_id", "item_id", "behavior_type", "time", "CAST(_line AS VARCHAR)"
                ),
                "ts": "CASE WHEN regexp_full_match(trim(time), '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{1,2}') "
                "THEN trim(time) || ':00:00+08' ELSE time END",  # hourly, China time
                "user_id": "'tm:' || trim(user_id)",
                "type": _MOBILE_BEHAVIOUR,
                "product_id": "'tm:' || trim(item_id)",
                "category": "'tm:' || trim(item_category)",
                "props": "CASE WHEN NULLIF(trim(user_geohash), '') IS NOT NULL "
                "THEN json_object('geohash', trim(user_geohash)) END",
            },
            window=("2014-11-18 00:00:00+08", "2014-12-19 00:00:00+08"),
            derived=(_products("tm"), _USERS),
        ),
    )


def _mobile_items(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    require(columns, ("item_id", "item_category"), "the Tianchi item file")
    return (
        Target(
            SPECS["products"],
            {
                "product_id": "'tm:' || trim(item_id)",
                "category": "'tm:' || trim(item_category)",
                "attributes": "CASE WHEN NULLIF(trim(item_geohash), '') IS NOT NULL "
                "THEN json_object('geohash', trim(item_geohash)) END",
            },
        ),
    )


TIANCHI_MOBILE = Adapter(
    name="tianchi_mobile",
    description="Tianchi mobile recommendation: behaviour codes 1-4, hourly China-time stamps; items",
    dataset="tianchi_mobile_rec_sample",
    bundle=True,
    feeds=(
        Feed("items", "csv", _mobile_items, match=("*item*.csv",)),
        Feed("behaviour", "csv", _mobile_behaviour, match=("*user*.csv", "*behavior*.csv")),
    ),
)
