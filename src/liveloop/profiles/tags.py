"""Interest tags, value tiers and lifecycle stages, with the user's tag removals kept as overrides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from liveloop.core.errors import NotFound, ValidationFailed
from liveloop.profiles.features import affinity
from liveloop.profiles.window import Window
from liveloop.warehouse import Warehouse

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


@dataclass(frozen=True)
class LifecycleRules:
    """Thresholds (days, purchase counts) of the lifecycle stages; tune them to the business's cycle.

    Evaluated in order: prospect (no purchase), new (first purchase within ``new_days``), won back
    (recent purchase after a gap longer than ``churn_days``), churned (no purchase for
    ``churn_days``), at risk (none for ``active_days``), loyal (``loyal_orders`` or more), active.
    """

    new_days: float = 30.0
    active_days: float = 60.0
    churn_days: float = 180.0
    loyal_orders: int = 4

    def scaled(self, factor: float) -> LifecycleRules:
        """The same rules for a data set whose natural cycle is ``factor`` times as long."""
        return LifecycleRules(
            self.new_days * factor, self.active_days * factor, self.churn_days * factor, self.loyal_orders
        )


def lifecycle_stage(features: pd.DataFrame, prev_gap_days: pd.Series, rules: LifecycleRules) -> pd.Series:
    """Lifecycle stage of every user from recency, tenure, frequency and the gap before the last purchase."""
    recency = features["recency_days"]
    first = features["first_purchase_days"]
    freq = features["frequency"]
    gap = prev_gap_days.reindex(features.index)
    conditions = [
        freq <= 0,
        first <= rules.new_days,
        (recency <= rules.active_days) & (gap > rules.churn_days),
        recency > rules.churn_days,
        recency > rules.active_days,
        freq >= rules.loyal_orders,
    ]
    choices = ["prospect", "new", "won_back", "churned", "at_risk", "loyal"]
    return pd.Series(np.select(conditions, choices, default="active"), index=features.index)


def previous_gap_days(wh: Warehouse, win: Window) -> pd.Series:
    """Days between each user's last two purchase days (the gap a win-back closes)."""
    from liveloop.profiles.features import purchase_lines

    p = purchase_lines(wh, win)
    days = p.group_by(["user_id", p.ts.date().name("day")]).aggregate()
    df = days.to_pandas()
    if df.empty:
        return pd.Series(dtype=float)
    df["day"] = pd.to_datetime(df["day"])
    df = df.sort_values(["user_id", "day"])
    gaps = df.groupby("user_id")["day"].diff().dt.days
    return gaps.groupby(df["user_id"]).last().astype(float)


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


def interest_tags(wh: Warehouse, win: Window, top_n: int = 3) -> pd.Series:
    """Top categories and brands of each user as ``kind:value`` tags (removed tags excluded)."""
    frames = []
    for kind in TAG_KINDS:
        a = affinity(wh, win, kind).to_pandas()
        if a.empty:
            continue
        a = a.sort_values(["user_id", "score", kind], ascending=[True, False, True])
        a = a.groupby("user_id").head(top_n)
        frames.append(pd.DataFrame({"user_id": a["user_id"], "tag": kind + ":" + a[kind].astype(str)}))
    if not frames:
        return pd.Series(dtype=object)
    tags = pd.concat(frames)
    return tags.groupby("user_id")["tag"].agg(list)


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
        found = con.execute("SELECT tags FROM profiles WHERE user_id = ?", [user_id]).fetchone()
        known = con.execute(
            "SELECT count(*) FROM (SELECT user_id FROM users WHERE user_id = ? UNION ALL "
            "SELECT user_id FROM profiles WHERE user_id = ?)",
            [user_id, user_id],
        ).fetchone()
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
    return {"user_id": user_id, "removed": tag, "tags": remaining}


def restore_tag(wh: Warehouse, user_id: str, tag: str) -> bool:
    """Undo a removal (the tag comes back at the next build if the behaviour still supports it)."""
    with wh.transaction() as con:
        n = con.execute(
            "SELECT count(*) FROM tag_overrides WHERE user_id = ? AND tag = ?", [user_id, tag]
        ).fetchone()
        con.execute("DELETE FROM tag_overrides WHERE user_id = ? AND tag = ?", [user_id, tag])
    return bool(n and n[0])
