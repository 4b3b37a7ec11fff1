"""The service's campaign loop: every few seconds, journeys let users in and move on, then what is due
is delivered."""

from __future__ import annotations

import os
from typing import Any

from liveloop.campaigns import journeys, outbox, report_mail
from liveloop.core.periodic import Periodic
from liveloop.warehouse import Warehouse


def campaign_pass(wh: Warehouse, cipher: Any, base_url: str | None) -> dict[str, Any]:
    """One pass: :func:`journeys.tick`, then :func:`outbox.deliver`."""
    moved = journeys.tick(wh)
    sent = outbox.deliver(wh, cipher, outbox.DeliveryOptions(base_url=base_url))
    return {"journeys": moved, "delivery": sent}


def delivery_schedule(wh: Warehouse, app: Any, every_s: float) -> Periodic:
    """A pass every ``every_s`` seconds while the service runs; unsubscribe links point at
    ``LIVELOOP_PUBLIC_URL`` (else the URL it serves on)."""
    base = os.environ.get("LIVELOOP_PUBLIC_URL") or os.environ.get("LIVELOOP_SERVE_URL")
    return Periodic(lambda: campaign_pass(wh, app.state.cipher, base), every_s, "campaigns")


def reports_schedule(wh: Warehouse, app: Any, every_s: float) -> Periodic:
    """Reports every ``every_s`` seconds: post-live reports of ended sessions, due schedules e-mailed."""
    settings = app.state.settings
    return Periodic(
        lambda: report_mail.reports_pass(
            wh, app.state.cipher, tz=settings.timezone, symbol=settings.currency_symbol
        ),
        every_s,
        "reports",
    )
