"""What an adapter is: named feeds, each reading one kind of file into one or more tables."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from liveloop.core.errors import LiveloopError
from liveloop.ingest.validate import Target

FORMATS = ("csv", "tsv", "jsonl", "parquet", "whitespace", "segment")

#: plan(source columns, table) -> targets; raises LiveloopError when the columns do not fit.
Plan = Callable[[Sequence[str], str | None], tuple[Target, ...]]


@dataclass(frozen=True)
class Feed:
    """One kind of source file and the tables its rows go to."""

    name: str
    fmt: str
    plan: Plan
    columns: tuple[str, ...] | None = None  # fixed source columns when the file has no header
    skip_header: bool = False
    delimiter: str = ","
    encoding: str | None = None
    match: tuple[str, ...] = ("*",)  # file-name patterns this feed reads


@dataclass(frozen=True)
class Adapter:
    """A source format: its feeds in load order (e.g. users before the events that name them)."""

    name: str
    description: str
    feeds: tuple[Feed, ...]
    dataset: str | None = None
    #: a file of the data set brings its sibling files (e.g. MovieLens u.data with u.user and u.item)
    bundle: bool = False

    def resolve(
        self, path: Path, *, table: str | None = None, fmt: str | None = None
    ) -> list[tuple[Path, Feed]]:
        """The (file, feed) pairs to import for ``path`` (a file, or a directory of the data set)."""
        if self.bundle and path.is_file() and self._feed(path) is not None:
            path = path.parent
        if path.is_dir():
            jobs = [
                (f, feed)
                for feed in self.feeds
                for f in sorted(path.iterdir())
                if f.is_file() and any(fnmatch.fnmatch(f.name, m) for m in feed.match)
            ]
            if not jobs:
                raise LiveloopError(f"no files for the {self.name} adapter in {path}", field="path")
            return jobs
        feed = self._feed(path)
        if feed is not None:
            return [(path, feed)]
        names = ", ".join(m for feed in self.feeds for m in feed.match)
        raise LiveloopError(f"the {self.name} adapter reads {names}, not {path.name}", field="path")

    def _feed(self, path: Path) -> Feed | None:
        for feed in self.feeds:
            if any(fnmatch.fnmatch(path.name, m) for m in feed.match):
                return feed
        return None


def require(columns: Sequence[str], needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise LiveloopError(
            f"{what} needs the column(s) {', '.join(missing)}; the file has: {', '.join(columns) or 'none'}",
            field="header",
        )
