"""The consent registry (PIPL art. 13–14, 24; GDPR art. 7): what each user allowed, for which purpose and
channel, since when, on what proof.

Every change is a new row of ``consents`` (the history is kept, never updated). For a purpose and a
channel, the latest row for that channel or for ``all`` rules: "no to all marketing" after "yes to
e-mail" stops e-mail, and a later "yes to e-mail" opens e-mail alone. With no row a purpose's default
rules: personalisation and profiling are part of the service until the user says no; marketing and
sharing need a grant (``Settings.consent_opt_in`` lists the opt-in purposes).

Capabilities never read ``consents`` themselves: they ask :func:`withheld` for an in-memory set or put
:func:`allowed_sql` in their query, so a decision cannot forget consent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from liveloop.core.clock import checked_time
from liveloop.core.config import Settings, get_settings
from liveloop.core.errors import ValidationFailed
from liveloop.core.ids import is_valid_id, stable_id
from liveloop.core.types import ALL_CHANNELS, Channel, ConsentStatus, Purpose
from liveloop.privacy.audit import AuditEntry, register_explainer
from liveloop.privacy.audit import write as write_audit
from liveloop.warehouse import Warehouse

ALL = ALL_CHANNELS
PURPOSES = tuple(p.value for p in Purpose)
STATUSES = tuple(s.value for s in ConsentStatus)
CHANNELS = (ALL, *(c.value for c in Channel))
#: Purposes asked per channel; the others are recorded for ``all`` only.
PER_CHANNEL = frozenset({Purpose.MARKETING.value})
MAX_PROOF = 2000
MAX_CHANGES = 1000


def opt_in(settings: Settings | None = None) -> frozenset[str]:
    """The purposes that need a grant before use."""
    chosen = frozenset((settings or get_settings()).consent_opt_in)
    unknown = sorted(chosen - set(PURPOSES))
    if unknown:
        raise ValidationFailed(
            f"LIVELOOP_CONSENT_OPT_IN names unknown purposes {unknown}; known: {', '.join(PURPOSES)}",
            field="consent_opt_in",
        )
    return chosen


@dataclass(frozen=True)
class UserSet:
    """A set of user ids, or (``everyone_but``) every user except them: an opt-in purpose's refusals are
    everyone who has not granted, held as the (small) set of those who have."""

    ids: frozenset[str] = frozenset()
    everyone_but: bool = False

    def __contains__(self, user_id: object) -> bool:
        return (user_id in self.ids) != self.everyone_but


@dataclass(frozen=True)
class ConsentChange:
    """One statement by (or for) a user: ``status`` of ``purpose`` on ``channel`` from ``ts``."""

    user_id: str
    purpose: str
    status: str
    channel: str = ALL
    source: str | None = None
    proof: str | None = None
    ts: datetime | None = None
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def checked(self) -> ConsentChange:
        """This change, validated (a clear error naming the field), ``ts`` defaulting to now."""
        if not isinstance(self.user_id, str) or not is_valid_id(self.user_id):
            raise ValidationFailed(f"user_id {self.user_id!r} is not a valid id", field="user_id")
        for name, value, allowed in (
            ("purpose", self.purpose, PURPOSES),
            ("status", self.status, STATUSES),
            ("channel", self.channel, CHANNELS),
        ):
            if value not in allowed:
                raise ValidationFailed(f"{name} {value!r} is not one of {', '.join(allowed)}", field=name)
        if self.channel != ALL and self.purpose not in PER_CHANNEL:
            raise ValidationFailed(
                f"{self.purpose} is consented for every channel at once: use channel 'all'", field="channel"
            )
        if self.proof is not None and len(self.proof) > MAX_PROOF:
            raise ValidationFailed(f"proof is longer than {MAX_PROOF} characters", field="proof")
        ts = checked_time(self.ts, field="ts") if self.ts is not None else self.recorded_at
        return ConsentChange(
            self.user_id,
            self.purpose,
            self.status,
            self.channel,
            self.source,
            self.proof,
            ts,
            self.recorded_at,
        )

    @property
    def consent_id(self) -> str:
        """Stable for the same statement, so a retried call or a re-imported file records it once."""
        ts = self.ts.isoformat() if self.ts else ""
        return stable_id("cs", self.user_id, self.purpose, self.channel, self.status, ts)


def record(wh: Warehouse, changes: Sequence[ConsentChange], *, actor: str | None) -> dict[str, int]:
    """Append validated changes (all or none) with one audit row each; a user who withholds profiling
    loses their built profile at once. Returns counts recorded and already known."""
    if len(changes) > MAX_CHANGES:
        raise ValidationFailed(f"at most {MAX_CHANGES} consent changes per call", field="changes")
    checked = [c.checked() for c in changes]
    with wh.transaction() as con:
        known = {
            r[0]
            for r in con.execute(
                "SELECT consent_id FROM consents WHERE list_contains(?, consent_id)",
                [[c.consent_id for c in checked]],
            ).fetchall()
        }
        fresh = list({c.consent_id: c for c in checked if c.consent_id not in known}.values())
        for c in fresh:
            con.execute(
                "INSERT INTO consents (consent_id, user_id, purpose, channel, status, ts, source, proof, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    c.consent_id,
                    c.user_id,
                    c.purpose,
                    c.channel,
                    c.status,
                    c.ts,
                    c.source,
                    c.proof,
                    c.recorded_at,
                ],
            )
        dropped = sorted(
            {c.user_id for c in fresh if c.purpose == Purpose.PROFILING and c.status != "granted"}
        )
        if dropped:
            con.execute("DELETE FROM profiles WHERE list_contains(?, user_id)", [dropped])
        write_audit(
            wh,
            [
                AuditEntry(
                    actor,
                    "consent.change",
                    c.user_id,
                    c.status,
                    f"{c.purpose}/{c.channel}",
                    {"purpose": c.purpose, "channel": c.channel, "source": c.source},
                )
                for c in fresh
            ],
            con=con,
        )
    return {"recorded": len(fresh), "already_known": len(checked) - len(fresh)}


def _latest_sql(purpose: str, channel: str) -> str:
    """``(user_id, status)``: each user's latest statement that applies to ``purpose`` on ``channel``."""
    _check(purpose, channel)
    return (
        "SELECT user_id, arg_max(status, (ts, recorded_at)) AS status FROM consents "
        f"WHERE purpose = '{purpose}' AND channel IN ('{channel}', '{ALL}') GROUP BY user_id"
    )


def _check(purpose: str, channel: str) -> None:
    if purpose not in PURPOSES:  # the values are put into SQL: only known words pass
        raise ValueError(f"unknown purpose {purpose!r}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")


def refusals_sql(purpose: str, channel: str = ALL, settings: Settings | None = None) -> tuple[str, bool]:
    """``(query, everyone_but)``: a query of user ids that ``purpose`` may not use on ``channel`` or, when
    ``everyone_but`` (an opt-in purpose), of the only ones it may use."""
    latest = _latest_sql(purpose, channel)
    if purpose in opt_in(settings):
        return f"SELECT user_id FROM ({latest}) WHERE status = 'granted'", True
    refused = f"SELECT user_id FROM ({latest}) WHERE status <> 'granted'"
    if purpose == Purpose.PERSONALISATION:  # the user's own switch (DESIGN.md §8.1) says the same
        refused += " UNION SELECT user_id FROM users WHERE non_personalised"
    return refused, False


def allowed_sql(column: str, purpose: str, channel: str = ALL, settings: Settings | None = None) -> str:
    """A SQL condition, true where the user in ``column`` may be used for ``purpose`` on ``channel``."""
    query, everyone_but = refusals_sql(purpose, channel, settings)
    return f"{column} {'IN' if everyone_but else 'NOT IN'} ({query})"


def withheld(
    wh: Warehouse, purpose: str, channel: str = ALL, settings: Settings | None = None, *, among: Any = None
) -> UserSet:
    """The users ``purpose`` may not use on ``channel`` (``among``: only these ids are looked up)."""
    query, everyone_but = refusals_sql(purpose, channel, settings)
    if among is None:
        rows = wh.sql(query)
    else:
        rows = wh.sql(
            f"SELECT user_id FROM ({query}) WHERE list_contains($ids, user_id)", {"ids": list(among)}
        )
    return UserSet(frozenset(r[0] for r in rows), everyone_but)


def allows(
    wh: Warehouse, user_id: str, purpose: str, channel: str = ALL, settings: Settings | None = None
) -> bool:
    """Whether ``purpose`` may use ``user_id`` on ``channel`` now."""
    return user_id not in withheld(wh, purpose, channel, settings, among=[user_id])


def of_user(wh: Warehouse, user_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """A user's consents: each purpose (and each channel with a statement) with its effective status,
    where it comes from (a statement or the default), and the full history, newest first."""
    optin = opt_in(settings)
    history = [
        dict(
            zip(
                ("consent_id", "purpose", "channel", "status", "ts", "source", "proof", "recorded_at"),
                r,
                strict=True,
            )
        )
        for r in wh.sql(
            "SELECT consent_id, purpose, channel, status, ts, source, proof, recorded_at FROM consents "
            "WHERE user_id = ? ORDER BY ts DESC, recorded_at DESC",
            [user_id],
        )
    ]
    switched_off = bool(
        wh.sql("SELECT count(*) FROM users WHERE user_id = ? AND non_personalised", [user_id])[0][0]
    )
    current = []
    for purpose in PURPOSES:
        channels = [ALL, *sorted({h["channel"] for h in history if h["purpose"] == purpose} - {ALL})]
        for channel in channels:
            applying = [h for h in history if h["purpose"] == purpose and h["channel"] in (channel, ALL)]
            last = applying[0] if applying else None
            allowed = last["status"] == "granted" if last else purpose not in optin
            basis = "statement" if last else "default"
            if purpose == Purpose.PERSONALISATION and switched_off:
                allowed, basis = False, "non_personalised"
            current.append(
                {
                    "purpose": purpose,
                    "channel": channel,
                    "allowed": allowed,
                    "status": last["status"] if last else None,
                    "basis": basis,
                    "since": last["ts"] if last else None,
                    "source": last["source"] if last else None,
                }
            )
    return {"user_id": user_id, "opt_in": sorted(optin), "current": current, "history": history}


def _explain(_user: str, decision: str | None, reason: str | None, _details: Any, lang: str) -> str:
    purpose, _, channel = (reason or "/").partition("/")
    zh_purpose = {
        "personalisation": "个性化推荐",
        "profiling": "用户画像",
        "marketing": "营销消息",
        "sharing": "数据共享",
    }
    zh_status = {"granted": "同意", "denied": "拒绝", "revoked": "撤回同意"}
    if lang == "zh":
        where = "" if channel in ("", ALL) else f"（渠道：{channel}）"
        said = zh_status.get(decision or "", decision)
        return f"已记录你对{zh_purpose.get(purpose, purpose)}{where}的选择：{said}"
    where = "" if channel in ("", ALL) else f" on {channel}"
    return f"your choice for {purpose}{where} was recorded: {decision}"


register_explainer("consent.change", _explain)
