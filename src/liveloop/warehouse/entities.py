"""Users, products, hosts and live sessions as entities: read one, list with filters and a cursor, update.

Creation goes through ``liveloop.ingest.ingest_records`` (one validation path for files and the API);
this module holds the reads and partial updates, and the shapes both faces document. PII (phone,
email, name) is stored encrypted; reads show only whether it is present unless ``reveal_pii`` is
asked for (the API allows that to admins only, and it is audited).
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from liveloop.core.clock import utcnow
from liveloop.core.crypto import Cipher
from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Gender
from liveloop.warehouse.store import Warehouse, first_row

PII = ("phone", "email", "name")
#: Columns that cannot be cleared (NOT NULL in the schema).
REQUIRED_ON_UPDATE = frozenset({"non_personalised", "currency"})
MAX_LIMIT = 500

Id = Field(pattern=ID_PATTERN, min_length=1, max_length=128)
Label = Field(default=None, min_length=1, max_length=128)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserPatch(_Strict):
    signup_ts: datetime | None = None
    gender: Gender | None = None
    age_band: str | None = Field(default=None, max_length=32)
    region: str | None = Label
    city_tier: int | None = Field(default=None, ge=1, le=6)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    non_personalised: bool | None = None
    props: dict[str, Any] | None = None


class UserIn(UserPatch):
    user_id: str = Id


class ProductPatch(_Strict):
    title: str | None = Field(default=None, max_length=512)
    title_en: str | None = Field(default=None, max_length=512)
    category: str | None = Label
    brand: str | None = Field(default=None, max_length=128)
    price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    cost: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    stock: int | None = Field(default=None, ge=0, le=2_000_000_000)
    attributes: dict[str, Any] | None = None


class ProductIn(ProductPatch):
    product_id: str = Id


class HostPatch(_Strict):
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Label
    props: dict[str, Any] | None = None


class HostIn(HostPatch):
    host_id: str = Id


class LiveSessionPatch(_Strict):
    host_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=128)
    title: str | None = Field(default=None, max_length=512)
    start_ts: datetime | None = None
    end_ts: datetime | None = None
    lineup: list[str] | None = Field(default=None, max_length=500)
    props: dict[str, Any] | None = None


class LiveSessionIn(LiveSessionPatch):
    session_id: str = Id


class ListQuery(_Strict):
    """Pagination shared by every list: ``limit`` and the opaque ``cursor`` of the previous page."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)

    def filters(self) -> dict[str, Any]:
        return self.model_dump(exclude={"limit", "cursor"})


class UserFilters(ListQuery):
    region: str | None = Field(default=None, max_length=128)
    gender: Gender | None = None
    age_band: str | None = Field(default=None, max_length=32)
    city_tier: int | None = Field(default=None, ge=1, le=6)
    non_personalised: bool | None = None


class ProductFilters(ListQuery):
    category: str | None = Field(default=None, max_length=128)
    brand: str | None = Field(default=None, max_length=128)
    min_price: Decimal | None = Field(default=None, ge=0)
    max_price: Decimal | None = Field(default=None, ge=0)
    in_stock: bool | None = None


class HostFilters(ListQuery):
    category: str | None = Field(default=None, max_length=128)


class LiveSessionFilters(ListQuery):
    host_id: str | None = Field(default=None, max_length=128)
    status: Literal["scheduled", "live", "ended"] | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


@dataclass(frozen=True)
class Entity:
    """How one table is exposed: its key, readable columns, and the SQL of each filter."""

    kind: str
    table: str
    key: str
    columns: tuple[str, ...]
    filters: dict[str, str]

    @property
    def get_sql(self) -> str:
        """The point query by key."""
        return f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {self.key} = ?"


ENTITIES: dict[str, Entity] = {
    "users": Entity(
        "users",
        "users",
        "user_id",
        (
            "user_id",
            "signup_ts",
            "gender",
            "age_band",
            "region",
            "city_tier",
            "non_personalised",
            "props",
            "source",
            "updated_at",
            "phone_enc",
            "email_enc",
            "name_enc",
        ),
        {
            "region": "region = ?",
            "gender": "gender = ?",
            "age_band": "age_band = ?",
            "city_tier": "city_tier = ?",
            "non_personalised": "non_personalised = ?",
        },
    ),
    "products": Entity(
        "products",
        "products",
        "product_id",
        (
            "product_id",
            "title",
            "title_en",
            "category",
            "brand",
            "price",
            "currency",
            "cost",
            "stock",
            "attributes",
            "source",
            "updated_at",
        ),
        {
            "category": "category = ?",
            "brand": "brand = ?",
            "min_price": "price >= ?",
            "max_price": "price <= ?",
            "in_stock": "(coalesce(stock, 0) > 0) = ?",
        },
    ),
    "hosts": Entity(
        "hosts",
        "hosts",
        "host_id",
        ("host_id", "name", "category", "props", "source", "updated_at"),
        {"category": "category = ?"},
    ),
    "live_sessions": Entity(
        "live_sessions",
        "live_sessions",
        "session_id",
        ("session_id", "host_id", "title", "start_ts", "end_ts", "lineup", "props", "source", "updated_at"),
        {
            "host_id": "host_id = ?",
            "starts_after": "start_ts >= ?",
            "starts_before": "start_ts < ?",
            "status": "(CASE WHEN start_ts > now() THEN 'scheduled' WHEN end_ts IS NULL OR end_ts > now() "
            "THEN 'live' ELSE 'ended' END) = ?",
        },
    ),
}


def _entity(kind: str) -> Entity:
    if kind not in ENTITIES:
        raise ValidationFailed(f"unknown entity {kind!r}: one of {', '.join(ENTITIES)}", field="kind")
    return ENTITIES[kind]


def _plain(value: Any) -> Any:
    """JSON-ready values: money as a string (never a float), times in ISO 8601, JSON parsed."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _row(entity: Entity, row: tuple[Any, ...], cipher: Cipher | None, reveal_pii: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, value in zip(entity.columns, row, strict=True):
        if col.endswith("_enc"):
            name = col.removesuffix("_enc")
            if reveal_pii and cipher is not None:
                out[name] = cipher.decrypt(value, context=f"{entity.table}.{name}")
            else:
                out[name] = None if value is None else "***"
        elif col in ("props", "attributes") and isinstance(value, str):
            out[col] = json.loads(value)
        else:
            out[col] = _plain(value)
    return out


@functools.lru_cache(maxsize=len(ENTITIES))
def _point_query(sql: str) -> duckdb.Statement:
    """An entity's point query parsed once (parsing is ~a fifth of a point query's CPU time)."""
    return duckdb.extract_statements(sql)[0]


def get_entity(
    wh: Warehouse, kind: str, entity_id: str, *, cipher: Cipher | None = None, reveal_pii: bool = False
) -> dict[str, Any]:
    """One entity by id; PII masked as ``"***"`` unless ``reveal_pii`` (with the cipher)."""
    entity = _entity(kind)
    rows = wh.reader().execute(_point_query(entity.get_sql), [entity_id]).fetchall()
    if not rows:
        raise NotFound(f"no {kind[:-1].replace('_', ' ')} {entity_id!r}", field=entity.key)
    return _row(entity, rows[0], cipher, reveal_pii)


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        key = ""
    if not key or encode_cursor(key) != cursor:
        raise ValidationFailed("cursor is not one this API returned", field="cursor")
    return key


def list_entities(
    wh: Warehouse,
    kind: str,
    *,
    filters: dict[str, Any] | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of entities in key order: ``{"items": [...], "next_cursor": str | None}``; PII masked."""
    entity = _entity(kind)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    where, params = [], []
    for name, value in (filters or {}).items():
        if value is None:
            continue
        if name not in entity.filters:
            raise ValidationFailed(f"unknown filter {name!r} for {kind}", field=name)
        where.append(entity.filters[name])
        params.append(value.value if hasattr(value, "value") else value)
    if cursor:
        where.append(f"{entity.key} > ?")
        params.append(decode_cursor(cursor))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cols = ", ".join(entity.columns)
    rows = (
        wh.reader()
        .execute(
            f"SELECT {cols} FROM {entity.table} {clause} ORDER BY {entity.key} LIMIT ?", [*params, limit + 1]
        )
        .fetchall()
    )
    items = [_row(entity, r, None, False) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1][entity.key]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def update_entity(
    wh: Warehouse, kind: str, entity_id: str, changes: dict[str, Any], *, cipher: Cipher
) -> dict[str, Any]:
    """Apply a validated partial update (only the fields given); PII is re-encrypted. Returns the entity."""
    entity = _entity(kind)
    if not changes:
        raise ValidationFailed("nothing to update: send at least one field", field="body")
    sets: list[str] = []
    params: list[Any] = []
    for name, value in changes.items():
        if value is None and name in REQUIRED_ON_UPDATE:
            raise ValidationFailed(f"{name} cannot be null", field=name)
        if name in PII and kind == "users":
            sets += [f"{name}_enc = ?"]
            params.append(cipher.encrypt(value, context=f"users.{name}") if value is not None else None)
            if name in ("phone", "email"):
                sets.append(f"{name}_index = ?")
                params.append(cipher.blind_index(value))
            continue
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        sets.append(f"{name} = ?")
        params.append(value.value if hasattr(value, "value") else value)
    sets.append("updated_at = ?")
    params.append(utcnow())
    try:
        with wh.transaction() as con:
            found = first_row(
                con.execute(f"SELECT count(*) FROM {entity.table} WHERE {entity.key} = ?", [entity_id])
            )
            if not found or not found[0]:
                raise NotFound(f"no {kind[:-1].replace('_', ' ')} {entity_id!r}", field=entity.key)
            con.execute(
                f"UPDATE {entity.table} SET {', '.join(sets)} WHERE {entity.key} = ?", [*params, entity_id]
            )
            if kind == "live_sessions":
                bad = first_row(
                    con.execute(
                        "SELECT count(*) FROM live_sessions WHERE session_id = ? AND end_ts < start_ts",
                        [entity_id],
                    )
                )
                if bad and bad[0]:
                    raise ValidationFailed("end_ts is before start_ts", field="end_ts")
    except (duckdb.ConstraintException, duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
        raise ValidationFailed(
            f"the update does not fit the {entity.table} table: {exc}", field="body"
        ) from exc
    return get_entity(wh, kind, entity_id)
