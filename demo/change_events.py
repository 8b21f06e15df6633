"""Demo change events with line items ready to become a commitment change order.

Built through the workflow functions, as a project manager would. A change event that already
exists (by project and title) is left alone, so running the seed twice changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import (
    Category,
    ChangeEvent,
    ChangeEventScope,
    ChangeEventStatus,
    ChangeEventType,
    Commitment,
    CostCode,
    Project,
    User,
    Vendor,
)
from workflow.change_events import (
    ChangeEventInput,
    LineItemInput,
    add_line_item,
    create_change_event,
)

# (title, status, scope, type, reason, description, [items])
# item: (description, cost code, category, vendor, commitment or None, ROM, latest cost or None)
DEMO_CHANGE_EVENTS = (
    ("Rock at footing C-4", ChangeEventStatus.OPEN, ChangeEventScope.OUT_OF_SCOPE,
     ChangeEventType.EXISTING_CONDITION, "Existing Condition",
     "Excavation hit rock 1.2 m above the geotechnical report at grid C-4.",
     [("Rock excavation at the C-4 footing", "03-300", "Subcontract", "Summit Concrete Co.",
       "SC-1042", Decimal("3800.00"), Decimal("4150.00")),
      ("Concrete for the deepened footing", "03-300", "Material", "Summit Concrete Co.",
       "SC-1042", Decimal("1200.00"), None),
      ("Rock hammer rental, 3 days", "01-500", "Equipment", "Summit Concrete Co.", None,
       Decimal("950.00"), Decimal("875.00"))]),
    ("Owner adds EV chargers in the garage", ChangeEventStatus.PENDING,
     ChangeEventScope.OUT_OF_SCOPE, ChangeEventType.OWNER_CHANGE, "Owner Change",
     "Four level-2 chargers on P1, per the owner's email of 3 March.",
     [("EV charger circuits (4)", "26-050", "Subcontract", "Apex Electrical Services",
       "SC-1043", Decimal("6400.00"), Decimal("6980.00")),
      ("Housekeeping pads for the chargers", "03-300", "Subcontract", "Summit Concrete Co.",
       "SC-1042", Decimal("1150.00"), None)]),
)


def _by(model, **lookup):
    return db.session.scalar(select(model).filter_by(**lookup))


def seed_change_events(project: Project, manager: User) -> None:
    for title, status, scope, kind, reason, description, items in DEMO_CHANGE_EVENTS:
        if _by(ChangeEvent, project_id=project.id, title=title) is not None:
            continue
        ce = create_change_event(manager, project, ChangeEventInput(
            title=title, status=status, scope=scope, type=kind, change_reason=reason,
            description=description))
        for text, code, category, vendor, number, rom, latest in items:
            commitment = _by(Commitment, project_id=project.id, number=number) if number else None
            add_line_item(manager, ce, LineItemInput(
                cost_code_id=_by(CostCode, code=code).id,
                category_id=_by(Category, name=category).id, description=text, cost_rom=rom,
                latest_cost=latest, vendor_id=_by(Vendor, name=vendor).id,
                commitment_id=commitment.id if commitment else None))
