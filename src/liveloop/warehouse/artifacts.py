"""Fitted models as files: one way to save and load an estimator kept as a single pickle.

A file is written whole or not at all (a temporary file beside it, then renamed), and loading checks
that the file holds the expected kind of object. Pickles run code when loaded: load only artifacts this
installation wrote under LIVELOOP_HOME.
"""

from __future__ import annotations

import os
import pickle
import types
from collections import deque
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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


# -- erasure: a person's id out of fitted models and the files liveloop wrote --------------------------
#: Objects never walked into: code, classes and modules hold no data about a person.
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType)


def replace_strings(obj: Any, old: str, new: str, _memo: dict[int, Any] | None = None) -> Any:
    """``obj`` with every string equal to ``old`` replaced by ``new``: in dicts (keys and values), lists,
    tuples, sets, NumPy string and object arrays, pandas indexes, series and frames, and the attributes
    of objects, mutable ones changed in place. Numbers and tensors are left alone (they hold no ids)."""
    memo = {} if _memo is None else _memo
    key = id(obj)
    if key in memo:
        return memo[key]
    memo[key] = obj  # a cycle comes back to this object as it is

    def rep(value: Any) -> Any:
        return replace_strings(value, old, new, memo)

    out = obj
    if isinstance(obj, str):
        out = new if obj == old else obj
    elif isinstance(obj, (bytes, bytearray, int, float, complex, bool, *_OPAQUE)) or obj is None:
        out = obj
    elif isinstance(obj, dict):
        for k in list(obj):
            v = obj[k]
            nk, nv = rep(k), rep(v)
            if nk is not k:
                del obj[k]
                obj[nk] = nv
            elif nv is not v:
                obj[k] = nv
    elif isinstance(obj, list | deque):
        for i, v in enumerate(obj):
            nv = rep(v)
            if nv is not v:
                obj[i] = nv
    elif isinstance(obj, tuple):
        items = [rep(v) for v in obj]
        if any(a is not b for a, b in zip(items, obj, strict=True)):
            out = type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    elif isinstance(obj, set | frozenset):
        if old in obj:
            out = type(obj)(new if v == old else v for v in obj)
    elif isinstance(obj, np.ndarray):
        out = _replace_in_array(obj, old, new)
    elif isinstance(obj, pd.Index):
        out = (
            obj.map(lambda v: new if v == old else v)
            if obj.dtype == object or obj.dtype.kind in "US"
            else obj
        )
    elif isinstance(obj, pd.Series | pd.DataFrame):
        swap = {old: new}
        out = obj.rename(swap) if isinstance(obj, pd.Series) else obj.rename(index=swap, columns=swap)
        out = out.replace(swap)
    elif hasattr(obj, "__dict__") or hasattr(type(obj), "__slots__"):
        if type(obj).__module__.startswith(("torch", "scipy")):
            return obj
        names = list(getattr(obj, "__dict__", {}))
        names += [n for c in type(obj).__mro__ for n in getattr(c, "__slots__", ()) if hasattr(obj, n)]
        for name in dict.fromkeys(names):
            v = getattr(obj, name)
            nv = rep(v)
            if nv is not v:
                object.__setattr__(obj, name, nv)
    memo[key] = out
    return out


def _replace_in_array(arr: np.ndarray, old: str, new: str) -> np.ndarray:
    if arr.dtype.kind == "O":
        for i, v in enumerate(arr.flat):
            if isinstance(v, str) and v == old:
                arr.flat[i] = new
            elif isinstance(v, list | dict | tuple | np.ndarray):
                arr.flat[i] = replace_strings(v, old, new)
        return arr
    if arr.dtype.kind == "U":
        hit = arr == old
        if hit.any():
            wide = arr.astype(f"<U{max(arr.dtype.itemsize // 4, len(new))}")
            wide[hit] = new
            return wide
    return arr


def scrub_file(path: Path, old: str, new: str) -> bool:
    """Rewrite one file liveloop wrote (a pickle, a Parquet file, JSON or text) with ``old`` replaced by
    ``new``; False when its format cannot be rewritten. Atomic, like every artifact write."""
    if path.suffix == ".pkl":
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        save_object(replace_strings(obj, old, new), path)
    elif path.suffix == ".parquet":
        table = pq.read_table(path)
        frame = replace_strings(table.to_pandas(), old, new)
        partial = path.with_name(f".{path.name}.partial")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False, schema=table.schema), partial)
        os.replace(partial, path)
    elif path.suffix in (".json", ".txt", ".csv", ".jsonl"):
        text = path.read_text(encoding="utf-8").replace(old, new)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    else:
        return False
    return True


def files_holding(roots: list[Path], needle: bytes) -> list[Path]:
    """Every file under ``roots`` whose bytes contain ``needle``."""
    return files_holding_any(roots, [needle])[needle]


def files_holding_any(roots: list[Path], needles: list[bytes]) -> dict[bytes, list[Path]]:
    """For each of ``needles``, the files under ``roots`` whose bytes contain it: one pass over each
    file, read in chunks that overlap by the longest needle."""
    found: dict[bytes, list[Path]] = {n: [] for n in needles}
    if not needles:
        return found
    for root in roots:
        if root.is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = [p for p in sorted(root.rglob("*")) if p.is_file()]
        else:
            continue
        for path in candidates:
            for needle in _held(path, needles):
                found[needle].append(path)
    return found


def _held(path: Path, needles: list[bytes], chunk: int = 1 << 22) -> set[bytes]:
    """Which of ``needles`` the file's bytes contain."""
    overlap = max(len(n) for n in needles) - 1
    seen: set[bytes] = set()
    tail = b""
    with open(path, "rb") as fh:
        while (block := fh.read(chunk)) and len(seen) < len(needles):
            window = tail + block
            seen.update(n for n in needles if n not in seen and n in window)
            tail = window[-overlap:] if overlap else b""
    return seen
