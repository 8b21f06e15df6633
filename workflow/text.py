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


# Characters that show nothing: zero-width spaces and joiners, the word joiner, the BOM, soft
# hyphens and the other format characters (Unicode category Cf).
def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf"


def normalize_number(text: str | None) -> str:
    """A record number as it is compared and stored: NFKC (fullwidth letters are plain
    ones), invisible characters removed, every dash (non-breaking hyphen, en dash, minus …)
    a plain ``-``, spaces collapsed: ``SC\u20111042`` and ``SC-\u200b1042`` are
    ``SC-1042``."""
    text = unicodedata.normalize("NFKC", text or "")
    out = []
    for ch in text:
        if _invisible(ch):
            continue
        if ch == "\u2212" or unicodedata.category(ch) == "Pd":
            ch = "-"
        out.append(ch)
    return " ".join("".join(out).split())
