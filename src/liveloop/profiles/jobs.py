"""Background profile rebuilds with progress, in a bounded in-process registry (oldest finished dropped)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from liveloop.core.config import Settings
from liveloop.core.errors import Conflict, LiveloopError, NotFound
from liveloop.core.ids import new_id
from liveloop.profiles.build import BuildOptions, build_profiles
from liveloop.profiles.tags import load_rules
from liveloop.warehouse import Warehouse

MAX_JOBS = 50


class JobRegistry:
    """Rebuild jobs by id; at most one runs at a time and at most ``max_jobs`` are remembered."""

    def __init__(self, max_jobs: int = MAX_JOBS):
        self.max_jobs = max_jobs
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(
                    f"no job {job_id!r} (finished jobs are kept for the last {self.max_jobs})", field="job_id"
                )
            return dict(job)

    def _update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            self._jobs[job_id].update(fields)

    def start_rebuild(self, settings: Settings, opts: BuildOptions | None = None) -> dict[str, Any]:
        """Start a rebuild on its own warehouse connection; Conflict while another one runs. Without
        ``opts`` the lifecycle rules come from the environment or LIVELOOP_HOME (refused before the job
        starts when they are invalid)."""
        if opts is None:
            rules, source = load_rules(None, settings.home)
            opts = BuildOptions(rules=rules, rules_source=source)
        with self._lock:
            if any(j["status"] in ("queued", "running") for j in self._jobs.values()):
                raise Conflict("a profile rebuild is already running")
            job_id = new_id("job")
            self._jobs[job_id] = {
                "job_id": job_id,
                "kind": "profiles.rebuild",
                "status": "queued",
                "stage": None,
                "progress": 0.0,
                "created_at": datetime.now(UTC).isoformat(),
                "finished_at": None,
                "result": None,
                "error": None,
            }
            while len(self._jobs) > self.max_jobs:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest]["status"] in ("queued", "running"):
                    break
                self._jobs.popitem(last=False)
            snapshot = dict(self._jobs[job_id])
        threading.Thread(
            target=self._run, args=(job_id, settings, opts), name=f"rebuild-{job_id}", daemon=True
        ).start()
        return snapshot

    def _run(self, job_id: str, settings: Settings, opts: BuildOptions | None) -> None:
        self._update(job_id, status="running")
        try:
            with Warehouse.open(settings) as wh:
                result = build_profiles(
                    wh,
                    opts,
                    settings=settings,
                    progress=lambda stage, f: self._update(job_id, stage=stage, progress=round(f, 3)),
                )
            self._update(job_id, status="succeeded", result=result, progress=1.0)
        except LiveloopError as exc:
            self._update(job_id, status="failed", error=exc.detail)
        except Exception as exc:
            self._update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._update(job_id, finished_at=datetime.now(UTC).isoformat())


_REGISTRY = JobRegistry()


def registry() -> JobRegistry:
    return _REGISTRY
