"""Change events: numbering, edits, line items, the tool switch, and "Create Commitment CO".

A line item feeds at most one *live* CCO (one whose status is not Void). That rule is a query
(``live_cco_lines``, in change_orders.py, which also checks it when a Void CCO comes back):
voiding the CCO or deleting its CCO line frees the item with no hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeEventScope,
    ChangeEventStatus,
    ChangeEventType,
    ChangeOrder,
    ChangeOrderLine,
    Commitment,
    CommitmentStatus,
    Project,
    ProjectRole,
    User,
    Vendor,
)
from workflow import history
from workflow.change_orders import (
    CHANGE_REASONS,
    HIDDEN_CCO,
    ChangeOrderInput,
    can_view,
    create_change_order,
    live_cco_lines,
    lock_change_event_items,
    used_on_message,
    with_change_order,
)
from workflow.errors import Gone, InvalidInput, Locked
from workflow.locking import check_version, committing
from workflow.numbering import next_number
from workflow.permissions import has_project_role, require_project_role
from workflow.reference import NOT_OFFERED, cost_code_and_category, may_choose

ZERO = Decimal("0.00")
TITLE_MAX = 255
TOOL_OFF = "The Change Events tool is turned off for this project."

CE_LABELS = {"title": "Title", "status": "Status", "scope": "Scope", "type": "Type",
             "change_reason": "Change reason", "description": "Description"}
LINE_LABELS = {"cost_code": "Cost code", "category": "Category", "vendor": "Vendor",
               "commitment": "Commitment", "description": "Description",
               "cost_rom": "Cost ROM", "latest_cost": "Latest cost"}


@dataclass
class ChangeEventInput:
    title: str
    status: ChangeEventStatus = ChangeEventStatus.OPEN
    scope: ChangeEventScope = ChangeEventScope.TBD
    type: ChangeEventType = ChangeEventType.TBD
    change_reason: str = ""
    description: str = ""


@dataclass
class LineItemInput:
    cost_code_id: int | None
    category_id: int | None
    description: str
    cost_rom: Decimal
    latest_cost: Decimal | None = None
    vendor_id: int | None = None
    commitment_id: int | None = None


@dataclass(frozen=True)
class Totals:
    cost_rom: Decimal
    latest_cost: Decimal


# ---- the tool switch ---------------------------------------------------------------------------

def require_tool(project: Project) -> None:
    if not project.change_events_enabled:
        raise Locked(TOOL_OFF)


def set_tool_enabled(actor: User, project: Project, enabled: bool) -> Project:
    """A project admin turns the Change Events tool on or off for the project."""
    require_project_role(actor, project, ProjectRole.ADMIN)
    if project.change_events_enabled != enabled:
        project.change_events_enabled = enabled
        history.record(actor, project, "changed", field="Change Events tool",
                       old=not enabled, new=enabled)
    db.session.commit()
    return project


COMMITMENT_CO_FIELD = "Commitment CO"


def _load_referenced_ccos(events) -> None:
    """Read the CCOs a page of history refers to in one statement (``history.referenced``
    then finds each in the session instead of asking again)."""
    ids = {e.ref_id for e in events if e.ref_type == "change_order" and e.ref_id}
    if ids:
        db.session.scalars(select(ChangeOrder).where(ChangeOrder.id.in_(ids))
                           .options(selectinload(ChangeOrder.viewers),
                                    joinedload(ChangeOrder.commitment))).all()


def history_for(ce: ChangeEvent, viewer: User, before: int | None = None,
                limit: int | None = None) -> list:
    """The change event's history as ``viewer`` may see it: a private CCO it records is not
    named to someone who cannot view that CCO. ``before``/``limit``: one page of it."""
    sees_all = has_project_role(viewer, ce.project, ProjectRole.ADMIN)
    shown = []
    events = history.history_for(ce, before, limit)
    _load_referenced_ccos(events)
    for event in events:
        reference = history.referenced(event)
        # No CCO on record (an event from before references were kept, whose CCO could not be
        # found): fail closed.
        hidden = event.field == COMMITMENT_CO_FIELD and not sees_all and (
            not isinstance(reference, ChangeOrder) or not can_view(viewer, reference))
        shown.append(history.masked(event, new_value=HIDDEN_CCO[0].upper() + HIDDEN_CCO[1:],
                                    ref_type=None, ref_id=None) if hidden
                     else history.with_words(event, reference))
    return shown


# ---- queries -----------------------------------------------------------------------------------

def totals_by_change_event(ids: list[int]) -> dict[int, Totals]:
    if not ids:
        return {}
    from sqlalchemy import bindparam

    rows = db.session.execute(
        select(ChangeEventLine.change_event_id,
               func.coalesce(func.sum(ChangeEventLine.cost_rom), 0),
               func.coalesce(func.sum(ChangeEventLine.latest_cost), 0))
        # one parameter for the ids: the statement is built and cached, not per id
        .where(ChangeEventLine.change_event_id.in_(bindparam("ids", expanding=True)))
        .group_by(ChangeEventLine.change_event_id), {"ids": list(ids)}).all()
    found = {ce_id: Totals(Decimal(rom).quantize(Decimal("0.01")),
                           Decimal(latest).quantize(Decimal("0.01")))
             for ce_id, rom, latest in rows}
    return {i: found.get(i, Totals(ZERO, ZERO)) for i in ids}


def list_totals(project: Project, *, status: ChangeEventStatus | None = None,
                scope: ChangeEventScope | None = None,
                vendor_id: int | None = None) -> tuple[int, Totals]:
    """How many of the project's change events the list's filters match, and their ROM and
    latest cost (the list's totals row, whatever page is shown), in one statement that reads
    the few list totals rows of these filters (models/list_totals.py), whatever the size."""
    from models import ANY_VENDOR
    from models.list_totals import change_event_list_totals as rows

    where = [rows.c.project_id == project.id,
             rows.c.vendor_id == (ANY_VENDOR if vendor_id is None else vendor_id)]
    if status is not None:
        where.append(rows.c.status == status.value)
    if scope is not None:
        where.append(rows.c.scope == scope.value)
    count, rom, latest = db.session.execute(select(
        *(func.coalesce(func.sum(rows.c[name]), 0)
          for name in ("records", "cost_rom", "latest_cost"))).where(*where)).one()
    return int(count), Totals((Decimal(int(rom)) / 100).quantize(Decimal("0.01")),
                              (Decimal(int(latest)) / 100).quantize(Decimal("0.01")))


def totals(ce: ChangeEvent) -> Totals:
    """The change event's ROM and latest cost. In the answer of a save that just wrote its
    share of the list's totals (models/list_totals.py, ``keep_shares``), from that share: the
    same sums, kept in integer cents, not read again."""
    from models.list_totals import CHANGE_EVENTS, kept_share

    share = kept_share(CHANGE_EVENTS, ce.id)
    if share is not None:
        rom, latest = (Decimal(int(cents)) / 100 for cents in share.amounts)
        return Totals(rom.quantize(Decimal("0.01")), latest.quantize(Decimal("0.01")))
    return totals_by_change_event([ce.id])[ce.id]


def sum_totals(all_totals) -> Totals:
    items = list(all_totals)
    return Totals(sum((t.cost_rom for t in items), ZERO), sum((t.latest_cost for t in items), ZERO))


def ccos_from(user: User, ce: ChangeEvent) -> list[tuple[ChangeOrder, Decimal]]:
    """The CCOs made from this change event's items that ``user`` may see, with the amount."""
    amounts: dict[int, Decimal] = {}
    ccos: dict[int, ChangeOrder] = {}
    for line in db.session.scalars(
            select(ChangeOrderLine).join(ChangeEventLine,
                                         ChangeOrderLine.change_event_line_id == ChangeEventLine.id)
            .where(ChangeEventLine.change_event_id == ce.id)
            .options(*with_change_order()).order_by(ChangeOrderLine.id)):
        cco = line.change_order
        if can_view(user, cco):
            ccos[cco.id] = cco
            amounts[cco.id] = amounts.get(cco.id, ZERO) + line.amount
    return [(cco, amounts[cco.id]) for cco in ccos.values()]


def filtered_change_events(project: Project, *, status: ChangeEventStatus | None = None,
                           scope: ChangeEventScope | None = None, vendor_id: int | None = None):
    """The project's change events narrowed by the list's filters (None: not filtered; a
    vendor: events with a line item for it), as a query with no order: the list reads it a
    keyset page at a time (workflow/pages.py)."""
    query = select(ChangeEvent).where(ChangeEvent.project_id == project.id)
    if status is not None:
        query = query.where(ChangeEvent.status == status)
    if scope is not None:
        query = query.where(ChangeEvent.scope == scope)
    if vendor_id is not None:
        query = query.where(ChangeEvent.id.in_(
            select(ChangeEventLine.change_event_id).where(ChangeEventLine.vendor_id == vendor_id)))
    return query


def selectable_items(project: Project, *, vendor_id: int | None = None,
                     commitment_id: int | None = None):
    """The line items a Commitment CO can be made from: those of the project's change events
    that are not Void, narrowed by vendor or commitment (None: not filtered), as a query with
    no order (the selection page reads it a keyset page at a time, workflow/pages.py)."""
    query = (select(ChangeEventLine).join(ChangeEvent)
             .where(ChangeEvent.project_id == project.id,
                    ChangeEvent.status != ChangeEventStatus.VOID))
    if vendor_id is not None:
        query = query.where(ChangeEventLine.vendor_id == vendor_id)
    if commitment_id is not None:
        query = query.where(ChangeEventLine.commitment_id == commitment_id)
    return query


COMMITMENT_CHOICES = 100  # a select of commitments lists at most this many (and the chosen one)


def commitment_choices(project: Project, *, approved_only: bool = False,
                       vendor_ids=None, chosen: int | None = None) -> tuple[list[Commitment], bool]:
    """The commitments a select offers, by number: the project's (Approved ones only: those a
    CCO can be written on now), of ``vendor_ids`` when given (an item's commitment is its
    vendor's), at most COMMITMENT_CHOICES and the ``chosen`` one; and whether there are more.
    One statement, however many commitments the project has."""
    query = select(Commitment).where(Commitment.project_id == project.id)
    if approved_only:
        query = query.where(Commitment.status == CommitmentStatus.APPROVED)
    if vendor_ids:
        query = query.where(Commitment.vendor_id.in_(sorted(vendor_ids)))
    first = (query.order_by(Commitment.number, Commitment.id).limit(COMMITMENT_CHOICES + 1)
             .with_only_columns(Commitment.id))
    wanted = Commitment.id.in_(first)
    if chosen:
        wanted = wanted | ((Commitment.id == chosen) & (Commitment.project_id == project.id))
    rows = list(db.session.scalars(select(Commitment).where(wanted)
                                   .options(selectinload(Commitment.vendor))
                                   .order_by(Commitment.number, Commitment.id)))
    more = len([c for c in rows if c.id != chosen]) > COMMITMENT_CHOICES
    if more:
        extra = [c for c in rows if c.id != chosen][COMMITMENT_CHOICES:]
        rows = [c for c in rows if c not in extra]
    return rows, more


# ---- change events -----------------------------------------------------------------------------

def _validate_ce(data: ChangeEventInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not title:
        errors["title"] = "Enter a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Use at most {TITLE_MAX} characters."
    if data.change_reason and data.change_reason not in CHANGE_REASONS:
        errors["change_reason"] = "Choose a change reason from the list."
    return errors


def create_change_event(actor: User, project: Project, data: ChangeEventInput) -> ChangeEvent:
    require_project_role(actor, project, ProjectRole.STANDARD)
    require_tool(project)
    errors = _validate_ce(data)
    if errors:
        raise InvalidInput(errors)
    number = next_number(project, "last_change_event_number", ChangeEvent.number,
                         ChangeEvent.project_id)
    ce = ChangeEvent(project=project, number=number, title=data.title.strip(),
                     status=data.status, scope=data.scope, type=data.type,
                     change_reason=data.change_reason, description=data.description.strip(),
                     created_by=actor, updated_by=actor)
    history.record_created(actor, ce, f"CE #{ce.number} {ce.title}")
    return ce


def update_change_event(actor: User, ce: ChangeEvent, data: ChangeEventInput,
                        version: int | None) -> ChangeEvent:
    require_project_role(actor, ce.project, ProjectRole.STANDARD)
    require_tool(ce.project)
    check_version(ce, version)
    errors = _validate_ce(data)
    if errors:
        raise InvalidInput(errors)
    history.commit_changes(actor, ce, ce, {
        "title": data.title.strip(), "status": data.status, "scope": data.scope,
        "type": data.type, "change_reason": data.change_reason,
        "description": data.description.strip(),
    }, CE_LABELS)
    return ce


def _sentence(text: str) -> str:
    """End with one full stop, even after a name such as "Summit Concrete Co."."""
    return text if text.endswith(".") else text + "."


# ---- line items --------------------------------------------------------------------------------

def _validate_line(ce: ChangeEvent, data: LineItemInput, line: ChangeEventLine | None = None):
    """``line``: the item being edited, which may keep its own cost code, category and vendor
    even if deactivated since (workflow/reference.py, ``may_choose``)."""
    errors: dict[str, str] = {}
    cost_code, category = cost_code_and_category(data, errors, line=line)
    if not data.description.strip():
        errors["description"] = "Enter a description."
    vendor = db.session.get(Vendor, data.vendor_id) if data.vendor_id else None
    if data.vendor_id and vendor is None:
        errors["vendor_id"] = "Choose a vendor."
    elif vendor is not None and not may_choose(vendor, line.vendor_id if line else None):
        errors["vendor_id"] = NOT_OFFERED
    commitment = db.session.get(Commitment, data.commitment_id) if data.commitment_id else None
    if data.commitment_id and (commitment is None or commitment.project_id != ce.project_id):
        errors["commitment_id"] = "Choose a commitment of this project."
    elif commitment is not None:
        if vendor is None and not data.vendor_id:
            vendor = commitment.vendor
        elif vendor is not None and vendor.id != commitment.vendor_id:
            errors["commitment_id"] = _sentence(f"{commitment.number} is with "
                                                f"{commitment.vendor.name}, not {vendor.name}")
    return errors, cost_code, category, vendor, commitment


def add_line_item(actor: User, ce: ChangeEvent, data: LineItemInput) -> ChangeEventLine:
    require_project_role(actor, ce.project, ProjectRole.STANDARD)
    require_tool(ce.project)
    errors, cost_code, category, vendor, commitment = _validate_line(ce, data)
    if errors:
        raise InvalidInput(errors)
    number = (db.session.scalar(select(func.max(ChangeEventLine.line_number))
                                .where(ChangeEventLine.change_event_id == ce.id)) or 0) + 1
    line = ChangeEventLine(change_event=ce, line_number=number, cost_code=cost_code,
                           category=category, vendor=vendor, commitment=commitment,
                           description=data.description.strip(), cost_rom=data.cost_rom,
                           latest_cost=data.latest_cost, updated_by=actor)
    history.record_added(actor, ce, line, f"Line {number}",
                         f"{line.description}: ROM {data.cost_rom:,.2f}", touching=(ce,))
    return line


def update_line_item(actor: User, line: ChangeEventLine, data: LineItemInput,
                     version: int | None) -> ChangeEventLine:
    ce = line.change_event
    require_project_role(actor, ce.project, ProjectRole.STANDARD)
    require_tool(ce.project)
    check_version(line, version)
    errors, cost_code, category, vendor, commitment = _validate_line(ce, data, line)
    if errors:
        raise InvalidInput(errors)
    history.commit_changes(actor, ce, line, {
        "cost_code": cost_code, "category": category, "vendor": vendor,
        "commitment": commitment, "description": data.description.strip(),
        "cost_rom": data.cost_rom, "latest_cost": data.latest_cost,
    }, LINE_LABELS, prefix=f"Line {line.line_number} ")
    return line


def delete_line_item(actor: User, line: ChangeEventLine, version: int | None) -> None:
    ce = line.change_event
    require_project_role(actor, ce.project, ProjectRole.STANDARD)
    require_tool(ce.project)
    # Serialised with "Create Commitment CO" on this item, so a CCO line made meanwhile is
    # seen here (and refuses the delete) rather than silently losing its link.
    lock_change_event_items([line.id])
    if db.session.get(ChangeEventLine, line.id, populate_existing=True) is None:
        raise Gone()
    check_version(line, version, deleting=True)
    used = live_cco_lines([line.id]).get(line.id)
    if used is not None:
        raise InvalidInput({"line": used_on_message(line, used, actor).replace(
            " is already on ", " is on ") + " Delete that CCO line or void the CCO first."})
    with committing(line, deleting=True):
        history.record(actor, ce, "changed", field=f"Line {line.line_number}",
                       old=f"{line.description}: ROM {line.cost_rom:,.2f}", new="deleted")
        db.session.delete(line)  # the database unlinks CCO lines of void CCOs (SET NULL)
        history.touch(actor, ce)


# ---- "Create Commitment CO" --------------------------------------------------------------------

def _item_problem(actor: User, item: ChangeEventLine, commitment: Commitment,
                  live: dict[int, ChangeOrderLine]) -> str | None:
    ce = item.change_event
    if ce.project_id != commitment.project_id:
        return "Choose line items of this project's change events."
    if ce.status == ChangeEventStatus.VOID:
        return f"{item.label} belongs to a Void change event."
    if item.id in live:
        return used_on_message(item, live[item.id], actor)
    if item.vendor_id is not None and item.vendor_id != commitment.vendor_id:
        return _sentence(f"{item.label} is for {item.vendor.name}, but {commitment.number} is "
                         f"with {commitment.vendor.name}")
    if item.commitment_id is not None and item.commitment_id != commitment.id:
        return f"{item.label} is for {item.commitment.number}, not {commitment.number}."
    return None


def _cco_header(items: list[ChangeEventLine]) -> ChangeOrderInput:
    events: list[ChangeEvent] = []
    for item in items:
        if item.change_event not in events:
            events.append(item.change_event)
    title = "; ".join(ce.title for ce in events)
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX - 1] + "…"
    reason = events[0].change_reason if events[0].change_reason in CHANGE_REASONS else ""
    numbers = ", ".join(f"CE #{ce.number}" for ce in events)
    return ChangeOrderInput(title=title, change_reason=reason,
                            description=f"From {numbers}.")


def create_commitment_co(actor: User, commitment: Commitment,
                         line_ids: list[int]) -> ChangeOrder:
    """A Draft CCO on ``commitment`` with one line per selected change event line item.

    One transaction: every rule is checked before anything is written, and a refusal leaves
    the database as it was. The items are write-locked first (PostgreSQL and SQLite), so two
    people making a CCO from the same item at once get one CCO and one clear refusal.
    """
    project = commitment.project
    require_project_role(actor, project, ProjectRole.STANDARD)
    require_tool(project)
    ids = sorted(set(line_ids))
    if not ids:
        raise InvalidInput({"line_ids": "Choose at least one line item."})
    lock_change_event_items(ids)
    items = list(db.session.scalars(
        select(ChangeEventLine).where(ChangeEventLine.id.in_(ids))
        .order_by(ChangeEventLine.id).execution_options(populate_existing=True)))
    if len(items) != len(ids):
        raise InvalidInput({"line_ids": "Choose line items of this project's change events."})
    items.sort(key=lambda i: (i.change_event.number, i.line_number))
    live = live_cco_lines(ids)
    problems = [p for p in (_item_problem(actor, i, commitment, live) for i in items) if p]
    if problems:
        raise InvalidInput({"line_ids": " ".join(dict.fromkeys(problems))})

    cco = create_change_order(actor, commitment, _cco_header(items), commit=False)
    sov_by_key = {}
    for sov in commitment.sov_lines:
        sov_by_key.setdefault((sov.cost_code_id, sov.category_id), sov)
    touched: dict[int, list[str]] = {}
    for item in items:
        sov = sov_by_key.get((item.cost_code_id, item.category_id))
        line = ChangeOrderLine(
            change_order=cco, sov_line=sov, cost_code_own=None if sov else item.cost_code,
            category_own=None if sov else item.category, description=item.description,
            amount=item.cco_amount, change_event_line=item, updated_by=actor)
        db.session.add(line)
        history.record(actor, cco, "changed", field="Line added",
                       new=f"{item.description}: {item.cco_amount:,.2f}",
                       comment=f"from {item.label}")
        touched.setdefault(item.change_event_id, []).append(str(item.line_number))
    for item in items:
        numbers = touched.pop(item.change_event_id, None)
        if numbers:
            history.record(actor, item.change_event, "changed", field=COMMITMENT_CO_FIELD,
                           refers_to=cco,
                    comment=f"line{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}")
    db.session.commit()
    return cco


def vendors_of(project: Project, chosen: int | None = None):
    """The list's vendor filter: the vendors on the project's line items by name, a bounded
    number of them (workflow/pages.py:vendor_choices), and the one chosen."""
    from models.list_totals import change_event_list_totals
    from workflow.pages import vendor_choices

    return vendor_choices(change_event_list_totals, project.id, chosen)
