"""Fitted models as files: one way to save and load an estimator kept as a single pickle.

A file is written whole or not at all (a temporary file beside it, then renamed), and loading checks
that the file holds the expected kind of object. Pickles run code when loaded: load only artifacts this
installation wrote under LIVELOOP_HOME.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Self, TypeVar

T = TypeVar("T")


def save_object(obj: object, path: Path | str) -> Path:
    """Pickle ``obj`` to ``path`` (its folder created), replacing any earlier file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return path


def load_object(path: Path | str, kind: type[T]) -> T:
    """The object pickled at ``path``; TypeError when it is not a ``kind``."""
    with open(path, "rb") as fh:
        obj = pickle.load(fh)
    if not isinstance(obj, kind):
        raise TypeError(f"{path} holds a {type(obj).__name__}, not a {kind.__name__}")
    return obj


class Pickled:
    """Gives an estimator ``save(path)`` and ``cls.load(path)`` through ``save_object`` / ``load_object``."""

    def save(self, path: Path | str) -> Path:
        return save_object(self, path)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        return load_object(path, cls)
