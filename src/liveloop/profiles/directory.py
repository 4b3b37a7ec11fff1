"""The user directory: profiled users found by segment, lifecycle stage, value tier, id or phone.

Operators rarely know a user id; the directory is where they find one. A search that looks like a phone
number is matched through the users' blind index (the phone itself is stored only encrypted), anything
else as a part of the user id. Pages are by offset, at most :data:`MAX_LIMIT` rows each, biggest
spenders first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liveloop.core.crypto import Cipher, phone_forms
from liveloop.core.errors import ValidationFailed
from liveloop.core.paging import page
from liveloop.profiles.tags import LIFECYCLE_NAMES, VALUE_TIERS
from liveloop.warehouse import Warehouse

MAX_LIMIT = 200


@dataclass(frozen=True)
class UserQuery:
    """What to list: filters (None: any), a search text, and the page."""

    segment: str | None = None
    lifecycle: str | None = None
    value_tier: str | None = None
    search: str | None = None
    limit: int = 50
    offset: int = 0

    def check(self) -> None:
        if self.lifecycle is not None and self.lifecycle not in LIFECYCLE_NAMES:
            raise ValidationFailed(
                f"unknown lifecycle stage {self.lifecycle!r}; one of {', '.join(LIFECYCLE_NAMES)}",
                field="lifecycle",
            )
        if self.value_tier is not None and self.value_tier not in VALUE_TIERS:
            raise ValidationFailed(
                f"unknown value tier {self.value_tier!r}; one of {', '.join(VALUE_TIERS)}", field="value_tier"
            )
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if self.offset < 0:
            raise ValidationFailed("offset must be 0 or more", field="offset")


def list_users(wh: Warehouse, query: UserQuery, cipher: Cipher | None = None) -> dict[str, Any]:
    """One page of profiled users matching ``query``, with the total, the next offset (None: last) and
    ``profiled`` (all profiled users: 0 means profiles were never built).

    ``cipher`` turns a phone-number search into a blind-index lookup; without it a search is by id only.
    """
    query.check()
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    for column, value in (
        ("p.segment_id", query.segment),
        ("p.lifecycle", query.lifecycle),
        ("p.value_tier", query.value_tier),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    search = (query.search or "").strip()
    if search:
        phones = (
            [i for f in phone_forms(search) for i in cipher.blind_indexes(f)] if cipher is not None else []
        )
        if phones:
            marks = ", ".join("?" for _ in phones)
            where.append(f"(u.phone_index IN ({marks}) OR contains(lower(p.user_id), lower(?)))")
            params += [*phones, search]
        else:
            where.append("contains(lower(p.user_id), lower(?))")
            params.append(search)
    condition = " AND ".join(where)
    base = (
        "FROM profiles p LEFT JOIN users u USING (user_id) LEFT JOIN segments s USING (segment_id) "
        f"WHERE {condition}"
    )
    total = int(wh.sql(f"SELECT count(*) {base}", params)[0][0])
    rows = wh.sql(
        "SELECT p.user_id, p.segment_id, s.name_zh, s.name_en, p.lifecycle, p.value_tier, "
        "TRY_CAST(json_extract(p.features, '$.monetary') AS DOUBLE) AS spend, "
        "TRY_CAST(json_extract(p.features, '$.frequency') AS DOUBLE) AS purchases, "
        f"json_extract_string(p.features, '$.top_category') AS top_category {base} "
        "ORDER BY spend DESC NULLS LAST, p.user_id LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    )
    users = [
        {
            "user_id": uid,
            "segment_id": sid,
            "segment_zh": zh,
            "segment_en": en,
            "lifecycle": stage,
            "lifecycle_zh": LIFECYCLE_NAMES.get(stage or "", (None, None))[0],
            "lifecycle_en": LIFECYCLE_NAMES.get(stage or "", (None, None))[1],
            "value_tier": tier,
            "spend": round(spend, 2) if spend is not None else None,
            "purchases": int(purchases) if purchases is not None else None,
            "top_category": top,
        }
        for uid, sid, zh, en, stage, tier, spend, purchases, top in rows
    ]
    profiled = total if condition == "TRUE" else int(wh.sql("SELECT count(*) FROM profiles")[0][0])
    return {**page("users", users, total, query.offset, query.limit), "profiled": profiled}
