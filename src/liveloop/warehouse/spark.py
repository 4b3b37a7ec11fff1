"""The Parquet lake on Spark: the warehouse's tables as Ibis tables of a PySpark session, so batch code
written in Ibis (the profile features and tags) runs on Spark unchanged.

A lake is what ``liveloop export`` (:func:`liveloop.warehouse.lake.export_parquet`) writes; its manifest
names the schema version, and a lake of another version is refused with both versions. Spark is an
optional dependency (``pip install 'liveloop[spark]'``, Java 17); without it, or without Java, opening a
lake says how to install them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import LiveloopError, ValidationFailed
from liveloop.warehouse.lake import MANIFEST, export_parquet
from liveloop.warehouse.migrations import LATEST_VERSION
from liveloop.warehouse.store import TableSource, Warehouse, owner_only

#: Where batch code can run: the warehouse itself, or Spark over the Parquet lake.
ENGINES = ("duckdb", "spark")

#: Shuffle partitions for a local session (Spark's 200 suit a cluster, not two cores).
LOCAL_SHUFFLE_PARTITIONS = 4


class SparkUnavailable(LiveloopError):
    status, title, type_slug = 503, "Spark unavailable", "spark-unavailable"


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValidationFailed(f"engine must be duckdb or spark, got {engine!r}", field="engine")
    return engine


def batch_source(wh: Warehouse, engine: str = "duckdb", settings: Settings | None = None) -> TableSource:
    """Where batch code reads: the warehouse (``duckdb``), or its lake on Spark (:func:`open_lake`)."""
    return wh if check_engine(engine) == "duckdb" else open_lake(wh, settings)


def open_lake(wh: Warehouse, settings: Settings | None = None) -> SparkLake:
    """The warehouse exported to the lake (``Settings.lake_dir``: both engines read the same rows) and
    opened on ``Settings.spark_master``; ``timings`` says what each step took."""
    settings = settings or get_settings()
    started = time.perf_counter()
    export_parquet(wh, settings.lake_dir)
    owner_only(settings.lake_dir, 0o700)  # a copy of the warehouse: only its owner reads it
    exported = time.perf_counter() - started
    lake = SparkLake(settings.lake_dir, settings.spark_master)
    ready = time.perf_counter() - started - exported
    lake.timings = {"export_s": round(exported, 2), "start_s": round(ready, 2)}
    return lake


def check_lake(lake: Path) -> dict[str, Any]:
    """The lake's manifest, after checking it was written by this schema version."""
    path = lake / MANIFEST
    if not lake.is_dir():
        raise LiveloopError(
            f"no Parquet lake at {lake}: write one with `liveloop export --to {lake}`", field="lake"
        )
    if not path.is_file():
        raise LiveloopError(
            f"the lake at {lake} has no {MANIFEST} (written before liveloop kept one, or not by liveloop): "
            f"write it again with `liveloop export --to {lake}`",
            field="lake",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        version = int(manifest["schema_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LiveloopError(f"the lake manifest {path} is damaged: {exc}", field="lake") from exc
    if version != LATEST_VERSION:
        raise LiveloopError(
            f"the lake at {lake} has schema version {version}, this liveloop reads version {LATEST_VERSION}: "
            f"write it again with `liveloop export --to {lake}`",
            field="lake",
        )
    return dict(manifest)


def spark_session(master: str = "local[2]", app: str = "liveloop") -> Any:
    """A Spark session (the running one if any): UTC session time, quiet logs, no UI."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailable(
            "Spark needs Java 17, which is not installed: apt-get install openjdk-17-jre-headless",
            field="engine",
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(
            "Spark is not installed: pip install 'liveloop[spark]' (PySpark 4.0; Java 17 too)", field="engine"
        ) from exc
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers with this environment's packages
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
        # Spark's own tables (none are made) would go to ./spark-warehouse: keep the caller's folder clean
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "liveloop-spark-warehouse"))
    )
    if master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J / JVM start-up failures have no common type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkUnavailable(f"Spark did not start ({master}): {first}", field="engine") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkLake:
    """A lake's tables on Spark: ``table(name)`` (an Ibis table) and ``sql(query, params)`` (DuckDB's
    dialect, translated) answer as the :class:`~liveloop.warehouse.Warehouse`'s do.

    Opening a lake makes its tables the session's views under their own names (one lake per session at
    a time). JSON columns stay text on Spark (``liveloop.profiles.portable`` reads their members); the
    ``date`` partition column of the events is dropped, so the columns match the warehouse's."""

    def __init__(self, lake: Path, master: str = "local[2]", session: Any = None) -> None:
        import ibis

        self.path = lake
        self.manifest = check_lake(lake)
        self.session = session or spark_session(master)
        self.backend = ibis.pyspark.connect(self.session)
        self.timings: dict[str, float] = {}
        for name in self.manifest.get("tables", {}):
            source = lake / name if name == "events" else lake / f"{name}.parquet"
            if name == "events" and not any(source.rglob("*.parquet")):  # no partition when no events
                continue
            frame = self.session.read.parquet(str(source))
            (frame.drop("date") if "date" in frame.columns else frame).createOrReplaceTempView(name)

    def table(self, name: str) -> Any:
        if name not in self.manifest.get("tables", {}):
            raise LiveloopError(f"the lake at {self.path} has no table {name}", field="lake")
        if not self.session.catalog.tableExists(name):
            raise LiveloopError(f"the lake at {self.path} holds no {name}", field="lake")
        return self.backend.table(name)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """A query written for the warehouse (DuckDB's dialect, ``?`` parameters), run on Spark."""
        return [tuple(row) for row in self.session.sql(to_spark_sql(query, params)).collect()]


#: DuckDB functions with a Spark namesake of another name (``arg_max_null`` keeps NULL values, as
#: ``max_by`` does).
_RENAMED = {"epoch_us": "unix_micros", "arg_max_null": "max_by", "arg_min_null": "min_by"}


def to_spark_sql(query: str, params: Sequence[Any] | None = None) -> str:
    """DuckDB SQL with ``?`` parameters as Spark SQL with the values inlined (sqlglot translates)."""
    import sqlglot
    from sqlglot import exp

    values = list(params or [])

    def inline(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Placeholder):
            return node
        if not values:
            raise LiveloopError("the query has more ? than parameters")
        value = values.pop(0)
        if value is None:
            return exp.Null()
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, int | float):
            return exp.Literal.number(value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            stamp = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return exp.cast(exp.Literal.string(stamp), "timestamp")
        return exp.Literal.string(str(value))

    def spark_functions(node: exp.Expression) -> exp.Expression:
        """DuckDB functions sqlglot renders with another meaning on Spark."""
        if isinstance(node, exp.TimeToUnix):  # epoch(ts): Spark's unix_timestamp drops the fraction
            return exp.Div(
                this=exp.Anonymous(this="unix_micros", expressions=[node.this]),
                expression=exp.Literal.number("1e6"),
            )
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone":  # (zone, ts): local
            zone, ts = node.expressions
            return exp.Anonymous(this="from_utc_timestamp", expressions=[ts, zone])
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in _RENAMED:
            return exp.Anonymous(this=_RENAMED[str(node.this).lower()], expressions=node.expressions)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "fdiv":  # floor division
            a, b = (e.transform(spark_functions) for e in node.expressions)
            return exp.Floor(this=exp.Div(this=a, expression=b))
        if isinstance(node, exp.Grouping) and len(node.expressions) > 1:  # the bits of several columns
            return exp.Anonymous(this="grouping_id", expressions=node.expressions)
        if isinstance(node, exp.PercentileCont):  # quantile_cont(x, q): exact, interpolated
            return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
        if isinstance(node, exp.ToDays):
            return exp.Anonymous(this="make_dt_interval", expressions=[node.this])
        return node

    tree = sqlglot.parse_one(query, read="duckdb")
    if any(str(j.args.get("method") or "").upper() == "ASOF" for j in tree.find_all(exp.Join)):
        raise LiveloopError(
            "this query needs an ASOF join, which Spark has not: run it on DuckDB", field="engine"
        )
    tree = tree.transform(inline).transform(spark_functions)
    if values:
        raise LiveloopError(f"the query has {len(values)} parameter(s) more than ?")
    return tree.sql(dialect="spark")
