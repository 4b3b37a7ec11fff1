"""Format adapters: each maps a source format onto the native tables (see docs/data-model.md)."""

from __future__ import annotations

from liveloop.ingest.adapters.base import Adapter, Feed
from liveloop.ingest.adapters.movielens import MOVIELENS
from liveloop.ingest.adapters.native import NATIVE
from liveloop.ingest.adapters.olist import OLIST_FUNNEL
from liveloop.ingest.adapters.retail import CDNOW, ONLINE_RETAIL
from liveloop.ingest.adapters.segment import SEGMENT
from liveloop.ingest.adapters.taobao import TAOBAO, TIANCHI_MOBILE

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (NATIVE, TAOBAO, TIANCHI_MOBILE, ONLINE_RETAIL, CDNOW, MOVIELENS, SEGMENT, OLIST_FUNNEL)
}

__all__ = ["ADAPTERS", "Adapter", "Feed"]
