"""Display names of the slugs the data carries (categories, channels, event types, tables, features,
statuses…): ``{{ slug | label }}`` shows the name in the page's language, an unknown slug as it is.

The English names are the catalogue's source strings (marked with ``N_`` so extraction finds them).
"""

from __future__ import annotations

import re

from markupsafe import Markup

from liveloop.core.i18n import N_
from liveloop.web.i18n import gettext_for

VOCAB: dict[str, str] = {
    # product categories (the simulator's and the common ones of real catalogues)
    "beauty": N_("beauty"),
    "apparel": N_("apparel"),
    "food": N_("food"),
    "electronics": N_("electronics"),
    "home": N_("home"),
    "baby": N_("baby"),
    "jewelry": N_("jewellery"),
    "health": N_("health"),
    # channels
    "app_push": N_("app push"),
    "sms": N_("SMS"),
    "email": N_("e-mail"),
    "social": N_("social"),
    "webhook": N_("webhook"),
    "in_app": N_("in-app"),
    "live": N_("live"),
    "search": N_("search"),
    "feed": N_("feed"),
    "feed_ads": N_("feed ads"),
    "search_ads": N_("search ads"),
    "kol": N_("KOL seeding"),
    "other": N_("other"),
    "direct": N_("direct"),
    # kinds of a price-history row
    "list": N_("list price"),
    "festival": N_("festival price"),
    "slot": N_("live-slot price"),
    "markdown": N_("markdown"),
    # event types
    "view": N_("view"),
    "click": N_("click"),
    "add_to_cart": N_("add to cart"),
    "purchase": N_("purchase"),
    "refund": N_("refund"),
    "favorite": N_("favourite"),
    "enter_room": N_("enter room"),
    "leave_room": N_("leave room"),
    "like": N_("like"),
    "comment": N_("comment"),
    "share": N_("share"),
    "follow": N_("follow"),
    "gift": N_("gift"),
    "impression": N_("impression"),
    "message_open": N_("message opened"),
    "message_click": N_("message clicked"),
    "coupon_claim": N_("coupon claimed"),
    "coupon_redeem": N_("coupon redeemed"),
    "signup": N_("sign-up"),
    "rate": N_("rating"),
    "page": N_("page view"),
    # warehouse tables (Overview data status)
    "users": N_("users"),
    "products": N_("products"),
    "hosts": N_("hosts"),
    "live_sessions": N_("live sessions"),
    "events": N_("events"),
    "orders": N_("orders"),
    "order_items": N_("order items"),
    "comments": N_("comments"),
    "messages": N_("messages"),
    "quarantine": N_("quarantine"),
    # profile features and predictions
    "frequency": N_("purchases"),
    "monetary": N_("spend"),
    "aov": N_("average order value"),
    "recency_days": N_("days since last purchase"),
    "refunds": N_("refunds"),
    "price_sensitivity": N_("price sensitivity"),
    "price_band": N_("price band"),
    "sessions_watched": N_("live sessions watched"),
    "watch_minutes": N_("minutes watched"),
    "social_actions": N_("social actions"),
    "comment_sentiment": N_("comment sentiment"),
    "peak_hour": N_("peak hour"),
    "best_channel": N_("best channel"),
    "open_rate": N_("open rate"),
    "top_category": N_("top category"),
    "age_band": N_("age band"),
    "gender": N_("gender"),
    "region": N_("region"),
    "city_tier": N_("city tier"),
    "churn_probability": N_("churn probability"),
    "expected_purchases": N_("expected purchases"),
    "clv": N_("customer lifetime value"),
    "high_value_probability": N_("high-value probability"),
    "views": N_("views"),
    "carts": N_("add-to-carts"),
    "favorites": N_("favourites"),
    "conversion_rate": N_("conversion rate"),
    "gift_amount": N_("gift value"),
    "active_days": N_("active days"),
    "n_categories": N_("categories bought"),
    "coupon_rate": N_("coupon use rate"),
    "discount_share": N_("discount share"),
    # recommender models and modes
    "popularity": N_("popularity"),
    "trending": N_("trending"),
    "als": N_("ALS matrix factorisation"),
    "bpr": N_("BPR matrix factorisation"),
    "itemknn": N_("item k-NN"),
    "seqknn": N_("sequence k-NN"),
    "content": N_("content-based"),
    "hybrid": N_("hybrid ranker"),
    "sasrec": N_("self-attention sequence model (SASRec)"),
    "gru4rec": N_("GRU sequence model (GRU4Rec)"),
    "personalised": N_("personalised"),
    "non_personalised": N_("not personalised (the user switched it off)"),
    "cold_start": N_("cold start (popular items)"),
    "experiment_popular": N_("popular items (an experiment's arm)"),
    "popular": N_("popular items"),
    "empty": N_("nothing to recommend"),
    # value tiers, genders, bands
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
    "none": N_("none"),
    "female": N_("female"),
    "male": N_("male"),
    "unknown": N_("unknown"),
    # statuses (sessions, questions, orders)
    "scheduled": N_("scheduled"),
    "ended": N_("ended"),
    "open": N_("open"),
    "answered": N_("answered"),
    "human": N_("→ human"),
    "pending": N_("pending"),
    "paid": N_("paid"),
    "cancelled": N_("cancelled"),
    "refunded": N_("refunded"),
    # comment sentiment and intent
    "positive": N_("positive"),
    "neutral": N_("neutral"),
    "negative": N_("negative"),
    "question": N_("question"),
    "purchase_intent": N_("purchase intent"),
    "price_question": N_("price question"),
    "logistics_question": N_("logistics question"),
    "complaint": N_("complaint"),
    "praise": N_("praise"),
    "chit_chat": N_("chit-chat"),
    # live-room alerts
    "negative_spike": N_("negative comments spike"),
    "unanswered_question": N_("question not answered yet"),
    "low_stock": N_("low stock"),
    "sold_out": N_("sold out"),
    "viewer_surge": N_("viewer surge"),
    # consent purposes, statuses and where the effective one comes from
    "personalisation": N_("personalised recommendations"),
    "profiling": N_("profiling"),
    "marketing": N_("marketing messages"),
    "sharing": N_("sharing with third parties"),
    "all": N_("all channels"),
    "granted": N_("granted"),
    "denied": N_("denied"),
    "revoked": N_("revoked"),
    "default": N_("default (nothing said)"),
    "statement": N_("the user's statement"),
    # roles
    "admin": N_("admin"),
    "analyst": N_("analyst"),
    "marketer": N_("marketer"),
    "host": N_("host"),
    "ingest": N_("ingest"),
    # viewer personas (the talking-point segments of the content studio and the live copilot)
    "bargain_hunter": N_("bargain hunters"),
    "price_sensitive": N_("price-sensitive viewers"),
    "mainstream": N_("mainstream viewers"),
    "premium": N_("quality seekers"),
    "young_fashion": N_("young fashion fans"),
    "high_value_loyal": N_("high-value loyal customers"),
    "high_value": N_("high spenders"),
    "loyal": N_("loyal repeat buyers"),
    "active_buyers": N_("active buyers"),
    "new_customers": N_("new customers"),
    "impulse": N_("impulse buyers"),
    "silent_viewers": N_("silent viewers"),
    "engaged_fans": N_("engaged fans"),
    "window_shoppers": N_("window shoppers"),
    "dormant": N_("returning dormant customers"),
    "explorers": N_("category explorers"),
    "english_speakers": N_("English speakers"),
    "logistics_concerned": N_("viewers asking about shipping"),
    # derived funnel steps
    "visit": N_("visit"),
    "stay_30s": N_("stayed 30 s in the room"),
    "first_purchase": N_("first purchase"),
    "repurchase": N_("repurchase"),
    # compliance rules and where copy came from
    "absolute": N_("absolute terms"),
    "medical": N_("medical claims"),
    "efficacy": N_("efficacy claims"),
    "reference_price": N_("reference price"),
    "scarcity": N_("scarcity and urgency"),
    "inducement": N_("inducements"),
    "template": N_("template"),
    "llm": N_("language model"),
    "reviews": N_("reviews"),
    "questions": N_("past questions"),
}


def label_or_data(value: object, lang: str) -> Markup:
    """A known slug's name, else the value marked as data (a region, a city from the data)."""
    if value is None or value == "" or str(value) in VOCAB:
        return Markup.escape(label(value, lang))
    return Markup("<span data-user-content>{}</span>").format(value)


#: A trained configuration as the recommender names it: ``hybrid (als+itemknn+sasrec, value weight auto,
#: no live-now)``.
_CONFIG = re.compile(r"^(\w+) \(([\w+]+), value weight ([\w.]+)(, no live-now)?\)$")


def label(slug: object, lang: str) -> str:
    """The display name of ``slug`` in ``lang`` (the slug itself when it is not a known one)."""
    if slug is None or slug == "":
        return "—"
    name = VOCAB.get(str(slug))
    if name is not None:
        return gettext_for(lang).gettext(name)
    config = _CONFIG.match(str(slug))
    if config is None:
        return str(slug)
    _ = gettext_for(lang).gettext
    kind, parts, weight, no_live = config.groups()
    weight = _("auto") if weight == "auto" else weight
    value_weight = _("value weight")
    inner = [" + ".join(label(p, lang) for p in parts.split("+")), f"{value_weight} {weight}"]
    if no_live:
        inner.append(_("no live-now feature"))
    comma, (left, right) = ("，", ("（", "）")) if lang == "zh" else (", ", (" (", ")"))
    return f"{label(kind, lang)}{left}{comma.join(inner)}{right}"


TAG_KINDS = {"category": N_("category"), "brand": N_("brand")}


def tag_label(tag: str, lang: str) -> Markup:
    """An interest tag (``kind:value``) for display: the kind translated, a category's name translated, a
    brand (a name from the data) kept as it is and marked as data."""
    kind, _, value = str(tag).partition(":")
    name = TAG_KINDS.get(kind)
    if name is None or not value:
        return Markup("<span data-user-content>{}</span>").format(tag)
    shown = gettext_for(lang).gettext(name)
    if kind == "category":
        return Markup("{}: {}").format(shown, label(value, lang))
    return Markup("{}: <span data-user-content>{}</span>").format(shown, value)
