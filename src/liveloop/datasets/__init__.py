"""Public data-set loaders (LIVELOOP_DATA_HOME, checksums) and the market simulator."""

from liveloop.datasets.files import data_file

__all__ = ["data_file"]
