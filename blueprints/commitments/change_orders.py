"""Commitment change orders: create, the CCO page, header and lines edited in place, review."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from blueprints.commitments import bp
from blueprints.commitments.forms import ChangeOrderForm, ChangeOrderLineForm, ReviewForm
from blueprints.commitments.routes import erp_panel_for, load_commitment
from blueprints.fields import (
    Outcome,
    posted_version,
    record_choices,
    show_workflow_error,
    submit,
    unique_ids,
)
from blueprints.rendering import is_htmx, render, render_partial, row_deleted
from extensions import db
from models import (
    Category,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CostCode,
    ProjectRole,
)
from workflow import history
from workflow.change_orders import (
    ChangeOrderInput,
    LineInput,
    add_line,
    can_edit,
    can_edit_lines,
    can_review,
    create_change_order,
    delete_line,
    eligible_reviewers,
    lines_locked_reason,
    project_people,
    review,
    review_stage,
    reviewers_of,
    update_change_order,
    update_line,
)
from workflow.errors import Gone, WorkflowError

NEW_LINE = "new"


def load_cco(project_id: int, commitment_id: int, cco_id: int) -> ChangeOrder:
    from workflow.change_orders import can_view

    commitment = load_commitment(project_id, commitment_id)
    cco = db.get_or_404(ChangeOrder, cco_id)
    if cco.commitment_id != commitment.id or not can_view(current_user, cco):
        abort(404)  # a private CCO does not reveal that it exists
    return cco


def _cco_form(commitment: Commitment, cco: ChangeOrder | None = None) -> ChangeOrderForm:
    form = unique_ids(ChangeOrderForm(obj=cco) if cco else ChangeOrderForm(), "cco")
    form.editor_statuses(cco.status if cco else None)
    form.designated_reviewer_id.choices = [SelectChoice("", "None")] + [
        SelectChoice(u.id, u.name) for u in eligible_reviewers(commitment)]
    form.viewer_ids.choices = [SelectChoice(u.id, u.name) for u in project_people(commitment)]
    if cco and not form.is_submitted():
        form.status.data = cco.status.value
        form.viewer_ids.data = [v.id for v in cco.viewers]
    return form


def _cco_input(form: ChangeOrderForm) -> ChangeOrderInput:
    return ChangeOrderInput(
        title=form.title.data or "", description=form.description.data or "",
        change_reason=form.change_reason.data or "",
        status=ChangeOrderStatus(form.status.data),
        designated_reviewer_id=form.designated_reviewer_id.data,
        due_date=form.due_date.data, executed=form.executed.data, private=form.private.data,
        viewer_ids=list(form.viewer_ids.data or []),
    )


def _line_form(cco: ChangeOrder, line: ChangeOrderLine | None = None,
               blank: bool = False) -> ChangeOrderLineForm:
    form = ChangeOrderLineForm(formdata=None) if blank else ChangeOrderLineForm(obj=line)
    unique_ids(form, f"cco-line-{line.id}" if line else "cco-line-new")
    form.sov_line_id.choices = [SelectChoice("", "New line (choose cost code + category)")] + [
        SelectChoice(s.id, f"{s.line_number}. {s.description} ({s.cost_code.code} "
                           f"{s.category.name})")
        for s in cco.commitment.sov_lines]
    form.cost_code_id.choices = record_choices(CostCode, CostCode.code, blank="—")
    form.category_id.choices = record_choices(Category, Category.name, blank="—")
    return form


def _line_input(form: ChangeOrderLineForm) -> LineInput:
    return LineInput(sov_line_id=form.sov_line_id.data, description=form.description.data or "",
                     amount=form.amount.data, cost_code_id=form.cost_code_id.data,
                     category_id=form.category_id.data)


def _urls(cco: ChangeOrder) -> dict:
    return {"project_id": cco.commitment.project_id, "commitment_id": cco.commitment_id,
            "cco_id": cco.id}


def _page_context(cco: ChangeOrder, **extra) -> dict:
    commitment = cco.commitment
    return {
        "project": commitment.project, "commitment": commitment, "cco": cco,
        "can_edit": can_edit(current_user, cco), "can_review": can_review(current_user, cco),
        "can_edit_lines": can_edit_lines(current_user, cco),
        "reviewer_name": reviewers_of(cco), "review_stage": review_stage(cco),
        "history": history.history_for(cco),
        "new_line_form": _line_form(cco, blank=True),
        "review_form": unique_ids(ReviewForm(formdata=None, obj=cco), "review"),
        "tool": "commitments", "subject": cco, "panel": erp_panel_for(cco), **extra,
    }


# ---- create ------------------------------------------------------------------------------------

@bp.get("/<int:commitment_id>/change-orders/new")
@login_required
def new_cco(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    return render_template("change_orders/new.html", project=commitment.project,
                           commitment=commitment, form=_cco_form(commitment),
                           tool="commitments")


@bp.post("/<int:commitment_id>/change-orders")
@login_required
def create_cco(project_id: int, commitment_id: int):
    commitment = load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _cco_form(commitment)
    outcome = submit(form, lambda: create_change_order(current_user, commitment,
                                                       _cco_input(form)))
    if outcome.ok:
        return redirect(url_for("commitments.show_cco", **_urls(outcome.value)), 303)
    return render_template("change_orders/new.html", project=commitment.project,
                           commitment=commitment, form=form,
                           tool="commitments"), outcome.status


# ---- the CCO page and its header ---------------------------------------------------------------

@bp.get("/<int:commitment_id>/change-orders/<int:cco_id>")
@login_required
def show_cco(project_id: int, commitment_id: int, cco_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    return render_template("change_orders/show.html", **_page_context(cco))


@bp.get("/<int:commitment_id>/change-orders/<int:cco_id>/header")
@login_required
def cco_header(project_id: int, commitment_id: int, cco_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    if request.args.get("edit"):
        load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
        return _header_form(cco, _cco_form(cco.commitment, cco))
    if not is_htmx():
        return redirect(url_for("commitments.show_cco", **_urls(cco)))
    return render_partial("change_orders/_header.html", **_page_context(cco))


def _header_form(cco, form, status=200):
    return render("change_orders/edit.html", "change_orders/_header_form.html", status=status,
                  **_page_context(cco, form=form))


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>")
@login_required
def update_cco(project_id: int, commitment_id: int, cco_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _cco_form(cco.commitment, cco)
    outcome = submit(form, lambda: update_change_order(current_user, cco, _cco_input(form),
                                                       form.version.data), refresh=cco)
    if outcome.ok:
        if not is_htmx():
            return redirect(url_for("commitments.show_cco", **_urls(cco)), 303)
        db.session.refresh(cco)
        return render_partial("change_orders/_header.html", **_page_context(cco),
                              oob_review=True)
    return _header_form(cco, form, outcome.status)


# ---- lines -------------------------------------------------------------------------------------

def _line(cco: ChangeOrder, line_id: int) -> ChangeOrderLine:
    line = db.get_or_404(ChangeOrderLine, line_id)
    if line.change_order_id != cco.id:
        abort(404)
    return line


def _lines_response(cco, partial, status=200, **context):
    db.session.refresh(cco)
    context = {**_page_context(cco), **context}
    if not is_htmx():
        if status >= 400:
            return render("change_orders/line_edit.html", status=status, body_partial=partial,
                          **context)
        return redirect(url_for("commitments.show_cco", **_urls(cco)) + "#lines", 303)
    return render_partial(partial, status=status, oob_total=True, **context)


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/lines")
@login_required
def add_cco_line(project_id: int, commitment_id: int, cco_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    form = _line_form(cco)
    outcome = submit(form, lambda: add_line(current_user, cco, _line_input(form)))
    if outcome.ok:
        return _lines_response(cco, "change_orders/_line_added.html", line=outcome.value,
                               new_line_form=_line_form(cco, blank=True))
    return _lines_response(cco, "change_orders/_line_new.html", status=outcome.status,
                           new_line_form=form, form=form)


@bp.get("/<int:commitment_id>/change-orders/<int:cco_id>/lines/<int:line_id>")
@login_required
def cco_line_row(project_id: int, commitment_id: int, cco_id: int, line_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    line = _line(cco, line_id)
    if request.args.get("edit"):
        load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
        form = _line_form(cco, line)
        if line.sov_line_id is None:
            form.sov_line_id.data = None
        locked = lines_locked_reason(cco)
        if locked:  # say so now, not after they have typed their change
            form.form_errors.append(locked)
            return _line_form_response(cco, line, form, 409)
        return _line_form_response(cco, line, form)
    if not is_htmx():
        return redirect(url_for("commitments.show_cco", **_urls(cco)) + "#lines")
    return render_partial("change_orders/_line_row.html", **_page_context(cco), line=line)


def _line_form_response(cco, line, form, status=200):
    return render("change_orders/line_edit.html", "change_orders/_line_row_form.html",
                  status=status, body_partial="change_orders/_line_row_form.html",
                  **_page_context(cco), line=line, form=form)


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/lines/<int:line_id>")
@login_required
def update_cco_line(project_id: int, commitment_id: int, cco_id: int, line_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    line = _line(cco, line_id)
    form = _line_form(cco, line)
    outcome = submit(form, lambda: update_line(current_user, line, _line_input(form),
                                               form.version.data), refresh=line)
    if outcome.ok:
        return _lines_response(cco, "change_orders/_line_row.html", line=line)
    return _line_form_response(cco, line, form, outcome.status)


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/lines/<int:line_id>/delete")
@login_required
def delete_cco_line(project_id: int, commitment_id: int, cco_id: int, line_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    load_commitment(project_id, commitment_id, ProjectRole.STANDARD)
    line = _line(cco, line_id)
    form = _line_form(cco, line)  # the row's edit form, posted with the version it showed
    try:
        delete_line(current_user, line, posted_version())
    except Gone:  # someone deleted it first: what the user asked for is done
        db.session.rollback()
    except WorkflowError as error:
        db.session.rollback()
        db.session.refresh(line)
        return _line_form_response(cco, line, form, show_workflow_error(form, error))
    return row_deleted(_lines_response(cco, "change_orders/_line_deleted.html"))


# ---- review ------------------------------------------------------------------------------------

@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/review")
@login_required
def review_cco(project_id: int, commitment_id: int, cco_id: int):
    cco = load_cco(project_id, commitment_id, cco_id)
    form = unique_ids(ReviewForm(), "review")
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        form.form_errors.append("Choose Approve or Reject.")
        outcome = Outcome(False, status=422)
    else:
        outcome = submit(form, lambda: review(
            current_user, cco, approve=decision == "approve", comment=form.comment.data or "",
            version=form.version.data), refresh=cco)
    if outcome.ok:
        return redirect(url_for("commitments.show_cco", **_urls(cco)), 303)
    return render("change_orders/show.html", "change_orders/_review.html",
                  status=outcome.status, **_page_context(cco, review_form=form))
