"""One router module per capability; each exposes ``router`` and declares roles on every route."""
