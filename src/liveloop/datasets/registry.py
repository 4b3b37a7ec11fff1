"""The catalogue of public data sets: origin, licence, files and their SHA-256, and checksum checks.

The metadata lives in ``catalog.json`` beside this module (taken from the data folder's ``SHA256SUMS``
and each ``SOURCE.md``); the data themselves are never copied into the package.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import DataMissing, NotFound, ValidationFailed


@dataclass(frozen=True)
class DataFile:
    """One file of a data set and the SHA-256 it must have."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Dataset:
    """A public data set: where it comes from, under what terms, which files make it up."""

    name: str
    title: str
    summary: str
    origin: str
    upstream: str
    license: str
    adapter: str | None
    files: tuple[DataFile, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["files"] = [asdict(f) for f in self.files]
        return out


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one file: where it was found, its size and that its checksum matched."""

    name: str
    path: Path
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "bytes": self.bytes, "sha256": self.sha256}


class DataCorrupt(ValidationFailed):
    """A data-set file is present but its checksum differs from the catalogue's."""


@lru_cache(maxsize=1)
def catalog() -> dict[str, Dataset]:
    """Every known data set by name (read once from the packaged ``catalog.json``)."""
    raw = json.loads(resources.files("liveloop.datasets").joinpath("catalog.json").read_text("utf-8"))
    return {
        name: Dataset(
            name=name,
            title=entry["title"],
            summary=entry["summary"],
            origin=entry["origin"],
            upstream=entry["upstream"],
            license=entry["license"],
            adapter=entry["adapter"],
            files=tuple(DataFile(f["name"], f["sha256"]) for f in entry["files"]),
        )
        for name, entry in raw.items()
    }


def names() -> list[str]:
    return sorted(catalog())


def info(name: str) -> Dataset:
    """The catalogue entry of ``name``; NotFound lists the known names."""
    try:
        return catalog()[name]
    except KeyError:
        raise NotFound(f"unknown data set {name!r}; known: {', '.join(names())}", field="name") from None


def file_path(name: str, filename: str, settings: Settings | None = None) -> Path:
    """Where ``filename`` of data set ``name`` must be; DataMissing names file, place, origin."""
    settings = settings or get_settings()
    path = settings.data_home / name / filename
    if not path.is_file():
        origin = catalog()[name].origin if name in catalog() else "unknown (not in the catalogue)"
        raise DataMissing(
            f"data set file missing: {name}/{filename} (looked for {path}, LIVELOOP_DATA_HOME="
            f"{settings.data_home}); it comes from {origin} — see `liveloop datasets info {name}`",
            field="name",
        )
    return path


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify(name: str, settings: Settings | None = None) -> list[FileCheck]:
    """Check every file of ``name`` against its catalogued SHA-256; raise on the first bad one."""
    dataset = info(name)
    checks: list[FileCheck] = []
    for entry in dataset.files:
        path = file_path(name, entry.name, settings)
        digest = sha256_of(path)
        if digest != entry.sha256:
            raise DataCorrupt(
                f"data set file altered: {name}/{entry.name} at {path} has SHA-256 {digest}, expected "
                f"{entry.sha256}; fetch it again from {dataset.origin}",
                field="name",
            )
        checks.append(FileCheck(entry.name, path, path.stat().st_size, digest))
    return checks
