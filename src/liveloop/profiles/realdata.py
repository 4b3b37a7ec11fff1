"""Real public data sets shaped into warehouse rows, for profiling evaluation and benchmarks.

Only the three data sets Table 1 uses are mapped here (Taobao UserBehavior head, UCI Online Retail
sample, CDNOW). Files are located through ``liveloop.datasets.data_file`` (LIVELOOP_DATA_HOME).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from liveloop.core.errors import NotFound
from liveloop.datasets import data_file
from liveloop.warehouse import Warehouse

_TAOBAO_TYPES = {"pv": "view", "cart": "add_to_cart", "fav": "favorite", "buy": "purchase"}
#: The published collection period of Taobao UserBehavior (Beijing dates); rows outside it are outliers.
TAOBAO_PERIOD = (datetime(2017, 11, 24, 16, tzinfo=UTC), datetime(2017, 12, 3, 16, tzinfo=UTC))


def taobao_events() -> pd.DataFrame:
    path = data_file("taobao_userbehavior_head", "UserBehavior_head84k.csv")
    raw = pd.read_csv(path, header=None, names=["user_id", "item_id", "category_id", "behavior", "ts"])
    raw["ts"] = pd.to_datetime(raw["ts"], unit="s", utc=True)
    raw = raw[(raw["ts"] >= TAOBAO_PERIOD[0]) & (raw["ts"] < TAOBAO_PERIOD[1])]
    return pd.DataFrame(
        {
            "event_id": "tb" + raw.index.astype(str),
            "ts": raw["ts"],
            "user_id": raw["user_id"].astype(str),
            "type": raw["behavior"].map(_TAOBAO_TYPES),
            "product_id": raw["item_id"].astype(str),
            "category": raw["category_id"].astype(str),
            "source": "taobao_userbehavior_head",
        }
    ).dropna(subset=["type"])


def online_retail_orders() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, order_items) of the UCI Online Retail sample; rows without a customer are dropped."""
    path = data_file("online_retail_sample40k", "online_retail_sample40k.csv.gz")
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str})
    raw = raw.dropna(subset=["CustomerID"])
    raw = raw[raw["UnitPrice"] > 0]
    raw["ts"] = pd.to_datetime(raw["InvoiceDate"]).dt.tz_localize("Europe/London").dt.tz_convert("UTC")
    raw["user_id"] = raw["CustomerID"].astype(int).astype(str)
    raw["line_amount"] = (raw["Quantity"] * raw["UnitPrice"]).round(2)
    raw["status"] = raw["InvoiceNo"].str.startswith("C").map({True: "cancelled", False: "paid"})
    orders = (
        raw.groupby("InvoiceNo")
        .agg(
            user_id=("user_id", "first"),
            ts=("ts", "min"),
            status=("status", "first"),
            amount=("line_amount", "sum"),
        )
        .reset_index()
        .rename(columns={"InvoiceNo": "order_id"})
    )
    orders["amount"] = orders["amount"].abs().round(2)
    orders["currency"] = "GBP"
    items = raw.assign(line_no=raw.groupby("InvoiceNo").cumcount())[
        ["InvoiceNo", "line_no", "StockCode", "Quantity", "UnitPrice", "line_amount"]
    ].rename(
        columns={
            "InvoiceNo": "order_id",
            "StockCode": "product_id",
            "Quantity": "quantity",
            "UnitPrice": "unit_price",
            "line_amount": "amount",
        }
    )
    return orders, items


def online_retail_products() -> pd.DataFrame:
    """Products with their description's last word as a coarse category (e.g. SIGN, MUG, BAG)."""
    path = data_file("online_retail_sample40k", "online_retail_sample40k.csv.gz")
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}).dropna(subset=["Description"])
    raw = raw[raw["UnitPrice"] > 0]
    grouped = (
        raw.groupby("StockCode")
        .agg(title=("Description", "first"), price=("UnitPrice", "median"))
        .reset_index()
    )
    grouped["category"] = grouped["title"].str.strip().str.split().str[-1].str.upper()
    return grouped.rename(columns={"StockCode": "product_id"})


def cdnow_orders(sample: bool = False) -> pd.DataFrame:
    """CDNOW purchases as orders (one per customer-day-line), USD; ``sample``: the 2,357-customer file."""
    if sample:
        path = data_file("cdnow", "CDNOW_sample.txt")
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=["cid", "customer", "date", "cds", "amount"],
            dtype={"date": str},
        )
    else:
        path = data_file("cdnow", "CDNOW_master.txt")
        raw = pd.read_csv(path, sep=r"\s+", dtype={"date": str, "customer_id": str}).rename(
            columns={"customer_id": "customer", "number_of_cds": "cds", "dollar_value": "amount"}
        )
    raw["ts"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC")
    return pd.DataFrame(
        {
            "order_id": "cd" + raw.index.astype(str),
            "user_id": raw["customer"].astype(int).astype(str),
            "ts": raw["ts"],
            "amount": raw["amount"].round(2),
            "currency": "USD",
            "status": "paid",
            "source": "cdnow",
        }
    )


def _append(wh: Warehouse, table: str, df: pd.DataFrame) -> int:
    return wh.append(table, pa.Table.from_pandas(df, preserve_index=False))


#: The data sets this module can load, with what each provides.
DATASETS = {
    "taobao_userbehavior_head": "events (view, add_to_cart, favorite, purchase) with categories; no prices",
    "online_retail_sample40k": "orders and order lines with prices, cancellations; coarse categories",
    "cdnow": "orders (customer, day, value); no products",
}


def load_into(wh: Warehouse, name: str) -> dict[str, int]:
    """Load data set ``name`` into an (empty) warehouse; returns rows written per table."""
    written: dict[str, int] = {}
    with wh.transaction() as con:
        if name == "taobao_userbehavior_head":
            written["events"] = wh.append(
                "events", pa.Table.from_pandas(taobao_events(), preserve_index=False), con=con
            )
        elif name == "online_retail_sample40k":
            orders, items = online_retail_orders()
            products = online_retail_products()
            products["source"] = name
            written["products"] = wh.append(
                "products", pa.Table.from_pandas(products, preserve_index=False), con=con
            )
            written["orders"] = wh.append(
                "orders", pa.Table.from_pandas(orders, preserve_index=False), con=con
            )
            written["order_items"] = wh.append(
                "order_items", pa.Table.from_pandas(items, preserve_index=False), con=con
            )
        elif name == "cdnow":
            written["orders"] = wh.append(
                "orders", pa.Table.from_pandas(cdnow_orders(), preserve_index=False), con=con
            )
        else:
            raise NotFound(
                f"unknown profiling data set {name!r}; choose one of {', '.join(DATASETS)}", field="dataset"
            )
    return written
