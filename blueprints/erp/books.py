"""Starting from real books: link a commitment to a PurchaseOrder already in QuickBooks,
import PurchaseOrders as commitments, unlink (workflow/books.py does the work)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from blueprints.erp import bp
from blueprints.fields import parse_id
from extensions import db
from models import ChangeOrder, Commitment, ErpStatus, Project, Vendor
from workflow import books, kinds
from workflow.errors import AlreadyHandled, InvalidInput, Locked, PermissionDenied
from workflow.permissions import is_erp_admin

ADVICE_CCO = ("Remove this CCO's lines and amount changes from the PurchaseOrder in QuickBooks "
              "first. Unlinking writes nothing to QuickBooks: the CCO goes back to Not Sent, "
              "editable, and its next export checks what QuickBooks then holds.")
ADVICE_COMMITMENT = ("For a PurchaseOrder deleted or replaced in QuickBooks. Unlinking writes "
                     "nothing to QuickBooks: the commitment can then be linked again or "
                     "exported anew; its Synced CCOs are unlinked with it.")
ADVICE_ELSEWHERE = ("Its PurchaseOrder is in another QuickBooks company. Unlinking writes nothing "
                    "to QuickBooks and the old Id stays in the history: the commitment can then "
                    "be sent to this company (a new PurchaseOrder) or linked to one of its "
                    "purchase orders; its Synced CCOs are unlinked with it and sent after it.")


def commitment_url(commitment: Commitment) -> str:
    return url_for("commitments.show", project_id=commitment.project_id,
                   commitment_id=commitment.id) + "#erp"


def cco_url(cco: ChangeOrder) -> str:
    return url_for("commitments.show_cco", project_id=cco.commitment.project_id,
                   commitment_id=cco.commitment_id, cco_id=cco.id) + "#erp"


def action_urls(subject) -> dict[str, str]:
    """Where the ERP panel's Link and Unlink go (blueprints/commitments/erp_panel.py); none
    for a kind other than commitments and CCOs (workflow/books.py:books_actions)."""
    name = kinds.of(subject).name
    if name == "change_order":
        return {"unlink": url_for("erp.unlink_cco", cco_id=subject.id)}
    if name == "commitment":
        return {"link": url_for("erp.link", commitment_id=subject.id),
                "unlink": url_for("erp.unlink_commitment", commitment_id=subject.id)}
    return {}


def linked_doc_number(subject) -> str | None:
    """The DocNumber of the PurchaseOrder a commitment is linked to, until it is Synced (not
    one of another QuickBooks company: the panel says that instead)."""
    from quickbooks_online.company import elsewhere
    from quickbooks_online.links import link_of

    if (kinds.of(subject).name != "commitment" or subject.erp_status == ErpStatus.SYNCED
            or elsewhere(subject)):
        return None
    link = link_of(subject)
    return (link.get("doc_number") or link["po"]) if link else None


def advice(subject) -> str:
    from quickbooks_online.company import elsewhere

    name = kinds.of(subject).name
    if name == "commitment" and elsewhere(subject):
        return ADVICE_ELSEWHERE
    return {"commitment": ADVICE_COMMITMENT, "change_order": ADVICE_CCO}.get(name, "")


def _require_erp_admin() -> None:
    if not is_erp_admin(current_user):
        abort(403)


# ---- link --------------------------------------------------------------------------------------

def _matches_from_form(commitment: Commitment) -> list[tuple[int, str]]:
    """(SOV line id, PO line Id) for every ``line-<SOV line id>`` field posted; a field posted
    twice is passed on twice (the workflow refuses an SOV line matched twice)."""
    matches = []
    for key in request.form:
        if not key.startswith("line-"):
            continue
        sov_id = parse_id(key.removeprefix("line-"))
        for value in request.form.getlist(key):
            matches.append((sov_id or 0, value.strip()))
    return matches


@bp.get("/books/commitments/<int:commitment_id>/link")
@login_required
def link(commitment_id: int):
    """Choose one of the vendor's PurchaseOrders, then match its lines to the SOV lines."""
    _require_erp_admin()
    commitment = db.get_or_404(Commitment, commitment_id)
    po_id = (request.args.get("po") or "").strip()
    try:
        if po_id:
            summary = books.read_for_link(current_user, commitment, po_id)
            return render_template("erp/link.html", tool="erp", commitment=commitment,
                                   summary=summary, errors={},
                                   chosen=books.suggested_matches(commitment, summary.lines))
        offered = books.linkable_purchase_orders(current_user, commitment)
    except InvalidInput as error:
        return render_template("erp/link.html", tool="erp", commitment=commitment,
                               offered=None, error=" ".join(error.errors.values())), 422
    except Locked as error:  # not linkable now (already linked, sent, vendor not linked …)
        return render_template("erp/link.html", tool="erp", commitment=commitment,
                               offered=None, error=error.message)
    return render_template("erp/link.html", tool="erp", commitment=commitment, offered=offered)


@bp.post("/books/commitments/<int:commitment_id>/link")
@login_required
def link_post(commitment_id: int):
    _require_erp_admin()
    commitment = db.get_or_404(Commitment, commitment_id)
    po_id = request.form.get("po", "")
    matches = _matches_from_form(commitment)
    try:
        books.link(current_user, commitment, po_id, matches)
    except InvalidInput as error:
        db.session.rollback()
        if "po" in error.errors:
            return render_template("erp/link.html", tool="erp", commitment=commitment,
                                   offered=None, error=error.errors["po"]), 422
        try:  # the PO is read again to show the matches; it may have gone meanwhile
            summary = books.read_for_link(current_user, commitment, po_id)
        except InvalidInput as problem:
            return render_template("erp/link.html", tool="erp", commitment=commitment,
                                   offered=None, error=" ".join(problem.errors.values())), 422
        except Locked as problem:
            return render_template("erp/link.html", tool="erp", commitment=commitment,
                                   offered=None, error=problem.message), 422
        chosen = {sov_id: line_id for sov_id, line_id in matches}
        return render_template("erp/link.html", tool="erp", commitment=commitment,
                               summary=summary, errors=error.errors, chosen=chosen), 422
    except (Locked, AlreadyHandled) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(commitment_url(commitment), 303)
    flash(f"{commitment.number} is linked to QuickBooks PurchaseOrder "
          f"{linked_doc_number(commitment)}. Nothing was written to QuickBooks: Send to ERP, "
          "and the approver's Accept brings the PO to the schedule of values.", "success")
    return redirect(commitment_url(commitment), 303)


# ---- unlink ------------------------------------------------------------------------------------

def _unlink(subject, action, back: str):
    if not books.can_unlink(current_user):
        abort(403)
    try:
        action(current_user, subject, request.form.get("reason", ""))
    except InvalidInput as error:
        db.session.rollback()
        flash("Not unlinked: " + " ".join(error.errors.values()), "error")
        return redirect(back, 303)
    except (Locked, AlreadyHandled, PermissionDenied) as error:
        db.session.rollback()
        flash(f"Not unlinked: {error.message}", "error")
        return redirect(back, 303)
    flash("Unlinked. Nothing was written to QuickBooks.", "success")
    return redirect(back, 303)


@bp.post("/books/commitments/<int:commitment_id>/unlink")
@login_required
def unlink_commitment(commitment_id: int):
    commitment = db.get_or_404(Commitment, commitment_id)
    return _unlink(commitment, books.unlink_commitment, commitment_url(commitment))


@bp.post("/books/change-orders/<int:cco_id>/unlink")
@login_required
def unlink_cco(cco_id: int):
    cco = db.get_or_404(ChangeOrder, cco_id)
    return _unlink(cco, books.unlink_change_order, cco_url(cco))


# ---- import ------------------------------------------------------------------------------------

def _scope():
    project = db.session.get(Project, parse_id(request.values.get("project")) or 0)
    vendor = db.session.get(Vendor, parse_id(request.values.get("vendor")) or 0)
    return project, vendor


def _import_choices() -> tuple[list, list]:
    projects = db.session.scalars(select(Project).where(
        Project.active, Project.qbo_customer_id.is_not(None)).order_by(Project.number)
        .limit(100)).all()
    vendors = db.session.scalars(select(Vendor).where(
        Vendor.active, Vendor.qbo_vendor_id.is_not(None)).order_by(Vendor.name).limit(100)).all()
    return projects, vendors


def _import_page(project, vendor, results=None, status: int = 200):
    projects, vendors = _import_choices()
    page, error = None, None
    if project is not None:
        try:
            page = books.import_page(current_user, project, vendor,
                                     parse_id(request.values.get("start")) or 1)
        except Locked as problem:
            error = problem.message
    return render_template("erp/import.html", tool="erp", project=project, vendor=vendor,
                           projects=projects, vendors=vendors, page=page, error=error,
                           results=results, chosen=request.form), status


@bp.get("/books/import")
@login_required
def books_import():
    """The PurchaseOrders of a project's job (or of one vendor) that no commitment holds."""
    _require_erp_admin()
    project, vendor = _scope()
    return _import_page(project, vendor)


@bp.post("/books/import")
@login_required
def books_import_post():
    _require_erp_admin()
    project, vendor = _scope()
    if project is None:
        abort(404)
    choices = {key.removeprefix("choice-"): value for key, value in request.form.items()
               if key.startswith("choice-")}
    try:
        results = books.import_purchase_orders(current_user, project,
                                               request.form.getlist("po"), choices)
    except InvalidInput as error:
        return _import_page(project, vendor, [books.Imported("", None, message)
                                              for message in error.errors.values()], 422)
    status = 200 if all(r.commitment is not None for r in results) else 422
    return _import_page(project, vendor, results, status)
