"""The Experiments page: every experiment (status, target, layer, arms) and one experiment's results —
each metric and guardrail per arm against the control with its 95% interval, the adjusted p-value, the
CUPED variance reduction, the sample-ratio check (a mismatch is always shown first), the arms a
guardrail stopped, and the first metric's relative effect at each look (the sequential boundary).

Results come from ``liveloop.analytics.experiments.results`` with ``act=False``: viewing the page never
stops an arm (the API's results call applies the guardrails).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from liveloop.analytics import experiments as service
from liveloop.analytics.kpis import METRICS
from liveloop.core.config import Settings
from liveloop.core.errors import InsufficientData, LiveloopError, NotFound
from liveloop.core.i18n import N_
from liveloop.core.ids import ID_PATTERN
from liveloop.core.types import Role
from liveloop.experiments import store
from liveloop.http.auth import require_roles
from liveloop.web.i18n import LOCALES, number
from liveloop.web.templating import figure, gettext_of, lang_of, render

ROLES = (Role.ANALYST, Role.MARKETER)
NAV = {"path": "/experiments", "label": N_("Experiments"), "order": 37, "roles": ROLES}
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_roles(*ROLES))])
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]

#: An experiment's status and what it varies: their names on the page.
STATUSES = {"running": N_("running"), "stopped": N_("stopped")}
TARGETS = {
    "recommend": N_("recommendations"),
    "campaign": N_("campaigns"),
    "coupon": N_("coupons"),
    "live_ordering": N_("live-room product order"),
    "custom": N_("custom"),
}
CORRECTIONS = {
    "holm": N_("Holm–Bonferroni"),
    "bh": N_("Benjamini–Hochberg"),
    "none": N_("no correction"),
}
#: The reason the engine gives an arm a guardrail stopped (``store.stop_arm``), read back to translate it.
_GUARDRAIL_REASON = re.compile(r"^guardrail (?P<metric>[a-z0-9_]+) is worse than control$")


def _signed_percent(value: float | None, lang: str) -> str:
    """A relative change as ``+12.3%`` / ``-4.0%`` in the locale's style ("—" when missing)."""
    if value is None:
        return "—"
    return format_percent(value, format="+#,##0.0%;-#,##0.0%", locale=LOCALES[lang])


def _value(value: float | None, unit: str, *, lang: str, settings: Settings, gettext: Any) -> str:
    """A metric's value in its unit, as the KPIs page shows it: money with the currency symbol, ratios as
    percentages, seconds with their unit, counts with two decimals when not whole."""
    if value is None:
        return "—"
    if unit == "money":
        return settings.money(value)
    if unit == "ratio":
        return format_percent(value, format="#,##0.0%", locale=LOCALES[lang])
    if unit == "seconds":
        return str(gettext("%(n)s s") % {"n": number(value, lang, 1)})
    return number(value, lang, 0 if float(value).is_integer() else 2)


def _difference(value: float | None, unit: str, *, lang: str, settings: Settings, gettext: Any) -> str:
    """An arm's absolute difference from the control, signed, in the metric's unit (ratios in points)."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("-" if value < 0 else "")
    if unit == "money":
        return sign + settings.money(abs(value))
    if unit == "ratio":
        return str(gettext("%(value)s pp") % {"value": sign + number(abs(value) * 100, lang, 1)})
    if unit == "seconds":
        return str(gettext("%(n)s s") % {"n": sign + number(abs(value), lang, 1)})
    return sign + number(abs(value), lang, 2)


def _p(value: float | None, lang: str) -> str:
    """A p-value to three decimals; below 0.001 as ``< 0.001``."""
    if value is None:
        return "—"
    if value < 0.001:
        return "< " + number(0.001, lang, 3)
    return number(value, lang, 3)


def _p_test(value: float | None, lang: str) -> str:
    """A test's p-value in a sentence: ``p = 0.042`` or ``p < 0.001``."""
    shown = _p(value, lang)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _interval(pair: list[float | None] | None, lang: str, gettext: Any) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return "—"
    low, high = (_signed_percent(x, lang) for x in pair)
    return str(gettext("%(low)s to %(high)s") % {"low": low, "high": high})


def _formatters(request: Request) -> dict[str, Callable[..., str]]:
    lang = lang_of(request)
    gettext = gettext_of(request)
    settings = request.app.state.settings
    return {
        "value": partial(_value, lang=lang, settings=settings, gettext=gettext),
        "difference": partial(_difference, lang=lang, settings=settings, gettext=gettext),
        "relative": partial(_signed_percent, lang=lang),
        "interval": partial(_interval, lang=lang, gettext=gettext),
        "pvalue": partial(_p, lang=lang),
        "ptest": partial(_p_test, lang=lang),
    }


def _metric_names() -> dict[str, tuple[str, str]]:
    """Every metric of the KPI registry with its (English, Chinese) name."""
    return {k: (m.name_en, m.name_zh) for k, m in METRICS.items()}


def _labels() -> dict[str, Any]:
    return {
        "statuses": STATUSES,
        "targets": TARGETS,
        "corrections": CORRECTIONS,
        "metric_names": _metric_names(),
    }


# -- the list --------------------------------------------------------------------------------------------


@router.get("/experiments", response_class=HTMLResponse)
async def experiments_page(
    request: Request, status: Annotated[Literal["running", "stopped"] | None, Query()] = None
) -> HTMLResponse:
    experiments = await run_in_threadpool(store.list_all, request.app.state.warehouse, status)
    context = {"experiments": [e.to_dict() for e in experiments], "status": status}
    return render(request, "measure/experiments.html", context | _labels())


# -- one experiment --------------------------------------------------------------------------------------


def _stopped(exp: dict[str, Any], names: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The arms a guardrail (or a person) stopped, with the reason: a guardrail's reason by its metric
    (translated in the template), any other reason as the data has it."""
    out = []
    for arm, reason in exp["stopped_arms"].items():
        match = _GUARDRAIL_REASON.match(str(reason))
        metric = match["metric"] if match else None
        out.append({"arm": arm, "guardrail": names.get(metric) if metric else None, "reason": reason})
    return out


def _history_chart(
    history: list[dict[str, Any]], metric: dict[str, Any], zone: ZoneInfo, lang: str, gettext: Any
) -> Any:
    """The first metric's relative effect of each arm at each look, its 95% interval as error bars,
    and the zero line: the interval narrowing as users arrive."""
    fig = go.Figure()
    colours = ["#e4393c", "#1f6feb", "#1a7f37", "#9a5b00", "#8250df", "#656d76"]
    arms = [e["arm"] for e in history[-1]["effects"]] if history else []
    for i, arm in enumerate(arms):
        xs, ys, up, down = [], [], [], []
        for look in history:
            eff = next((e for e in look["effects"] if e["arm"] == arm), None)
            if eff is None or eff["relative"] is None or not eff["ci95_relative"]:
                continue
            low, high = eff["ci95_relative"]
            if low is None or high is None:
                continue
            moment = datetime.fromisoformat(look["at"]).astimezone(zone).replace(tzinfo=None)
            xs.append(moment.isoformat())
            ys.append(eff["relative"])
            up.append(high - eff["relative"])
            down.append(eff["relative"] - low)
        fig.add_scatter(
            x=xs, y=ys, name=arm, mode="lines+markers", line={"color": colours[i % len(colours)]},
            error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down},
        )  # fmt: skip
    fig.add_hline(y=0, line={"color": "#1f2328", "width": 1, "dash": "dash"})
    name = metric["name_zh"] if lang == "zh" else metric["name_en"]
    fig.update_layout(
        xaxis={"type": "date", "title": gettext("Look (display time zone)")},
        yaxis={"title": gettext("Relative effect on %(metric)s") % {"metric": name}, "tickformat": "+.0%"},
        legend={"orientation": "h"},
        showlegend=True,
    )
    return figure(fig, height=380)


def _detail(request: Request, experiment_id: str) -> dict[str, Any]:
    wh = request.app.state.warehouse
    exp = store.get(wh, experiment_id).to_dict()
    names = _metric_names()
    context: dict[str, Any] = {"exp": exp, "results": None, "error": None, "insufficient": None}
    try:
        # a page view reads the results; it never applies the guardrails' decisions (act=False)
        results = service.results(wh, experiment_id, act=False, history=True, actor=None)
    except InsufficientData as exc:
        context["insufficient"] = exc.detail
    except LiveloopError as exc:
        context["error"] = exc.detail
    else:
        context["results"] = results
        exp = results["experiment"]
        context["exp"] = exp
    context["stopped"] = _stopped(exp, names)
    return context


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
async def experiment_page(request: Request, experiment_id: Id) -> HTMLResponse:
    try:
        context = await run_in_threadpool(_detail, request, experiment_id)
    except NotFound:
        return render(
            request,
            "measure/experiment.html",
            {"exp": None, "missing": experiment_id} | _labels(),
            status_code=404,
        )
    results = context["results"]
    if results is not None and results.get("history") and results["metrics"]:
        zone = ZoneInfo(request.app.state.settings.timezone)
        context["chart"] = _history_chart(
            results["history"], results["metrics"][0], zone, lang_of(request), gettext_of(request)
        )
    return render(request, "measure/experiment.html", context | _labels() | {"fmt": _formatters(request)})
