"""Risk detection: fake engagement in live rooms, abnormal orders and KPI drops, with a review queue.

``detect`` runs detectors over the warehouse and returns their findings; ``scan`` stores the new ones
as flags (a finding already flagged — open, confirmed or dismissed — is not flagged again);
``list_flags``, ``get_flag`` and ``review_flag`` are the queue. Each flag's evidence says which rule
fired and with what numbers; the accounts and items it names are listed with it.

Detectors (``DETECTORS``), each ``fn(wh, params, scope, env) -> [Finding]``:

- ``comment_burst``, ``new_account_comments``, ``synced_joins``, ``like_spike``, ``gift_spike``
  (``risk_engagement``);
- ``linked_accounts``, ``refund_abuse`` (``risk_orders``);
- ``kpi_drop`` (``risk_kpi``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from liveloop.analytics.risk_engagement import (
    comment_bursts,
    gift_spikes,
    like_spikes,
    new_account_comments,
    synced_joins,
)
from liveloop.analytics.risk_kpi import detect_drops, kpi_drops, kpi_series
from liveloop.analytics.risk_orders import linked_accounts, refund_abuse
from liveloop.analytics.risk_params import Env, RiskParams, Scope
from liveloop.analytics.risk_store import (
    KINDS,
    STATUSES,
    Finding,
    Member,
    check_kind,
    get_flag,
    list_flags,
    review_flag,
    write_findings,
)
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

Detector = Callable[[Warehouse, RiskParams, Scope, Env], list[Finding]]

DETECTORS: dict[str, Detector] = {
    "comment_burst": comment_bursts,
    "new_account_comments": new_account_comments,
    "synced_joins": synced_joins,
    "like_spike": like_spikes,
    "gift_spike": gift_spikes,
    "linked_accounts": linked_accounts,
    "refund_abuse": refund_abuse,
    "kpi_drop": kpi_drops,
}

__all__ = [
    "DETECTORS",
    "KINDS",
    "SESSION_KINDS",
    "STATUSES",
    "Finding",
    "Member",
    "RiskParams",
    "Scope",
    "detect",
    "detect_drops",
    "get_flag",
    "kpi_series",
    "list_flags",
    "review_flag",
    "scan",
]


#: The detectors that look at one live session at a time (a scan of one session runs only these).
SESSION_KINDS = ("comment_burst", "new_account_comments", "synced_joins", "like_spike", "gift_spike")


def _kinds(kinds: list[str] | None, session_id: str | None) -> list[str]:
    if kinds is None:
        return list(SESSION_KINDS if session_id is not None else DETECTORS)
    if not kinds:
        raise ValidationFailed("name at least one kind of risk to detect", field="kind")
    for kind in kinds:
        check_kind(kind)
        if session_id is not None and kind not in SESSION_KINDS:
            raise ValidationFailed(
                f"{kind} is not found per session; scan without session_id, or use one of "
                f"{', '.join(SESSION_KINDS)}",
                field="session_id",
            )
    return list(dict.fromkeys(kinds))


def detect(
    wh: Warehouse,
    kinds: list[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    session_id: str | None = None,
    params: RiskParams | dict[str, Any] | None = None,
) -> dict[str, list[Finding]]:
    """Each detector's findings (nothing is stored): ``{kind: [Finding, …]}``. ``start``/``end`` bound the
    acts looked at; ``session_id`` keeps the live-room detectors to one session (their baselines still
    come from the whole window), and the others cannot be asked for then."""
    p = params if isinstance(params, RiskParams) else RiskParams.of(params)
    scope = Scope(start, end, session_id)
    env = Env.of(wh)
    return {kind: DETECTORS[kind](wh, p, scope, env) for kind in _kinds(kinds, session_id)}


def scan(
    wh: Warehouse,
    kinds: list[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    session_id: str | None = None,
    params: RiskParams | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the detectors and store their new findings as open flags. Returns per kind how many were
    found and how many are new, the new flags' ids and the seconds taken."""
    started = time.perf_counter()
    found = detect(wh, kinds, start=start, end=end, session_id=session_id, params=params)
    per_kind: dict[str, dict[str, int]] = {}
    new_ids: list[str] = []
    for kind, findings in found.items():
        written = write_findings(wh, findings)
        per_kind[kind] = {"found": written["found"], "new": written["new"]}
        new_ids += written["flag_ids"]
    return {
        "kinds": per_kind,
        "found": sum(v["found"] for v in per_kind.values()),
        "new": len(new_ids),
        "flag_ids": new_ids,
        "seconds": round(time.perf_counter() - started, 3),
    }
