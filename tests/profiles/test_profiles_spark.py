"""The same batch code on Spark: the profile features and tags computed by Ibis on a local PySpark
session over the Parquet lake equal the DuckDB engine's, column by column (counts and money sums exactly,
the rest to 1e-9), with a user who refused profiling and a removed tag; and the lake and engine refusals."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import LiveloopError
from liveloop.core.types import Purpose
from liveloop.privacy import consent
from liveloop.privacy.consent import ConsentChange
from liveloop.profiles import BuildOptions, build_profiles
from liveloop.profiles.build import data_end
from liveloop.profiles.features import build_features
from liveloop.profiles.tags import interest_tags, remove_tag
from liveloop.profiles.window import Window
from liveloop.warehouse import LATEST_VERSION, Warehouse
from liveloop.warehouse.lake import MANIFEST, export_parquet
from liveloop.warehouse.spark import SparkLake, SparkUnavailable, check_lake, spark_session

pytestmark = pytest.mark.slow

#: Features whose values are counts or sums of money: equal exactly on both engines.
EXACT = (
    "frequency",
    "monetary",
    "refunds",
    "refund_amount",
    "events",
    "views",
    "carts",
    "active_days",
    "sessions_watched",
    "watch_minutes",
    "purchase_days",
    "gift_amount",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Warehouse, Window]]:
    from liveloop.datasets.simulator import simulate_into_warehouse

    home = tmp_path_factory.mktemp("spark-world")
    settings = Settings(home=home, secret_key="k" * 43 + "=")
    with Warehouse.open(settings) as wh:
        simulate_into_warehouse(wh, scale="small", seed=7)
        users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id LIMIT 2")]
        consent.record(wh, [ConsentChange(users[0], "profiling", "revoked", source="test")], actor="test")
        top = wh.sql("SELECT user_id, category FROM events WHERE category IS NOT NULL LIMIT 1")[0]
        remove_tag(wh, top[0], f"category:{top[1]}", actor="test")
        cutoff = data_end(wh)
        assert cutoff is not None
        win = Window.ending(cutoff, 60, settings.timezone)
        refused = consent.withheld(wh, Purpose.PROFILING, settings=settings)
        listed = ibis.memtable({"user_id": sorted(refused.ids)}, schema={"user_id": "string"})
        yield settings, wh, replace(win, refused=(listed, refused.everyone_but))


@pytest.fixture(scope="module")
def lake(world: tuple[Settings, Warehouse, Window]) -> Iterator[SparkLake]:
    settings, wh, _ = world
    export_parquet(wh, settings.lake_dir)
    opened = SparkLake(settings.lake_dir, "local[2]")
    yield opened
    opened.session.stop()  # the JVM leaves with the module, not with the test run


def _same(a: pd.Series, b: pd.Series, exact: bool) -> bool:
    if a.dtype == object or b.dtype == object:
        return bool(a.fillna("<none>").astype(str).equals(b.fillna("<none>").astype(str)))
    x, y = a.to_numpy(float), b.to_numpy(float)
    if exact:
        return bool(np.array_equal(x, y, equal_nan=True))
    return bool(np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True))


def test_features_and_tags_on_spark_equal_duckdb(
    world: tuple[Settings, Warehouse, Window], lake: SparkLake
) -> None:
    _, wh, win = world
    on_duckdb = build_features(wh, win)
    on_spark = build_features(lake, win)
    assert len(on_duckdb) > 1000
    assert list(on_spark.index) == list(on_duckdb.index)
    assert list(on_spark.columns) == list(on_duckdb.columns)
    refused = win.refused[0].to_pyarrow().column("user_id").to_pylist()  # type: ignore[index]
    assert refused and not set(refused) & set(on_spark.index)  # their rows are not read there either
    differ = [c for c in on_duckdb.columns if not _same(on_duckdb[c], on_spark[c], exact=c in EXACT)]
    assert differ == []
    assert on_spark["watch_minutes"].sum() > 0 and on_spark["monetary"].sum() > 0  # not two empty tables

    def tags(source: Any) -> dict[str, list[str]]:
        t = interest_tags(source, win).to_pyarrow().to_pylist()
        return {r["user_id"]: list(r["tags"]) for r in t}

    duck, spark = tags(wh), tags(lake)
    assert spark == duck
    removed = wh.sql("SELECT user_id, tag FROM tag_overrides")[0]
    assert removed[1] not in spark.get(removed[0], [])


def test_build_on_spark_writes_the_duckdb_builds_profiles(
    world: tuple[Settings, Warehouse, Window], lake: SparkLake
) -> None:
    settings, wh, win = world
    opts = BuildOptions(cutoff=win.cutoff, window_days=60, k_max=4, interest_users=300, max_train_users=2000)
    duck = build_profiles(wh, opts, settings=settings)
    columns = "user_id, value_tier, lifecycle, segment_id, tags, features"
    before = wh.sql(f"SELECT {columns} FROM profiles ORDER BY user_id")
    spark = build_profiles(wh, replace(opts, engine="spark"), settings=settings)
    after = wh.sql(f"SELECT {columns} FROM profiles ORDER BY user_id")
    assert "Spark (local[2])" in spark["notes"]["engine"] and "engine" not in duck["notes"]
    assert spark["users"] == duck["users"] == len(after) > 1000
    assert after == before
    manifest = json.loads((settings.lake_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["schema_version"] == LATEST_VERSION  # the build refreshed the lake it read
    assert settings.lake_dir.stat().st_mode & 0o077 == 0  # a copy of the warehouse: its owner's only


def test_a_lake_of_another_version_or_without_manifest_is_refused(world: Any, tmp_path: Path) -> None:
    _, wh, _ = world
    out = tmp_path / "lake"
    export_parquet(wh, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    (out / MANIFEST).write_text(
        json.dumps(manifest | {"schema_version": LATEST_VERSION - 3}), encoding="utf-8"
    )
    with pytest.raises(
        LiveloopError, match=f"schema version {LATEST_VERSION - 3}.*reads version {LATEST_VERSION}"
    ):
        check_lake(out)
    (out / MANIFEST).unlink()
    with pytest.raises(LiveloopError, match=r"no _liveloop\.json.*liveloop export --to"):
        check_lake(out)
    with pytest.raises(LiveloopError, match="no Parquet lake"):
        check_lake(tmp_path / "nowhere")


def test_without_pyspark_or_java_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkUnavailable, match=r"Java 17.*apt-get install openjdk-17-jre-headless"):
        spark_session()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if not installed
    with pytest.raises(SparkUnavailable, match=r"pip install 'liveloop\[spark\]'"):
        spark_session()


def test_an_unknown_engine_is_one_clear_error() -> None:
    with pytest.raises(LiveloopError, match="engine must be duckdb or spark, got 'flink'"):
        BuildOptions(engine="flink")


def _close(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON-like results differ: numbers beyond 1e-9 (relative), anything else at all."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if np.isclose(a, b, rtol=1e-9, atol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("grain", ["platform", "day", "host", "session", "product", "channel", "user"])
def test_kpis_on_spark_equal_duckdb(world: Any, lake: SparkLake, grain: str) -> None:
    from liveloop.analytics import kpis

    _, wh, _ = world
    duck = kpis.measures(wh, grain, tz="Asia/Shanghai")
    spark = kpis.measures(lake, grain, tz="Asia/Shanghai")
    assert len(duck) > (0 if grain == "platform" else 2)
    counts = {
        k: {m: v for m, v in row.items() if m not in ("gmv", "watch_seconds")} for k, row in duck.items()
    }
    assert {k: {m: v for m, v in row.items() if m in counts[k]} for k, row in spark.items()} == counts
    assert _close(duck, spark) == []  # GMV and watch time to 1e-9
    assert sum(r["watch_seconds"] for r in spark.values()) > 0 and sum(r["gmv"] for r in spark.values()) > 0


@pytest.mark.parametrize(
    ("steps", "mode", "breakdown"),
    [
        (("enter_room", "click", "add_to_cart", "purchase"), "ordered", None),
        (("enter_room", "click", "add_to_cart", "purchase"), "ordered", "host"),
        (("visit", "first_purchase", "repurchase"), "ordered", "channel"),
        (("enter_room", "stay_30s", "click"), "ordered", "category"),
        (("view", "add_to_cart", "purchase"), "any", "host"),
    ],
)
def test_funnels_on_spark_equal_duckdb(
    world: Any, lake: SparkLake, steps: tuple[str, ...], mode: str, breakdown: str | None
) -> None:
    from liveloop.analytics import funnels

    _, wh, _ = world
    spec = funnels.FunnelSpec(steps, mode=mode, breakdown=breakdown)
    duck, spark = funnels.run(wh, spec), funnels.run(lake, spec)
    assert duck["steps"][-1]["users"] > 0
    assert _close(duck, spark) == []  # users exactly, times to convert to 1e-9


def test_a_strict_funnel_on_spark_says_it_needs_duckdb(lake: SparkLake) -> None:
    from liveloop.analytics import funnels

    spec = funnels.FunnelSpec(("enter_room", "click"), mode="strict")
    with pytest.raises(LiveloopError, match=r"ASOF join.*run it on DuckDB"):
        funnels.run(lake, spec)


def test_kpi_and_funnel_commands_take_the_engine(
    world: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, lake: SparkLake, tmp_path: Path
) -> None:
    settings, wh, _ = world
    wh.sql("CHECKPOINT")
    home = tmp_path / "home"  # a copy: this process holds the world's file open
    home.mkdir()
    shutil.copy(settings.db_path, home / settings.db_path.name)
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    monkeypatch.setenv("LIVELOOP_SECRET_KEY", settings.secret_key or "")
    outs = {}
    for engine in ("duckdb", "spark"):
        code, out, err = cli("kpi", "show", "--grain", "host", "--engine", engine, "--json")
        assert code == 0, err
        outs[engine] = json.loads(out)
    assert outs["spark"]["rows"] and _close(outs["duckdb"], outs["spark"]) == []
    code, out, err = cli("funnel", "--preset", "lifecycle", "--engine", "spark", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"][0]["users"] > 0
    code, out, err = cli("kpi", "show", "--engine", "flink")
    assert code != 0 and "engine must be duckdb or spark, got 'flink'" in err and "Traceback" not in err
