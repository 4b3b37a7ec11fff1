"""A stateful fuzz of the running server (a Hypothesis state machine): random writes on every write route
— users, events, Segment messages, feedback, consents, live rooms, retention — each followed by reads of
every read route and dashboard page about what was written. The faults found by probing needed two
steps (a bad row written, then read: a year-9999 feedback broke the overview for everyone); no read may
answer 5xx after any sequence of writes.

``LIVELOOP_FUZZ_EXAMPLES`` / ``LIVELOOP_FUZZ_STEPS`` make a run larger; ``LIVELOOP_FUZZ_REPORT`` names a
JSON file for the counts (``benchmarks/bench_fuzz.py`` uses both).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

EXAMPLES = int(os.environ.get("LIVELOOP_FUZZ_EXAMPLES", "6"))
STEPS = int(os.environ.get("LIVELOOP_FUZZ_STEPS", "25"))

ID = st.from_regex(r"[A-Za-z0-9_.:@-]{1,12}", fullmatch=True)
ANY_TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\udcff", "\x00", "🎉", "最"]), max_size=30
)
TS = st.one_of(
    st.sampled_from(
        ["2026-05-01T10:00:00+08:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
         "2026-05-01T10:00:00+99:00", "2026-05-01 10:00", "yesterday", "", "1e20"]
    ),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
EVENT_TYPES = st.sampled_from(
    ["view", "click", "purchase", "refund", "comment", "enter_room", "teleport", ""]
)


def _event(uid: str, n: int, draw: Any) -> dict[str, Any]:
    return {
        "event_id": f"fz-{uid}-{n}",
        "user_id": draw(st.sampled_from([uid, uid + "\ud800", ""])),
        "type": draw(EVENT_TYPES),
        "ts": draw(TS),
        "product_id": draw(st.sampled_from(["p1", "p2", None, "\ud800"])),
        "session_id": draw(st.sampled_from(["fz-live", None])),
        "amount": draw(st.sampled_from([None, 9.9, -5, "NaN", 1e300, "abc"])),
        "props": draw(JSONISH),
        "text": draw(ANY_TEXT),
    }


class ServiceMachine(RuleBasedStateMachine):
    """Writes then reads against one running server; every answer's status is counted."""

    server: Any = None
    codes: Counter[int] = Counter()  # noqa: RUF012 - shared across the machine's runs on purpose
    failures: list[str] = []  # noqa: RUF012
    calls = 0
    users = Bundle("users")

    @initialize()
    def connect(self) -> None:
        self.admin = httpx.Client(
            base_url=self.server.base_url, headers=self.server.headers("admin"), timeout=60
        )
        self.ingest = httpx.Client(
            base_url=self.server.base_url, headers=self.server.headers("ingest"), timeout=60
        )
        self.n = 0

    def teardown(self) -> None:
        for client in ("admin", "ingest"):
            if hasattr(self, client):
                getattr(self, client).close()

    def _call(self, client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
        type(self).calls += 1
        try:
            response = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            type(self).failures.append(f"{method} {path}: {type(exc).__name__}")
            raise
        type(self).codes[response.status_code // 100 * 100] += 1
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if response.status_code >= 500 and not (response.status_code == 503 and problem):
            type(self).failures.append(f"{method} {path} → {response.status_code}: {response.text[:300]}")
        return response

    def _body(self, payload: Any) -> bytes:
        return json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")

    # -- writes ---------------------------------------------------------------------------------
    @rule(
        target=users,
        uid=ID,
        phone=st.sampled_from(["13800001111", "not a phone", "\ud800", None]),
        traits=JSONISH,
    )
    def create_user(self, uid: str, phone: Any, traits: Any) -> str:
        body = {"user_id": uid, "phone": phone, "region": "浙江", "props": traits}
        self._call(
            self.ingest,
            "POST",
            "/v1/users",
            content=self._body(body),
            headers={"Content-Type": "application/json"},
        )
        return uid

    @rule(uid=users, data=st.data(), n=st.integers(1, 5))
    def post_events(self, uid: str, data: st.DataObject, n: int) -> None:
        self.n += 1
        events = [_event(uid, self.n * 10 + i, data.draw) for i in range(n)]
        self._call(
            self.ingest,
            "POST",
            "/v1/events",
            content=self._body({"events": events}),
            headers={"Content-Type": "application/json"},
        )

    @rule(uid=users, traits=JSONISH, event=ANY_TEXT, ts=TS)
    def segment_messages(self, uid: str, traits: Any, event: str, ts: Any) -> None:
        batch = [
            {
                "type": "identify",
                "userId": uid,
                "traits": traits,
                "messageId": f"fz-{uid}-{self.n}-i",
                "timestamp": ts,
            },
            {
                "type": "track",
                "userId": uid,
                "event": event,
                "properties": traits,
                "messageId": f"fz-{uid}-{self.n}-t",
            },
        ]
        self.n += 1
        self._call(
            self.ingest,
            "POST",
            "/v1/batch",
            content=self._body({"batch": batch}),
            headers={"Content-Type": "application/json"},
        )

    @rule(uid=users, action=st.sampled_from(["click", "purchase", "dismiss", "??"]), ts=TS)
    def feedback(self, uid: str, action: str, ts: Any) -> None:
        body = {"user_id": uid, "product_id": "p1", "action": action, "ts": ts}
        self._call(
            self.ingest,
            "POST",
            "/v1/feedback",
            content=self._body(body),
            headers={"Content-Type": "application/json"},
        )

    @rule(
        uid=users,
        purpose=st.sampled_from(["marketing", "profiling", "personalisation", "sharing", "ads"]),
        status=st.sampled_from(["granted", "denied", "revoked", "maybe"]),
        channel=st.sampled_from(["all", "sms", "email", "pigeon"]),
        ts=TS,
    )
    def consent(self, uid: str, purpose: str, status: str, channel: str, ts: Any) -> None:
        body = {"changes": [{"purpose": purpose, "status": status, "channel": channel, "ts": ts}]}
        self._call(
            self.ingest,
            "POST",
            f"/v1/users/{uid}/consents",
            content=self._body(body),
            headers={"Content-Type": "application/json"},
        )

    @rule(uid=users, data=st.data())
    def live_room(self, uid: str, data: st.DataObject) -> None:
        self._call(self.admin, "POST", "/v1/live/fz-live/open", json={})
        kind = data.draw(st.sampled_from(["comment", "gift", "enter", "like", "stage", "x"]))
        amount = data.draw(st.sampled_from([1, -1, "NaN", None]))
        events = [
            {"type": kind, "ts": data.draw(TS), "user_id": uid, "text": data.draw(ANY_TEXT), "amount": amount}
        ]
        self._call(
            self.admin,
            "POST",
            "/v1/live/fz-live/events",
            content=self._body({"events": events}),
            headers={"Content-Type": "application/json"},
        )

    @rule(
        days=st.sampled_from([None, 0, 1, 30, 10**9]), table=st.sampled_from(["events", "comments", "orders"])
    )
    def retention_policy(self, days: Any, table: str) -> None:
        self._call(self.admin, "PUT", f"/v1/retention/{table}", json={"days": days})

    # -- reads ----------------------------------------------------------------------------------
    @rule(uid=users)
    def read_everything_about(self, uid: str) -> None:
        per_user = ("", "/profile", "/tags", "/similar", "/recommendations", "/live-rooms", "/decisions")
        for path in (
            *(f"/v1/users/{uid}{tail}" for tail in (*per_user, "/consents", "/export")),
            f"/v1/search?q={uid}",
            "/v1/segments", "/v1/users", "/v1/products", "/v1/live/fz-live/state", "/v1/retention",
            "/", "/overview", f"/users?user_id={uid}", "/users", "/segments", "/recommendations", "/products",
            "/live", f"/search?q={uid}",
        ):  # fmt: skip
            self._call(self.admin, "GET", path)

    @invariant()
    def no_server_error(self) -> None:
        assert not type(self).failures, "\n".join(type(self).failures[:10])


@pytest.mark.slow
def test_no_sequence_of_writes_makes_any_read_fail(live_server_factory) -> None:
    ServiceMachine.server = live_server_factory()
    ServiceMachine.codes, ServiceMachine.failures, ServiceMachine.calls = Counter(), [], 0
    run = ServiceMachine.TestCase
    run.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run().runTest()
    finally:
        report = os.environ.get("LIVELOOP_FUZZ_REPORT")
        if report:
            Path(report).write_text(
                json.dumps({"calls": ServiceMachine.calls, "codes": dict(ServiceMachine.codes),
                            "failures": ServiceMachine.failures, "examples": EXAMPLES, "steps": STEPS})
            )  # fmt: skip
    assert ServiceMachine.calls > EXAMPLES * 10  # the machine really ran
    assert ServiceMachine.codes[200] > 0 and ServiceMachine.codes[400] > 0  # valid and invalid inputs got in
