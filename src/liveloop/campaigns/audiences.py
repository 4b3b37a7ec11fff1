"""Audiences (人群): who a campaign may reach, defined once and resolved to user ids in SQL.

An audience combines, all of which must hold: a rule over profile features (:mod:`.rules`), a segment,
a lifecycle stage, interest tags, an explicit list of users; or it is a look-alike expansion of another
audience (the similar-users model), or the users most likely to watch a live session (host affinity and
interest in the lineup, as the live-room ranking scores them), or everyone (a broadcast, which uses no
personal data). Every definition but a broadcast or an explicit list uses the user's profile, so users who
switched personalisation off are left out of it at send time (DESIGN.md §8.1).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from liveloop.campaigns.rules import Fields, compile_rule
from liveloop.core.errors import NotFound, ValidationFailed, reject_unknown
from liveloop.core.ids import is_valid_id, new_id
from liveloop.core.types import Purpose
from liveloop.privacy import consent
from liveloop.privacy.audit import AuditEntry
from liveloop.privacy.audit import record as audit
from liveloop.profiles.tags import LIFECYCLE_NAMES
from liveloop.warehouse import Warehouse

MAX_USERS_LISTED = 100_000
MAX_SIZE = 10_000_000
PREVIEW = 20
EXPORT_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class AudienceSpec:
    """What an audience is. Filters combine with *and*; ``lookalike_of``, ``live_session`` and
    ``everyone`` are whole definitions of their own."""

    rule: str | None = None
    segment: str | None = None
    lifecycle: str | None = None
    tags: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    lookalike_of: str | None = None
    live_session: str | None = None
    uplift_of: str | None = None  # a past campaign with a holdout: who it would persuade
    everyone: bool = False
    size: int | None = None  # look-alike and live-session audiences: how many (default 1,000)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudienceSpec:
        reject_unknown(data, cls, "audience")
        data = {k: v for k, v in data.items() if v is not None}
        return cls(**{**data, "tags": tuple(data.get("tags", ())), "users": tuple(data.get("users", ()))})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, (), [], False)}

    @property
    def personal(self) -> bool:
        """Whether it uses the users' personal data (all but a broadcast and an explicit list)."""
        return not (self.everyone or (self.users and not self._filters()))

    def _filters(self) -> list[Any]:
        return [self.rule, self.segment, self.lifecycle, *self.tags]

    def check(self) -> None:
        wholes = [bool(self.lookalike_of), bool(self.live_session), bool(self.uplift_of), self.everyone]
        if sum(wholes) > 1 or (any(wholes) and (any(self._filters()) or self.users)):
            raise ValidationFailed(
                "an audience is a look-alike, a live-session or uplift audience, everyone, or "
                "filters: one of them",
                field="definition",
            )
        if not any(wholes) and not any(self._filters()) and not self.users:
            raise ValidationFailed(
                "the audience has no definition: give a rule, segment, lifecycle, tags, users, "
                "lookalike_of, live_session, uplift_of or everyone",
                field="definition",
            )
        if self.lifecycle is not None and self.lifecycle not in LIFECYCLE_NAMES:
            raise ValidationFailed(
                f"unknown lifecycle stage {self.lifecycle!r}; one of {', '.join(LIFECYCLE_NAMES)}",
                field="lifecycle",
            )
        for tag in self.tags:
            kind, _, value = tag.partition(":")
            if kind not in ("category", "brand") or not value:
                raise ValidationFailed(f"a tag looks like 'category:VALUE', got {tag!r}", field="tags")
        if len(self.users) > MAX_USERS_LISTED:
            raise ValidationFailed(f"at most {MAX_USERS_LISTED} users may be listed", field="users")
        bad = next((u for u in self.users if not isinstance(u, str) or not is_valid_id(u)), None)
        if bad is not None:
            raise ValidationFailed(f"user id {bad!r} is not a valid id", field="users")
        if self.size is not None and not 1 <= self.size <= MAX_SIZE:
            raise ValidationFailed(f"size must be between 1 and {MAX_SIZE}", field="size")


def fields(wh: Warehouse) -> Fields:
    """The feature and score names profiles carry now (numeric or text), read from the profiles."""
    rows = wh.sql(
        "WITH s AS (SELECT features, scores FROM profiles USING SAMPLE 200 ROWS), "
        "f AS (SELECT unnest(json_keys(features)) AS k, features AS j FROM s), "
        "c AS (SELECT unnest(json_keys(scores)) AS k FROM s WHERE scores IS NOT NULL) "
        "SELECT 'f', k, bool_or(json_type(j, '$.' || k) IN ('BIGINT', 'UBIGINT', 'DOUBLE')) "
        "FROM f GROUP BY k "
        "UNION ALL SELECT DISTINCT 's', k, TRUE FROM c"
    )
    numeric = frozenset(k for kind, k, num in rows if kind == "f" and num)
    text = frozenset(k for kind, k, num in rows if kind == "f" and not num)
    scores = frozenset(k for kind, k, _ in rows if kind == "s")
    return Fields(numeric=numeric, text=text, scores=scores)


@dataclass
class Resolved:
    """An audience as SQL: ``query`` selects ``user_id`` (and ``score`` where ranked)."""

    query: str
    params: list[Any] = field(default_factory=list)
    personal: bool = True


def _live_session_sql(wh: Warehouse, session_id: str, size: int) -> Resolved:
    from liveloop.recommend.live_rooms import expected_viewers  # lazy: recommend loads its models

    query, params = expected_viewers(wh, session_id, size)
    return Resolved(query, params)


def resolve(wh: Warehouse, spec: AudienceSpec) -> Resolved:
    """The audience's users as a query (validated: an unknown feature or stage is a clear error)."""
    spec.check()
    size = spec.size or 1000
    if spec.everyone:
        return Resolved("SELECT user_id FROM users", [], personal=False)
    if spec.live_session:
        return _live_session_sql(wh, spec.live_session, size)
    if spec.uplift_of:
        from liveloop.campaigns.targeting import uplift_audience  # it trains on a campaign's results

        return uplift_audience(wh, spec.uplift_of, size)
    if spec.lookalike_of:
        seed = resolve(wh, load(wh, spec.lookalike_of)["spec"])
        seeds = [r[0] for r in wh.sql(f"SELECT user_id FROM ({seed.query})", seed.params)]
        from liveloop.profiles.realtime import lookalikes  # lazy: the interest model loads torch

        ranked = lookalikes(wh, seeds, size)
        return Resolved(
            "SELECT unnest(?::VARCHAR[]) AS user_id, unnest(?::DOUBLE[]) AS score",
            [[u for u, _ in ranked], [s for _, s in ranked]],
        )
    where: list[str] = []
    params: list[Any] = []
    if spec.rule:
        cond, p, _ = compile_rule(spec.rule, fields(wh))
        where.append(cond)
        params += p
    if spec.segment:
        where.append(
            "segment_id IN (SELECT segment_id FROM segments WHERE ? IN (segment_id, name_zh, name_en))"
        )
        params.append(spec.segment)
        if not wh.sql("SELECT 1 FROM segments WHERE ? IN (segment_id, name_zh, name_en)", [spec.segment]):
            raise NotFound(f"segment {spec.segment!r} is unknown", field="segment")
    if spec.lifecycle:
        where.append("lifecycle = ?")
        params.append(spec.lifecycle)
    for tag in spec.tags:
        where.append("list_contains(tags, ?)")
        params.append(tag)
    if spec.users:
        if not where:
            return Resolved(
                "SELECT DISTINCT user_id FROM (SELECT unnest(?::VARCHAR[]) AS user_id) "
                "WHERE user_id IN (SELECT user_id FROM users)",
                [list(spec.users)],
                personal=False,
            )
        where.append("list_contains(?::VARCHAR[], user_id)")
        params.append(list(spec.users))
    return Resolved(f"SELECT user_id FROM profiles WHERE {' AND '.join(where)}", params)


# -- stored audiences ----------------------------------------------------------------------------------


def create(wh: Warehouse, name: str, spec: AudienceSpec, *, actor: str | None = None) -> dict[str, Any]:
    """Store an audience after checking that it resolves."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("an audience needs a name of 1 to 200 characters", field="name")
    resolve(wh, spec)
    audience_id = new_id("aud")
    wh.sql(
        "INSERT INTO audiences (audience_id, name, definition, created_by) VALUES (?, ?, ?, ?)",
        [audience_id, name, json.dumps(spec.to_dict(), ensure_ascii=False), actor],
    )
    return load(wh, audience_id)


def load(wh: Warehouse, audience_id: str) -> dict[str, Any]:
    rows = wh.sql(
        "SELECT audience_id, name, CAST(definition AS VARCHAR), created_by, created_at FROM audiences "
        "WHERE audience_id = ?",
        [audience_id],
    )
    if not rows:
        raise NotFound(f"audience {audience_id!r} is unknown", field="audience_id")
    aid, name, definition, by, at = rows[0]
    return {
        "audience_id": aid,
        "name": name,
        "definition": json.loads(definition),
        "spec": AudienceSpec.from_dict(json.loads(definition)),
        "created_by": by,
        "created_at": at,
    }


def public(audience: dict[str, Any]) -> dict[str, Any]:
    """An audience as the faces show it (without the parsed spec)."""
    return {k: v for k, v in audience.items() if k != "spec"}


def list_audiences(wh: Warehouse) -> list[dict[str, Any]]:
    ids = [r[0] for r in wh.sql("SELECT audience_id FROM audiences ORDER BY created_at DESC LIMIT 500")]
    return [public(load(wh, a)) for a in ids]


def spec_of(wh: Warehouse, audience: str | AudienceSpec) -> AudienceSpec:
    return audience if isinstance(audience, AudienceSpec) else load(wh, audience)["spec"]


# -- size, preview, overlap, export ----------------------------------------------------------------------


def preview(
    wh: Warehouse, audience: str | AudienceSpec, *, channel: str | None = None, sample: int = PREVIEW
) -> dict[str, Any]:
    """Size, breakdown by segment and lifecycle, a sample of users, and (with ``channel``) how many of
    them marketing on that channel may reach now (consent and the non-personalised switch)."""
    spec = spec_of(wh, audience)
    r = resolve(wh, spec)
    base = f"WITH a AS ({r.query}) "
    size = int(wh.sql(base + "SELECT count(*) FROM a", r.params)[0][0])
    by_segment = wh.sql(
        base
        + "SELECT coalesce(s.name_zh, p.segment_id, '—'), coalesce(s.name_en, p.segment_id, '—'), count(*) "
        "FROM a LEFT JOIN profiles p USING (user_id) LEFT JOIN segments s ON s.segment_id = p.segment_id "
        "GROUP BY ALL ORDER BY 3 DESC LIMIT 12",
        r.params,
    )
    by_stage = wh.sql(
        base + "SELECT coalesce(p.lifecycle, '—'), count(*) FROM a LEFT JOIN profiles p USING (user_id) "
        "GROUP BY 1 ORDER BY 2 DESC",
        r.params,
    )
    users = wh.sql(
        base + "SELECT a.user_id, p.segment_id, p.lifecycle, p.value_tier, "
        "TRY_CAST(p.features->>'$.monetary' AS DOUBLE) FROM a LEFT JOIN profiles p USING (user_id) "
        "ORDER BY hash(a.user_id) LIMIT ?",
        [*r.params, sample],
    )
    out: dict[str, Any] = {
        "definition": spec.to_dict(),
        "personal": r.personal,
        "size": size,
        "by_segment": [{"segment_zh": zh, "segment_en": en, "users": n} for zh, en, n in by_segment],
        "by_lifecycle": [{"lifecycle": s, "users": n} for s, n in by_stage],
        "sample": [
            {"user_id": u, "segment_id": s, "lifecycle": lc, "value_tier": vt, "spend": m}
            for u, s, lc, vt, m in users
        ],
    }
    if channel is not None:
        allowed = consent.allowed_sql("a.user_id", Purpose.MARKETING, channel)
        switch = " AND NOT coalesce(u.non_personalised, FALSE)" if r.personal else ""
        reachable = wh.sql(
            base + f"SELECT count(*) FROM a LEFT JOIN users u USING (user_id) WHERE {allowed}{switch}",
            r.params,
        )
        out |= {"channel": channel, "reachable": int(reachable[0][0])}
    return out


def overlap(wh: Warehouse, first: str | AudienceSpec, second: str | AudienceSpec) -> dict[str, Any]:
    """Sizes of two audiences, of their intersection and union, and the Jaccard index."""
    a, b = resolve(wh, spec_of(wh, first)), resolve(wh, spec_of(wh, second))
    query = (
        f"WITH a AS ({a.query}), b AS ({b.query}) SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), "
        "(SELECT count(*) FROM a WHERE user_id IN (SELECT user_id FROM b))"
    )
    na, nb, both = (int(x) for x in wh.sql(query, [*a.params, *b.params])[0])
    union = na + nb - both
    return {
        "first": na,
        "second": nb,
        "both": both,
        "union": union,
        "jaccard": both / union if union else 0.0,
    }


def user_ids(wh: Warehouse, audience: str | AudienceSpec) -> list[str]:
    r = resolve(wh, spec_of(wh, audience))
    return [row[0] for row in wh.sql(f"SELECT user_id FROM ({r.query}) ORDER BY user_id", r.params)]


def export(
    wh: Warehouse, audience: str | AudienceSpec, path: Path, *, fmt: str = "csv", actor: str | None = None
) -> dict[str, Any]:
    """Write the audience (人群包: ``user_id`` and, where ranked, ``score``) to ``path``, leaving out users
    who have not allowed their data to be shared (an exported audience leaves liveloop)."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
    spec = spec_of(wh, audience)
    r = resolve(wh, spec)
    allowed = consent.allowed_sql("user_id", Purpose.SHARING)
    size = int(wh.sql(f"SELECT count(*) FROM ({r.query})", r.params)[0][0])
    table = wh.arrow(f"SELECT * FROM ({r.query}) WHERE {allowed} ORDER BY user_id", r.params)
    exported = table.num_rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if fmt == "csv":
        pacsv.write_csv(table, tmp)
    else:
        pq.write_table(table, tmp)
    tmp.replace(path)
    audit(
        wh,
        AuditEntry(
            actor,
            "audience.export",
            audience if isinstance(audience, str) else None,
            "exported",
            f"{exported} of {size} users; {size - exported} have not allowed sharing",
            {"path": path.name, "format": fmt},
        ),
    )
    return {"path": str(path), "format": fmt, "size": size, "exported": exported, "withheld": size - exported}
