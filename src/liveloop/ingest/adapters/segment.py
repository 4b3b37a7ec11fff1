"""Segment-spec messages (``track``, ``page``, ``identify``) from batch JSON, JSON lines or the API.

``messageId`` becomes ``event_id`` (so re-sent messages are duplicates); ``track`` and ``page`` become
events, ``identify`` becomes a user whose PII traits (email, phone, name) are encrypted. Other message
types (alias, group, screen) are quarantined as unsupported.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from liveloop.core.errors import LiveloopError
from liveloop.ingest.adapters.base import Adapter, Feed
from liveloop.ingest.readers import Chunk, JsonLinesReader, records_table
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import Target, lit

COLUMNS = (
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "timestamp",
    "event",
    "name",
    "properties",
    "traits",
    "channel",
)
#: Segment e-commerce spec event names → liveloop event types.
EVENT_NAMES = {
    "product viewed": "view",
    "product list viewed": "view",
    "product clicked": "click",
    "product added": "add_to_cart",
    "product added to wishlist": "favorite",
    "products searched": "search",
    "product shared": "share",
    "order completed": "purchase",
    "order refunded": "refund",
    "coupon applied": "coupon_redeem",
    "coupon entered": "coupon_claim",
    "signed up": "signup",
    "push notification opened": "message_open",
    "email link clicked": "message_click",
}
_MAX_BATCH_FILE = 256 << 20


def stamp_received(messages: list[Any], received_at: datetime) -> list[Any]:
    """What Segment's tracking API fills in for messages sent without them: a ``messageId`` (then a
    re-send is a new message, as with Segment) and the ``timestamp`` (the time the server received it)."""
    for msg in messages:
        if isinstance(msg, dict):
            if not msg.get("messageId"):
                msg["messageId"] = f"api-{uuid.uuid4().hex}"
            if not msg.get("timestamp"):
                msg["timestamp"] = msg.get("originalTimestamp") or received_at.isoformat()
    return messages


#: Trait names (compared lower-case, without ``_``/``-``) that carry PII: the encrypted columns they fill,
#: or None for those liveloop does not keep (a street address, a birthday: never stored in plaintext).
PII_TRAITS: dict[str, str | None] = {
    "email": "email",
    "phone": "phone",
    "mobile": "phone",
    "phonenumber": "phone",
    "mobilephone": "phone",
    "name": "name",
    "firstname": "firstName",
    "lastname": "lastName",
    "address": None,
    "birthday": None,
    "birthdate": None,
    "idcard": None,
    "idnumber": None,
}


def _traits(value: Any) -> Any:
    """Traits with PII under the names the encrypted columns read, whatever their case, and nothing else
    personal left in them; a non-object is kept as ``{"value": …}`` (valid JSON, nothing lost)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return {"value": value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        canonical = PII_TRAITS.get(str(key).lower().replace("_", "").replace("-", ""), str(key))
        if canonical is None:
            if str(key).lower() == "address" and isinstance(item, dict) and item.get("city"):
                out.setdefault("city", item["city"])  # the city is a profile field, not a street address
            continue
        if canonical not in out or out[canonical] in (None, ""):
            out[canonical] = item
    return out


def flatten(msg: dict[str, Any]) -> dict[str, Any]:
    """The columns liveloop reads from one Segment message (context only for its channel)."""
    out = {c: msg.get(c) for c in COLUMNS if c not in ("channel",)}
    ctx = msg.get("context")
    props = msg.get("properties") if isinstance(msg.get("properties"), dict) else {}
    out["channel"] = (props or {}).get("channel") or (ctx.get("channel") if isinstance(ctx, dict) else None)
    if msg.get("type") == "identify" and out.get("traits") is None and isinstance(ctx, dict):
        out["traits"] = ctx.get("traits")
    out["traits"] = _traits(out.get("traits"))
    if out.get("properties") is not None and not isinstance(out["properties"], dict):
        out["properties"] = {"value": out["properties"]}
    return out


def _event_type() -> str:
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in EVENT_NAMES.items())
    snake = "regexp_replace(lower(trim(event)), '[^a-z0-9]+', '_', 'g')"
    track = f"CASE lower(trim(event)) {cases} ELSE {snake} END"
    return f"CASE WHEN lower(type) = 'page' THEN 'page' ELSE {track} END"


def _prop(name: str) -> str:
    return f"json_extract_string(properties, '$.{name}')"


def _trait(name: str) -> str:
    return f"json_extract_string(traits, '$.{name}')"


_PII_TRAITS = '{"email": null, "phone": null, "name": null, "firstName": null, "lastName": null}'


def targets(_columns: Sequence[str] = COLUMNS, _table: str | None = None) -> tuple[Target, ...]:
    events = Target(
        SPECS["events"],
        {
            "event_id": '"messageId"',
            "ts": "timestamp",
            "user_id": 'coalesce(NULLIF(trim("userId"), \'\'), "anonymousId")',
            "type": _event_type(),
            "session_id": _prop("session_id"),
            "product_id": f"coalesce({_prop('product_id')}, {_prop('sku')})",
            "category": _prop("category"),
            "channel": "channel",
            "amount": f"coalesce({_prop('revenue')}, {_prop('total')}, {_prop('price')})",
            "quantity": _prop("quantity"),
            "text": _prop("text"),
            "props": "CASE WHEN properties IS NULL OR json_valid(properties) THEN "
            "NULLIF(CAST(json_merge_patch(coalesce(properties, '{}'), json_object('page_name', name)) "
            "AS VARCHAR), '{}') ELSE properties END",
        },
        where="lower(type) IN ('track', 'page')",
        protect_raw=True,
    )
    users = Target(
        SPECS["users"],
        {
            "user_id": '"userId"',
            "signup_ts": _trait("createdAt"),
            "gender": _trait("gender"),
            "age_band": _trait("age_band"),
            "region": f"coalesce({_trait('region')}, {_trait('city')})",
            "phone": _trait("phone"),
            "email": _trait("email"),
            "name": f"coalesce({_trait('name')}, NULLIF(trim(concat_ws(' ', {_trait('firstName')}, "
            f"{_trait('lastName')})), ''))",
            "props": f"CASE WHEN json_valid(traits) THEN json_merge_patch(traits, {lit(_PII_TRAITS)}) END",
        },
        where="lower(type) = 'identify'",
        protect_raw=True,
    )
    return events, users


class SegmentReader(JsonLinesReader):
    """A ``{"batch": [...]}`` document (messages numbered from 1) or one message per line."""

    def __init__(self, path: Path, **kwargs: Any):
        kwargs.pop("columns", None)
        kwargs.pop("skip_header", None)
        super().__init__(path, columns=COLUMNS, **kwargs)
        self._batch: list[Any] | None = None
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and b'"batch"' in head:
            if self.size > _MAX_BATCH_FILE:
                raise LiveloopError(
                    f"{path.name}: a batch document over 256 MB; send JSON lines", field="path"
                )
            try:
                doc = json.loads(path.read_text(encoding=self.encoding))
            except json.JSONDecodeError as exc:
                raise LiveloopError(
                    f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}", field="path"
                ) from exc
            if isinstance(doc, dict) and isinstance(doc.get("batch"), list):
                self._batch = doc["batch"]

    def __iter__(self) -> Iterator[Chunk]:
        if self._batch is None:
            yield from super().__iter__()
            return
        self._fh.close()
        step = 50_000
        for i in range(0, len(self._batch), step):
            part = self._batch[i : i + step]
            ok = [(i + j + 1, m) for j, m in enumerate(part) if isinstance(m, dict)]
            from liveloop.ingest.readers import Malformed

            bad = [
                Malformed(
                    i + j + 1, json.dumps(m)[:4096], "malformed_record: a message must be a JSON object"
                )
                for j, m in enumerate(part)
                if not isinstance(m, dict)
            ]
            yield Chunk(
                records_table([flatten(m) for _, m in ok], COLUMNS, [n for n, _ in ok]),
                bad,
                min(self.size, self.size * (i + step) // max(len(self._batch), 1)),
                clean=True,
            )

    @staticmethod
    def flatten(obj: dict[str, Any]) -> dict[str, Any]:
        return flatten(obj)


SEGMENT = Adapter(
    name="segment",
    description='Segment-spec track/page/identify messages: a {"batch": [...]} document or JSON lines',
    feeds=(Feed("messages", "segment", targets, columns=COLUMNS, match=("*.json", "*.jsonl", "*.ndjson")),),
)
