"""Reports as files: one self-contained HTML page per language (inline style, inline SVG charts), and its
PDF through Chromium's print-to-PDF (headless, no network, nothing downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from liveloop.analytics.reports import charts
from liveloop.core.errors import Unavailable, ValidationFailed

LANGS = ("zh", "en")
PDF_TIMEOUT_S = 60
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

#: Every label a report prints, in English and Chinese.
LABELS: dict[str, tuple[str, str]] = {
    "post_live": ("Post-live report", "直播复盘报告"),
    "weekly": ("Weekly marketing report", "营销周报"),
    "monthly": ("Monthly marketing report", "营销月报"),
    "session": ("Session", "场次"),
    "host": ("Host", "主播"),
    "time": ("Time", "时间"),
    "period": ("Period", "统计周期"),
    "partial": ("period so far (not yet complete)", "本期至今（尚未结束）"),
    "generated": ("Generated", "生成时间"),
    "kpis": ("KPIs", "核心指标"),
    "metric": ("Metric", "指标"),
    "value": ("Value", "实际"),
    "target": ("Target", "目标"),
    "vs_target": ("vs target", "对比目标"),
    "previous_sessions": ("Host's last sessions (mean)", "主播近几场均值"),
    "previous_period": ("Previous period", "上期"),
    "change": ("Change", "环比"),
    "minutes": ("Minute by minute", "分钟级走势"),
    "viewers": ("Viewers in the room", "在线人数"),
    "comments": ("Comments", "评论数"),
    "sentiment": ("Sentiment index", "情绪指数"),
    "gmv": ("GMV", "成交额"),
    "orders": ("Orders", "订单数"),
    "products": ("Products: explanation results", "商品讲解效果"),
    "product": ("Product", "商品"),
    "clicks": ("Clicks", "点击"),
    "carts": ("Add to cart", "加购"),
    "purchases": ("Orders", "订单"),
    "units": ("Units", "件数"),
    "on_stage": ("while on stage", "讲解期间"),
    "questions": ("Top questions", "高频问题"),
    "question": ("Question", "问题"),
    "askers": ("Askers", "提问人数"),
    "status": ("Status", "状态"),
    "complaints": ("Complaints", "负面反馈"),
    "comment": ("Comment", "评论"),
    "users": ("Users", "人数"),
    "aspects": ("Aspects", "方面"),
    "advice": ("What the advisor raised, and what followed", "助播建议与执行情况"),
    "alert": ("Alert", "提醒"),
    "then": ("Then", "当时"),
    "after": ("5 minutes later", "5 分钟后"),
    "answered": ("questions answered by the copilot", "条问题由助播自动回答"),
    "handed_off": ("handed to a person", "条转人工"),
    "no_copilot": (
        "The live copilot did not run this session: minutes, questions and complaints come from its "
        "events, comments and orders.",
        "本场未接入直播助手：分钟走势、问题与负面反馈来自本场的事件、评论与订单。",
    ),
    "none": ("None.", "无。"),
    "days": ("GMV and orders per day", "每日成交额与订单"),
    "funnel": ("Live funnel", "直播转化漏斗"),
    "step": ("Step", "环节"),
    "no_impressions": (
        "The data has no impression events in this period: the funnel starts at room entry.",
        "本期数据没有曝光事件：漏斗从进入直播间开始。",
    ),
    "from_previous": ("from previous step", "较上一环节"),
    "from_first": ("from first step", "较第一环节"),
    "channels": ("Channels: who paid", "渠道贡献"),
    "channel": ("Channel", "渠道"),
    "last_touch": ("last touch", "末次触点"),
    "markov": ("data-driven (Markov)", "数据驱动（马尔可夫）"),
    "cost": ("Cost", "成本"),
    "paths": ("Most common paths", "常见转化路径"),
    "path": ("Path", "路径"),
    "conversions": ("Conversions", "转化"),
    "rate": ("Rate", "转化率"),
    "sessions": ("Best sessions", "表现最佳场次"),
    "hosts": ("Hosts", "主播表现"),
    "top_products": ("Top products", "热销商品"),
    "category": ("Category", "类目"),
    "viewers_short": ("Viewers", "观看人数"),
    "conversion": ("View-to-buy", "观看转化率"),
    "gpm": ("GPM", "千次观看成交额"),
    "risk": ("Risk flags", "风险标记"),
    "risk_kind": ("Kind", "类型"),
    "risk_flags": ("Flags", "标记数"),
    "risk_confirmed": ("Confirmed", "已确认"),
    "risk_accounts": ("Accounts", "涉及账号"),
    "risk_top": ("The strongest flag of each kind", "各类型证据最强的标记"),
    "risk_about": ("About", "对象"),
    "risk_found": ("What was found", "发现"),
    "risk_score": ("Score", "分数"),
    "risk_examples": ("Example accounts", "示例账号"),
    "risk_note": (
        "Flags stored by risk scans about this session, or about accounts with orders in it (dismissed ones "
        "left out); reviewers confirm or dismiss them on the dashboard's Risk page.",
        "风险扫描对本场或在本场下单账号的标记（已排除的不计）；审核人在看板的“风险”页确认或排除。",
    ),
    "risk_none": (
        "No risk flags for this session (scans: `liveloop risk scan`, or the dashboard's Risk page).",
        "本场没有风险标记（扫描：`liveloop risk scan`，或看板的“风险”页）。",
    ),
    "this_session": ("this session", "本场"),
}
#: Each kind of risk flag as a report names it, and what it found (``str.format`` of its evidence).
RISK_KINDS: dict[str, tuple[str, str]] = {
    "comment_burst": ("Comment flood", "评论刷屏"),
    "new_account_comments": ("New accounts commenting", "新账号集中评论"),
    "synced_joins": ("Synchronised room entries", "集中进场"),
    "like_spike": ("Like spike", "点赞激增"),
    "gift_spike": ("Gift spike", "送礼激增"),
    "linked_accounts": ("Linked accounts", "关联账号（羊毛党）"),
    "refund_abuse": ("Refund abuse", "恶意退款"),
    "kpi_drop": ("KPI drop", "指标骤降"),
}
RISK_SAYS: dict[str, tuple[str, str]] = {
    "comment_burst": (
        "{accounts} accounts posted near-identical comments within {seconds} s; {flagged} look fake",
        "{accounts} 个账号在 {seconds} 秒内发布几乎相同的评论，其中 {flagged} 个疑似虚假",
    ),
    "new_account_comments": (
        "{new} of {total} commenters were freshly created accounts ({share}; typical: {expected})",
        "{total} 位评论者中 {new} 位是新注册账号（{share}，通常为 {expected}）",
    ),
    "synced_joins": (
        "{accounts} accounts entered within {seconds} s ({expected} expected)",
        "{accounts} 个账号在 {seconds} 秒内集中进场（正常约 {expected} 个）",
    ),
    "like_spike": (
        "{count} likes in one minute (usual minute: {baseline}); {flagged} accounts",
        "一分钟内 {count} 个点赞（平时每分钟 {baseline} 个），涉及 {flagged} 个账号",
    ),
    "gift_spike": (
        "{count} accounts sent gifts in one minute (usual: {baseline} a minute)",
        "一分钟内 {count} 个账号送礼（平时每分钟 {baseline} 个）",
    ),
    "linked_accounts": (
        "{accounts} linked accounts placed {orders} orders, {coupons} with a coupon",
        "{accounts} 个关联账号下了 {orders} 笔订单，其中 {coupons} 笔用券",
    ),
    "refund_abuse": (
        "{refunded} of {orders} orders refunded ({rate}; buyers of the same products: {base})",
        "{orders} 笔订单中 {refunded} 笔退款（{rate}；同类商品买家为 {base}）",
    ),
    "kpi_drop": (
        "{metric} was {value} in {bucket}, expected {expected}",
        "{metric} 在 {bucket} 为 {value}，预期 {expected}",
    ),
}
RISK_STATUS: dict[str, tuple[str, str]] = {
    "open": ("to review", "待审核"),
    "confirmed": ("confirmed", "已确认"),
    "dismissed": ("dismissed", "已排除"),
}
STEP_NAMES: dict[str, tuple[str, str]] = {
    "impression": ("impression", "曝光"),
    "enter_room": ("entered the room", "进入直播间"),
    "stay_30s": ("stayed 30 s", "停留 30 秒"),
    "click": ("product click", "商品点击"),
    "add_to_cart": ("add to cart", "加购"),
    "purchase": ("paid", "支付"),
}
#: Categories and channels as a report names them (the slugs stay in the data and the exports).
SLUGS: dict[str, tuple[str, str]] = {
    "beauty": ("beauty", "美妆"), "apparel": ("apparel", "服饰"), "food": ("food", "食品"),
    "electronics": ("electronics", "数码"), "home": ("home", "家居"), "baby": ("baby", "母婴"),
    "jewelry": ("jewellery", "珠宝"), "health": ("health", "保健"),
    "search": ("search", "搜索"), "feed": ("feed", "信息流"), "live": ("live room", "直播间"),
    "social": ("social", "社交"), "app_push": ("app push", "应用推送"), "sms": ("SMS", "短信"),
    "email": ("e-mail", "邮件"), "in_app": ("in-app", "站内信"), "direct": ("direct", "直接访问"),
    "other": ("other", "其他"),
}  # fmt: skip
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "answered": ("answered", "已回答"),
    "human": ("to a person", "转人工"),
    "pending": ("pending", "待回答"),
    "open": ("open", "待回答"),
}


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("liveloop.analytics.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["line_chart"] = charts.line_chart
    return env


_ENV = _env()


class Formatter:
    """Numbers, money, ratios and times as one language and timezone write them."""

    def __init__(self, lang: str, tz: str, symbol: str):
        if lang not in LANGS:
            raise ValidationFailed(f"lang must be one of {', '.join(LANGS)}", field="lang")
        self.lang, self.tz, self.symbol = lang, ZoneInfo(tz), symbol

    def t(self, key: str) -> str:
        en, zh = LABELS.get(key) or STEP_NAMES.get(key) or (key, key)
        return zh if self.lang == "zh" else en

    def slug(self, key: str | None) -> str:
        """A category or channel in the report's language (an unknown one as it is)."""
        en, zh = SLUGS.get(key or "", (key or "—", key or "—"))
        return zh if self.lang == "zh" else en

    def status(self, key: str | None) -> str:
        en, zh = STATUS_NAMES.get(key or "open", (str(key), str(key)))
        return zh if self.lang == "zh" else en

    def _pick(self, pair: tuple[str, str]) -> str:
        return pair[1] if self.lang == "zh" else pair[0]

    def risk_kind(self, kind: str) -> str:
        return self._pick(RISK_KINDS.get(kind, (kind, kind)))

    def risk_status(self, status: str) -> str:
        return self._pick(RISK_STATUS.get(status, (status, status)))

    def risk_subject(self, flag: dict[str, Any]) -> str:
        if flag["subject_type"] == "session":
            return self.t("this_session")
        if flag["subject_type"] == "ring":
            n = flag.get("accounts") or 0
            return f"{n} accounts" if self.lang == "en" else f"{n} 个账号"
        return str(flag["subject"])

    def risk_found(self, flag: dict[str, Any]) -> str:
        """What a flag found, from its evidence's numbers, in the report's language."""
        e, kind = flag.get("evidence") or {}, flag["kind"]
        if kind not in RISK_SAYS:
            return str(e.get("rule") or kind)
        return self._pick(RISK_SAYS[kind]).format(**self._risk_values(kind, e))

    def _risk_values(self, kind: str, e: dict[str, Any]) -> dict[str, str]:
        n = self._count
        if kind == "comment_burst":
            seconds = e.get("window_seconds")
            try:
                span = datetime.fromisoformat(e["end"]) - datetime.fromisoformat(e["start"])
                seconds = max(1, round(span.total_seconds()))
            except (KeyError, TypeError, ValueError):
                pass
            return {
                "accounts": n(e.get("accounts")),
                "seconds": n(seconds),
                "flagged": n(e.get("flagged_accounts")),
            }
        if kind == "new_account_comments":
            return {
                "new": n(e.get("new_commenters")),
                "total": n(e.get("commenters")),
                "share": self.value(e.get("share"), "ratio"),
                "expected": self.value(e.get("expected_share"), "ratio"),
            }
        if kind == "synced_joins":
            return {
                "accounts": n(e.get("accounts")),
                "seconds": n(e.get("window_seconds")),
                "expected": f"{e.get('expected') or 0:.2f}",
            }
        if kind in ("like_spike", "gift_spike"):
            unit = "likes" if kind == "like_spike" else "senders"
            peak = max(e.get("minutes") or [{}], key=lambda m: m.get(unit) or 0)
            return {
                "count": n(peak.get(unit)),
                "baseline": f"{peak.get('baseline') or 0:.2f}",
                "flagged": n(e.get("flagged_accounts")),
            }
        if kind == "linked_accounts":
            return {
                "accounts": n(e.get("accounts")),
                "orders": n(e.get("orders")),
                "coupons": n(e.get("coupon_orders")),
            }
        if kind == "refund_abuse":
            return {
                "refunded": n(e.get("refunded")),
                "orders": n(e.get("orders")),
                "rate": self.value(e.get("rate"), "ratio"),
                "base": self.value(e.get("base_rate"), "ratio"),
            }
        return {
            "metric": str(e.get("metric")),
            "value": n(e.get("value")),
            "bucket": str(e.get("bucket")),
            "expected": n(e.get("expected")),
        }

    @staticmethod
    def _count(v: Any) -> str:
        if v is None:
            return "—"
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"

    def name(self, row: dict[str, Any]) -> str:
        return str(row.get("name_zh") if self.lang == "zh" else row.get("name_en"))

    def value(self, v: float | None, unit: str) -> str:
        if v is None:
            return "—"
        if unit == "money":
            return f"{self.symbol}{v:,.2f}"
        if unit == "ratio":
            return f"{v:.1%}"
        if unit == "seconds":
            return f"{v:,.0f} s" if self.lang == "en" else f"{v:,.0f} 秒"
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"

    def change(self, v: float | None) -> str:
        return "—" if v is None else f"{v:+.1%}"

    def when(self, v: datetime | date | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if v is None:
            return "—"
        if isinstance(v, str):
            v = datetime.fromisoformat(v)
        if isinstance(v, datetime):
            return v.astimezone(self.tz).strftime(fmt)
        return v.strftime("%Y-%m-%d")


def html(data: dict[str, Any], lang: str = "zh", *, tz: str = "Asia/Shanghai", symbol: str = "¥") -> str:
    """The report in ``lang`` as one self-contained HTML page."""
    f = Formatter(lang, tz, symbol)
    template = "post_live.html" if data["kind"] == "post_live" else "marketing.html"
    return _ENV.get_template(template).render(d=data, f=f, lang=lang)


def chromium() -> str:
    """The Chromium executable (``LIVELOOP_CHROMIUM``, else the first on PATH)."""
    configured = os.environ.get("LIVELOOP_CHROMIUM")
    found = configured or next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)
    if not found or (not Path(found).exists() and not shutil.which(found)):
        raise Unavailable(
            "PDF reports need Chromium: install it (`apt-get install chromium`, `make system-deps`) or set "
            "LIVELOOP_CHROMIUM; the HTML report does not",
            field="format",
        )
    return found


def pdf(page: str) -> bytes:
    """``page`` printed to PDF by headless Chromium (A4; its own profile in a temporary folder)."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="liveloop-report-") as tmp:
        source, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-extensions", "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}", source.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"Chromium did not print the report within {PDF_TIMEOUT_S} s") from exc
        if not out.exists() or out.stat().st_size == 0:
            why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise Unavailable(f"Chromium could not print the report: {why[0][:200]}")
        return out.read_bytes()
