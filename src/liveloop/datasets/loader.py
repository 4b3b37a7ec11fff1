"""Loading a verified data set into DataFrames, and importing one into the warehouse through ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.readers import SKIPPED, reader_for
from liveloop.datasets.registry import info, verify

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse

#: The files each adapter imports (the others of the data set are reference material).
IMPORT_FILES: dict[str, tuple[str, ...]] = {
    "taobao_userbehavior_head": ("UserBehavior_head84k.csv",),
    "tianchi_mobile_rec_sample": ("sample_user_behavior.csv",),
    "online_retail_sample40k": ("online_retail_sample40k.csv.gz",),
    "cdnow": ("CDNOW_master.txt",),
    "movielens_100k": ("u.data",),
    "olist_marketing_funnel": ("olist_marketing_qualified_leads_dataset.csv",),  # brings the deals along
}


def load(name: str, settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """Verify ``name``'s checksums, then read each of its files (keys: file name, or ``archive/member``)."""
    checks = verify(name, settings)
    frames: dict[str, pd.DataFrame] = {}
    for check in checks:
        if (name, check.name) in SKIPPED:
            continue
        for member, frame in reader_for(name, check.name)(check.path).items():
            frames[f"{check.name}/{member}" if member else check.name] = frame
    return frames


@dataclass
class DatasetImportReport:
    """The per-file ingest reports of one data-set import, and their totals (read = loaded + dup + quar.)."""

    dataset: str
    adapter: str
    parts: list[Any] = field(default_factory=list)

    def _total(self, attr: str) -> int:
        return sum(int(getattr(part, attr)) for part in self.parts)

    @property
    def rows_read(self) -> int:
        return self._total("rows_read")

    @property
    def loaded(self) -> int:
        return self._total("loaded")

    @property
    def duplicates(self) -> int:
        return self._total("duplicates")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "adapter": self.adapter,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "files": [part.to_dict() for part in self.parts],
        }


def import_dataset(
    wh: Warehouse,
    name: str,
    *,
    progress: bool = False,
    keep_out_of_range: bool = False,
    settings: Settings | None = None,
) -> DatasetImportReport:
    """Verify ``name`` and import its files through ``liveloop.ingest`` with the data set's adapter."""
    from liveloop.ingest import import_file

    dataset = info(name)
    if dataset.adapter is None:
        raise ValidationFailed(
            f"data set {name!r} has no import adapter; importable: {', '.join(sorted(IMPORT_FILES))}",
            field="dataset",
        )
    paths = {check.name: check.path for check in verify(name, settings)}
    report = DatasetImportReport(name, dataset.adapter)
    for filename in IMPORT_FILES[name]:
        report.parts.append(
            import_file(
                wh,
                paths[filename],
                adapter=dataset.adapter,
                keep_out_of_range=keep_out_of_range,
                progress=progress,
            )
        )
    return report
