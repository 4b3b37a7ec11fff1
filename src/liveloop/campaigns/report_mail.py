"""Reports to staff by e-mail through the campaign e-mail channel (its SMTP provider): the delivery that
``analytics.reports.schedules`` leaves to its caller, and the pass the service runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from liveloop.analytics.reports import schedules
from liveloop.campaigns.channels import Outgoing, providers, sender_for
from liveloop.core.crypto import Cipher
from liveloop.core.ids import new_id
from liveloop.core.types import Channel
from liveloop.warehouse import Warehouse


def send(
    wh: Warehouse,
    cipher: Cipher,
    recipients: Sequence[str],
    subject: str,
    text: str,
    attachments: Sequence[schedules.Attachment],
) -> str | None:
    """One e-mail per recipient with the files attached; None when all went, else why not."""
    provider = providers(wh, cipher).get(Channel.EMAIL.value)
    if provider is None or provider.kind != "smtp":
        return "no SMTP provider for the e-mail channel: `liveloop campaign channels set email smtp …`"
    batch = [
        Outgoing(
            message_id=new_id("rmail"),
            campaign_id=None,
            user_id="staff",
            channel=Channel.EMAIL.value,
            subject=subject,
            body=text,
            address=address,
            attachments=tuple(attachments),
        )
        for address in recipients
    ]
    results = sender_for(provider).send(batch)
    failed = [f"{m.address}: {r.error}" for m, r in zip(batch, results, strict=True) if not r.ok]
    return "; ".join(failed) or None


def reports_pass(
    wh: Warehouse,
    cipher: Cipher,
    *,
    now: datetime | None = None,
    tz: str = "Asia/Shanghai",
    symbol: str = "¥",
    pdf: bool = True,
) -> dict[str, Any]:
    """Pending post-live reports written, due schedules run and e-mailed."""
    deliver = partial(send, wh, cipher)
    return schedules.run_due(wh, cipher, deliver, now=now, tz=tz, symbol=symbol, pdf=pdf)
