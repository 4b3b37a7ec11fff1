"""Prometheus metrics: one registry for the service; capabilities add their own with ``counter``/``gauge``.

Request counts and latencies are labelled by the route *template* (``/v1/users/{user_id}``), never the
raw path, so the number of series stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
_METRICS: dict[str, Any] = {}

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def counter(name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Counter:
    """The counter ``name`` in the service registry (created on first use; safe to call again)."""
    if name not in _METRICS:
        _METRICS[name] = Counter(name, documentation, labelnames, registry=REGISTRY)
    metric: Counter = _METRICS[name]
    return metric


def gauge(name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Gauge:
    """The gauge ``name`` in the service registry (created on first use; safe to call again)."""
    if name not in _METRICS:
        _METRICS[name] = Gauge(name, documentation, labelnames, registry=REGISTRY)
    metric: Gauge = _METRICS[name]
    return metric


def histogram(name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Histogram:
    if name not in _METRICS:
        _METRICS[name] = Histogram(
            name, documentation, labelnames, buckets=_LATENCY_BUCKETS, registry=REGISTRY
        )
    metric: Histogram = _METRICS[name]
    return metric


REQUESTS = counter(
    "liveloop_http_requests_total",
    "HTTP requests by method, route and status.",
    ("method", "route", "status"),
)
LATENCY = histogram(
    "liveloop_http_request_duration_seconds", "HTTP request latency by route.", ("method", "route")
)
IN_FLIGHT = gauge("liveloop_http_requests_in_flight", "HTTP requests being served now.")
INGESTED = counter(
    "liveloop_ingest_records_total",
    "Records received over HTTP by endpoint and outcome.",
    ("endpoint", "outcome"),
)
WRITE_QUEUE = gauge("liveloop_ingest_write_queue_depth", "Ingest requests waiting for the warehouse writer.")


def render() -> tuple[bytes, str]:
    """The registry in Prometheus text exposition format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def _static_prefix(path: str) -> str:
    """A bounded label for requests no API route matched (static files or 404s)."""
    for prefix in ("/static/", "/docs/assets/"):
        if path.startswith(prefix):
            return prefix + "*"
    return "unmatched"


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request (cheap: no body buffering)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or _static_prefix(scope.get("path", ""))
            method = scope.get("method", "")
            LATENCY.labels(method, template).observe(time.perf_counter() - start)
            REQUESTS.labels(method, template, str(status["code"])).inc()
