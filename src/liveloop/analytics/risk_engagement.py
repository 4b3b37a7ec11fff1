"""Fake engagement in live rooms (刷量): comment bursts, new-account comments, synchronised joins, and
like and gift spikes. Each detector aggregates in DuckDB and returns :class:`Finding` s whose evidence
names the rule and its numbers; the accounts (and their comments) are the finding's members.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from liveloop.analytics.risk_params import Env, RiskParams, Scope, signals_sql
from liveloop.analytics.risk_store import Finding, Member, registered
from liveloop.analytics.risk_text import group_texts
from liveloop.warehouse import Warehouse

TS = pa.timestamp("us", tz="UTC")


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def _share(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


# -- comment bursts ---------------------------------------------------------------------------------------


def comment_bursts(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Near-identical comments (one text group) from ``burst_min_accounts`` or more accounts within
    ``burst_seconds``, flagged when half or more of those accounts are suspect (new or thin), or when the
    text is hardly used outside the burst (``concentration``) by ``concentration_min_accounts`` or more
    accounts, ``one_shot_share`` of whom say nothing else in the room (organic chants come from regular
    commenters; with ``one_shot_share`` 0 the text rule alone decides and names every account). A text's
    use outside the burst is counted over the whole window, also when the scan is of one session."""
    where, params = scope.where("c", session=False)
    only, only_params = ("AND session_id = ?", [scope.session_id]) if scope.session_id else ("", [])
    texts = [
        r[0]
        for r in wh.sql(
            "SELECT DISTINCT text FROM comments c "
            f"WHERE session_id IS NOT NULL AND user_id IS NOT NULL{where}",
            params,
        )
    ]
    if not texts:
        return []
    groups = group_texts(texts, p.text_similarity)
    table = pa.table({"text": pa.array(list(groups), pa.string()), "grp": pa.array(list(groups.values()))})
    w = int(p.burst_seconds)
    sql = f"""
    WITH c AS (
        SELECT c.comment_id, c.session_id, c.user_id, c.ts, c.text, t.grp
        FROM comments c JOIN _risk_texts t ON t.text = c.text
        WHERE c.session_id IS NOT NULL AND c.user_id IS NOT NULL{where}
    ),
    w AS (
        SELECT session_id, grp, ts, count(DISTINCT user_id) OVER (
            PARTITION BY session_id, grp ORDER BY ts
            RANGE BETWEEN CURRENT ROW AND INTERVAL {w} SECOND FOLLOWING) AS n
        FROM c WHERE TRUE {only}
    ),
    best AS (
        SELECT session_id, grp, first(ts ORDER BY n DESC, ts) AS t0, max(n) AS n FROM w
        GROUP BY ALL HAVING max(n) >= {int(p.burst_min_accounts)}
    ),
    tot AS (
        SELECT grp, count(DISTINCT user_id) AS grp_accounts, count(DISTINCT session_id) AS grp_sessions
        FROM c WHERE grp IN (SELECT grp FROM best) GROUP BY 1
    ),
    said AS (
        SELECT session_id, user_id, count(*) AS comments, count(DISTINCT grp) AS texts FROM c
        WHERE session_id IN (SELECT session_id FROM best) GROUP BY 1, 2
    ),
    refs AS (
        SELECT b.session_id, b.grp, b.t0, b.n, tot.grp_accounts, tot.grp_sessions,
            c.comment_id, c.user_id, c.ts, c.text, said.texts = 1 AS one_shot
        FROM best b JOIN tot USING (grp)
        JOIN c ON c.session_id = b.session_id AND c.grp = b.grp
            AND c.ts BETWEEN b.t0 AND b.t0 + INTERVAL {w} SECOND
        JOIN said ON said.session_id = c.session_id AND said.user_id = c.user_id
    ),
    {signals_sql(p, env, "refs")}
    SELECT session_id, grp, t0, n, grp_accounts, grp_sessions, comment_id, user_id, ts, text, one_shot,
        is_new, is_thin, suspect, known
    FROM sig ORDER BY session_id, grp, ts, comment_id
    """
    with registered(wh, "_risk_texts", table):
        rows = wh.sql(sql, params + only_params)
    bursts: dict[tuple[str, int], list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        bursts[(r[0], r[1])].append(r)
    return [f for rs in bursts.values() if (f := _burst_finding(rs, p)) is not None]


def _burst_finding(rows: list[tuple[Any, ...]], p: RiskParams) -> Finding | None:
    session_id, _grp, t0, n, grp_accounts, grp_sessions = rows[0][:6]
    accounts: dict[str, tuple[Any, ...]] = {}
    for r in rows:
        accounts.setdefault(r[7], r)
    n = len(accounts)
    known = [r for r in accounts.values() if r[14]]
    suspects = [u for u, r in accounts.items() if r[13]]
    one_shot = [u for u, r in accounts.items() if r[10]]
    concentration = n / grp_accounts if grp_accounts else 0.0
    by_accounts = bool(known) and len(known) * 2 >= n and len(suspects) >= p.suspect_share * n
    by_text = (
        concentration >= p.concentration
        and n >= p.concentration_min_accounts
        and len(one_shot) >= p.one_shot_share * n
    )
    if n < p.burst_min_accounts or not (by_accounts or by_text):
        return None
    by_text_accounts = set(one_shot) if p.one_shot_share > 0 else set(accounts)
    flagged = set(suspects) | (by_text_accounts if by_text else set())
    if not flagged:
        return None
    text = Counter(r[9] for r in rows).most_common(1)[0]
    rule = []
    if by_accounts:
        rule.append(f"{len(suspects)} of {n} accounts are new or thin")
    if by_text:
        rule.append(
            f"{round(100 * concentration)}% of the accounts using this text posted it in this burst, "
            f"{len(one_shot)} of {n} saying nothing else in the room"
        )
    members = [Member(u, "account", u, r[8], _role(r)) for u, r in accounts.items() if u in flagged]
    members += [Member(r[7], "comment", r[6], r[8], r[9]) for r in rows if r[7] in flagged]
    return Finding(
        kind="comment_burst",
        subject_type="session",
        subject=session_id,
        session_id=session_id,
        key=_iso(t0),
        score=round(len(flagged) * max(len(suspects) / n, concentration), 3),
        evidence={
            "rule": "near-identical comments from many accounts within seconds: " + "; ".join(rule),
            "window_seconds": p.burst_seconds,
            "start": _iso(t0),
            "end": _iso(max(r[8] for r in rows)),
            "accounts": n,
            "comments": len(rows),
            "flagged_accounts": len(flagged),
            "new_accounts": sum(1 for r in accounts.values() if r[11]),
            "thin_accounts": sum(1 for r in accounts.values() if r[12]),
            "one_shot_accounts": len(one_shot),
            "signals_known": len(known),
            "text_accounts_overall": int(grp_accounts),
            "text_sessions_overall": int(grp_sessions),
            "concentration": round(concentration, 4),
            "similarity": p.text_similarity,
            "common_text": text[0] if text[1] > 1 else None,
        },
        members=members,
    )


def _role(row: tuple[Any, ...]) -> str:
    """How an account looked (a row ending in is_new, is_thin, suspect, known): ``new``, ``thin``,
    ``new, thin``, ``established`` or ``unknown``."""
    is_new, is_thin, known = row[-4], row[-3], row[-1]
    tags = [t for t, on in (("new", is_new), ("thin", is_thin)) if on]
    return ", ".join(tags) if tags else ("established" if known else "unknown")


# -- new-account comments ---------------------------------------------------------------------------------


def new_account_comments(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Sessions where ``new_min_accounts`` or more commenters are new accounts, far more than the median
    session's share of new commenters in the window (binomial tail below ``alpha``)."""
    where, params = scope.where(session=False)
    sql = f"""
    WITH refs AS (
        SELECT session_id, user_id, min(ts) AS ts, first(comment_id ORDER BY ts, comment_id) AS comment_id,
            first(text ORDER BY ts, comment_id) AS text
        FROM comments WHERE session_id IS NOT NULL AND user_id IS NOT NULL{where} GROUP BY 1, 2
    ),
    {signals_sql(p, env, "refs")}
    SELECT session_id, count(*) FILTER (WHERE is_new IS NOT NULL) AS known,
        count(*) FILTER (WHERE is_new) AS new
    FROM sig GROUP BY 1 HAVING count(*) FILTER (WHERE is_new IS NOT NULL) > 0
    """
    per = wh.sql(sql, params)
    if not per:
        return []
    shares = [k / n for _, n, k in per if n >= p.new_min_accounts]
    base = max(float(np.median(shares)) if shares else 0.0, p.new_base_floor)
    hits: dict[str, tuple[int, int, float]] = {}
    for session_id, n, k in per:
        if k >= p.new_min_accounts and scope.session_id in (None, session_id):
            pv = float(stats.binom.sf(k - 1, n, base))
            if pv < p.alpha:
                hits[session_id] = (int(n), int(k), pv)
    if not hits:
        return []
    rows = wh.sql(
        f"""WITH refs AS (
            SELECT session_id, user_id, min(ts) AS ts,
                first(comment_id ORDER BY ts, comment_id) AS comment_id,
                first(text ORDER BY ts, comment_id) AS text
            FROM comments WHERE list_contains(?, session_id) AND user_id IS NOT NULL{where} GROUP BY 1, 2
        ),
        {signals_sql(p, env, "refs")}
        SELECT s.session_id, s.user_id, s.ts, s.comment_id, s.text, epoch(s.ts) - epoch(u.signup_ts)
        FROM sig s LEFT JOIN users u ON u.user_id = s.user_id WHERE s.is_new ORDER BY 1, 3""",
        [sorted(hits), *params],
    )
    by_session: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        by_session[r[0]].append(r)
    out = []
    for session_id, (n, k, pv) in sorted(hits.items()):
        rs = by_session.get(session_id, [])
        ages = [r[5] / 3600 for r in rs if r[5] is not None]
        members = [Member(r[1], "account", r[1], r[2], "new") for r in rs]
        members += [Member(r[1], "comment", r[3], r[2], r[4]) for r in rs]
        out.append(
            Finding(
                kind="new_account_comments",
                subject_type="session",
                subject=session_id,
                session_id=session_id,
                key="",
                score=round(min(-np.log10(max(pv, 1e-300)), 300.0), 2),
                evidence={
                    "rule": f"{k} of {n} commenters signed up (or were first seen) at most "
                    f"{p.new_hours:g} h before commenting; the median session has {100 * base:.1f}%",
                    "commenters": n,
                    "new_commenters": k,
                    "share": _share(k, n),
                    "expected_share": round(base, 4),
                    "p_value": pv,
                    "median_age_hours": round(float(np.median(ages)), 2) if ages else None,
                    "new_hours": p.new_hours,
                },
                members=members,
            )
        )
    return out


# -- synchronised joins -----------------------------------------------------------------------------------


def _session_spans(wh: Warehouse, ids: list[str]) -> dict[str, float]:
    """Seconds each session ran (its schedule, else the span of its events)."""
    rows = wh.sql(
        "SELECT s.session_id, coalesce(epoch(l.end_ts) - epoch(l.start_ts), s.t1 - s.t0) FROM ("
        "SELECT session_id, epoch(min(ts)) t0, epoch(max(ts)) t1 FROM events "
        "WHERE list_contains(?, session_id) GROUP BY 1) s LEFT JOIN live_sessions l USING (session_id)",
        [ids],
    )
    return {r[0]: max(float(r[1] or 0.0), 60.0) for r in rows}


#: Seconds either side of a join window whose entries set its local baseline (a stream's start draws a
#: crowd: the room's mean rate alone would call that synchronised).
_AROUND = 300


def synced_joins(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """``join_min_accounts`` or more accounts entering one room within ``join_seconds``, a count the
    room's entry rate makes improbable (Poisson tail below ``alpha``; the rate is the larger of the
    session's and that of the five minutes around); where account signals are known, at least
    ``suspect_share`` of them suspect."""
    where, params = scope.where()
    s = int(p.join_seconds)
    peaks = wh.sql(
        f"""WITH e AS (SELECT session_id, user_id, ts FROM events
            WHERE type = 'enter_room' AND session_id IS NOT NULL{where}),
        w AS (SELECT session_id, ts, count(DISTINCT user_id) OVER (PARTITION BY session_id ORDER BY ts
                RANGE BETWEEN CURRENT ROW AND INTERVAL {s} SECOND FOLLOWING) AS n,
            count(*) OVER (PARTITION BY session_id ORDER BY ts RANGE BETWEEN INTERVAL {_AROUND} SECOND
                PRECEDING AND INTERVAL {_AROUND + s} SECOND FOLLOWING) AS around FROM e),
        tot AS (SELECT session_id, count(*) AS total FROM e GROUP BY 1)
        SELECT w.session_id, w.ts, w.n, tot.total, w.around FROM w JOIN tot USING (session_id)
        WHERE w.n >= {int(p.join_min_accounts)} ORDER BY 1, 3 DESC, 2""",
        params,
    )
    if not peaks:
        return []
    spans = _session_spans(wh, sorted({r[0] for r in peaks}))
    windows: list[tuple[str, datetime, int, float, float]] = []
    taken: dict[str, list[datetime]] = defaultdict(list)
    for session_id, ts, n, total, around in peaks:
        if any(abs((ts - t).total_seconds()) <= s for t in taken[session_id]):
            continue
        rate = max(max(total - n, 1) / spans.get(session_id, 3600.0), (around - n) / (2 * _AROUND))
        pv = float(stats.poisson.sf(n - 1, rate * s))
        if pv < p.alpha:
            taken[session_id].append(ts)
            windows.append((session_id, ts, int(n), rate * s, pv))
    if not windows:
        return []
    table = pa.table(
        {
            "session_id": [w[0] for w in windows],
            "t0": pa.array([w[1] for w in windows], TS),
        }
    )
    rows = _with_table(
        wh,
        table,
        "_risk_windows",
        f"""WITH refs AS (
            SELECT w.session_id, w.t0, e.user_id, min(e.ts) AS ts,
                first(e.event_id ORDER BY e.ts, e.event_id) AS event_id
            FROM _risk_windows w JOIN events e ON e.session_id = w.session_id AND e.type = 'enter_room'
                AND e.ts BETWEEN w.t0 AND w.t0 + INTERVAL {s} SECOND
            GROUP BY 1, 2, 3
        ),
        {signals_sql(p, env, "refs")}
        SELECT session_id, t0, user_id, ts, event_id, is_new, is_thin, suspect, known FROM sig
        ORDER BY 1, 2, 4""",
    )
    grouped: dict[tuple[str, datetime], list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        grouped[(r[0], r[1])].append(r)
    out = []
    for session_id, t0, _n, expected, pv in windows:
        rs = grouped.get((session_id, t0), [])
        known = [r for r in rs if r[8]]
        suspects = [r for r in rs if r[7]]
        if known and len(suspects) < p.suspect_share * len(rs):
            continue
        flagged = suspects if known else rs
        members = [Member(r[2], "account", r[2], r[3], _role(r)) for r in flagged]
        members += [Member(r[2], "event", r[4], r[3], "enter_room") for r in flagged]
        out.append(
            Finding(
                kind="synced_joins",
                subject_type="session",
                subject=session_id,
                session_id=session_id,
                key=_iso(t0),
                score=round(min(-np.log10(max(pv, 1e-300)), 300.0), 2),
                evidence={
                    "rule": f"{len(rs)} accounts entered within {s} s where the room's rate gives "
                    f"{expected:.2f}" + (f"; {len(suspects)} of them new or thin" if known else ""),
                    "window_seconds": s,
                    "start": _iso(t0),
                    "accounts": len(rs),
                    "expected": round(expected, 4),
                    "p_value": pv,
                    "suspect_accounts": len(suspects),
                    "signals_known": len(known),
                    "flagged_accounts": len(flagged),
                },
                members=members,
            )
        )
    return out


def _with_table(
    wh: Warehouse, table: pa.Table, name: str, sql: str, params: list[Any] | None = None
) -> list[Any]:
    with registered(wh, name, table):
        return wh.sql(sql, params or [])


# -- like and gift spikes ---------------------------------------------------------------------------------


def _minute_counts(wh: Warehouse, etype: str, scope: Scope, count: str) -> dict[str, dict[datetime, int]]:
    where, params = scope.where()
    rows = wh.sql(
        f"SELECT session_id, date_trunc('minute', ts) AS m, {count} FROM events "
        f"WHERE type = ? AND session_id IS NOT NULL{where} GROUP BY 1, 2",
        [etype, *params],
    )
    out: dict[str, dict[datetime, int]] = defaultdict(dict)
    for session_id, m, n in rows:
        out[session_id][m] = int(n)
    return out


def _minute_members(
    wh: Warehouse, p: RiskParams, env: Env, etype: str, minutes: list[tuple[str, datetime]]
) -> list[tuple[Any, ...]]:
    """Per (session, minute, user): the acts of ``etype`` in the minute and the account's signals."""
    table = pa.table({"session_id": [m[0] for m in minutes], "m": pa.array([m[1] for m in minutes], TS)})
    return _with_table(
        wh,
        table,
        "_risk_minutes",
        f"""WITH refs AS (
            SELECT w.session_id, w.m, e.user_id, min(e.ts) AS ts, count(*) AS acts,
                sum(coalesce(e.amount, 0)) AS amount
            FROM _risk_minutes w JOIN events e ON e.session_id = w.session_id AND e.type = ?
                AND e.ts >= w.m AND e.ts < w.m + INTERVAL 1 MINUTE
            GROUP BY 1, 2, 3
        ),
        {signals_sql(p, env, "refs")}
        SELECT session_id, m, user_id, ts, acts, amount, is_new, is_thin, suspect, known FROM sig
        ORDER BY 1, 2, 5 DESC""",
        [etype],
    )


def _spike_findings(
    kind: str,
    unit: str,
    p: RiskParams,
    candidates: dict[tuple[str, datetime], dict[str, Any]],
    members: list[tuple[Any, ...]],
    count_acts: bool,
) -> list[Finding]:
    """Group flagged minutes of a session (consecutive ones into one finding); gate on suspects."""
    per_minute: dict[tuple[str, datetime], list[tuple[Any, ...]]] = defaultdict(list)
    for r in members:
        per_minute[(r[0], r[1])].append(r)
    kept: dict[str, list[tuple[datetime, dict[str, Any], list[tuple[Any, ...]]]]] = defaultdict(list)
    for (session_id, m), info in sorted(candidates.items()):
        rs = per_minute.get((session_id, m), [])
        known = [r for r in rs if r[9]]
        volume = sum(r[4] for r in rs) if count_acts else len(rs)
        suspect_volume = sum(r[4] if count_acts else 1 for r in rs if r[8])
        excess = max(volume - info["baseline"], 1.0)
        if known and suspect_volume < p.suspect_share * excess:
            continue
        info |= {"suspect_" + unit: int(suspect_volume), "signals_known": len(known)}
        kept[session_id].append((m, info, [r for r in rs if r[8]] if known else rs))
    out = []
    for session_id, minutes in kept.items():
        runs: list[list[tuple[datetime, dict[str, Any], list[tuple[Any, ...]]]]] = []
        for item in minutes:
            if runs and (item[0] - runs[-1][-1][0]).total_seconds() <= 60:
                runs[-1].append(item)
            else:
                runs.append([item])
        for run in runs:
            accounts: dict[str, tuple[Any, ...]] = {}
            acts: Counter[str] = Counter()
            for _, _, rs in run:
                for r in rs:
                    accounts.setdefault(r[2], r)
                    acts[r[2]] += int(r[4])
            peak = max(run, key=lambda x: x[1][unit])
            score = max(x[1]["score"] for x in run)
            out.append(
                Finding(
                    kind=kind,
                    subject_type="session",
                    subject=session_id,
                    session_id=session_id,
                    key=_iso(run[0][0]),
                    score=round(score, 2),
                    evidence={
                        "rule": peak[1]["rule"],
                        "start": _iso(run[0][0]),
                        "minutes": [
                            {"minute": _iso(m)}
                            | {k: v for k, v in info.items() if k not in ("rule", "score")}
                            for m, info, _ in run
                        ],
                        "flagged_accounts": len(accounts),
                    },
                    members=[
                        Member(u, "account", u, r[3], f"{_role(r)}; {acts[u]} {unit} in the spike")
                        for u, r in accounts.items()
                    ],
                )
            )
    return out


def _series(counts: dict[datetime, int], span_minutes: int) -> np.ndarray:
    """The session's per-minute counts with the silent minutes as zeros."""
    values = np.zeros(max(span_minutes, len(counts)), dtype=np.float64)
    values[: len(counts)] = sorted(counts.values())
    return values


def like_spikes(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Minutes with ``like_min`` or more likes and more than median + ``like_k`` robust deviations of the
    session's per-minute likes (zeros included); where signals are known, the suspect accounts' likes
    make up at least ``suspect_share`` of the excess."""
    per = _minute_counts(wh, "like", scope, "count(*)")
    if not per:
        return []
    spans = _session_spans(wh, sorted(per))
    candidates: dict[tuple[str, datetime], dict[str, Any]] = {}
    for session_id, counts in per.items():
        values = _series(counts, int(spans.get(session_id, 60.0) // 60) + 1)
        med = float(np.median(values))
        mad = float(np.median(np.abs(values - med))) * 1.4826
        scale = max(mad, np.sqrt(max(med, 1.0)), 1.0)
        limit = med + p.like_k * scale
        for m, n in counts.items():
            if n >= p.like_min and n > limit:
                candidates[(session_id, m)] = {
                    "likes": n,
                    "baseline": round(med, 2),
                    "threshold": round(limit, 2),
                    "z": round((n - med) / scale, 2),
                    "score": round((n - med) / scale, 2),
                    "rule": f"{n} likes in a minute; the room's median minute has {med:g}, "
                    f"the threshold is {limit:.1f} (median + {p.like_k:g} robust sd)",
                }
    if not candidates:
        return []
    members = _minute_members(wh, p, env, "like", sorted(candidates))
    return _spike_findings("like_spike", "likes", p, candidates, members, count_acts=True)


def gift_spikes(wh: Warehouse, p: RiskParams, scope: Scope, env: Env) -> list[Finding]:
    """Minutes with ``gift_min_senders`` or more distinct gift senders, improbable under the session's
    senders per minute (Poisson tail below ``alpha``; the larger of the session's mean and that of the
    minutes 2 to 6 either side); suspect-gated like the like spikes."""
    per = _minute_counts(wh, "gift", scope, "count(DISTINCT user_id)")
    if not per:
        return []
    spans = _session_spans(wh, sorted(per))
    candidates: dict[tuple[str, datetime], dict[str, Any]] = {}
    for session_id, counts in per.items():
        minutes = max(int(spans.get(session_id, 60.0) // 60) + 1, len(counts))
        total = sum(counts.values())
        for m, g in counts.items():
            if g < p.gift_min_senders:
                continue
            near = [counts.get(m + timedelta(minutes=k), 0) for k in (*range(-6, -1), *range(2, 7))]
            rate = max(max(total - g, 1) / max(minutes - 1, 1), sum(near) / len(near))
            pv = float(stats.poisson.sf(g - 1, rate))
            if pv < p.alpha:
                candidates[(session_id, m)] = {
                    "senders": g,
                    "baseline": round(rate, 3),
                    "p_value": pv,
                    "score": round(min(-np.log10(max(pv, 1e-300)), 300.0), 2),
                    "rule": f"{g} accounts sent gifts in a minute; the room averages {rate:.2f} a minute",
                }
    if not candidates:
        return []
    members = _minute_members(wh, p, env, "gift", sorted(candidates))
    return _spike_findings("gift_spike", "senders", p, candidates, members, count_acts=False)
