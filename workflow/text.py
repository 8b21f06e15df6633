"""Free text typed by a person, made safe to store and show."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can make a reason read differently from what it says.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def clean_text(text: str | None) -> str:
    """``text`` stripped, without NUL or other control characters (newlines and tabs kept) and
    without bidirectional overrides. ValueError, with a message for the field, when it holds
    something no database can store (a lone surrogate)."""
    text = (text or "").translate(_BIDI_CONTROLS)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("This text contains characters that cannot be stored; retype it.") \
            from None
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
