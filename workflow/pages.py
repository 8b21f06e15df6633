"""What a record's page shows, read once per request: its lines with their cost codes,
categories and the records they name, in a fixed number of statements however many lines it
has (docs/architecture.md, "Flat cost as data grows").

Lines are eager-loaded, not paginated: the schedule of values, a CCO's lines and a change
event's line items are edited, totalled, checked for QuickBooks and selected together on their
page, and one QuickBooks PurchaseOrder carries them all, so a record has tens to a few hundred
of them, never thousands. The lists that do grow (commitments, change events, history, admin
and sandbox lists) are paged.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeOrder,
    ChangeOrderApproval,
    ChangeOrderLine,
    Commitment,
    SovLine,
)


def _reload(model, ident: int, *options):
    """The record again with ``options`` applied to what is already in the session."""
    return db.session.execute(
        select(model).where(model.id == ident).options(*options)
        .execution_options(populate_existing=True)).unique().scalar_one()


def _sov_lines(path):
    return (path.joinedload(SovLine.cost_code), path.joinedload(SovLine.category))


def _commitment_options() -> tuple:
    sov = selectinload(Commitment.sov_lines)
    ccos = selectinload(Commitment.change_orders)
    return (joinedload(Commitment.project), joinedload(Commitment.vendor),
            *_sov_lines(sov), ccos.selectinload(ChangeOrder.lines),
            ccos.selectinload(ChangeOrder.viewers))


def _change_order_options() -> tuple:
    lines = selectinload(ChangeOrder.lines)
    commitment = joinedload(ChangeOrder.commitment)
    sov = commitment.selectinload(Commitment.sov_lines)
    return (commitment.joinedload(Commitment.project),
            commitment.joinedload(Commitment.vendor),
            # what change data capture recorded of its PurchaseOrder: the ERP panel's drift
            commitment.joinedload(Commitment.qbo_state),
            selectinload(ChangeOrder.viewers),
            joinedload(ChangeOrder.designated_reviewer),
            selectinload(ChangeOrder.approval).joinedload(ChangeOrderApproval.approved_by),
            *_sov_lines(lines.joinedload(ChangeOrderLine.sov_line)),
            lines.joinedload(ChangeOrderLine.cost_code_own),
            lines.joinedload(ChangeOrderLine.category_own),
            lines.joinedload(ChangeOrderLine.change_event_line)
            .joinedload(ChangeEventLine.change_event),
            *_sov_lines(sov))


def _change_event_options() -> tuple:
    lines = selectinload(ChangeEvent.lines)
    return (joinedload(ChangeEvent.project),
            lines.joinedload(ChangeEventLine.cost_code),
            lines.joinedload(ChangeEventLine.category),
            lines.joinedload(ChangeEventLine.vendor),
            lines.joinedload(ChangeEventLine.commitment))


def _sov_save_options() -> tuple:
    """What an SOV line save reads under the commitment's lock, in one statement: the vendor
    and every line with its cost code and category (the saved row, the ERP panel's checks)."""
    lines = joinedload(Commitment.sov_lines)
    return (joinedload(Commitment.vendor), *_sov_lines(lines))


def _cco_save_options() -> tuple:
    """What a CCO line save reads, in one statement: the CCO with its commitment and vendor,
    its reviewer and approval, and every line with the SOV line it changes or its own cost
    code and category, and the change event item it came from (the saved row, the grand
    total, the ERP panel's checks)."""
    lines = joinedload(ChangeOrder.lines)
    commitment = joinedload(ChangeOrder.commitment)
    return (commitment.joinedload(Commitment.vendor),
            joinedload(ChangeOrder.designated_reviewer),
            joinedload(ChangeOrder.approval).joinedload(ChangeOrderApproval.approved_by),
            *_sov_lines(lines.joinedload(ChangeOrderLine.sov_line)),
            lines.joinedload(ChangeOrderLine.cost_code_own),
            lines.joinedload(ChangeOrderLine.category_own),
            lines.joinedload(ChangeOrderLine.change_event_line)
            .joinedload(ChangeEventLine.change_event))


# Built once: the loader options of each page and the statement that reads a page by id (the
# id a bound parameter), reused by every request from SQLAlchemy's compiled cache.
COMMITMENT = _commitment_options()
CHANGE_ORDER = _change_order_options()
CHANGE_EVENT = _change_event_options()
SOV_SAVE = _sov_save_options()
CCO_SAVE = _cco_save_options()
_BY_ID = {model: select(model).where(model.id == bindparam("ident")).options(*options)
          for model, options in ((Commitment, COMMITMENT), (ChangeOrder, CHANGE_ORDER),
                                 (ChangeEvent, CHANGE_EVENT))}


def page_by_id(model, ident: int):
    """A commitment, CCO or change event read for its page, with everything the page shows
    (None if there is none): the first read of it in a request, in the page's statements."""
    return db.session.execute(_BY_ID[model], {"ident": ident}).unique().scalar_one_or_none()


def commitment_page(commitment: Commitment) -> Commitment:
    """The commitment with its project, vendor, SOV lines (cost code, category) and change
    orders (lines, viewers): the page, its ERP panel and its blockers read nothing more per row."""
    return _reload(Commitment, commitment.id, *COMMITMENT)


def change_order_page(cco: ChangeOrder) -> ChangeOrder:
    """The CCO with its lines (the SOV line each changes, cost codes, categories, the change
    event item it came from), its commitment's SOV lines (the new-line form) and its viewers."""
    return _reload(ChangeOrder, cco.id, *CHANGE_ORDER)


def change_event_page(ce: ChangeEvent) -> ChangeEvent:
    """The change event with its line items and what each names (cost code, category, vendor,
    commitment)."""
    return _reload(ChangeEvent, ce.id, *CHANGE_EVENT)


# ---- keyset pages ------------------------------------------------------------------------------

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of a list, and the cursors of the pages either side (None: there is none)."""

    rows: list
    after: str | None  # the cursor of the next page ("Next")
    before: str | None  # the cursor of the previous page ("Previous")


def token(values: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def parse_token(value: str | None, width: int) -> tuple | None:
    """The sort key a cursor carries, or None for a missing or mangled one (the first page)."""
    if not value:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(values, list) or len(values) != width
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)):
        return None
    return tuple(values)


def keyset(query, keys: tuple, key_of, after: str | None = None, before: str | None = None,
           size: int = PAGE_SIZE) -> Page:
    """One page of ``query`` in ascending ``keys`` order (unique together, an index's order),
    after or before a cursor: no OFFSET, so the last page costs what the first does."""
    width = len(keys)
    start, end = parse_token(after, width), parse_token(before, width)
    if end is not None and start is None:
        rows = list(db.session.scalars(query.where(tuple_(*keys) < tuple_(*end))
                                       .order_by(*(k.desc() for k in keys)).limit(size + 1)))
        more = len(rows) > size
        rows = rows[:size][::-1]
        return Page(rows, token(key_of(rows[-1])) if rows else None,
                    token(key_of(rows[0])) if rows and more else None)
    if start is not None:
        query = query.where(tuple_(*keys) > tuple_(*start))
    rows = list(db.session.scalars(query.order_by(*keys).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, token(key_of(rows[-1])) if more else None,
                token(key_of(rows[0])) if rows and start is not None else None)


# ---- a list's vendor filter --------------------------------------------------------------------

VENDOR_CHOICES = 100  # vendors the filter offers: the page costs the same with any number


class VendorChoice(NamedTuple):
    id: int
    name: str


@dataclass(frozen=True)
class VendorChoices:
    vendors: list[VendorChoice]  # the first VENDOR_CHOICES by name, and the one chosen
    more: bool  # the project has others (a vendor's name in the list filters by it)
    first: int = VENDOR_CHOICES


def vendor_choices(totals, project_id: int, chosen: int | None) -> VendorChoices:
    """The vendors a list's filter offers: those with a record in the project, read from the
    list's totals rows (``totals``, models/list_totals.py) in name order, at most
    VENDOR_CHOICES of them and the one chosen, in one statement."""
    from sqlalchemy import exists, or_

    from models import Vendor

    listed = exists().where(totals.c.project_id == project_id, totals.c.vendor_id == Vendor.id,
                            totals.c.records > 0)
    first = (select(Vendor.id).where(listed).order_by(Vendor.name, Vendor.id)
             .limit(VENDOR_CHOICES + 1))
    rows = db.session.execute(
        select(Vendor.id, Vendor.name, listed.label("listed"))
        .where(or_(Vendor.id.in_(first), Vendor.id == (chosen or 0)))
        .order_by(Vendor.name, Vendor.id)).all()
    listed_rows = [VendorChoice(i, name) for i, name, is_listed in rows if is_listed]
    shown = listed_rows[:VENDOR_CHOICES]
    shown += [VendorChoice(i, name) for i, name, _ in rows
              if i == chosen and VendorChoice(i, name) not in shown]
    return VendorChoices(sorted(shown, key=lambda v: (v.name, v.id)),
                         len(listed_rows) > VENDOR_CHOICES)
