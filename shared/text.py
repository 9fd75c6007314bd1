"""Untrusted text made visible: what a reader sees is what the text says.

Line breaks (\n, \r, U+2028, NEL...), controls, format characters (bidi overrides, zero-width ones), surrogates,
private-use and unassigned characters would break a line, a table or what a reader sees: each becomes a space.
Used by the Markdown reports and the HTML pages alike.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def visible(text: str) -> str:
    if text.isprintable():  # fast path: most values hold no invisible character
        return text
    return "".join(" " if unicodedata.category(ch) in _INVISIBLE_CATEGORIES else ch for ch in text)
