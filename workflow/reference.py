"""Reference data: projects and their members, vendors, cost codes, categories."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Category, CostCode, Project, ProjectMembership, ProjectRole, User, Vendor
from workflow.errors import InvalidInput
from workflow.permissions import require_company_admin

# For each kind: the model, the field that must be unique, and the message when it is not.
UNIQUE_FIELDS = {
    Project: ("number", "Another project already has this number."),
    Vendor: ("name", "Another vendor already has this name."),
    CostCode: ("code", "Another cost code already has this code."),
    Category: ("name", "Another category already has this name."),
}


def save_reference(actor: User, model: type, record, values: dict):
    """Create (``record`` None) or update a project, vendor, cost code or category."""
    require_company_admin(actor)
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if "qbo_doc_prefix" in values:
        values["qbo_doc_prefix"] = values["qbo_doc_prefix"] or ""
    field, message = UNIQUE_FIELDS[model]
    column = getattr(model, field)
    clash = db.session.scalar(
        select(model).where(func.lower(column) == values[field].lower())
    )
    if clash is not None and clash is not record:
        raise InvalidInput({field: message})
    if record is None:
        record = model(**values)
        db.session.add(record)
    else:
        for key, value in values.items():
            setattr(record, key, value)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent save took the same value first
        db.session.rollback()
        raise InvalidInput({field: message}) from None
    return record


NOT_OFFERED = "Not a valid choice."  # a select's word for a value it does not offer (WTForms)


def may_choose(record, keep_id: int | None = None) -> bool:
    """Whether a form may name this reference record (a vendor, cost code or category): an
    active one, or the one the record being edited already has (``keep_id``), even if it was
    deactivated since — what the selects offer (``offered``). The one rule for every save."""
    return record.active or record.id == keep_id


def cost_code_and_category(data, errors: dict[str, str], missing: str = "Choose a {}.",
                           line=None) -> tuple[CostCode | None, Category | None]:
    """A line's cost code and category, read from ``data``'s ids; a missing one is an error
    on its field (``missing`` filled with "cost code" or "category"), and so is a deactivated
    one unless it is the edited ``line``'s own (``may_choose``)."""
    chosen = []
    for model, field, noun in ((CostCode, "cost_code_id", "cost code"),
                               (Category, "category_id", "category")):
        record_id = getattr(data, field)
        record = db.session.get(model, record_id) if record_id else None
        if record is None:
            errors[field] = missing.format(noun)
        elif not may_choose(record, getattr(line, field, None)):
            errors[field] = NOT_OFFERED
        chosen.append(record)
    return chosen[0], chosen[1]


def set_member(actor: User, project: Project, user: User, role: ProjectRole) -> ProjectMembership:
    """Add the user to the project with this role, or change their role."""
    require_company_admin(actor)
    membership = db.session.scalar(
        select(ProjectMembership).where(
            ProjectMembership.project_id == project.id, ProjectMembership.user_id == user.id
        )
    )
    if membership is None:
        membership = ProjectMembership(project=project, user=user, role=role)
        db.session.add(membership)
    else:
        membership.role = role
    db.session.commit()
    return membership


def remove_member(actor: User, project: Project, user: User) -> None:
    require_company_admin(actor)
    membership = db.session.scalar(
        select(ProjectMembership).where(
            ProjectMembership.project_id == project.id, ProjectMembership.user_id == user.id
        )
    )
    if membership is None:
        raise InvalidInput({"user": f"{user.name} is not a member of this project."})
    db.session.delete(membership)
    db.session.commit()


def reference_page(model: type, order_by: str, after: str | None = None,
                   before: str | None = None):
    """One page of a kind of reference data by its ``order_by`` field (workflow.pages.keyset)."""
    from workflow.pages import keyset

    column = getattr(model, order_by)
    return keyset(select(model), (column, model.id),
                  lambda r: (getattr(r, order_by), r.id), after=after, before=before)


def members_page(project: Project, after: str | None = None, before: str | None = None):
    """One page of a project's members with their users, by name (workflow.pages.keyset)."""
    from sqlalchemy.orm import contains_eager

    from workflow.pages import keyset

    query = (select(ProjectMembership).join(ProjectMembership.user)
             .where(ProjectMembership.project_id == project.id)
             .options(contains_eager(ProjectMembership.user)))
    return keyset(query, (User.name, User.id), lambda m: (m.user.name, m.user.id),
                  after=after, before=before)


# ---- what a select of reference records offers -------------------------------------------------

OFFERED = 100  # options in a select of vendors or cost codes: a page costs the same with any number


def offered(model: type, order, keep_ids=(), active_ids=(),
            limit: int = OFFERED) -> tuple[list, bool]:
    """The records a select offers, in ``order``: the first ``limit`` active ones, those in
    ``keep_ids`` (a line's own, even if deactivated since) and the active ones in
    ``active_ids`` (one just chosen with Find), in one statement; and whether more active ones
    exist (the select then offers Find)."""
    from sqlalchemy import and_, or_

    first = (select(model.id).where(model.active.is_(True)).order_by(order, model.id)
             .limit(limit + 1))
    keep = sorted({i for i in keep_ids if isinstance(i, int)})
    found = sorted({i for i in active_ids if isinstance(i, int)})
    rows = db.session.execute(
        select(model, model.id.in_(first).label("first"))
        .where(or_(model.id.in_(first), model.id.in_(keep),
                   and_(model.id.in_(found), model.active.is_(True))))
        .order_by(order, model.id)).all()
    listed = [record for record, is_first in rows if is_first]
    shown = listed[:limit]
    wanted = set(keep) | set(found)  # even the one just past the first ``limit``
    shown += [record for record in (r for r, _ in rows)
              if record.id in wanted and record not in shown]
    return sorted(shown, key=lambda r: (getattr(r, order.key), r.id)), len(listed) > limit


def find(model: type, order, columns, text: str, limit: int = OFFERED) -> list:
    """Active records whose ``columns`` contain ``text`` (any case), the first ``limit`` in
    ``order`` (a select's search)."""
    from sqlalchemy import or_

    words = text.strip().lower()
    query = select(model).where(model.active.is_(True))
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in columns)))
    return list(db.session.scalars(query.order_by(order, model.id).limit(limit)))
