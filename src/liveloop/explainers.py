"""The modules that say how their decisions read to a person (``privacy.audit.register_explainer``, called
on import). Capabilities are imported lazily (the CLI starts in well under a second), so whatever
explains decisions — the CLI's ``users decisions`` and ``export``, the server for the API and the User
360 page — loads them first; ``tests/test_imports.py`` checks the list is whole."""

from __future__ import annotations

import importlib

MODULES = (
    "liveloop.campaigns",
    "liveloop.live.lottery",
    "liveloop.live.record",
    "liveloop.privacy.consent",
    "liveloop.profiles.tags",
    "liveloop.recommend",
)


def load() -> None:
    """Import every module that registers a decision explainer (see :data:`MODULES`)."""
    for name in MODULES:
        importlib.import_module(name)
