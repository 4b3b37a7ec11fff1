"""Who may be sent what, when: the policies every campaign obeys by construction (DESIGN.md §8.1, §8.4).

One SQL statement decides, for every user of the audience and every channel of the campaign, the first
rule that stops the message — unknown user, the non-personalised switch (for audiences built from
personal data), no marketing consent for that channel, a suppression (do-not-contact, unsubscribe,
bounce, complaint), no address for the channel, the daily and weekly caps per channel, the weekly
fatigue cap over all channels — and, for a message that may go, when: a time inside quiet hours (in the
user's own time zone) moves to the end of them, or is skipped when the campaign says so. Each user then
gets the campaign's first channel that may carry the message, or the first channel's reason to skip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from liveloop.campaigns.channels import ADDRESS
from liveloop.core.errors import ValidationFailed, reject_unknown
from liveloop.core.types import Purpose
from liveloop.privacy import consent

#: Skip reasons in the order they are tested (a user skipped for several is counted for the first).
REASONS = (
    "unknown_user",
    "non_personalised",
    "no_consent",
    "suppressed",
    "no_address",
    "cap_day",
    "cap_week",
    "fatigue",
    "quiet_hours",
)
ACTIVE = ("queued", "sending", "sent", "delivered")


@dataclass(frozen=True)
class Policy:
    """Caps and quiet hours of a campaign (the defaults are the house rules)."""

    quiet_start: int = 21
    quiet_end: int = 9
    quiet_mode: str = "defer"  # defer to the end of quiet hours, or skip
    cap_day: int = 1  # messages per user, channel and day
    cap_week: int = 3  # per user, channel and 7 days
    fatigue_week: int = 5  # per user over every channel, 7 days

    @classmethod
    def of(cls, value: Policy | dict[str, Any] | None) -> Policy:
        """A policy from its dict (unknown keys are a clear error), or the default."""
        if isinstance(value, Policy):
            return value
        value = value or {}
        reject_unknown(value, cls, "policy", "policy.")
        return cls(**value)

    def check(self) -> Policy:
        for name in ("quiet_start", "quiet_end"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValidationFailed(f"{name} must be an hour 0-23", field=name)
        if self.quiet_mode not in ("defer", "skip"):
            raise ValidationFailed("quiet_mode must be defer or skip", field="quiet_mode")
        for name in ("cap_day", "cap_week", "fatigue_week"):
            if not 0 <= getattr(self, name) <= 1000:
                raise ValidationFailed(f"{name} must be between 0 and 1000", field=name)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def is_quiet(self, hour: int) -> bool:
        """Whether local ``hour`` falls in quiet hours."""
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start > self.quiet_end:
            return hour >= self.quiet_start or hour < self.quiet_end
        return self.quiet_start <= hour < self.quiet_end

    def in_quiet(self, hour: str) -> str:
        """SQL: whether the local ``hour`` expression falls in quiet hours."""
        if self.quiet_start == self.quiet_end:
            return "FALSE"
        if self.quiet_start > self.quiet_end:
            return f"({hour} >= {self.quiet_start} OR {hour} < {self.quiet_end})"
        return f"({hour} >= {self.quiet_start} AND {hour} < {self.quiet_end})"


def plan_sql(
    audience_sql: str,
    channels: list[str],
    policy: Policy,
    *,
    personal: bool,
    default_tz: str,
    holdout: float,
    campaign_id: str,
    preferred: bool = False,
) -> str:
    """A query of ``(user_id, channel, status, reason, scheduled_at, grp, send_reason)`` per audience user.

    Parameters, in order: the send time, then the audience's own. With ``preferred`` the query joins
    ``_pref(user_id, channel, hour, reason)``: the learned channel goes first, at its hour.
    """
    ch_rows = ", ".join(f"('{c}', {i})" for i, c in enumerate(channels))  # channels are checked names
    consent_cases = " ".join(
        f"WHEN '{c}' THEN {consent.allowed_sql('a.user_id', Purpose.MARKETING, c)}" for c in channels
    )
    address_cases = " ".join(
        f"WHEN '{c}' THEN u.{ADDRESS[c]}_enc IS NOT NULL" for c in channels if c in ADDRESS
    )
    has_address = f"CASE c.channel {address_cases} ELSE TRUE END" if address_cases else "TRUE"
    switch = "coalesce(u.non_personalised, FALSE)" if personal else "FALSE"
    pref_join = "LEFT JOIN _pref p ON p.user_id = a.user_id AND p.channel = c.channel" if preferred else ""
    rank = "CASE WHEN p.hour IS NOT NULL THEN -1 ELSE c.rank END" if preferred else "c.rank"
    # the send time: the learned hour (next one at or after the start), else the start
    at_pref = (
        "CASE WHEN p.hour IS NULL THEN a.t0 ELSE timezone(a.tz, date_trunc('day', timezone(a.tz, a.t0)) "
        "+ to_hours(p.hour) + CASE WHEN p.hour < hour(timezone(a.tz, a.t0)) THEN INTERVAL 1 DAY "
        "ELSE INTERVAL 0 DAY END) END"
        if preferred
        else "a.t0"
    )
    send_reason = "p.reason" if preferred else "NULL::VARCHAR"
    end_of_quiet = (
        f"timezone(a.tz, date_trunc('day', timezone(a.tz, a.at)) + to_hours({policy.quiet_end}) "
        f"+ CASE WHEN hour(timezone(a.tz, a.at)) >= {policy.quiet_end} THEN INTERVAL 1 DAY "
        "ELSE INTERVAL 0 DAY END)"
    )
    quiet = policy.in_quiet("hour(timezone(a.tz, a.at))")
    recent = (
        "SELECT user_id, channel, count(*) FILTER (WHERE t > (SELECT t0 FROM start) - INTERVAL 1 "
        "DAY) AS day_n, "
        ""
        "count(*) AS week_n FROM (SELECT user_id, channel, coalesce(sent_at, scheduled_at) AS t "
        "FROM messages "
        f"WHERE status IN {ACTIVE} AND grp = 'treatment' AND "
        "coalesce(sent_at, scheduled_at) > (SELECT t0 FROM start) - INTERVAL 7 DAY "
        "AND user_id IN (SELECT user_id FROM aud)) GROUP BY ALL"
    )
    bucket = f"(hash('{campaign_id}' || c.user_id) % 10000)"
    return f"""
WITH start AS (SELECT ?::TIMESTAMPTZ AS t0),
aud AS (SELECT DISTINCT user_id FROM ({audience_sql})),
recent AS ({recent}),
fatigue AS (SELECT user_id, sum(week_n) AS n FROM recent GROUP BY user_id),
a0 AS (
    SELECT a.user_id, u.user_id IS NOT NULL AS known, {switch} AS switched_off,
           CASE WHEN z.name IS NULL THEN '{default_tz}' ELSE z.name END AS tz, (SELECT t0 FROM start) AS t0
    FROM aud a LEFT JOIN users u USING (user_id)
    LEFT JOIN (SELECT name FROM pg_timezone_names()) z ON z.name = u.props->>'$.timezone'
),
opts AS (
    SELECT a.user_id, c.channel, {rank} AS rank, {at_pref} AS at, a.tz, {send_reason} AS send_reason,
        CASE
            WHEN NOT a.known THEN 'unknown_user'
            WHEN a.switched_off THEN 'non_personalised'
            WHEN NOT (CASE c.channel {consent_cases} END) THEN 'no_consent'
            WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.user_id = a.user_id
                         AND s.channel IN (c.channel, 'all')) THEN 'suppressed'
            WHEN NOT ({has_address}) THEN 'no_address'
            WHEN coalesce(r.day_n, 0) >= {policy.cap_day} THEN 'cap_day'
            WHEN coalesce(r.week_n, 0) >= {policy.cap_week} THEN 'cap_week'
            WHEN coalesce(f.n, 0) >= {policy.fatigue_week} THEN 'fatigue'
        END AS stop
    FROM a0 a CROSS JOIN (VALUES {ch_rows}) c(channel, rank)
    LEFT JOIN users u ON u.user_id = a.user_id
    LEFT JOIN recent r ON r.user_id = a.user_id AND r.channel = c.channel
    LEFT JOIN fatigue f ON f.user_id = a.user_id
    {pref_join}
),
timed AS (
    SELECT a.*, {quiet} AS quiet, CASE WHEN {quiet} THEN {end_of_quiet} ELSE a.at END AS after_quiet
    FROM opts a
),
decided AS (
    SELECT *, CASE WHEN stop IS NULL AND quiet AND '{policy.quiet_mode}' = 'skip' THEN 'quiet_hours'
                   ELSE stop END AS why
    FROM timed
),
chosen AS (  -- each user's first channel that may carry the message, else the first channel's reason
    SELECT user_id, channel, why, after_quiet AS at, quiet, send_reason FROM decided
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY why IS NOT NULL, rank) = 1
)
SELECT c.user_id, c.channel,
       CASE WHEN c.why IS NOT NULL THEN 'skipped'
            WHEN {bucket} < {round(holdout * 10000)} THEN 'holdout' ELSE 'queued' END AS status,
       CASE WHEN c.why IS NOT NULL THEN c.why
            WHEN {bucket} < {round(holdout * 10000)} THEN 'holdout'
            WHEN c.quiet THEN 'deferred: quiet_hours' END AS reason,
       c.at AS scheduled_at,
       CASE WHEN c.why IS NULL AND {bucket} < {round(holdout * 10000)} THEN 'holdout' ELSE 'treatment' END
           AS grp,
       c.send_reason
FROM chosen c
"""


def start_of(now: datetime, start: datetime | None) -> datetime:
    """When the campaign sends: its scheduled start, or now if that has passed."""
    return max(now, start) if start is not None else now
