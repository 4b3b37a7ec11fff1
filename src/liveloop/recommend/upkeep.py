"""Background upkeep of a serving process: snapshot refreshes, audit flushes, incremental refits and
scheduled full retrains (``LIVELOOP_RETRAIN_EVERY``), each failure logged and counted, never fatal."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any

from liveloop.core.errors import LiveloopError, ValidationFailed
from liveloop.privacy import audit
from liveloop.privacy.audit import AuditEntry

log = logging.getLogger("liveloop.recommend")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_interval(text: str | None, *, field: str = "LIVELOOP_RETRAIN_EVERY") -> float | None:
    """``"6h"``, ``"30m"``, ``"90s"``, ``"1d"`` or plain seconds; empty, ``0`` or ``off``: None (disabled)."""
    if text is None or text.strip().lower() in ("", "0", "off", "none", "never"):
        return None
    match = _INTERVAL.match(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ValidationFailed(f"{field} must look like 6h, 30m, 90s or 1d, got {text!r}", field=field)
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def retrain_every_from_env() -> float | None:
    return parse_interval(os.environ.get("LIVELOOP_RETRAIN_EVERY"))


class Upkeep:
    """Two daemon threads for one ``RecommendService``: a fast loop (every ``tick`` seconds: refresh due
    snapshots, flush the audit buffer, run an incremental-refit pass every ``refit_every_s`` or when
    ``refit_batch`` users are waiting) and, when ``retrain_every_s`` is set, a retrain loop."""

    def __init__(
        self,
        svc: Any,
        *,
        tick: float = 0.25,
        refit_every_s: float = 30.0,
        refit_batch: int = 64,
        retrain_every_s: float | None = None,
        audit_every_s: float = 2.0,
    ):
        self.svc = svc
        self.tick = tick
        self.refit_every_s = refit_every_s
        self.refit_batch = refit_batch
        self.retrain_every_s = retrain_every_s
        self.audit_every_s = audit_every_s
        self.counters = {"ticks": 0, "errors": 0, "retrains": 0, "retrain_errors": 0}
        self.last_error: str | None = None
        self.last_retrain: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._loop, name="recommend-upkeep", daemon=True)]
        if self.retrain_every_s:
            self._threads.append(
                threading.Thread(target=self._retrain_loop, name="recommend-retrain", daemon=True)
            )
        for t in self._threads:
            t.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters,
            "refit_every_s": self.refit_every_s,
            "retrain_every_s": self.retrain_every_s,
            "last_retrain": self.last_retrain,
            "last_error": self.last_error,
        }

    # -- loops ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        last_refit = last_audit = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            now = time.monotonic()
            self.counters["ticks"] += 1
            self._guard(self.svc.state.refresh)
            if self.svc.audit.due() or now - last_audit >= self.audit_every_s:
                self._guard(self.svc.flush_audit)
                last_audit = now
            pending = self.svc.pending_refits()
            if pending and (pending >= self.refit_batch or now - last_refit >= self.refit_every_s):
                self._guard(self.svc.refit_pending, self.refit_batch)
                last_refit = time.monotonic()

    def _retrain_loop(self) -> None:
        assert self.retrain_every_s
        while not self._stop.wait(self.retrain_every_s):
            self.retrain()

    def retrain(self) -> dict[str, Any] | None:
        """One full retrain: a new version is recorded and, when it passes the activation gate, activated;
        serving switches to it at the next snapshot refresh (one reference swap: no request is dropped or
        waits)."""
        from liveloop.recommend.train import train

        started = time.monotonic()
        try:
            result = train(self.svc.wh, self.svc.settings, seed=0)
        except LiveloopError as exc:
            self.counters["retrain_errors"] += 1
            self.last_error = f"retrain: {exc.detail}"
            log.warning("scheduled retrain skipped: %s", exc.detail)
            return None
        except Exception as exc:  # a failed retrain must not stop serving the current version
            self.counters["retrain_errors"] += 1
            self.last_error = f"retrain: {type(exc).__name__}: {exc}"
            log.exception("scheduled retrain failed")
            return None
        self.counters["retrains"] += 1
        self.last_retrain = {
            "version": result["version"],
            "model": result["model"],
            "seconds": round(time.monotonic() - started, 1),
            "activated": result["activated"],
            "gate": result["gate"]["reason"],
        }
        audit.record(
            self.svc.wh,
            AuditEntry(
                "recommend.schedule",
                "recommend.retrain",
                result["version"],
                "activated" if result["activated"] else "not activated",
                f"scheduled retrain every {self.retrain_every_s:g} s; {result['gate']['reason']}",
            ),
        )
        self.svc.refresh()
        self.wake()
        return self.last_retrain

    def _guard(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the loop must survive a transient warehouse error
            self.counters["errors"] += 1
            self.last_error = f"{getattr(fn, '__name__', fn)}: {type(exc).__name__}: {exc}"
            log.exception("recommendation upkeep step failed")
