"""Shared by the live tests: one small comment model per test process, trained on real data subsamples."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from liveloop.core.config import Settings
from liveloop.live.nlp import CommentModel

#: Rows per corpus for the test model (the real command trains on everything).
PER_SOURCE = 1500

LINEUP = [
    {
        "product_id": "p-serum",
        "name": "玻尿酸精华",
        "aliases": ["精华", "serum"],
        "price": 129.0,
        "cost": 40.0,
        "stock": 200,
        "attributes": {"skin": "所有肤质，敏感肌可用", "shelf_life": "3年"},
    },
    {
        "product_id": "p-coat",
        "name": "羊毛大衣",
        "aliases": ["大衣", "coat"],
        "price": 599.0,
        "cost": 380.0,
        "stock": 12,
        "attributes": {"material": "90%羊毛", "size": "S-XL"},
    },
    {
        "product_id": "p-fryer",
        "name": "空气炸锅",
        "aliases": ["air fryer", "炸锅"],
        "price": 299.0,
        "cost": 150.0,
        "stock": 0,
    },
]


@lru_cache(maxsize=1)
def model_dir() -> Path:
    """Train once per test run into a temporary home (the release's settings: the choice on development
    folds is tested by ``liveloop nlp train``'s own test); returns the artifact directory.

    Under pytest-xdist the workers share one model (the first trains it under a file lock, the others
    wait for it and load it): training twice on two cores would cost both workers the time.
    """
    from filelock import FileLock

    from liveloop.live.training import train

    data_home = Path(os.environ.get("LIVELOOP_DATA_HOME", "../shared/data"))
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        home = Path(tempfile.mkdtemp(prefix="liveloop-nlp-"))
        return train(
            Settings(home=home, data_home=data_home), per_source=PER_SOURCE, version="test", choose=False
        ).path
    home = Path(tempfile.gettempdir()) / f"liveloop-nlp-{run}"
    with FileLock(f"{home}.lock"):
        done = home / "models" / "nlp" / "test"
        if (done / "model.json").is_file():
            return done
        return train(
            Settings(home=home, data_home=data_home), per_source=PER_SOURCE, version="test", choose=False
        ).path


@lru_cache(maxsize=1)
def model() -> CommentModel:
    return CommentModel.load(model_dir())


def run_cli(
    *args: str, home: Path | None = None, model: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``liveloop ARGS`` as a subprocess, the test model pinned unless ``model=False`` (then the home's own
    model is used, or trained), ``LIVELOOP_HOME`` set when given."""
    env = dict(os.environ)
    env.pop("LIVELOOP_NLP_MODEL", None)
    if model:
        env["LIVELOOP_NLP_MODEL"] = str(model_dir())
    if home is not None:
        env["LIVELOOP_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "liveloop.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
