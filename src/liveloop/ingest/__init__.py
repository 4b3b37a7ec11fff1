"""Ingestion: readers, validation, cleaning, de-duplication, quarantine and format adapters.

Every row read is loaded, counted as a duplicate, or quarantined with its reason — always.
"""

from liveloop.ingest.adapters import ADAPTERS
from liveloop.ingest.imports import import_arrow, import_file, ingest_records, ingest_segment
from liveloop.ingest.report import ImportReport, RecordOutcome, RecordsResult
from liveloop.ingest.schema import IMPORTABLE, SPECS

__all__ = [
    "ADAPTERS",
    "IMPORTABLE",
    "SPECS",
    "ImportReport",
    "RecordOutcome",
    "RecordsResult",
    "import_arrow",
    "import_file",
    "ingest_records",
    "ingest_segment",
]
