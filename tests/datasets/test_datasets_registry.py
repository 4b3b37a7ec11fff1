"""The data-set catalogue against the real files: checksums, exact errors, reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from liveloop.core.config import Settings
from liveloop.core.errors import DataMissing, NotFound
from liveloop.datasets import DataCorrupt, catalog, data_file, info, load, verify


def _sums(data_home: Path) -> dict[str, str]:
    out = {}
    for line in (data_home / "SHA256SUMS").read_text().splitlines():
        sha, path = line.split(None, 1)
        out[path.removeprefix("./")] = sha
    return out


def test_catalogue_covers_every_dataset_and_checksum(data_home: Path) -> None:
    sums = _sums(data_home)
    catalogued = {f"{d.name}/{f.name}": f.sha256 for d in catalog().values() for f in d.files}
    assert catalogued == sums
    folders = {p.name for p in data_home.iterdir() if p.is_dir()}
    assert set(catalog()) == folders
    assert info("taobao_userbehavior_head").adapter == "taobao"
    assert info("movielens_100k").adapter == "movielens100k"
    assert all(d.origin and d.license for d in catalog().values())


def test_verify_passes_on_every_real_dataset(data_home: Path) -> None:
    settings = Settings(data_home=data_home)
    for name in catalog():
        checks = verify(name, settings)
        assert [c.name for c in checks] == [f.name for f in info(name).files]
        assert all(c.bytes > 0 for c in checks)


def _copy(data_home: Path, tmp_path: Path, name: str) -> Settings:
    shutil.copytree(data_home / name, tmp_path / name)
    return Settings(data_home=tmp_path)


def test_missing_file_names_file_place_and_origin(data_home: Path, tmp_path: Path) -> None:
    settings = _copy(data_home, tmp_path, "cdnow")
    (tmp_path / "cdnow" / "CDNOW_sample.txt").chmod(0o644)
    (tmp_path / "cdnow" / "CDNOW_sample.txt").unlink()
    with pytest.raises(DataMissing) as exc:
        verify("cdnow", settings)
    where = tmp_path / "cdnow" / "CDNOW_sample.txt"
    expected = (
        f"data set file missing: cdnow/CDNOW_sample.txt (looked for {where}, LIVELOOP_DATA_HOME={tmp_path}); "
        f"it comes from {info('cdnow').origin} — see `liveloop datasets info cdnow`"
    )
    assert exc.value.detail == expected
    with pytest.raises(DataMissing):
        data_file("cdnow", "CDNOW_sample.txt", settings)


def test_altered_file_is_refused_with_both_checksums(data_home: Path, tmp_path: Path) -> None:
    settings = _copy(data_home, tmp_path, "groceries")
    target = tmp_path / "groceries" / "groceries.csv"
    target.chmod(0o644)
    with target.open("ab") as fh:
        fh.write(b"extra,basket\n")
    with pytest.raises(DataCorrupt) as exc:
        load("groceries", settings)
    assert "groceries/groceries.csv" in exc.value.detail
    assert info("groceries").files[0].sha256 in exc.value.detail


def test_load_reads_quirky_files(data_home: Path) -> None:
    settings = Settings(data_home=data_home)
    taobao = load("taobao_userbehavior_head", settings)["UserBehavior_head84k.csv"]
    assert len(taobao) == 84_475
    assert set(taobao["behavior_type"]) == {"pv", "cart", "fav", "buy"}
    movielens = load("movielens_100k", settings)
    assert movielens["u.data"].shape == (100_000, 4)
    assert movielens["u.user"]["user_id"].nunique() == 943
    groceries = load("groceries", settings)["groceries.csv"]
    assert groceries["basket_id"].nunique() == 9_835 and len(groceries) == 43_367
    bank = load("bank_marketing", settings)
    assert len(bank["bank-additional.zip/bank-additional/bank-additional-full.csv"]) == 41_188
    bandit = load("open_bandit_dataset_small", settings)
    assert len(bandit) == 12 and len(bandit["random/all/all.csv.gz"]) == 10_000


def test_unknown_dataset() -> None:
    with pytest.raises(NotFound, match="unknown data set 'nope'"):
        info("nope")
