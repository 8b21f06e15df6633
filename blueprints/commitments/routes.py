"""Commitments tool: the list, a commitment's page, its header and its schedule of values."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from blueprints.commitments import bp
from blueprints.commitments.forms import CommitmentForm, SovLineForm
from blueprints.fields import (
    enum_or_none,
    parse_id,
    posted_version,
    record_choices,
    show_workflow_error,
    submit,
    unique_ids,
)
from blueprints.guards import load_project
from blueprints.rendering import is_htmx, render, render_partial, row_deleted
from extensions import db
from models import (
    STATUSES_BY_TYPE,
    Category,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    ProjectRole,
    SovLine,
    Vendor,
)
from workflow import history
from workflow.change_orders import visible_change_orders
from workflow.commitments import (
    CommitmentInput,
    SovInput,
    add_sov_line,
    allowed_change_order_actions,
    create_commitment,
    delete_sov_line,
    filtered_commitments,
    sum_totals,
    totals,
    totals_by_commitment,
    update_commitment,
    update_sov_line,
    waits_for_approval,
)
from workflow.errors import Gone, WorkflowError
from workflow.permissions import has_project_role


def load_commitment(project_id: int, commitment_id: int,
                    needed: ProjectRole = ProjectRole.READ_ONLY) -> Commitment:
    project = load_project(project_id, needed)
    commitment = db.get_or_404(Commitment, commitment_id)
    if commitment.project_id != project.id:
        abort(404)
    return commitment


def _commitment_form(commitment: Commitment | None = None) -> CommitmentForm:
    form = CommitmentForm(obj=commitment) if commitment else CommitmentForm()
    unique_ids(form, "commitment")
    form.vendor_id.choices = record_choices(Vendor, Vendor.name,
                                            keep_id=commitment.vendor_id if commitment else None)
    if commitment and not form.is_submitted():
        form.type.data = commitment.type.value
        form.status.data = commitment.status.value
    return form


def _sov_form(line: SovLine | None = None, blank: bool = False) -> SovLineForm:
    """The form for a line (edit), the posted new line, or a blank new line (``blank``)."""
    form = SovLineForm(formdata=None) if blank else SovLineForm(obj=line)
    unique_ids(form, f"sov-{line.id}" if line else "sov-new")
    form.cost_code_id.choices = record_choices(CostCode, CostCode.code,
                                               keep_id=line.cost_code_id if line else None)
    form.category_id.choices = record_choices(Category, Category.name,
                                              keep_id=line.category_id if line else None)
    return form


def _commitment_input(form: CommitmentForm) -> CommitmentInput:
    return CommitmentInput(type=CommitmentType(form.type.data), number=form.number.data or "",
                           title=form.title.data or "", vendor_id=form.vendor_id.data,
                           status=CommitmentStatus(form.status.data),
                           description=form.description.data or "")


def _sov_input(form: SovLineForm) -> SovInput:
    return SovInput(description=form.description.data or "",
                    cost_code_id=form.cost_code_id.data, category_id=form.category_id.data,
                    amount=form.amount.data)


def _can_edit(project) -> bool:
    return has_project_role(current_user, project, ProjectRole.STANDARD)


# ---- list --------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index(project_id: int):
    project = load_project(project_id)
    filters = {k: request.args.get(k, "") for k in ("type", "status", "vendor")}
    query = filtered_commitments(
        project, type=enum_or_none(CommitmentType, filters["type"]),
        status=enum_or_none(CommitmentStatus, filters["status"]),
        # an id that names no record matches nothing
        vendor_id=(parse_id(filters["vendor"]) or 0) if filters["vendor"] else None)
    commitments = db.session.scalars(query).all()
    by_id = totals_by_commitment([c.id for c in commitments], current_user)
    vendors = db.session.scalars(select(Vendor).order_by(Vendor.name)).all()
    return render("commitments/index.html", "commitments/_list.html", project=project,
                  commitments=commitments, totals=by_id, grand=sum_totals(by_id.values()),
                  filters=filters, vendors=vendors, types=list(CommitmentType),
                  statuses=list(CommitmentStatus), can_edit=_can_edit(project),
                  tool="commitments")


# ---- create ------------------------------------------------------------------------------------

@bp.get("/new")
@login_required
def new(project_id: int):
    project = load_project(project_id, ProjectRole.STANDARD)
    form = _commitment_form()
    form.type.data = request.args.get("type", CommitmentType.SUBCONTRACT.value)
    return render_template("commitments/new.html", project=project, form=form,
                           tool="commitments")


@bp.post("/")
@login_required
def create(project_id: int):
    project = load_project(project_id, ProjectRole.STANDARD)
    form = _commitment_form()
    outcome = submit(form, lambda: create_commitment(current_user, project,
                                                     _commitment_input(form)))
    if outcome.ok:
        return redirect(url_for("commitments.show", project_id=project.id,
                                commitment_id=outcome.value.id), 303)
    return render_template("commitments/new.html", project=project, form=form,
                           tool="commitments"), outcome.status


# ---- one commitment ----------------------------------------------------------------------------

def erp_panel_for(subject):
    """The ERP panel's context for a commitment or a CCO (blueprints/commitments/erp_panel)."""
    from blueprints.commitments.erp_panel import panel_for

    return panel_for(subject)


# What each action the workflow allows on the Change Orders card is called, and where it goes.
CCO_ACTIONS = {
    "new_cco": ("New change order", "commitments.new_cco",
                lambda c: {"project_id": c.project_id, "commitment_id": c.id}, True),
    "from_change_event": ("From a change event", "change_events.commitment_co",
                          lambda c: {"project_id": c.project_id, "commitment": c.id}, False),
}


@dataclass(frozen=True)
class PageAction:
    name: str
    label: str
    endpoint: str
    url: str
    primary: bool


def _cco_actions(commitment: Commitment, can_edit: bool) -> list[PageAction]:
    actions = []
    for name in allowed_change_order_actions(commitment, can_edit):
        label, endpoint, arguments, primary = CCO_ACTIONS[name]
        actions.append(PageAction(name, label, endpoint, url_for(endpoint, **arguments(commitment)),
                                  primary))
    return actions


def _page_context(commitment: Commitment) -> dict:
    project = commitment.project
    can_edit = _can_edit(project)
    return {
        "project": project, "commitment": commitment,
        "totals": totals(commitment, current_user),
        "change_orders": visible_change_orders(current_user, commitment),
        "history": history.history_for(commitment), "can_edit": can_edit,
        "cco_actions": _cco_actions(commitment, can_edit),
        "ccos_wait_for_approval": waits_for_approval(commitment, can_edit),
        "new_line_form": _sov_form(blank=True), "tool": "commitments",
        "statuses_by_type": STATUSES_BY_TYPE,
        "subject": commitment, "panel": erp_panel_for(commitment),
    }


@bp.get("/<int:commitment_id>")
@login_required
def show(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id)
    return render_template("commitments/show.html", **_page_context(commitment))


@bp.get("/<int:commitment_id>/edit")
@login_required
def edit(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    return render("commitments/edit.html", "commitments/_header_form.html",
                  commitment=commitment, project=commitment.project,
                  form=_commitment_form(commitment), tool="commitments")


@bp.post("/<int:commitment_id>")
@login_required
def update(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _commitment_form(commitment)
    outcome = submit(form, lambda: update_commitment(
        current_user, commitment, _commitment_input(form), form.version.data),
        refresh=commitment)
    if outcome.ok:
        if not is_htmx():
            return redirect(url_for("commitments.show", project_id=project_id,
                                    commitment_id=commitment.id), 303)
        return render_partial("commitments/_header.html", **_page_context(commitment))
    return render("commitments/edit.html", "commitments/_header_form.html",
                  status=outcome.status,
                  commitment=commitment, project=commitment.project, form=form,
                  tool="commitments")


@bp.get("/<int:commitment_id>/header")
@login_required
def header(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id)
    if not is_htmx():
        return redirect(url_for("commitments.show", project_id=project_id,
                                commitment_id=commitment_id))
    return render_partial("commitments/_header.html", **_page_context(commitment))


# ---- schedule of values ------------------------------------------------------------------------

def _sov_line(commitment: Commitment, line_id: int) -> SovLine:
    line = db.get_or_404(SovLine, line_id)
    if line.commitment_id != commitment.id:
        abort(404)
    return line


def _sov_response(commitment, partial, status=200, **context):
    """A row (or the new-line form) plus the totals, swapped out of band, for htmx."""
    db.session.refresh(commitment)
    context = {"project": commitment.project, "commitment": commitment,
               "totals": totals(commitment, current_user),
               "can_edit": _can_edit(commitment.project),
               **context}
    if not is_htmx():
        if status >= 400:
            return render("commitments/sov_edit.html", status=status, tool="commitments",
                          body_partial=partial, **context)
        return redirect(url_for("commitments.show", project_id=commitment.project_id,
                                commitment_id=commitment.id) + "#sov", 303)
    return render_partial(partial, status=status, oob_totals=True, **context)


@bp.post("/<int:commitment_id>/sov")
@login_required
def add_sov(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _sov_form()
    outcome = submit(form, lambda: add_sov_line(current_user, commitment, _sov_input(form)))
    if outcome.ok:
        return _sov_response(commitment, "commitments/_sov_added.html", line=outcome.value,
                             new_line_form=_sov_form(blank=True))
    return _sov_response(commitment, "commitments/_sov_new.html", status=outcome.status,
                         new_line_form=form, form=form)


@bp.get("/<int:commitment_id>/sov/<int:line_id>")
@login_required
def sov_row(project_id: int, commitment_id: int, line_id: int):
    commitment = load_commitment(project_id, commitment_id)
    line = _sov_line(commitment, line_id)
    if request.args.get("edit"):
        load_project(project_id, ProjectRole.STANDARD)
        return _edit_row(commitment, line, _sov_form(line))
    if not is_htmx():
        return redirect(url_for("commitments.show", project_id=project_id,
                                commitment_id=commitment_id) + "#sov")
    return render_partial("commitments/_sov_row.html", commitment=commitment, line=line,
                          can_edit=_can_edit(commitment.project))


def _edit_row(commitment, line, form, status=200):
    context = {"commitment": commitment, "project": commitment.project, "line": line,
               "form": form}
    return render("commitments/sov_edit.html", "commitments/_sov_row_form.html", status=status,
                  body_partial="commitments/_sov_row_form.html", tool="commitments", **context)


@bp.post("/<int:commitment_id>/sov/<int:line_id>")
@login_required
def update_sov(project_id: int, commitment_id: int, line_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    line = _sov_line(commitment, line_id)
    form = _sov_form(line)
    outcome = submit(form, lambda: update_sov_line(current_user, line, _sov_input(form),
                                                   form.version.data), refresh=line)
    if outcome.ok:
        return _sov_response(commitment, "commitments/_sov_row.html", line=line)
    return _edit_row(commitment, line, form, outcome.status)


@bp.post("/<int:commitment_id>/sov/<int:line_id>/delete")
@login_required
def delete_sov(project_id: int, commitment_id: int, line_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    line = _sov_line(commitment, line_id)
    form = _sov_form(line)  # the row's edit form, posted with the version it showed
    try:
        delete_sov_line(current_user, line, posted_version())
    except Gone:  # someone deleted it first: what the user asked for is done
        db.session.rollback()
    except WorkflowError as error:
        db.session.rollback()
        db.session.refresh(line)
        status = show_workflow_error(form, error)
        return _edit_row(commitment, line, form, status)
    return row_deleted(_sov_response(commitment, "commitments/_sov_deleted.html"))
