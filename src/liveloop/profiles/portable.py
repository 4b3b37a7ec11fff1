"""Ibis expressions that read the same on DuckDB (the warehouse) and on Spark (the Parquet lake).

The batch features are Ibis expressions, so one definition runs on either engine; the few operations
whose portable Ibis form is slower on DuckDB or differs on Spark (sub-second epochs, JSON members) are
written here once, per engine.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt


@ibis.udf.scalar.builtin(name="epoch")
def _duckdb_epoch(ts: dt.Timestamp(timezone="UTC")) -> dt.float64:  # type: ignore[valid-type]
    """Seconds since 1970 of a timestamp with time zone, with its fraction (DuckDB's ``epoch``)."""


@ibis.udf.scalar.builtin(name="unix_micros")
def _spark_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """Microseconds since 1970 (Spark's ``unix_micros``; its ``unix_timestamp`` drops the fraction)."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_json_text(js: str, path: str) -> str:  # type: ignore[empty-body]
    """A JSON member as text (Spark's ``get_json_object``; JSON columns are text on Spark)."""


def on_duckdb(expr: Any) -> bool:
    """Whether an Ibis expression runs on DuckDB rather than on another engine (Spark)."""
    return bool(expr._find_backend().name == "duckdb")


def epoch_seconds(ts: Any) -> Any:
    """Seconds since 1970 of a timestamp column, fraction included, as float64 on either engine."""
    if on_duckdb(ts):
        return _duckdb_epoch(ts)
    return _spark_micros(ts).cast("float64") / 1e6


def json_text(js: Any, key: str) -> Any:
    """Member ``key`` of a JSON column as text (NULL when absent) on either engine."""
    return js[key].str if on_duckdb(js) else _spark_json_text(js, f"$.{key}")


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[valid-type]
    """Microseconds since 1970 (DuckDB's ``epoch_us``)."""


def epoch_micros(ts: Any) -> Any:
    """Whole microseconds since 1970 of a timestamp column, as int64 on either engine (exact sums)."""
    return _duckdb_micros(ts) if on_duckdb(ts) else _spark_micros(ts)
