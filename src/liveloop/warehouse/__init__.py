"""Storage: the DuckDB warehouse, its migrations, Ibis tables and the Parquet lake."""

from liveloop.warehouse.home import init_home
from liveloop.warehouse.lake import export_parquet, import_parquet
from liveloop.warehouse.migrations import LATEST_VERSION
from liveloop.warehouse.status import warehouse_status
from liveloop.warehouse.store import TABLE_KEYS, TABLE_TIME, TableSource, Warehouse, first_row

__all__ = [
    "LATEST_VERSION",
    "TABLE_KEYS",
    "TABLE_TIME",
    "TableSource",
    "Warehouse",
    "export_parquet",
    "first_row",
    "import_parquet",
    "init_home",
    "warehouse_status",
]
