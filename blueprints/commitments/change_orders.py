"""Commitment change orders: create, the CCO page, header and lines edited in place, review."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from blueprints.commitments import bp
from blueprints.commitments.erp_panel import panel_for
from blueprints.commitments.forms import ChangeOrderForm, ChangeOrderLineForm, ReviewForm
from blueprints.commitments.loading import load_cco, load_commitment
from blueprints.fields import Outcome, keep_records, submit, unique_ids
from blueprints.line_editor import LineKind
from blueprints.rendering import history_page, is_htmx, render, render_partial
from extensions import db
from models import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    ProjectRole,
    SovLine,
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

NEW_LINE = "new"


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


def _urls(cco: ChangeOrder) -> dict:
    return {"project_id": cco.commitment.project_id, "commitment_id": cco.commitment_id,
            "cco_id": cco.id}


def _page_context(cco: ChangeOrder, loaded: bool = False, **extra) -> dict:
    """``loaded``: the CCO was read for its page (``load_cco(page=True)``)."""
    from workflow.pages import change_order_page

    if not loaded:
        cco = change_order_page(cco)
    return {
        **CCO_LINES.row_context(cco),
        "can_edit": can_edit(current_user, cco),
        "new_line_form": CCO_LINES.form(cco, blank=True),
        "subject": cco, "panel": panel_for(cco),  # "withdrawal" comes with the row context
        **history_page(lambda before, limit: history.history_for(cco, before, limit)), **extra,
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
    cco = load_cco(project_id, commitment_id, cco_id, page=True)
    return render_template("change_orders/show.html", **_page_context(cco, loaded=True))


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

class ChangeOrderLines(LineKind):
    """The lines of a CCO, edited in place."""

    rule = "/<int:commitment_id>/change-orders/<int:cco_id>/lines"
    endpoints = {"add": "add_cco_line", "row": "cco_line_row", "update": "update_cco_line",
                 "delete": "delete_cco_line", "show": "show_cco"}
    line_model, parent_key, form_class = ChangeOrderLine, "change_order_id", ChangeOrderLineForm
    form_prefix, row_prefix, new_form_id = "cco-line", "cco-line", "cco-line-new"
    table_id, table_class, anchor, columns = "cco-lines-table", "cco-lines", "#lines", 6
    cells, fields = "change_orders/_line_cells.html", "change_orders/_line_fields.html"
    totals, page, tool = ("change_orders/_grand_total.html", "change_orders/line_edit.html",
                          "commitments")
    numbered = False
    add, update = staticmethod(add_line), staticmethod(update_line)
    delete = staticmethod(delete_line)

    line_options = (joinedload(ChangeOrderLine.sov_line).joinedload(SovLine.cost_code),
                    joinedload(ChangeOrderLine.sov_line).joinedload(SovLine.category),
                    joinedload(ChangeOrderLine.cost_code_own),
                    joinedload(ChangeOrderLine.category_own))

    def load_parent(self, args, needed):
        cco = load_cco(args["project_id"], args["commitment_id"], args["cco_id"])
        if needed != ProjectRole.READ_ONLY:
            load_commitment(args["project_id"], args["commitment_id"], needed)
        return cco

    def load_for_save(self, args):
        """The CCO read once with its commitment and lines, the line saved among them
        (workflow/pages.py, ``CCO_SAVE``); 404 as ``load_cco`` says."""
        from flask import abort

        from blueprints.guards import keep_loaded, load_project
        from workflow.change_orders import can_view
        from workflow.pages import CCO_SAVE

        project = load_project(args["project_id"], ProjectRole.STANDARD)
        cco = db.session.execute(
            select(ChangeOrder).join(ChangeOrder.commitment)
            .where(ChangeOrder.id == args["cco_id"],
                   ChangeOrder.commitment_id == args["commitment_id"],
                   Commitment.project_id == project.id)
            .options(*CCO_SAVE)).unique().scalar_one_or_none()
        if cco is None:
            abort(404)
        keep_loaded(cco.commitment, "project", project)
        if not can_view(current_user, cco):
            abort(404)  # a private CCO does not reveal that it exists
        return cco

    def url_args(self, cco):
        return _urls(cco)

    def fill_choices(self, form, cco, line):
        from sqlalchemy import inspect

        if "sov_lines" not in inspect(cco.commitment).unloaded:  # read with the page
            sov_lines = cco.commitment.sov_lines
        else:  # kept for the request: the save that checks the chosen line finds it read
            sov_lines = keep_records(db.session.scalars(
                select(SovLine).where(SovLine.commitment_id == cco.commitment_id)
                .options(joinedload(SovLine.cost_code), joinedload(SovLine.category))
                .order_by(SovLine.line_number)).all())
        form.sov_line_id.choices = [
            SelectChoice("", "New line (choose cost code + category)")] + [
            SelectChoice(s.id, f"{s.line_number}. {s.description} ({s.cost_code.code} "
                               f"{s.category.name})")
            for s in sov_lines]
        self.code_and_category_choices(form, line, blank="—")

    def to_input(self, form):
        return LineInput(sov_line_id=form.sov_line_id.data,
                         description=form.description.data or "", amount=form.amount.data,
                         cost_code_id=form.cost_code_id.data, category_id=form.category_id.data)

    def context(self, cco, line):
        commitment = cco.commitment
        return {"project": commitment.project, "commitment": commitment, "cco": cco,
                "can_edit_lines": can_edit_lines(current_user, cco),
                # the grand total brings the review box along: it carries the CCO's version
                "can_review": can_review(current_user, cco), "reviewer_name": reviewers_of(cco),
                "review_stage": review_stage(cco), "withdrawal": cco.last_withdrawal(),
                "review_form": unique_ids(ReviewForm(formdata=None, obj=cco), "review")}

    def saved_context(self, cco):
        from sqlalchemy import inspect

        from workflow.pages import change_order_page

        if "lines" in inspect(cco).unloaded:  # the panel's checks read every line: at once
            cco = change_order_page(cco)
        return {"subject": cco, "panel": panel_for(cco), "oob_state": True}

    def opened(self, form, cco, line):
        if line.sov_line_id is None:
            form.sov_line_id.data = None
        locked = lines_locked_reason(cco)
        if locked:  # say so now, not after they have typed their change
            form.form_errors.append(locked)
            return 409
        return 200


CCO_LINES = ChangeOrderLines(bp)


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
