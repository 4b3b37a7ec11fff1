"""Event collection: ``POST /v1/events`` (native schema) and ``POST /v1/segment/batch`` (Segment spec).

Each record comes back accepted, duplicate or rejected with its reason and field; the response is sent
only after the accepted records are committed. Idempotent by ``event_id`` / ``messageId``, and by the
``Idempotency-Key`` header.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pydantic import BaseModel, ConfigDict, Field

from liveloop.api.auth import require_roles
from liveloop.api.deps import get_warehouse
from liveloop.api.errors import PayloadTooLarge
from liveloop.api.idempotency import respond
from liveloop.api.metrics import INGESTED, REGISTRY
from liveloop.core.errors import ValidationFailed
from liveloop.core.types import Role
from liveloop.warehouse import Warehouse

MAX_BATCH = 1000
router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(require_roles(Role.INGEST))])


class _KeyIndexMetrics:
    """The ingest key indexes (``liveloop.ingest.keyindex``) in /metrics: size and checks, per table."""

    _COUNTERS = ("builds", "rebuilds", "hash_hits", "pruned_checks", "full_checks")

    def collect(self) -> Iterator[Metric]:
        from liveloop.ingest import key_index_stats

        size = GaugeMetricFamily(
            "liveloop_ingest_key_index_bytes",
            "Memory of the ingest key-hash indexes (8 B a row).",
            labels=["table"],
        )
        keys = GaugeMetricFamily(
            "liveloop_ingest_key_index_keys", "Key hashes held, by table.", labels=["table"]
        )
        counters = {
            c: CounterMetricFamily(
                f"liveloop_ingest_key_index_{c}",
                f"Key index {c.replace('_', ' ')}, by table.",
                labels=["table"],
            )
            for c in self._COUNTERS
        }
        totals: dict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        for s in key_index_stats():
            for name in ("bytes", "keys", *self._COUNTERS):
                totals[s["table"]][name] += int(s.get(name, 0))
        for table, t in sorted(totals.items()):
            size.add_metric([table], t["bytes"])
            keys.add_metric([table], t["keys"])
            for c, family in counters.items():
                family.add_metric([table], t[c])
        yield size
        yield keys
        yield from counters.values()


REGISTRY.register(_KeyIndexMetrics())

_EVENT_EXAMPLE: dict[str, Any] = {
    "event_id": "evt-0001",
    "ts": "2026-11-11T20:00:00+08:00",
    "user_id": "u123",
    "type": "purchase",
    "session_id": "live-42",
    "product_id": "p9",
    "amount": "199.00",
    "quantity": 1,
    "channel": "live",
}


class EventBatch(BaseModel):
    """Up to 1,000 events in the native schema (see docs/api.md for the fields)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [_EVENT_EXAMPLE]}]})
    events: list[dict[str, Any]] = Field(min_length=1, description="Events: event_id, ts, user_id, type, …")


class SegmentBatch(BaseModel):
    """A Segment-spec HTTP batch: ``track``, ``identify`` and ``page`` messages."""

    model_config = ConfigDict(extra="allow")
    batch: list[dict[str, Any]] = Field(min_length=1, description="Segment messages, each with a messageId.")


class RecordStatus(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    reason: str | None = None
    field: str | None = None


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordStatus]


def _check_size(records: list[Any], name: str) -> None:
    if len(records) > MAX_BATCH:
        raise PayloadTooLarge(
            f"{len(records):,} records in one batch; the limit is {MAX_BATCH:,}", field=name
        )


def _check_fields(records: list[Any], allowed: frozenset[str], name: str) -> None:
    """Unknown fields are a client bug: the whole batch is refused, naming the first one (nothing loads)."""
    for i, record in enumerate(records):
        if isinstance(record, dict) and not allowed.issuperset(record):
            unknown = sorted(set(record) - allowed)
            if unknown:
                raise ValidationFailed(
                    f"unknown field {unknown[0]!r} in {name}[{i}]; allowed: {', '.join(sorted(allowed))}",
                    field=f"{name}[{i}].{unknown[0]}",
                )


def _ingest(request: Request, kind: str, records: list[Any], load: Any) -> tuple[int, Any]:
    """Queue the batch for the group-commit writer (``liveloop.api.ingest_queue``); answer once committed."""
    result = request.app.state.ingest_queue.submit(kind, records, load)
    for outcome, n in (
        ("accepted", result.accepted),
        ("duplicate", result.duplicates),
        ("rejected", result.rejected),
    ):
        if n:
            INGESTED.labels(kind, outcome).inc(n)
    results = []
    for r in result.results:  # plain JSON types already: no jsonable_encoder (it cost ~10 µs a record)
        item: dict[str, Any] = {"index": r.index, "status": r.status}
        if r.id is not None:
            item["id"] = r.id
        if r.reason is not None:
            item["reason"] = r.reason
        if r.field is not None:
            item["field"] = r.field
        results.append(item)
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "results": results,
    }
    return 200, body


@router.post(
    "/events",
    response_model=IngestResult,
    summary="Collect a batch of up to 1,000 events",
    responses={413: {"description": "Too many events or too large a body"}},
)
def post_events(batch: EventBatch, request: Request, wh: Warehouse = Depends(get_warehouse)) -> JSONResponse:
    from liveloop.ingest import SPECS, ingest_records

    _check_size(batch.events, "events")
    _check_fields(batch.events, frozenset(SPECS["events"].names), "events")
    return respond(
        request,
        batch.events,
        lambda: _ingest(
            request,
            "events",
            batch.events,
            lambda recs: ingest_records(wh, "events", recs, source="api:events"),
        ),
    )


@router.post(
    "/segment/batch",
    response_model=IngestResult,
    summary="Collect a Segment-spec batch",
    responses={413: {"description": "Too many messages or too large a body"}},
)
def post_segment_batch(
    batch: SegmentBatch, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> JSONResponse:
    from liveloop.ingest import ingest_segment

    _check_size(batch.batch, "batch")
    return respond(
        request,
        batch.batch,
        lambda: _ingest(
            request, "segment", batch.batch, lambda recs: ingest_segment(wh, recs, source="api:segment")
        ),
    )
