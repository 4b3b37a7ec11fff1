"""One way to keep a fitted estimator on disk: save_object / load_object and the Pickled mixin."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from liveloop.profiles.similar import SimilarUsers
from liveloop.warehouse import artifacts
from liveloop.warehouse.artifacts import Pickled, files_holding_any, load_object, save_object


@dataclass
class Centroids(Pickled):
    k: int
    centres_: np.ndarray = field(default_factory=lambda: np.zeros(0))


def test_a_pickled_estimator_round_trips_into_a_new_folder(tmp_path: Path):
    model = Centroids(3, np.arange(6.0).reshape(3, 2))
    path = model.save(tmp_path / "models" / "v1" / "model.pkl")
    again = Centroids.load(path)
    assert again.k == 3 and np.array_equal(again.centres_, model.centres_)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pkl"]  # no partial file left behind


def test_saving_again_replaces_the_file(tmp_path: Path):
    path = save_object({"version": 1}, tmp_path / "a.pkl")
    save_object({"version": 2}, path)
    assert load_object(path, dict) == {"version": 2}


def test_a_file_of_another_kind_is_refused(tmp_path: Path):
    path = Centroids(2).save(tmp_path / "model.pkl")
    with pytest.raises(TypeError, match="holds a Centroids, not a SimilarUsers"):
        SimilarUsers.load(path)
    with pytest.raises(TypeError, match="not a dict"):
        load_object(path, dict)


def test_a_search_of_the_bytes_finds_every_needle_across_chunk_edges_and_inside_one_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts._held, "__defaults__", (5,))  # 5-byte chunks: needles cross their edges
    (tmp_path / "a").write_bytes(b"....user0001....")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"xxuser00010xx" + b"\0" * 40 + b"abcdef")
    needles = [b"user0001", b"user00010", b"abcd", b"cdef", b"user0002"]
    found = files_holding_any([tmp_path], needles)
    assert found[b"user0001"] == [tmp_path / "a", tmp_path / "sub" / "b"]  # also inside user00010
    assert found[b"user00010"] == found[b"abcd"] == found[b"cdef"] == [tmp_path / "sub" / "b"]
    assert found[b"user0002"] == []
