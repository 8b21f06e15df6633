"""Route decorators and loaders that refuse early: login, company admin, project role."""

from __future__ import annotations

from functools import wraps

from flask import Flask, abort, has_request_context, request
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, select

from extensions import db
from models import Project, ProjectMembership, ProjectRole
from workflow import permissions
from workflow.permissions import has_project_role, is_company_admin


def _request_roles() -> dict | None:
    """The project roles read in this request (the environ lives exactly as long as it)."""
    if not has_request_context():
        return None
    return request.environ.setdefault("changeorder.project_roles", {})


def register_role_cache(app: Flask) -> None:
    permissions.use_role_cache(_request_roles)


def company_admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_company_admin(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


# The project and the user's membership role on it, in one statement built once.
_PROJECT_AND_ROLE = (
    select(Project, ProjectMembership.role)
    .outerjoin(ProjectMembership, and_(ProjectMembership.project_id == Project.id,
                                       ProjectMembership.user_id == bindparam("user_id")))
    .where(Project.id == bindparam("project_id")))


def load_project(project_id: int, needed: ProjectRole = ProjectRole.READ_ONLY) -> Project:
    """The project, if the current user holds at least ``needed`` on it (404 if it is unknown).
    A member's role is read with the project and kept for the request (workflow/permissions)."""
    user = current_user
    roles = _request_roles()
    if (roles is None or not user.is_authenticated or user.is_company_admin
            or (user.id, project_id) in roles):
        project = db.get_or_404(Project, project_id)
    else:
        row = db.session.execute(_PROJECT_AND_ROLE,
                                 {"user_id": user.id, "project_id": project_id}).first()
        if row is None:
            abort(404)
        project, roles[(user.id, project_id)] = row
    if not has_project_role(current_user, project, needed):
        abort(403)
    return project


def keep_loaded(record, relationship: str, target) -> None:
    """``record.<relationship>`` is ``target``, which the guard has just read: set as loaded,
    with nothing to flush. The session holds records only while something refers to them, so
    without this the page would read the project (or commitment) a second time."""
    from sqlalchemy.orm.attributes import set_committed_value

    set_committed_value(record, relationship, target)
