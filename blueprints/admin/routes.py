"""Admin: users, projects and their members, vendors, cost codes, categories."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from blueprints.admin import bp
from blueprints.admin.forms import (
    CategoryForm,
    CostCodeForm,
    MemberForm,
    ProjectForm,
    UserForm,
    VendorForm,
)
from blueprints.guards import company_admin_required
from blueprints.rendering import (
    field_errors,
    is_htmx,
    paged_at,
    redirect_after_post,
    render,
    render_partial,
)
from extensions import db
from models import (
    Category,
    CostCode,
    ErpPermission,
    Project,
    ProjectRole,
    User,
    Vendor,
)
from workflow.errors import InvalidInput, PermissionDenied
from workflow.people import (
    UserSettings,
    create_user,
    issue_reset_link,
    set_user_active,
    update_user,
    users_page,
)
from workflow.reference import (
    members_page,
    reference_page,
    remove_member,
    save_reference,
    set_member,
)


@dataclass(frozen=True)
class ReferenceKind:
    """One kind of reference data, listed and edited the same way."""

    slug: str
    title: str
    singular: str
    model: type
    form: type
    fields: tuple[str, ...]
    order_by: str


REFERENCE_KINDS = {
    kind.slug: kind
    for kind in (
        ReferenceKind("projects", "Projects", "project", Project, ProjectForm,
                      ("number", "name", "qbo_doc_prefix"), "number"),
        ReferenceKind("vendors", "Vendors", "vendor", Vendor, VendorForm, ("name",), "name"),
        ReferenceKind("cost-codes", "Cost codes", "cost code", CostCode, CostCodeForm,
                      ("code", "description"), "code"),
        ReferenceKind("categories", "Categories", "category", Category, CategoryForm,
                      ("name",), "name"),
    )
}


@bp.get("/")
@company_admin_required
def index():
    return render_template("admin/index.html", kinds=REFERENCE_KINDS.values(), tool="admin")


# ---- users -----------------------------------------------------------------------------------

def _settings(form: UserForm) -> UserSettings:
    return UserSettings(
        email=form.email.data or "",
        name=form.name.data or "",
        is_company_admin=form.is_company_admin.data,
        erp_permission=ErpPermission(form.erp_permission.data),
        can_push_to_accounting=form.can_push_to_accounting.data,
        active=form.active.data,
    )


def _cursor() -> dict:
    return {"after": request.args.get("after"), "before": request.args.get("before")}


def _users_page(form: UserForm, status: int = 200, partial: str = "admin/_user_form.html"):
    """The users page; for htmx ``partial`` alone (the form, or the list when paging)."""
    paged_at("admin.users")
    page = users_page(**_cursor())
    return render("admin/users.html", partial, status=status, users=page.rows, listing=page,
                  form=form, user=None, tool="admin")


@bp.get("/users")
@company_admin_required
def users():
    return _users_page(UserForm(), partial="admin/_users.html")


@bp.post("/users")
@company_admin_required
def create_user_route():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(current_user, _settings(form))
        except InvalidInput as error:
            field_errors(form, error.errors)
        else:
            flash(f"Created {user.name}.", "success")
            return _user_page(user, reset_link=_reset_link(user))
    return _users_page(form, status=422)


def _user_page(user: User, status: int = 200, **context):
    form = UserForm(obj=user, formdata=None)
    form.erp_permission.data = user.erp_permission.value
    return render_template("admin/user.html", form=form, user=user, tool="admin",
                           **context), status


def _reset_link(user: User) -> str | None:
    """A one-time link for the user to set their password, or None if the admin may not."""
    try:
        token = issue_reset_link(current_user, user)
    except PermissionDenied:
        return None
    from workflow.notifications import public_url

    # From PUBLIC_URL, never from the request's Host or scheme (a forged Host header must not
    # put the link on another site).
    return f"{public_url()}/auth/reset/{token}"


@bp.post("/users/<int:user_id>/reset-link")
@company_admin_required
def reset_link(user_id: int):
    user = db.get_or_404(User, user_id)
    link = _reset_link(user)
    if link is None:
        from workflow.people import RESET_LINK_REFUSED

        return _user_page(user, 403, reset_refused=RESET_LINK_REFUSED)
    return _user_page(user, reset_link=link)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@company_admin_required
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user)
    if form.is_submitted():
        if form.validate():
            granted = form.can_push_to_accounting.data and not user.can_push_to_accounting
            try:
                update_user(current_user, user, _settings(form))
            except InvalidInput as error:
                db.session.rollback()
                field_errors(form, error.errors)
            else:
                flash(f"Saved {user.name}.", "success")
                if granted:
                    from workflow.people import PUSH_GRANTED_NOTE

                    flash(PUSH_GRANTED_NOTE, "info")
                    return redirect_after_post(url_for("admin.edit_user", user_id=user.id))
                return redirect_after_post(url_for("admin.users"))
        return render("admin/user.html", "admin/_user_form.html", status=422,
                      form=form, user=user, tool="admin")
    form.erp_permission.data = user.erp_permission.value
    return render("admin/user.html", "admin/_user_form.html", form=form, user=user, tool="admin")


@bp.post("/users/<int:user_id>/deactivate")
@company_admin_required
def deactivate_user(user_id: int):
    return _set_active(user_id, active=False)


@bp.post("/users/<int:user_id>/reactivate")
@company_admin_required
def reactivate_user(user_id: int):
    return _set_active(user_id, active=True)


def _set_active(user_id: int, active: bool):
    user = db.get_or_404(User, user_id)
    try:
        set_user_active(current_user, user, active)
    except InvalidInput as error:
        flash(error.errors["active"], "error")
    else:
        flash(f"{user.name} is {'active' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.users"), 303)


# ---- projects, vendors, cost codes, categories --------------------------------------------------

def _kind(slug: str) -> ReferenceKind:
    kind = REFERENCE_KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


def _records(kind: ReferenceKind) -> dict:
    """One page of the kind's records, as the list's context."""
    paged_at("admin.reference_list", slug=kind.slug)
    page = reference_page(kind.model, kind.order_by, **_cursor())
    return {"records": page.rows, "listing": page}


@bp.get("/<slug>")
@company_admin_required
def reference_list(slug: str):
    kind = _kind(slug)
    return render("admin/reference.html", "admin/_reference_list.html", kind=kind,
                  form=kind.form(), tool="admin", **_records(kind))


@bp.post("/<slug>")
@company_admin_required
def reference_create(slug: str):
    kind = _kind(slug)
    form = kind.form()
    if form.validate_on_submit():
        try:
            record = save_reference(current_user, kind.model, None, _values(kind, form))
        except InvalidInput as error:
            field_errors(form, error.errors)
        else:
            flash(f"Added {kind.singular} {record.label}.", "success")
            return redirect(url_for("admin.reference_list", slug=slug), 303)
    return render("admin/reference.html", "admin/_reference_create.html", status=422,
                  kind=kind, form=form, tool="admin", **_records(kind))


@bp.get("/<slug>/<int:record_id>")
@company_admin_required
def reference_row(slug: str, record_id: int):
    """One row, read-only (htmx 'Cancel') or as an inline edit form (?edit=1)."""
    kind = _kind(slug)
    record = db.get_or_404(kind.model, record_id)
    if request.args.get("edit"):
        return render("admin/reference_edit.html", "admin/_reference_row_form.html", kind=kind,
                      record=record, form=kind.form(obj=record), tool="admin")
    if not is_htmx():
        return redirect(url_for("admin.reference_list", slug=slug))
    return render_partial("admin/_reference_row.html", kind=kind, record=record)


@bp.post("/<slug>/<int:record_id>")
@company_admin_required
def reference_update(slug: str, record_id: int):
    kind = _kind(slug)
    record = db.get_or_404(kind.model, record_id)
    form = kind.form()
    if form.validate_on_submit():
        try:
            save_reference(current_user, kind.model, record, _values(kind, form))
        except InvalidInput as error:
            db.session.rollback()
            field_errors(form, error.errors)
        else:
            if not is_htmx():
                flash(f"Saved {kind.singular} {record.label}.", "success")
                return redirect(url_for("admin.reference_list", slug=slug), 303)
            return render_partial("admin/_reference_row.html", kind=kind, record=record)
    return render("admin/reference_edit.html", "admin/_reference_row_form.html", status=422,
                  kind=kind, record=record, form=form, tool="admin")


def _values(kind: ReferenceKind, form) -> dict:
    values = {name: getattr(form, name).data for name in kind.fields}
    values["active"] = form.active.data
    return values


# ---- project members -------------------------------------------------------------------------

def _member_form(project: Project) -> MemberForm:
    form = MemberForm()
    form.user_id.choices = [
        SelectChoice(u.id, f"{u.name} ({u.email})")
        for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
    ]
    return form


def _members_page(project: Project, form: MemberForm, status: int = 200):
    paged_at("admin.members", project_id=project.id)
    page = members_page(project, **_cursor())
    return render("admin/members.html", "admin/_members.html", status=status,
                  project=project, memberships=page.rows, listing=page, form=form,
                  tool="admin")


@bp.get("/projects/<int:project_id>/members")
@company_admin_required
def members(project_id: int):
    project = db.get_or_404(Project, project_id)
    return _members_page(project, _member_form(project))


@bp.post("/projects/<int:project_id>/members")
@company_admin_required
def set_member_route(project_id: int):
    project = db.get_or_404(Project, project_id)
    form = _member_form(project)
    if not form.validate_on_submit():
        return _members_page(project, form, status=422)
    user = db.get_or_404(User, form.user_id.data)
    set_member(current_user, project, user, ProjectRole(form.role.data))
    return _members_page(project, _member_form(project))


@bp.post("/projects/<int:project_id>/members/<int:user_id>/remove")
@company_admin_required
def remove_member_route(project_id: int, user_id: int):
    project = db.get_or_404(Project, project_id)
    user = db.get_or_404(User, user_id)
    form = _member_form(project)
    try:
        remove_member(current_user, project, user)
    except InvalidInput as error:
        form.form_errors.append(error.errors["user"])
        return _members_page(project, form, status=422)
    return _members_page(project, form)
