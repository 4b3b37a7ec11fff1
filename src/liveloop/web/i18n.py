"""The dashboard's languages: a gettext catalogue (Babel), and numbers and dates in the page's locale.

Source strings are English, marked in templates with ``{{ _("…") }}`` / ``{% trans %}`` and in Python with
``N_("…")`` (``liveloop.core.i18n``); ``locale/zh/LC_MESSAGES/messages.po`` holds their Chinese. The
``.po`` is compiled in memory the first time it is needed, so no binary catalogue is committed. To add a
string, see docs/dashboard.md (``make i18n`` extracts and updates; the test of the catalogue fails on any
string without a translation).
"""

from __future__ import annotations

import gettext
import io
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "ll_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
#: The Babel locale of each page language.
LOCALES = {"zh": Locale.parse("zh_Hans_CN"), "en": Locale.parse("en_US")}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English is the source language: strings pass through)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def gettext_for(lang: str) -> gettext.NullTranslations:
    """The translations of a page language (unknown languages get the default)."""
    return translations(lang if lang in LANGS else DEFAULT_LANG)


def number(value: float | int | None, lang: str, digits: int = 0) -> str:
    """``value`` with the locale's grouping and ``digits`` decimals ("—" when missing)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=LOCALES[lang])


def percent(value: float | None, lang: str) -> str:
    """A 0–1 share as a percentage in the locale's style."""
    return "—" if value is None else format_percent(value, locale=LOCALES[lang])


def when(value: datetime | float | str | None, lang: str, zone: str) -> str:
    """A moment (a datetime, epoch seconds or ISO text; naive means UTC) in ``zone``, in the locale's
    medium date-time style ("—" when missing)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "medium", tzinfo=ZoneInfo(zone), locale=LOCALES[lang])


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")


def data_window(text: str | None, lang: str, zone: str) -> str:
    """A model's data window (``[-inf, 2026-11-11T16:00:11+00:00)`` or ``start/end``) as ``start – end`` in
    the locale's dates (an open start shown as "…")."""
    if not text:
        return "—"
    moments = [when(m.replace("Z", "+00:00"), lang, zone) for m in _ISO_MOMENT.findall(text)]
    if len(moments) == 1:
        return f"… – {moments[0]}"
    return " – ".join(moments) if moments else text


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language, else the browser's first supported one, else Chinese."""
    if cookie in LANGS:
        return str(cookie)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return DEFAULT_LANG
