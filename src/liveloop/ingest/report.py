"""What an import did: every row read is loaded, a duplicate, or quarantined — always."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableCounts:
    """Rows an import wrote to one table (primary rows and rows derived from them)."""

    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0


@dataclass
class ImportReport:
    """The outcome of one import. Invariant: ``rows_read == loaded + duplicates + quarantined``."""

    import_id: str
    source: str
    adapter: str
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    encoding: str | None = None
    status: str = "running"
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def table(self, name: str) -> TableCounts:
        return self.tables.setdefault(name, TableCounts())

    def add(self, other: ImportReport) -> None:
        """Fold another report (e.g. one file of a multi-file import) into this one."""
        self.rows_read += other.rows_read
        self.loaded += other.loaded
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.by_reason.update(other.by_reason)
        for name, counts in other.tables.items():
            mine = self.table(name)
            mine.loaded += counts.loaded
            mine.duplicates += counts.duplicates
            mine.quarantined += counts.quarantined
        self.files.extend(other.files)
        self.warnings.extend(other.warnings)
        self.encoding = self.encoding or other.encoding

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.loaded + self.duplicates + self.quarantined

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_reason"] = dict(self.by_reason.most_common())
        data["balanced"] = self.balanced
        return data


@dataclass
class RecordOutcome:
    """What happened to one record sent through the API."""

    index: int
    status: str  # accepted | duplicate | rejected
    id: str | None = None
    reason: str | None = None
    field: str | None = None


@dataclass
class RecordsResult:
    """Per-record outcomes of :func:`liveloop.ingest.ingest_records`; accepted rows are committed."""

    table: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[RecordOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
