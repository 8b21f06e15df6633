"""Parsing money typed by a person: Decimal, two places, within what Numeric(14, 2) holds."""

from __future__ import annotations

import re
from decimal import Decimal

MAX_AMOUNT = Decimal("99999999999.99")  # under 1e11
CENT = Decimal("0.01")
AMOUNT_PATTERN = re.compile(r"[-+]?\d{1,20}(?:\.(?P<cents>\d{0,20}))?|[-+]?\.(?P<only>\d{1,2})")


def parse_money(text: str | None, *, allow_negative: bool = True) -> Decimal:
    """The amount in ``text``, or ValueError with a message to show next to the field."""
    cleaned = (text or "").strip().replace(",", "").replace("$", "").replace(" ", "")
    if not cleaned:
        raise ValueError("Enter an amount.")
    if cleaned.startswith("(") and cleaned.endswith(")"):  # accountants write (125.00)
        cleaned = "-" + cleaned[1:-1]
    match = AMOUNT_PATTERN.fullmatch(cleaned)
    if match is None:
        raise ValueError("Enter an amount like 1250.00.")
    if len((match.group("cents") or "").rstrip("0")) > 2:
        raise ValueError("Use at most 2 decimal places.")
    amount = Decimal(cleaned)
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
