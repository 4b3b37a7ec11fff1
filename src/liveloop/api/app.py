"""The API face: its routers, discovered in ``liveloop.api.routes``, and the state they share.

The app that serves them (with the dashboard) is built by ``liveloop.server.create_app``.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI

from liveloop.api.idempotency import IdempotencyStore, RedisIdempotencyStore
from liveloop.api.ingest_queue import IngestQueue
from liveloop.http.auth import document_security

DESCRIPTION = """\
liveloop collects live-commerce events and serves what its capabilities produce.

Authenticate with an API key (`liveloop keys create --role ROLE --name NAME`) sent as
`Authorization: Bearer KEY` or `X-API-Key: KEY`. Errors are RFC 9457 problem+json naming the field.
"""


def mount_api(app: FastAPI) -> None:
    """Add every router of ``liveloop.api.routes``, the idempotency store and the ingest queue, and
    document the key schemes in the OpenAPI document."""
    redis = getattr(app.state, "redis", None)
    app.state.idempotency = RedisIdempotencyStore(redis) if redis is not None else IdempotencyStore()
    app.state.ingest_queue = IngestQueue()
    document_security(app)

    from liveloop.api import routes

    modules = [
        importlib.import_module(f"{routes.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name)
    ]
    # Routes are matched in order (a regex per route skipped, per request): a module may declare a
    # lower ROUTE_ORDER (default 100) to put its hot serving routes first.
    for module in sorted(modules, key=lambda m: getattr(m, "ROUTE_ORDER", 100)):
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
