"""Chinese and English labels for the dashboard. Pages add their own strings with ``add_messages``."""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "ll_lang"

_MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {"zh": "liveloop 直播营销引擎", "en": "liveloop live-commerce marketing"},
    "nav.menu": {"zh": "导航", "en": "Navigation"},
    "login.title": {"zh": "登录", "en": "Log in"},
    "login.key": {"zh": "API 密钥", "en": "API key"},
    "login.submit": {"zh": "登录", "en": "Log in"},
    "login.invalid": {"zh": "密钥无效或已吊销。", "en": "The key is invalid or revoked."},
    "login.csrf": {"zh": "表单已过期，请重试。", "en": "The form expired; please try again."},
    "login.hint": {
        "zh": "使用 `liveloop keys create` 创建的密钥登录。",
        "en": "Use a key made by `liveloop keys create`.",
    },
    "logout": {"zh": "退出", "en": "Log out"},
    "role": {"zh": "角色", "en": "Role"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "overview.title": {"zh": "概览", "en": "Overview"},
    "overview.data_status": {"zh": "数据状态", "en": "Data status"},
    "overview.table": {"zh": "数据表", "en": "Table"},
    "overview.rows": {"zh": "行数", "en": "Rows"},
    "overview.last_event": {"zh": "最近事件时间", "en": "Last event"},
    "overview.quarantine": {"zh": "隔离区（待处理）", "en": "Quarantine (open)"},
    "overview.events_per_hour": {"zh": "每小时事件数", "en": "Events per hour"},
    "overview.gmv_per_day": {"zh": "每日 GMV 与订单数", "en": "GMV and orders per day"},
    "overview.top_products": {"zh": "热销商品", "en": "Top products"},
    "overview.gmv": {"zh": "GMV", "en": "GMV"},
    "overview.orders": {"zh": "订单数", "en": "Orders"},
    "overview.events": {"zh": "事件数", "en": "Events"},
    "overview.empty": {
        "zh": "暂无数据。运行 `liveloop demo` 生成演示数据。",
        "en": "No data yet. Run `liveloop demo` to load the demo world.",
    },
    "overview.gmv_source": {"zh": "数据来源", "en": "Source"},
    "error.title": {"zh": "出错了", "en": "Something went wrong"},
    "error.back": {"zh": "返回概览", "en": "Back to the overview"},
}


def add_messages(messages: dict[str, dict[str, str]]) -> None:
    """Register a page's labels: ``{"key": {"zh": "…", "en": "…"}}`` (both languages required)."""
    for key, labels in messages.items():
        missing = [lang for lang in LANGS if lang not in labels]
        if missing:
            raise ValueError(f"label {key!r} lacks {', '.join(missing)}")
        _MESSAGES[key] = dict(labels)


def translate(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` (the key itself when unknown, so gaps are visible)."""
    labels = _MESSAGES.get(key)
    if labels is None:
        return key
    return labels.get(lang) or labels[DEFAULT_LANG]


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language, else the browser's first supported one, else Chinese."""
    if cookie in LANGS:
        return str(cookie)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG
