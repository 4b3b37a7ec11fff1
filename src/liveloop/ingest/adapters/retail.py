"""Retail transaction logs: UCI Online Retail invoices (ids ``or:``) and CDNOW purchases (``cd:``).

Each source line becomes an event (``purchase``; a cancelled invoice ``C…`` becomes a ``refund`` with
negative quantity and amount); orders, order items, products and users are derived from the lines
loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from liveloop.ingest.adapters.base import Adapter, Feed, require
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import Target

_RETAIL_COLS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)


def _md5(prefix: str, *cols: str) -> str:
    parts = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in cols)
    return f"'{prefix}_' || left(md5(concat_ws(chr(31), {parts})), 24)"


_CUSTOMER = "CAST(TRY_CAST(TRY_CAST(NULLIF(trim(CustomerID), '') AS DOUBLE) AS BIGINT) AS VARCHAR)"
_ORDERS = (
    "orders",
    "INSERT INTO orders (order_id, user_id, ts, status, amount, currency, source) "
    "SELECT x_order_id, any_value(user_id), min(ts), "
    "CASE WHEN bool_or(type = 'refund') THEN 'refunded' ELSE 'paid' END, sum(amount), "
    "any_value(x_currency), ? "
    "FROM _new GROUP BY x_order_id "
    "ON CONFLICT (order_id) DO UPDATE SET amount = orders.amount + excluded.amount",
)
_ITEMS = (
    "order_items",
    "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, amount, source) "
    "SELECT x_order_id, CAST(_line AS INTEGER), product_id, quantity, x_unit_price, amount, ? FROM _new "
    "ON CONFLICT DO NOTHING",
)
_PRODUCTS = (
    "products",
    "INSERT INTO products (product_id, title, price, currency, source) "
    "SELECT DISTINCT ON (product_id) product_id, x_title, abs(x_unit_price), x_currency, ? FROM _new "
    "ON CONFLICT DO NOTHING",
)
_USERS = (
    "users",
    "INSERT INTO users (user_id, region, source) SELECT DISTINCT ON (user_id) user_id, x_region, ? FROM _new "
    "ON CONFLICT DO NOTHING",
)


def _online_retail(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    require(columns, _RETAIL_COLS, "the Online Retail file")
    cancel = "upper(trim(InvoiceNo)) LIKE 'C%'"
    amount = "TRY_CAST(Quantity AS DECIMAL(18,2)) * TRY_CAST(UnitPrice AS DECIMAL(18,2))"
    return (
        Target(
            SPECS["events"],
            {
                "event_id": _md5(
                    "or", "InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"
                ),
                "ts": "CAST(timezone('Europe/London', TRY_CAST(InvoiceDate AS TIMESTAMP)) AS VARCHAR)",
                "user_id": f"'or:' || {_CUSTOMER}",
                "type": f"CASE WHEN {cancel} THEN 'refund' ELSE 'purchase' END",
                "product_id": "'or:' || replace(trim(StockCode), ' ', '_')",
                "amount": amount,
                "quantity": "Quantity",
                "props": "json_object('invoice', trim(InvoiceNo), 'country', trim(Country), "
                "'currency', 'GBP')",
            },
            extra={
                "x_order_id": "'or:' || trim(InvoiceNo)",
                "x_title": "NULLIF(trim(Description), '')",
                "x_unit_price": "TRY_CAST(UnitPrice AS DECIMAL(18,2))",
                "x_region": "NULLIF(trim(Country), '')",
                "x_currency": "'GBP'",
            },
            window=("2010-12-01 00:00:00+00", "2011-12-10 00:00:00+00"),
            checks=(
                (
                    "type = 'refund' AND quantity > 0",
                    "'bad_refund: a cancelled invoice with a positive quantity'",
                    "quantity",
                ),
                (
                    "x_unit_price < 0",
                    "'negative_amount: UnitPrice is negative (a bad-debt adjustment)'",
                    "amount",
                ),
            ),
            derived=(_USERS, _PRODUCTS, _ORDERS, _ITEMS),
        ),
    )


ONLINE_RETAIL = Adapter(
    name="online_retail",
    description="UCI Online Retail invoice lines (CSV with header, .gz accepted); 'C' invoices are refunds",
    dataset="online_retail_sample40k",
    feeds=(Feed("invoices", "csv", _online_retail, match=("*.csv", "*.csv.gz")),),
)

_CD_COLS = ("customer_id", "date", "number_of_cds", "dollar_value")


def _cdnow(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    key = ("customer_id", "date", "number_of_cds", "dollar_value", "_line")
    return (
        Target(
            SPECS["events"],
            {
                "event_id": _md5("cd", *key),
                "ts": "CAST(TRY_STRPTIME(date, '%Y%m%d') AS VARCHAR)",
                "user_id": "'cd:' || customer_id",
                "type": "'purchase'",
                "amount": "dollar_value",
                "quantity": "number_of_cds",
                "props": "json_object('currency', 'USD')",
            },
            extra={
                "x_order_id": _md5("cd:o", *key),
                "x_currency": "'USD'",
                "x_region": "CAST(NULL AS VARCHAR)",
            },
            window=("1997-01-01 00:00:00+00", "1998-07-01 00:00:00+00"),
            derived=(
                _USERS,
                (
                    _ORDERS[0],
                    _ORDERS[1].replace(
                        "CASE WHEN bool_or(type = 'refund') THEN 'refunded' ELSE 'paid' END", "'paid'"
                    ),
                ),
            ),
        ),
    )


CDNOW = Adapter(
    name="cdnow",
    description="CDNOW_master.txt: customer_id, yyyymmdd date, number of CDs, dollars (space-separated)",
    dataset="cdnow",
    feeds=(
        Feed("master", "whitespace", _cdnow, columns=_CD_COLS, skip_header=True, match=("CDNOW_master*",)),
    ),
)
