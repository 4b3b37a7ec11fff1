"""Service functions the faces call: open a session (lineup from the warehouse), ingest, ask, lottery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from liveloop.content.personas import personas_of
from liveloop.content.scripts import stage_points
from liveloop.core.errors import Conflict, LiveloopError, NotFound, ValidationFailed
from liveloop.live import lottery, sessions
from liveloop.live.hub import LiveHub, LiveSession, ProfileLookup, stock_left
from liveloop.live.qa import DEFAULT_POLICIES, KnowledgeBase
from liveloop.warehouse.prices import in_effect, on_shelf

if TYPE_CHECKING:
    from liveloop.warehouse import Warehouse


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def session_prices(wh: Warehouse, session_id: str, product_ids: list[str], start: Any) -> dict[str, float]:
    """The price each product sells at in the session: its live-slot price for this session, else the
    shelf price in effect when the session starts (a markdown or festival price), from ``prices``."""
    rows = wh.sql(
        "SELECT p.product_id, arg_max(p.price, (p.session_id IS NOT NULL, p.start_ts))::DOUBLE FROM prices p "
        "WHERE p.product_id IN (SELECT unnest(?::VARCHAR[])) "
        f"AND (p.session_id = ? OR ({on_shelf('p')} AND {in_effect('p', '?')})) GROUP BY 1",
        [product_ids, session_id, start, start],
    )
    return {pid: float(price) for pid, price in rows if price is not None}


def session_coupons(
    wh: Warehouse, session_id: str, product_ids: list[str], start: Any, end: Any
) -> dict[str, list[dict[str, Any]]]:
    """Per lineup product, the published coupons a viewer can use on it in the session: the session's
    own slot coupons for that product, and active coupons for everyone valid during the session."""
    rows = wh.sql(
        "SELECT coupon_id, name, amount::DOUBLE, percent_off, min_spend::DOUBLE, props->>'$.product_id' "
        "FROM coupons WHERE status = 'active' AND coalesce(props->>'$.kind', 'coupon') = 'coupon' "
        "AND (starts_at IS NULL OR starts_at < ?) AND (ends_at IS NULL OR ends_at > ?) "
        "AND (props->>'$.session_id' = ? OR (props->>'$.session_id' IS NULL "
        "AND coalesce(eligibility, '{}') IN ('{}', 'null'))) ORDER BY coupon_id",
        [end or start, start, session_id],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for cid, name, amount, pct, min_spend, product in rows:
        offer = {"coupon_id": cid, "name": name, "amount": amount, "percent_off": pct, "min_spend": min_spend}
        for pid in [product] if product else product_ids:
            if pid in product_ids:
                out.setdefault(pid, []).append(offer)
    return out


def lineup_from_warehouse(wh: Warehouse, session_id: str) -> tuple[list[dict[str, Any]], bool] | None:
    """The session's lineup (product facts in lineup order) and whether it has ended; None if unknown."""
    rows = wh.sql("SELECT lineup, start_ts, end_ts FROM live_sessions WHERE session_id = ?", [session_id])
    if not rows:
        return None
    lineup_ids, start_ts, end_ts = rows[0]
    ids = [str(p) for p in (_json(lineup_ids) or [])]
    products = {}
    if ids:
        for pid, title, title_en, price, cost, stock, attrs in wh.sql(
            "SELECT product_id, title, title_en, price, cost, stock, attributes FROM products "
            "WHERE product_id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ):
            products[pid] = {
                "product_id": pid,
                "name": title or pid,
                "aliases": [a for a in (title_en,) if a],
                "price": float(price) if price is not None else None,
                "cost": float(cost) if cost is not None else None,
                "stock": stock,
                "attributes": _json(attrs) if attrs else {},
            }
    if products:
        for pid, price in session_prices(wh, session_id, list(products), start_ts).items():
            products[pid]["list_price"], products[pid]["price"] = products[pid]["price"], price
        for pid, offers in session_coupons(wh, session_id, list(products), start_ts, end_ts).items():
            products[pid]["coupons"] = offers
        try:
            for pid, lines in stage_points(wh, list(products)).items():
                products[pid]["points"] = lines
        except LiveloopError:  # no review corpora here: the advisor keeps its persona points only
            pass
    lineup = [products.get(pid, {"product_id": pid, "name": pid}) for pid in ids]
    ended = end_ts is not None and end_ts < datetime.now(UTC)
    return lineup, ended


def profile_lookup(wh: Warehouse) -> ProfileLookup | None:
    """Viewers' talking-point segments from the warehouse's built profiles; None when there are none."""
    if not wh.sql("SELECT count(*) FROM profiles")[0][0]:
        return None

    def lookup(user_ids: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
        return personas_of(wh, user_ids)

    return lookup


def open_session(
    hub: LiveHub,
    wh: Warehouse | None,
    session_id: str,
    lineup: list[dict[str, Any]] | None = None,
    faqs: list[dict[str, Any]] | None = None,
    policies: list[dict[str, Any]] | None = None,
) -> LiveSession:
    """Open a live session; without a lineup, the warehouse's ``live_sessions`` row supplies it."""
    if not lineup and wh is not None:
        found = lineup_from_warehouse(wh, session_id)
        if found is not None:
            lineup = found[0]
    for i, p in enumerate(lineup or []):
        if not isinstance(p, dict) or not p.get("product_id"):
            raise ValidationFailed(f"lineup[{i}] needs a product_id", field=f"lineup[{i}].product_id")
    kb = KnowledgeBase(
        products=lineup or [], faqs=faqs or [], policies=DEFAULT_POLICIES if policies is None else policies
    )
    session = hub.open(session_id, lineup or [], kb, profile_lookup(wh) if wh is not None else None)
    if wh is not None:
        sessions.register(wh, session_id, [str(p["product_id"]) for p in lineup or []])
    return session


def end_session(hub: LiveHub, wh: Warehouse | None, session_id: str) -> dict[str, Any]:
    """End a session: its summary and every pending row are in the warehouse when this returns."""
    result = hub.end(session_id)
    if wh is not None:
        sessions.mark_ended(wh, session_id)
    return result


def ingest(
    hub: LiveHub, wh: Warehouse | None, session_id: str, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """Queue events for a session; a session known to the warehouse (and not ended) opens on first use."""
    if session_id not in hub.sessions and wh is not None:
        found = lineup_from_warehouse(wh, session_id)
        if found is None:
            hub.drops["unknown_session"] += len(events)
            raise NotFound(f"no live session {session_id!r}: open it or import it first", field="session_id")
        if found[1]:
            hub.drops["ended_session"] += len(events)
            raise Conflict(f"live session {session_id!r} has ended", field="session_id")
        open_session(hub, wh, session_id, found[0])
    return hub.submit(session_id, events)


def ask(hub: LiveHub, session_id: str, question: str, product_id: str | None = None) -> dict[str, Any]:
    """Answer a question now, about ``product_id`` or else the product on stage."""
    session = hub.get(session_id)
    with session.lock:
        on_stage, stock = session.room.on_stage, stock_left(session)
    return session.answerer.answer(question, product_id, on_stage=on_stage, stock=stock).to_dict()


def run_lottery(
    hub: LiveHub,
    wh: Warehouse,
    session_id: str,
    rules: lottery.LotteryRules,
    seed: int,
    actor: str = "live-copilot",
) -> dict[str, Any]:
    """Draw among the session's viewers and record the draw in the audit log."""
    session = hub.get(session_id)
    hub.process(session)
    with session.lock:
        candidates = session.room.engagement_table()
    result = lottery.draw(session_id, candidates, rules, seed, lottery.past_winners(wh))
    lottery.record(wh, result, actor)
    if hub.recorder is not None:
        hub.recorder.put("draws", [lottery.draw_row(result, actor)])
    return result.to_dict()
