"""A campaign's message written by the content studio: the first usable variant of a product's copy for
the campaign's first channel (``liveloop.content.copywriting``), already through the compliance gate."""

from __future__ import annotations

from typing import Any

from liveloop.content.copywriting import product_copy
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

#: The content studio's channel for each campaign channel.
CONTENT_CHANNEL = {
    "email": "email",
    "sms": "sms",
    "app_push": "push",
    "in_app": "push",
    "social": "social",
    "webhook": "social",
}


def _literal(text: str) -> str:
    """Copy as a template that renders to itself (a product name may hold Jinja2 braces)."""
    return "{% raw %}" + text + "{% endraw %}" if "{" in text or "}" in text else text


def message_from_copy(
    wh: Warehouse, product_id: str, channels: list[str], *, persona: str | None = None
) -> dict[str, Any]:
    """``body`` and ``subject`` (e-mail) for a campaign from the product's copy; which variant and the
    gate's verdict come back too. A product with no usable variant is a clear error."""
    if not channels:
        raise ValidationFailed("give at least one channel", field="channels")
    channel = CONTENT_CHANNEL.get(channels[0])
    if channel is None:
        raise ValidationFailed(f"no copy is written for channel {channels[0]!r}", field="channels")
    copy = product_copy(wh, product_id, channel, persona=persona, variants=1)
    if not copy["variants"]:
        reasons = "; ".join(r["reason"] for r in copy["rejected"]) or "no variant"
        raise ValidationFailed(f"no usable copy for {product_id}: {reasons}", field="copy_from")
    v = copy["variants"][0]
    return {
        "body": _literal(v.get("body", v["text"])),
        "subject": _literal(v["subject"]) if "subject" in v else None,
        "copy": {"product_id": product_id, "channel": channel, "persona": persona, "verdict": v["verdict"]},
    }


def fill_message(
    wh: Warehouse, data: dict[str, Any], copy_from: str | None, *, persona: str | None = None
) -> dict[str, Any]:
    """A campaign draft with its body (and subject) written from ``copy_from``'s copy where not given;
    neither a body nor a product is a clear error naming ``body``."""
    if copy_from:
        written = message_from_copy(wh, copy_from, list(data.get("channels") or []), persona=persona)
        return data | {
            "body": data.get("body") or written["body"],
            "subject": data.get("subject") or written["subject"],
        }
    if not data.get("body"):
        raise ValidationFailed("give a body, or a product to write it from (copy_from)", field="body")
    return data
