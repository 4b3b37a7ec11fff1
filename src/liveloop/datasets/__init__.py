"""Public data-set loaders (LIVELOOP_DATA_HOME, checksums) and the market simulator."""

from liveloop.datasets.files import data_file
from liveloop.datasets.loader import DatasetImportReport, import_dataset, load
from liveloop.datasets.registry import DataCorrupt, Dataset, catalog, info, names, verify

__all__ = [
    "DataCorrupt",
    "Dataset",
    "DatasetImportReport",
    "catalog",
    "data_file",
    "import_dataset",
    "info",
    "load",
    "names",
    "verify",
]
