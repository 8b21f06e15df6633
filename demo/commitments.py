"""Demo commitments with schedules of values and change orders in several statuses.

Built through the workflow functions, as a project manager would, so the demo carries a real
Change History. A commitment that already exists (by project and number) is left alone.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import (
    Category,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    Project,
    User,
    Vendor,
)
from workflow.change_orders import (
    ChangeOrderInput,
    LineInput,
    add_line,
    create_change_order,
    review,
)
from workflow.commitments import CommitmentInput, SovInput, add_sov_line, create_commitment

# (number, type, vendor, title, status, [SOV lines], [CCOs])
# SOV line: (description, cost code, category, amount)
# CCO: (title, status, reason, [lines]);
# CCO line: (SOV line number, or (cost code, category) for a new line, description, amount)
DEMO_COMMITMENTS = (
    ("SC-1042", CommitmentType.SUBCONTRACT, "Summit Concrete Co.", "Cast-in-place concrete",
     CommitmentStatus.APPROVED,
     [("Foundations and footings", "03-300", "Subcontract", Decimal("185000.00")),
      ("Slab on grade", "03-300", "Subcontract", Decimal("96500.00")),
      ("Concrete materials allowance", "03-300", "Material", Decimal("42000.00"))],
     [("Added footing at grid C-4", ChangeOrderStatus.APPROVED, "Existing Condition",
       [(1, "Additional footing at C-4", Decimal("4250.00")),
        (1, "Rebar for the added footing", Decimal("1180.00")),
        (("01-500", "Equipment"), "Winter concrete protection", Decimal("2600.00"))]),
      ("Slab depression for the MRI room", ChangeOrderStatus.PENDING_IN_REVIEW,
       "Design Development", [(2, "Depressed slab at MRI suite", Decimal("7800.00"))]),
      ("Credit: sidewalk removed from scope", ChangeOrderStatus.DRAFT, "Owner Change",
       [(2, "Delete site sidewalk", Decimal("-3500.00"))])]),
    ("PO-2001", CommitmentType.PURCHASE_ORDER, "BuildRight Supply Co.",
     "Drywall and framing materials", CommitmentStatus.APPROVED,
     [("Gypsum board", "09-290", "Material", Decimal("38400.00")),
      ("Metal studs and track", "09-290", "Material", Decimal("21750.00"))],
     [("Moisture-resistant board in wet rooms", ChangeOrderStatus.APPROVED, "Design Development",
       [(1, "Upgrade to moisture-resistant board", Decimal("2940.00"))]),
      ("Extra studs for casework backing", ChangeOrderStatus.PENDING_PRICING, "Client Request",
       [(2, "Backing for casework", Decimal("860.00"))])]),
    # Entered in QuickBooks before the app (the sandbox's existing books): link it, do not
    # create a second purchase order.
    ("SC-1044", CommitmentType.SUBCONTRACT, "Ironline Steel Erectors", "Structural steel",
     CommitmentStatus.APPROVED,
     [("Steel erection", "05-120", "Subcontract", Decimal("148000.00")),
      ("Miscellaneous metals", "05-120", "Subcontract", Decimal("23500.00")),
      ("Embeds and anchor bolts", "05-120", "Subcontract", Decimal("6200.00"))], []),
    ("SC-1043", CommitmentType.SUBCONTRACT, "Apex Electrical Services", "Electrical",
     CommitmentStatus.OUT_FOR_SIGNATURE,
     [("Power distribution", "26-050", "Subcontract", Decimal("212000.00")),
      ("Lighting", "26-050", "Subcontract", Decimal("88000.00"))], []),
)


def _by(model, **lookup):
    return db.session.scalar(select(model).filter_by(**lookup))


def seed_commitments(project: Project, manager: User) -> None:
    for number, kind, vendor, title, status, sov, ccos in DEMO_COMMITMENTS:
        if _by(Commitment, project_id=project.id, number=number) is not None:
            continue
        commitment = create_commitment(manager, project, CommitmentInput(
            type=kind, number=number, title=title, vendor_id=_by(Vendor, name=vendor).id,
            status=status))
        sov_lines = [
            add_sov_line(manager, commitment, SovInput(
                description=description, cost_code_id=_by(CostCode, code=code).id,
                category_id=_by(Category, name=category).id, amount=amount))
            for description, code, category, amount in sov
        ]
        for cco_title, cco_status, reason, lines in ccos:
            approve = cco_status == ChangeOrderStatus.APPROVED
            cco = create_change_order(manager, commitment, ChangeOrderInput(
                title=cco_title, change_reason=reason, designated_reviewer_id=manager.id,
                status=ChangeOrderStatus.PENDING_IN_REVIEW if approve else cco_status))
            for target, description, amount in lines:
                if isinstance(target, int):
                    data = LineInput(sov_line_id=sov_lines[target - 1].id,
                                     description=description, amount=amount)
                else:
                    code, category = target
                    data = LineInput(sov_line_id=None, description=description, amount=amount,
                                     cost_code_id=_by(CostCode, code=code).id,
                                     category_id=_by(Category, name=category).id)
                add_line(manager, cco, data)
            if approve:
                review(manager, cco, approve=True, comment="Priced and agreed on site.",
                       version=cco.version)
