"""The demo company: what the quick start shows. Running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from extensions import db
from models import (
    DEFAULT_CATEGORIES,
    Category,
    CostCode,
    ErpPermission,
    Project,
    ProjectMembership,
    ProjectRole,
    User,
    Vendor,
)

DEMO_PASSWORD = "changeorder-demo"  # noqa: S105  (printed for the demo; not a secret)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str
    password: str
    is_company_admin: bool = False
    erp_permission: ErpPermission = ErpPermission.NONE
    can_push_to_accounting: bool = False
    project_role: ProjectRole | None = None


DEMO_USERS = (
    DemoLogin("Company admin", "admin@example.com", "Dana Whitfield", DEMO_PASSWORD,
              is_company_admin=True, erp_permission=ErpPermission.ADMIN,
              can_push_to_accounting=True),
    DemoLogin("Project manager (project admin)", "pm@example.com", "Pat Morgan", DEMO_PASSWORD,
              erp_permission=ErpPermission.READ_ONLY, project_role=ProjectRole.ADMIN),
    DemoLogin("Accounting approver", "approver@example.com", "Alex Chen", DEMO_PASSWORD,
              erp_permission=ErpPermission.STANDARD, can_push_to_accounting=True,
              project_role=ProjectRole.READ_ONLY),
    DemoLogin("Superintendent (standard)", "super@example.com", "Sam Ortiz", DEMO_PASSWORD,
              project_role=ProjectRole.STANDARD),
    DemoLogin("Read-only viewer", "viewer@example.com", "Riley Brooks", DEMO_PASSWORD,
              erp_permission=ErpPermission.READ_ONLY, project_role=ProjectRole.READ_ONLY),
)

DEMO_PROJECTS = (
    ("2024-015", "Riverside Medical Office Building"),
    ("2024-022", "Harbor Point Parking Structure"),
)

# Names match the built-in QuickBooks sandbox's demo company (qbo_sandbox/demo_company.py).
DEMO_VENDORS = (
    "Summit Concrete Co.",
    "Apex Electrical Services",
    "Ironline Steel Erectors",
    "BuildRight Supply Co.",
)

DEMO_COST_CODES = (
    ("01-500", "Temporary facilities"),
    ("03-300", "Cast-in-place concrete"),
    ("05-120", "Structural steel framing"),
    ("09-290", "Gypsum board"),
    ("26-050", "Common work results for electrical"),
)


def _get_or_create(model, lookup: dict, **values):
    record = db.session.scalar(select(model).filter_by(**lookup))
    if record is None:
        record = model(**lookup, **values)
        db.session.add(record)
        db.session.flush()
    return record


def seed_demo() -> list[DemoLogin]:
    """Create the demo company's reference data and people; keep whatever already exists."""
    for name in DEFAULT_CATEGORIES:
        _get_or_create(Category, {"name": name})
    for code, description in DEMO_COST_CODES:
        _get_or_create(CostCode, {"code": code}, description=description)
    for name in DEMO_VENDORS:
        _get_or_create(Vendor, {"name": name})
    projects = [_get_or_create(Project, {"number": n}, name=name) for n, name in DEMO_PROJECTS]

    for login in DEMO_USERS:
        user = db.session.scalar(select(User).filter_by(email=login.email))
        if user is None:
            user = User(email=login.email, name=login.name,
                        is_company_admin=login.is_company_admin,
                        erp_permission=login.erp_permission,
                        can_push_to_accounting=login.can_push_to_accounting)
            user.set_password(login.password)
            db.session.add(user)
            db.session.flush()
        if login.project_role is not None:
            for project in projects:
                _get_or_create(ProjectMembership, {"project_id": project.id, "user_id": user.id},
                               role=login.project_role)
    db.session.commit()

    from demo.commitments import seed_commitments

    manager = db.session.scalar(select(User).filter_by(email="pm@example.com"))
    seed_commitments(projects[0], manager)

    from demo.change_events import seed_change_events

    seed_change_events(projects[0], manager)
    return list(DEMO_USERS)


def seed_quickbooks() -> str | None:
    """Connect the demo to the built-in QuickBooks sandbox (see demo/quickbooks.py)."""
    from demo.quickbooks import seed_quickbooks as seed

    return seed()
