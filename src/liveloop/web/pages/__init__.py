"""One module per dashboard page; each exposes ``router`` and ``NAV``."""
