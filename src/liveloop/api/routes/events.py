"""Event collection: ``POST /v1/events`` (native schema), ``POST /v1/segment/batch`` (Segment spec) and the
Segment tracking API's own paths (``/v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``), so an app
using a Segment SDK only changes the SDK's host and write key (an ingest key, sent as Basic auth).

Each record comes back accepted, duplicate or rejected with its reason and field; the response is sent
only after the accepted records are committed. Idempotent by ``event_id`` / ``messageId``, and by the
``Idempotency-Key`` header.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pydantic import BaseModel, ConfigDict, Field

from liveloop.api.deps import get_warehouse
from liveloop.api.idempotency import respond
from liveloop.api.metrics import INGESTED, REGISTRY
from liveloop.core.errors import ValidationFailed
from liveloop.core.types import Role
from liveloop.http.auth import require_roles
from liveloop.http.errors import PayloadTooLarge
from liveloop.warehouse import Warehouse

MAX_BATCH = 1000
router = APIRouter(prefix="/v1", tags=["events"], dependencies=[Depends(require_roles(Role.INGEST))])
#: The zone of times (or days) sent without an offset; with one, the offset wins.
SourceTz = Annotated[
    str, Query(max_length=64, description="The zone of times sent without an offset (e.g. Asia/Shanghai)")
]


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
    naive_timestamps: int | None = Field(None, description="Times sent without an offset (read in read_in)")
    read_in: str | None = Field(None, description="The zone those times were read in (source_tz)")


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


def _ingest(
    request: Request, kind: str, records: list[Any], load: Any, extra: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """Queue the batch for the group-commit writer (``liveloop.api.ingest_queue``); answer once committed."""
    result = request.app.state.ingest_queue.submit(kind, records, load)
    kind = kind.split(":")[0]
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
    if extra:
        body |= extra
    return 200, body


@router.post(
    "/events",
    response_model=IngestResult,
    summary="Collect a batch of up to 1,000 events",
    responses={413: {"description": "Too many events or too large a body"}},
)
def post_events(
    batch: EventBatch,
    request: Request,
    source_tz: SourceTz = "UTC",
    wh: Warehouse = Depends(get_warehouse),
) -> JSONResponse:
    naive = sum(1 for e in batch.events if isinstance(e, dict) and _naive(e.get("ts")))
    extra = {"naive_timestamps": naive, "read_in": source_tz} if naive else None
    return _records(request, wh, "events", batch.events, source_tz, extra)


def _records(
    request: Request,
    wh: Warehouse,
    table: str,
    records: list[Any],
    source_tz: str,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A batch of one table's records: sized, unknown fields refused, the zone checked, then queued for
    the group-commit writer (idempotent by Idempotency-Key)."""
    from liveloop.ingest import SPECS, ingest_records
    from liveloop.ingest.engine import make_options

    _check_size(records, table)
    _check_fields(records, frozenset(SPECS[table].names), table)
    make_options(wh, source_tz, "auto")  # an unknown zone: a 422 naming source_tz, before anything queues
    return respond(
        request,
        records,
        lambda: _ingest(
            request,
            f"{table}:{source_tz}",  # batches are group-committed only with batches read in the same zone
            records,
            lambda recs: ingest_records(wh, table, recs, source=f"api:{table}", source_tz=source_tz),
            extra=extra,
        ),
    )


_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _naive(ts: Any) -> bool:
    """A time written without an offset (``2026-05-01T10:00:00``): read in the request's ``source_tz``."""
    return isinstance(ts, str) and bool(_NAIVE.match(ts.strip()))


#: Single-message calls of the Segment tracking API (``POST /v1/track`` …), each a message of that type.
SEGMENT_CALLS = ("track", "identify", "page")


def _segment(request: Request, wh: Warehouse, messages: list[Any]) -> JSONResponse:
    from liveloop.ingest import ingest_segment
    from liveloop.ingest.adapters.segment import stamp_received

    _check_size(messages, "batch")
    return respond(  # stamped after the Idempotency-Key check, which compares the body as sent
        request,
        messages,
        lambda: _ingest(
            request,
            "segment",
            stamp_received(messages, datetime.now(UTC)),
            lambda recs: ingest_segment(wh, recs, source="api:segment"),
        ),
    )


@router.post(
    "/segment/batch",
    response_model=IngestResult,
    summary="Collect a Segment-spec batch",
    responses={413: {"description": "Too many messages or too large a body"}},
)
@router.post(
    "/batch",
    response_model=IngestResult,
    summary="Segment tracking API: a batch (what Segment's SDKs send; Basic auth with an ingest key)",
    responses={413: {"description": "Too many messages or too large a body"}},
)
def post_segment_batch(
    batch: SegmentBatch, request: Request, wh: Warehouse = Depends(get_warehouse)
) -> JSONResponse:
    return _segment(request, wh, batch.batch)


def _single_call(call: str) -> Any:
    def post_message(
        request: Request,
        message: dict[str, Any] = Body(description=f"One Segment `{call}` message."),
        wh: Warehouse = Depends(get_warehouse),
    ) -> JSONResponse:
        kind = message.setdefault("type", call)
        if kind != call:
            raise ValidationFailed(f"a message sent to /v1/{call} must be a {call!r} message", field="type")
        return _segment(request, wh, [message])

    post_message.__name__ = f"post_{call}"
    return post_message


for _call in SEGMENT_CALLS:
    router.post(
        f"/{_call}",
        response_model=IngestResult,
        summary=f"Segment tracking API: one `{_call}` message",
        responses={413: {"description": "Too large a body"}},
    )(_single_call(_call))


class CostBatch(BaseModel):
    costs: list[dict[str, Any]] = Field(
        min_length=1,
        description="Spend rows: day, channel, amount, and optionally campaign_id, session_id, currency.",
        examples=[[{"day": "2026-11-11", "channel": "feed", "amount": "1200.00", "currency": "CNY"}]],
    )


@router.post(
    "/costs",
    response_model=IngestResult,
    summary="Record marketing spend per day, channel, campaign or session (what CAC, ROI and ROAS divide by)",
)
def post_costs(
    batch: CostBatch,
    request: Request,
    source_tz: SourceTz = "UTC",
    wh: Warehouse = Depends(get_warehouse),
) -> JSONResponse:
    return _records(request, wh, "costs", batch.costs, source_tz)


class CompetitorBatch(BaseModel):
    prices: list[dict[str, Any]] = Field(
        min_length=1,
        description="Observed prices: product_id, competitor, ts, price, currency (the product's).",
        examples=[
            [{"product_id": "p1", "competitor": "jd", "ts": "2026-11-20T10:00:00+08:00", "price": "99.00"}]
        ],
    )


@router.post("/competitor-prices", summary="Record competitors' prices of your products")
def post_competitor_prices(
    batch: CompetitorBatch,
    request: Request,
    source_tz: SourceTz = "UTC",
    wh: Warehouse = Depends(get_warehouse),
) -> JSONResponse:
    return _records(request, wh, "competitor_prices", batch.prices, source_tz)
