"""Reports: ``/v1/reports`` (write a post-live, weekly or monthly report; the archive), each report's data
and files (HTML, PDF, either language), ``/v1/reports/schedules`` and ``/v1/reports/run``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from liveloop.analytics.reports import archive, schedules
from liveloop.api.deps import get_warehouse
from liveloop.campaigns.report_mail import reports_pass
from liveloop.core.errors import NotFound
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.http.auth import principal_of, require_roles
from liveloop.warehouse import Warehouse

router = APIRouter(prefix="/v1/reports", tags=["measurement"])
READ = Depends(require_roles(Role.ANALYST, Role.MARKETER, Role.HOST))
WRITE = Depends(require_roles(Role.ANALYST, Role.MARKETER))
Kind = Literal["post_live", "weekly", "monthly"]
Lang = Literal["zh", "en"]
MIME = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def _actor(request: Request) -> str:
    return f"key:{principal_of(request).key_id}"


def _where(request: Request) -> dict[str, str]:
    settings = request.app.state.settings
    return {"tz": settings.timezone, "symbol": settings.currency_symbol}


class ReportIn(BaseModel):
    kind: Kind
    session_id: str | None = Field(None, pattern=ID_PATTERN, max_length=128)
    start: date | None = Field(
        None, description="weekly: the Monday; monthly: the first day (default: last full)"
    )
    pdf: bool = Field(False, description="Print the PDF in both languages now (needs Chromium)")


class ScheduleIn(BaseModel):
    kind: Kind
    recipients: list[str] = Field(..., min_length=1, max_length=schedules.MAX_RECIPIENTS)
    every: str | None = Field(None, max_length=16, examples=["7d"])
    lang: Lang = "zh"


@router.get("/schedules", dependencies=[WRITE], summary="Report schedules (recipients masked)")
def get_schedules(request: Request, wh: Warehouse = Depends(get_warehouse)) -> list[dict[str, Any]]:
    return schedules.public(wh, request.app.state.cipher)


@router.post("/schedules", dependencies=[WRITE], status_code=201, summary="E-mail a report on a schedule")
def post_schedule(
    request: Request, body: ScheduleIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    made = schedules.add(
        wh, request.app.state.cipher, body.kind, body.recipients, lang=body.lang, every=body.every,
        actor=_actor(request), tz=_where(request)["tz"],
    )  # fmt: skip
    return made | {"recipients": len(body.recipients)}


@router.delete("/schedules/{schedule_id}", dependencies=[WRITE], status_code=204, summary="Stop a schedule")
def delete_schedule(schedule_id: str, wh: Warehouse = Depends(get_warehouse)) -> Response:
    if not schedules.remove(wh, schedule_id):
        raise NotFound(f"no report schedule {schedule_id!r}", field="schedule_id")
    return Response(status_code=204)


@router.post("/run", dependencies=[WRITE], summary="Run what is due now (post-live reports, schedules)")
async def post_run(request: Request, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    where = _where(request)
    return await run_in_threadpool(
        lambda: reports_pass(wh, request.app.state.cipher, tz=where["tz"], symbol=where["symbol"])
    )


@router.post("", dependencies=[WRITE], status_code=201, summary="Write a report")
async def post_report(
    request: Request, body: ReportIn, wh: Warehouse = Depends(get_warehouse)
) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: archive.generate(
            wh,
            body.kind,
            session_id=body.session_id,
            start=body.start,
            pdf=body.pdf,
            actor=_actor(request),
            **_where(request),
        )
    )


@router.get("", dependencies=[READ], summary="The report archive, newest first")
def get_reports(
    kind: Kind | None = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=archive.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    wh: Warehouse = Depends(get_warehouse),
) -> dict[str, Any]:
    return archive.list_reports(wh, kind=kind, subject=subject, limit=limit, offset=offset)


@router.get("/{report_id}", dependencies=[READ], summary="A report's entry and data")
def get_report(report_id: str, wh: Warehouse = Depends(get_warehouse)) -> dict[str, Any]:
    return archive.entry(wh, report_id) | {"data": archive.data_of(wh, report_id)}


@router.get("/{report_id}/file", dependencies=[READ], summary="A report as HTML or PDF")
async def get_file(
    request: Request,
    report_id: str,
    format: Literal["html", "pdf"] = "html",
    lang: Lang = "zh",
    download: bool = False,
    wh: Warehouse = Depends(get_warehouse),
) -> Response:
    entry = archive.entry(wh, report_id)
    body = await run_in_threadpool(archive.file_of, wh, report_id, format, lang, **_where(request))
    disposition = "attachment" if download or format == "pdf" else "inline"
    headers = {"Content-Disposition": f'{disposition}; filename="{archive.filename(entry, format, lang)}"'}
    return Response(body, media_type=MIME[format], headers=headers)
