"""Parsing money typed by a person: Decimal, two places, within what Numeric(14, 2) holds."""

from __future__ import annotations

import re
from decimal import Decimal

MAX_AMOUNT = Decimal("99999999999.99")  # under 1e11
CENT = Decimal("0.01")
# ASCII digits only; commas only between groups of three (1,250 and 12,500,000, not 12,34,5).
NUMBER_PATTERN = re.compile(
    r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]*))?"
    r"|\.(?P<only>[0-9]+)")
LIKE = "Enter an amount like 1250.00."


def _sign(body: str) -> tuple[bool, str]:
    """Strip one optional leading minus and one optional $, in either order ("-$5", "$-5")."""
    negative = False
    if body[:1] == "-":
        negative, body = True, body[1:]
    if body[:1] == "$":
        body = body[1:]
    if not negative and body[:1] == "-":
        negative, body = True, body[1:]
    return negative, body


def _shape_error(body: str) -> str:
    """Why ``body`` is not an amount, as specifically as we can say it."""
    if any(ch.isdigit() and not ch.isascii() for ch in body):
        return "Type the amount with the digits 0–9, like 1250.00."
    if any(ch.isspace() for ch in body):
        return "Type the amount without spaces, like 1250.00 or 1,250.00."
    if "," in body and re.fullmatch(r"[0-9,]+(?:\.[0-9]*)?", body):
        return "Put commas only between groups of three digits, like 12,500.00."
    return LIKE


def parse_money(text: str | None, *, allow_negative: bool = True) -> Decimal:
    """The amount in ``text``, or ValueError with a message to show next to the field.

    Accepted: ASCII digits, an optional leading minus and/or $, commas between groups of three
    digits, up to two decimal places; (125.00) as accountants write a negative amount."""
    body = (text or "").strip()
    if not body:
        raise ValueError("Enter an amount.")
    bracketed = body.startswith("(") and body.endswith(")")
    if bracketed:
        body = body[1:-1]
    negative, body = _sign(body)
    if bracketed and negative:
        raise ValueError(LIKE)
    match = NUMBER_PATTERN.fullmatch(body)
    if match is None:
        raise ValueError(_shape_error(body))
    if len((match.group("cents") or match.group("only") or "").rstrip("0")) > 2:
        raise ValueError("Use at most 2 decimal places.")
    whole = (match.group("whole") or "0").replace(",", "")
    amount = Decimal(f"{whole}.{match.group('cents') or match.group('only') or '0'}")
    if bracketed or negative:
        amount = -amount
    if abs(amount) > MAX_AMOUNT:
        raise ValueError("Enter an amount between -99,999,999,999.99 and 99,999,999,999.99.")
    if amount < 0 and not allow_negative:
        raise ValueError("Enter an amount of zero or more.")
    return amount.quantize(CENT)


def format_money(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"
