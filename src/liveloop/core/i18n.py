"""The marker for strings a face translates later: ``N_("text")`` returns the text unchanged.

Capabilities mark the fixed English phrases they hand to the faces (feature explanations, reasons) so
that the dashboard's message extraction (``babel.cfg``) puts them in its catalogue; the face looks them up
in the reader's language. Nothing here depends on a face.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark ``text`` for translation where it is shown; returns it unchanged."""
    return text
