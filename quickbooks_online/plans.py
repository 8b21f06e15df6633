"""What an export will do to a PurchaseOrder as read: the Line array to send and, line by line,
now / change / after for the approver's preview. Made by the CCO exporter
(``export/change_order.py:plan_change_order``) and by the first export of a linked commitment
(``links.py:plan_link``) alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class PreviewLine:
    """One PurchaseOrder line as the CCO would leave it: now, change, after."""

    description: str
    now: Decimal | None  # None: a new line
    change: Decimal
    after: Decimal


@dataclass
class Plan:
    """What one CCO does to a PurchaseOrder as read: the Line array to send, and where the
    CCO's new lines stand in it."""

    lines: list[dict]
    preview: list[PreviewLine] = field(default_factory=list)
    new_lines: list[tuple[int, int]] = field(default_factory=list)  # (CCO line id, index)
    problems: list[str] = field(default_factory=list)
