"""Interest tags, value tiers and lifecycle stages, with the user's tag removals kept as overrides."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry
from liveloop.profiles.features import affinity, purchase_lines
from liveloop.profiles.portable import on_duckdb
from liveloop.profiles.window import Window
from liveloop.warehouse import TableSource, Warehouse, first_row

TAG_KINDS = ("category", "brand")

LIFECYCLE_STAGES = ("new", "active", "loyal", "at_risk", "churned", "won_back", "prospect")
LIFECYCLE_NAMES = {
    "new": ("新客", "New"),
    "active": ("活跃", "Active"),
    "loyal": ("忠诚", "Loyal"),
    "at_risk": ("流失风险", "At risk"),
    "churned": ("已流失", "Churned"),
    "won_back": ("已召回", "Won back"),
    "prospect": ("潜在客户", "Prospect (no purchase yet)"),
}
VALUE_TIERS = ("high", "medium", "low", "none")


#: Environment variable naming a lifecycle rules file used when ``--rules`` is not given.
RULES_ENV = "LIVELOOP_LIFECYCLE_RULES"
#: A rules file in LIVELOOP_HOME used when neither ``--rules`` nor the environment names one.
RULES_FILE = "lifecycle_rules.toml"


@dataclass(frozen=True)
class LifecycleRules:
    """Thresholds (days, purchase counts) of the lifecycle stages; tune them to the business's cycle.

    Evaluated in order: prospect (no purchase), new (first purchase within ``new_days`` and fewer than
    ``loyal_orders`` purchases: a user who already bought that often is not new), won back
    (bought within ``active_days`` after a gap longer than ``won_back_gap_days``, default
    ``churn_days``), churned (no purchase for ``churn_days``), at risk (none for ``active_days``), loyal
    (``loyal_orders`` or more purchases), active.
    """

    new_days: float = 30.0
    active_days: float = 60.0
    churn_days: float = 180.0
    loyal_orders: int = 4
    won_back_gap_days: float | None = None

    def __post_init__(self) -> None:
        for name in ("new_days", "active_days", "churn_days", "won_back_gap_days"):
            value = getattr(self, name)
            if value is None and name == "won_back_gap_days":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValidationFailed(f"lifecycle rule {name} must be a positive number of days", field=name)
        if (
            isinstance(self.loyal_orders, bool)
            or not isinstance(self.loyal_orders, int)
            or self.loyal_orders < 1
        ):
            raise ValidationFailed(
                "lifecycle rule loyal_orders must be a whole number >= 1", field="loyal_orders"
            )
        if self.active_days >= self.churn_days:
            raise ValidationFailed(
                f"lifecycle rule active_days ({self.active_days:g}) must be below churn_days "
                f"({self.churn_days:g}): at risk lies between them",
                field="active_days",
            )

    @property
    def gap_days(self) -> float:
        return self.churn_days if self.won_back_gap_days is None else self.won_back_gap_days

    def scaled(self, factor: float) -> LifecycleRules:
        """The same rules for a data set whose natural cycle is ``factor`` times as long."""
        gap = None if self.won_back_gap_days is None else self.won_back_gap_days * factor
        return replace(
            self,
            new_days=self.new_days * factor,
            active_days=self.active_days * factor,
            churn_days=self.churn_days * factor,
            won_back_gap_days=gap,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LifecycleRules:
        """Rules from a mapping (a parsed JSON/TOML file); unknown keys are refused, missing keep defaults."""
        allowed = [f.name for f in fields(cls)]
        section = data.get("lifecycle", data) if isinstance(data, Mapping) else data
        if not isinstance(section, Mapping):
            raise ValidationFailed("lifecycle rules must be a table of name = value", field="rules")
        unknown = sorted(set(section) - set(allowed))
        if unknown:
            raise ValidationFailed(
                f"unknown lifecycle rule {unknown[0]!r}; allowed: {', '.join(allowed)}", field=unknown[0]
            )
        return cls(**dict(section))

    @classmethod
    def from_file(cls, path: Path | str) -> LifecycleRules:
        """Rules from a ``.toml`` or ``.json`` file (top level or a ``[lifecycle]`` table)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationFailed(
                f"cannot read lifecycle rules {path}: {exc.strerror}", field="rules"
            ) from None
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValidationFailed(
                f"lifecycle rules {path.name} are not valid: {exc}", field="rules"
            ) from None
        return cls.from_mapping(data)


def load_rules(path: Path | str | None = None, home: Path | None = None) -> tuple[LifecycleRules, str]:
    """The lifecycle rules to build with and where they came from: ``path``, else the file named by
    ``LIVELOOP_LIFECYCLE_RULES``, else ``LIVELOOP_HOME/lifecycle_rules.toml`` if present, else defaults."""
    if path:
        return LifecycleRules.from_file(path), str(path)
    env = os.environ.get(RULES_ENV)
    if env:
        return LifecycleRules.from_file(env), f"{RULES_ENV}={env}"
    if home is not None and (home / RULES_FILE).is_file():
        return LifecycleRules.from_file(home / RULES_FILE), str(home / RULES_FILE)
    return LifecycleRules(), "defaults"


def lifecycle_stage(features: pd.DataFrame, prev_gap_days: pd.Series, rules: LifecycleRules) -> pd.Series:
    """Lifecycle stage of every user from recency, tenure, frequency and the gap before the last purchase."""
    recency = features["recency_days"]
    first = features["first_purchase_days"]
    freq = features["frequency"]
    gap = prev_gap_days.reindex(features.index)
    conditions = [
        freq <= 0,
        (first <= rules.new_days) & (freq < rules.loyal_orders),
        (recency <= rules.active_days) & (gap > rules.gap_days),
        recency > rules.churn_days,
        recency > rules.active_days,
        freq >= rules.loyal_orders,
    ]
    choices = ["prospect", "new", "won_back", "churned", "at_risk", "loyal"]
    return pd.Series(np.select(conditions, choices, default="active"), index=features.index)


def previous_gap_days(wh: Warehouse, win: Window) -> pd.Series:
    """Days between each user's last two purchase days (the gap a win-back closes)."""
    p = purchase_lines(wh, win)
    days = p.group_by(["user_id", p.ts.date().name("day")]).aggregate()
    ranked = days.mutate(_rank=ibis.row_number().over(group_by=days.user_id, order_by=days.day.desc()))
    last_two = ranked.filter(ranked._rank < 2)
    gaps = last_two.group_by("user_id").aggregate(
        last=last_two.day.max(), before=last_two.day.min(), n=last_two.count()
    )
    gaps = gaps.filter(gaps.n == 2).select("user_id", gap=gaps.last.delta(gaps.before, unit="day"))
    df = gaps.to_pyarrow().to_pandas()
    return pd.Series(df["gap"].to_numpy(dtype=float), index=df["user_id"].astype(str), dtype=float)


def value_tier(monetary: pd.Series, high_share: float = 0.2, medium_share: float = 0.3) -> pd.Series:
    """high = top ``high_share`` of buyers by spend, medium = the next ``medium_share``, low = the rest."""
    out = pd.Series("none", index=monetary.index, dtype=object)
    buyers = monetary[monetary > 0]
    if buyers.empty:
        return out
    pct = buyers.rank(pct=True, method="average")
    out[buyers.index] = np.where(
        pct > 1 - high_share, "high", np.where(pct > 1 - high_share - medium_share, "medium", "low")
    )
    return out


def interest_tags(wh: TableSource, win: Window, top_n: int = 3, totals: Any = None) -> Any:
    """(user_id, tags): the top ``top_n`` categories then brands as ``kind:value``, removed ones left out."""
    parts = []
    for order, kind in enumerate(TAG_KINDS):
        a = affinity(wh, win, kind, totals)
        ranked = a.mutate(
            _rank=ibis.row_number().over(group_by=a.user_id, order_by=[a.score.desc(), a[kind]])
        )
        top = ranked.filter(ranked._rank < top_n)
        parts.append(
            top.select("user_id", tag=ibis.literal(f"{kind}:") + top[kind], _order=top._rank + order * top_n)
        )
    both = ibis.union(*parts)
    if on_duckdb(both):
        return both.group_by("user_id").aggregate(tags=both.tag.collect(order_by=both._order))
    # Spark collects without an order: collect (order, tag) pairs, sort them, keep the tags
    pairs = both.group_by("user_id").aggregate(
        _pairs=ibis.struct({"o": both._order, "t": both.tag}).collect()
    )
    return pairs.select("user_id", tags=pairs._pairs.sort().map(lambda p: p.t))


def removed_tags(wh: Warehouse, user_id: str) -> list[str]:
    rows = wh.sql(
        "SELECT tag FROM tag_overrides WHERE user_id = ? AND action = 'removed' ORDER BY tag", [user_id]
    )
    return [r[0] for r in rows]


def remove_tag(wh: Warehouse, user_id: str, tag: str, actor: str | None = None) -> dict[str, object]:
    """Record that ``user_id`` removed ``tag``; the tag leaves their profile at once and every later build.

    Returns the user's remaining tags. Idempotent: removing a tag twice keeps one override.
    """
    kind, _, value = tag.partition(":")
    if kind not in TAG_KINDS or not value:
        raise ValidationFailed(
            f"a tag looks like 'category:VALUE' or 'brand:VALUE', got {tag!r}", field="tag"
        )
    with wh.transaction() as con:
        found = first_row(con.execute("SELECT tags FROM profiles WHERE user_id = ?", [user_id]))
        known = first_row(
            con.execute(
                "SELECT count(*) FROM (SELECT user_id FROM users WHERE user_id = ? UNION ALL "
                "SELECT user_id FROM profiles WHERE user_id = ?)",
                [user_id, user_id],
            )
        )
        if not known or not known[0]:
            raise NotFound(f"no user {user_id!r}", field="user_id")
        con.execute("DELETE FROM tag_overrides WHERE user_id = ? AND tag = ?", [user_id, tag])
        wh.append(
            "tag_overrides",
            pa.table({"user_id": [user_id], "tag": [tag], "action": ["removed"], "actor": [actor]}),
            con=con,
        )
        remaining = [t for t in (found[0] if found and found[0] else []) if t != tag]
        con.execute("UPDATE profiles SET tags = ? WHERE user_id = ?", [remaining, user_id])
        audit.record(
            wh,
            AuditEntry(actor, "profiles.remove_tag", user_id, tag, "the user removed an interest tag"),
            con=con,
        )
    return {"user_id": user_id, "removed": tag, "tags": remaining}


def restore_tag(wh: Warehouse, user_id: str, tag: str) -> bool:
    """Undo a removal (the tag comes back at the next build if the behaviour still supports it)."""
    with wh.transaction() as con:
        n = first_row(
            con.execute("SELECT count(*) FROM tag_overrides WHERE user_id = ? AND tag = ?", [user_id, tag])
        )
        con.execute("DELETE FROM tag_overrides WHERE user_id = ? AND tag = ?", [user_id, tag])
    return bool(n and n[0])


def _explain_removal(_user: str, tag: str | None, _reason: str | None, _details: Any, lang: str) -> str:
    return f"你移除了兴趣标签「{tag}」" if lang == "zh" else f"you removed the interest tag “{tag}”"


audit.register_explainer("profiles.remove_tag", _explain_removal)
