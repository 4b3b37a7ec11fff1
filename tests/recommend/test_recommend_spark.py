"""ALS on Spark MLlib as an option: its ranking quality beside ``implicit``'s on the same MovieLens split,
its users re-solved here exactly as MLlib solves them (the serving refit), and ``recommend train
--engine spark`` serving it, recorded with the version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from liveloop.recommend.evaluate import evaluate_models
from liveloop.recommend.factorization import ALS, SparkALS
from liveloop.recommend.sources import load_dataset
from liveloop.recommend.splits import stratified_split
from liveloop.recommend.train import ModelSpec
from liveloop.warehouse import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _stop_spark() -> Iterator[None]:
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()  # the JVM leaves with the module, not with the test run


def test_mllib_als_ranks_movielens_within_two_percent_of_implicit(data_home: Path) -> None:
    data = load_dataset("movielens_100k")
    train, test = stratified_split(data, 0.75, seed=42)  # the Microsoft Recommenders protocol
    implicit, mllib = evaluate_models(train, test, [ALS(), SparkALS()])
    assert implicit["ndcg@10"] > 0.4  # a working baseline, not two broken models agreeing
    assert mllib["ndcg@10"] >= 0.98 * implicit["ndcg@10"]


def test_a_users_factors_are_re_solved_here_as_mllib_solves_them(data_home: Path) -> None:
    data = load_dataset("movielens_100k")
    model = SparkALS(factors=16, iterations=8).fit(data)
    users = np.arange(40)
    trained = model.user_factors[users].copy()
    model.user_factors_[users] = 0.0
    model.partial_fit_users(users, data.matrix[users])  # MLlib's last step is the users' solve
    np.testing.assert_allclose(model.user_factors[users], trained, rtol=1e-4, atol=1e-5)
    history = data.matrix[7]
    folded = model.score_history(history.indices, history.data)
    np.testing.assert_allclose(folded, model.item_factors @ trained[7], rtol=1e-3, atol=1e-4)


def test_recommend_train_on_spark_serves_mllib_als(wh: Warehouse, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.recommend.registry import active_version, load_bundle, version_params

    simulate_into_warehouse(wh, scale="tiny", seed=3, users=150, days=4)
    home = wh.path.parent
    wh.close()
    monkeypatch.setenv("LIVELOOP_HOME", str(home))
    args = ("recommend", "train", "--engine", "spark", "--epochs", "1", "--no-eval", "--force", "--json")
    code, out, err = cli(*args)
    assert code == 0, err
    result = json.loads(out)
    with Warehouse(home / "liveloop.duckdb", read_only=True) as ro:
        version, path = active_version(ro)  # type: ignore[misc]
        spec = ModelSpec.from_params(version_params(ro, version))
    assert version == result["version"] and spec is not None and spec.engine == "spark"
    bundle = load_bundle(path)
    assert isinstance(bundle.als, SparkALS)
    assert "ALS on Spark" in spec.label
    code, out, err = cli("recommend", "train", "--engine", "flink")
    assert code != 0 and "engine must be duckdb or spark" in err
