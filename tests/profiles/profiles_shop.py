"""A small synthetic shop written straight into a real warehouse: users, products, events, orders."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key
from liveloop.warehouse import Warehouse

START = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ["beauty", "snacks", "apparel", "digital"]


def seed_shop(wh: Warehouse, n_users: int = 80, days: int = 120, seed: int = 0) -> None:
    """Three behaviour types (big spenders, bargain hunters, silent viewers) over ``days`` days."""
    rng = np.random.default_rng(seed)
    users = [f"u{i:03d}" for i in range(n_users)]
    kinds = [i % 3 for i in range(n_users)]
    wh.append(
        "users",
        pa.table(
            {
                "user_id": users,
                "gender": [["female", "male"][i % 2] for i in range(n_users)],
                "age_band": [["18-24", "25-34", "35-44"][i % 3] for i in range(n_users)],
                "region": ["Zhejiang"] * n_users,
                "city_tier": [1 + i % 3 for i in range(n_users)],
                "signup_ts": [START - timedelta(days=30)] * n_users,
            }
        ),
    )
    products = [f"p{j}" for j in range(12)]
    wh.append(
        "products",
        pa.table(
            {
                "product_id": products,
                "category": [CATEGORIES[j % 4] for j in range(12)],
                "brand": [f"brand{j % 5}" for j in range(12)],
                "price": pa.array([10.0 + 15 * j for j in range(12)], pa.float64()),
            }
        ),
    )
    ev: dict[str, list] = {
        k: []
        for k in (
            "event_id",
            "ts",
            "user_id",
            "type",
            "session_id",
            "product_id",
            "category",
            "amount",
            "channel",
        )
    }
    orders: dict[str, list] = {k: [] for k in ("order_id", "user_id", "ts", "amount", "coupon_id", "status")}
    items: dict[str, list] = {
        k: [] for k in ("order_id", "line_no", "product_id", "quantity", "unit_price", "amount")
    }
    n = 0
    for u, kind in zip(users, kinds, strict=True):
        fav = rng.integers(0, 12)
        for _ in range(int(rng.integers(20, 60))):
            ts = START + timedelta(days=float(rng.uniform(0, days)), hours=float(rng.integers(0, 24)))
            p = int(fav if rng.random() < 0.6 else rng.integers(0, 12))
            etype = rng.choice(["view", "view", "add_to_cart", "enter_room", "like"])
            n += 1
            ev["event_id"].append(f"e{n}")
            ev["ts"].append(ts)
            ev["user_id"].append(u)
            ev["type"].append(str(etype))
            ev["session_id"].append(
                f"s{int(rng.integers(0, 5))}" if etype in ("enter_room", "like") else None
            )
            ev["product_id"].append(products[p])
            ev["category"].append(None)
            ev["amount"].append(None)
            ev["channel"].append("live" if etype in ("enter_room", "like") else ("feed", "search")[kind % 2])
            if etype == "enter_room":
                n += 1
                ev["event_id"].append(f"e{n}")
                ev["ts"].append(ts + timedelta(minutes=float(rng.integers(1, 90) * (3 if kind == 2 else 1))))
                ev["user_id"].append(u)
                ev["type"].append("leave_room")
                ev["session_id"].append(ev["session_id"][-1])
                ev["product_id"].append(None)
                ev["category"].append(None)
                ev["amount"].append(None)
                ev["channel"].append("live")
        buys = {0: 8, 1: 4, 2: 0}[kind] + int(rng.integers(0, 2))
        for b in range(buys):
            oid = f"o{u}_{b}"
            p = int(fav if rng.random() < 0.7 else rng.integers(0, 12))
            price = 10.0 + 15 * p
            paid = price * (0.7 if kind == 1 else 1.0)
            orders["order_id"].append(oid)
            orders["user_id"].append(u)
            orders["ts"].append(START + timedelta(days=float(rng.uniform(0, days))))
            orders["amount"].append(round(paid * (3 if kind == 0 else 1), 2))
            orders["coupon_id"].append("c1" if kind == 1 else None)
            orders["status"].append("paid")
            items["order_id"].append(oid)
            items["line_no"].append(0)
            items["product_id"].append(products[p])
            items["quantity"].append(3 if kind == 0 else 1)
            items["unit_price"].append(round(paid, 2))
            items["amount"].append(round(paid * (3 if kind == 0 else 1), 2))
    money = pa.float64()
    wh.append("events", pa.table({**ev, "amount": pa.array(ev["amount"], money)}))
    wh.append("orders", pa.table({**orders, "amount": pa.array(orders["amount"], money)}))
    wh.append(
        "order_items",
        pa.table(
            {
                **items,
                "unit_price": pa.array(items["unit_price"], money),
                "amount": pa.array(items["amount"], money),
            }
        ),
    )


def seed_built_shop(wh: Warehouse) -> None:
    """36 users over 90 days with their profiles built: the world of the pages' tests. Built once per
    test process and copied into ``wh`` (its rows, and the model files beside it) — a build per test cost
    each of the campaign tests 3 s."""
    built = _built_shop()
    wh.sql(f"ATTACH '{built / 'liveloop.duckdb'}' AS built (READ_ONLY)")
    try:
        tables = wh.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'built'")
        with wh.transaction() as con:
            for (table,) in tables:
                if con.execute(f'SELECT count(*) FROM main."{table}"').fetchall()[0][0]:
                    continue  # rows the migrations wrote (the schema version)
                columns = [  # a sequence's column takes this warehouse's next values
                    f'"{c}"'
                    for c, default in con.execute(
                        "SELECT column_name, column_default FROM information_schema.columns "
                        "WHERE table_catalog = 'built' AND table_name = ? ORDER BY ordinal_position",
                        [table],
                    ).fetchall()
                    if not str(default or "").startswith("nextval")
                ]
                names = ", ".join(columns)
                con.execute(f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM built."{table}"')
            con.execute(
                "UPDATE main.model_versions SET path = replace(path, ?, ?)",
                [str(built / "models"), str(wh.path.parent / "models")],
            )
    finally:
        wh.sql("DETACH built")
    shutil.copytree(built / "models", wh.path.parent / "models", dirs_exist_ok=True)


@lru_cache(maxsize=1)
def _built_shop() -> Path:
    from liveloop.profiles import build_profiles

    home = Path(tempfile.mkdtemp(prefix="liveloop-built-shop-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    with Warehouse.open(Settings(home=home, secret_key=generate_key())) as wh:
        seed_shop(wh, n_users=36, days=90)
        build_profiles(wh)
        wh.sql("CHECKPOINT")
    return home
