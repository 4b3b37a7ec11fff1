"""Ingestion: readers, validation, cleaning, de-duplication, quarantine and format adapters.

Every row read is loaded, counted as a duplicate, or quarantined with its reason — always.
"""

from liveloop.ingest.adapters import ADAPTERS
from liveloop.ingest.imports import import_arrow, import_file, ingest_records, ingest_segment
from liveloop.ingest.keyindex import forget_key_index, key_index_stats
from liveloop.ingest.labels import LABEL_KINDS, add_label, list_labels
from liveloop.ingest.quarantine import list_quarantine, quarantine_summary, retry_quarantine, show_quarantine
from liveloop.ingest.report import ImportReport, RecordOutcome, RecordsResult
from liveloop.ingest.schema import IMPORTABLE, SPECS

__all__ = [
    "ADAPTERS",
    "IMPORTABLE",
    "LABEL_KINDS",
    "SPECS",
    "ImportReport",
    "RecordOutcome",
    "RecordsResult",
    "add_label",
    "forget_key_index",
    "import_arrow",
    "import_file",
    "ingest_records",
    "ingest_segment",
    "key_index_stats",
    "list_labels",
    "list_quarantine",
    "quarantine_summary",
    "retry_quarantine",
    "show_quarantine",
]
