"""Who may do what. Every route and workflow function asks here; nothing else decides."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from extensions import db
from models import ErpPermission, Project, ProjectMembership, ProjectRole, User
from workflow.errors import PermissionDenied


def is_company_admin(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.active
                and user.is_company_admin)


# Where roles read in this request are kept (None: not in a request, read every time). The
# blueprints give a per-request dict (blueprints/guards.py), so a page asks the database once
# per project however many rows or buttons check the role (docs/architecture.md).
def _no_cache() -> dict | None:
    return None


_role_cache: Callable[[], dict | None] = _no_cache


def use_role_cache(provider: Callable[[], dict | None]) -> None:
    global _role_cache
    _role_cache = provider


@event.listens_for(Session, "after_flush")
def _forget_roles_on_membership_change(session, _context) -> None:
    """A membership written in this request: the roles read before it are stale."""
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(record, ProjectMembership) for record in changed):
        cache = _role_cache()
        if cache:
            cache.clear()


def project_role(user: User | None, project: Project) -> ProjectRole | None:
    """The user's role on the project; company admins act as project admins everywhere."""
    if user is None or not user.is_authenticated or not user.active:
        return None
    if user.is_company_admin:
        return ProjectRole.ADMIN
    cache = _role_cache()
    key = (user.id, project.id)
    if cache is not None and key in cache:
        return cache[key]
    role = db.session.scalar(
        select(ProjectMembership.role).where(
            ProjectMembership.project_id == project.id, ProjectMembership.user_id == user.id
        )
    )
    if cache is not None:
        cache[key] = role
    return role


def has_project_role(user: User | None, project: Project, needed: ProjectRole) -> bool:
    role = project_role(user, project)
    return role is not None and role.rank >= needed.rank


def require_project_role(user: User | None, project: Project, needed: ProjectRole) -> None:
    if not has_project_role(user, project, needed):
        raise PermissionDenied()


def require_company_admin(user: User | None) -> None:
    if not is_company_admin(user):
        raise PermissionDenied("Only a company admin can do that.")


def _visible_projects_query(user: User):
    query = select(Project).where(Project.active.is_(True))
    if not user.is_company_admin:
        query = query.join(ProjectMembership).where(ProjectMembership.user_id == user.id)
    return query


def visible_projects(user: User) -> list[Project]:
    """Projects the user can open: all for company admins, their memberships otherwise."""
    return list(db.session.scalars(_visible_projects_query(user).order_by(Project.number)))


def visible_projects_page(user: User, after: str | None = None, before: str | None = None):
    """One page of ``visible_projects``, by number (workflow.pages.keyset)."""
    from workflow.pages import keyset

    return keyset(_visible_projects_query(user), (Project.number, Project.id),
                  lambda p: (p.number, p.id), after=after, before=before)


def may_pick_reference(user: User | None) -> bool:
    """May use the Find box of the cost code and vendor selects (blueprints/pickers.py): only
    someone who edits lines somewhere -- a standard or admin member of an active project, or
    a company admin. Someone on no project (or only reading) learns nothing from it."""
    if user is None or not user.is_authenticated or not user.active:
        return False
    if user.is_company_admin:
        return True
    from sqlalchemy import exists

    return bool(db.session.scalar(select(exists().where(
        ProjectMembership.user_id == user.id,
        ProjectMembership.role.in_((ProjectRole.STANDARD, ProjectRole.ADMIN)),
        ProjectMembership.project_id == Project.id, Project.active.is_(True)))))


def can_view_erp(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated
                and user.erp_permission != ErpPermission.NONE)


def is_erp_admin(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated
                and user.erp_permission == ErpPermission.ADMIN)


def is_approver(user: User | None) -> bool:
    """May Accept or Reject in ERP Integrations: standard/admin and Can Push to Accounting."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.active
        and user.erp_permission in (ErpPermission.STANDARD, ErpPermission.ADMIN)
        and user.can_push_to_accounting
    )


PICKER_LIMIT = 100  # the navigation's project picker lists this many; the rest: the Projects page


def picker_projects(user: User, limit: int = PICKER_LIMIT) -> list[Project]:
    """The first ``limit`` projects the user can open, by number (the navigation's picker,
    whose full list is the Projects page)."""
    query = select(Project).where(Project.active.is_(True)).order_by(Project.number, Project.id)
    if not user.is_company_admin:
        query = query.join(ProjectMembership).where(ProjectMembership.user_id == user.id)
    return list(db.session.scalars(query.limit(limit)))
