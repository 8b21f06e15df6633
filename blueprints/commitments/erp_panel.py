"""The ERP panel of a commitment or a CCO: Send to ERP, Resend to ERP, Retrieve from ERP."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required

from blueprints.commitments import bp
from blueprints.commitments.loading import load_cco, load_commitment
from blueprints.rendering import is_htmx, render_partial
from extensions import db
from models import ChangeOrder, Commitment, ErpStatus, ProjectRole
from quickbooks_online.company import elsewhere, where_linked
from workflow import cards, erp, kinds, qbo_drift
from workflow.change_orders import visible_change_orders
from workflow.errors import AlreadyHandled, Locked
from workflow.permissions import has_project_role, is_company_admin, is_erp_admin


def _line_editor(user, subject) -> bool:
    return has_project_role(user, subject.project, ProjectRole.STANDARD)


def _commitment_url(subject, anchor: str) -> str:
    commitment = kinds.of(subject).commitment_of(subject)
    return url_for("commitments.show", project_id=commitment.project_id,
                   commitment_id=commitment.id, _anchor=anchor)


def _cco_url(subject, anchor: str) -> str:
    return url_for("commitments.show_cco", project_id=subject.commitment.project_id,
                   commitment_id=subject.commitment_id, cco_id=subject.id, _anchor=anchor)


def _settings_url(anchor: str, **args) -> str:
    return url_for("erp.settings", _anchor=anchor, **args)


def _erp_admin(user, subject) -> bool:
    return is_erp_admin(user)


# Where each kind of blocker is put right, exactly (the line's row, the mapping's field, the
# project's DocNumber prefix), and who may go there: (may fix, url(subject, **where), who).
FIXES = {
    "sov_line": (_line_editor, lambda s, line_id: _commitment_url(s, f"sov-line-{line_id}"),
                 "a project member"),
    "sov_new": (_line_editor, lambda s: _commitment_url(s, "sov"), "a project member"),
    "cco_line": (_line_editor, lambda s, line_id: _cco_url(s, f"cco-line-{line_id}"),
                 "a project member"),
    "cco_line_new": (_line_editor, lambda s: _cco_url(s, "lines"), "a project member"),
    "cco_review": (lambda user, s: True, lambda s: _cco_url(s, "review"), None),
    "commitment_status": (_line_editor, lambda s: _commitment_url(s, "commitment-header"),
                          "a project member"),
    "commitment_erp": (lambda user, s: True, lambda s: _commitment_url(s, "erp"), None),
    "erp.connection": (_erp_admin, lambda s: _settings_url("connection"), "an ERP admin"),
    "erp.ap_account": (_erp_admin, lambda s: _settings_url("ap-account"), "an ERP admin"),
    "erp.project_link": (_erp_admin, lambda s, project_id: _settings_url(
        f"customer-{project_id}"), "an ERP admin"),
    "erp.vendor_link": (_erp_admin, lambda s, vendor_id: _settings_url(
        f"vendor-{vendor_id}"), "an ERP admin"),
    "erp.mapping": (_erp_admin, lambda s, cost_code_id, category_id: _settings_url(
        f"map-{cost_code_id}-{category_id}-target", map=f"{cost_code_id}-{category_id}"),
        "an ERP admin"),
    "admin.project_prefix": (lambda user, s: is_company_admin(user),
                             lambda s, project_id: url_for(
                                 "admin.reference_row", slug="projects", record_id=project_id,
                                 edit=1, _anchor="qbo_doc_prefix"), "a company admin"),
}


@dataclass(frozen=True)
class Fix:
    """Where the viewer puts a blocker right (``url``), or who may (``who``)."""

    url: str | None
    who: str | None = None


@dataclass
class Panel:
    """What the panel template shows; the template decides nothing by itself."""

    actions: list
    urls: dict[str, str]
    export: object = None
    purchase_order_id: str | None = None
    drift: object = None
    drift_commitment_url: str | None = None  # a CCO's panel: where its commitment's drift is
    books: list = field(default_factory=list)  # Link / Unlink (blueprints/erp/books.py)
    books_urls: dict[str, str] = field(default_factory=dict)
    books_advice: str = ""
    linked_doc_number: str | None = None  # linked to a PO already in QuickBooks, not yet synced
    elsewhere: str = ""  # its PurchaseOrder is in another QuickBooks company: what that means
    subject: object = None

    def fix(self, blocker) -> Fix | None:
        """The link to where ``blocker`` is put right, for a viewer who may put it right;
        else who may."""
        known = FIXES.get(getattr(blocker, "fix", None))
        if known is None:
            return None
        allowed, url, who = known
        if allowed(current_user, self.subject):
            return Fix(url(self.subject, **blocker.where))
        return Fix(None, who)


def _urls(subject) -> dict[str, str]:
    """Send, Resend, Retrieve and the panel itself: the /erp/<kind>/<id> family of any kind."""
    args = {"kind": kinds.of(subject).slug, "subject_id": subject.id}
    send = url_for("erp.send_to_erp", **args)
    return {"send": send, "resend": send, "retrieve": url_for("erp.retrieve_from_erp", **args),
            "self": url_for("erp.panel", **args)}


def _drift_actions(commitment: Commitment, view) -> list[tuple[str, str]]:
    """What an ERP admin may do about changes made in QuickBooks."""
    if not is_erp_admin(current_user) or view.restore_requested:
        return []
    args = {"project_id": commitment.project_id, "commitment_id": commitment.id}
    actions = [("Acknowledge (keep QuickBooks' version)",
                url_for("commitments.acknowledge_quickbooks_changes", **args))]
    if not view.state.deleted and commitment.erp_status == ErpStatus.SYNCED:
        actions.append(("Restore ours", url_for("commitments.restore_our_lines", **args)))
    return actions


def _elsewhere_note(subject, commitment: Commitment) -> str:
    """What the panel says of a PurchaseOrder in another QuickBooks company (docs/quickbooks.md,
    "Switching QuickBooks company"); '' for one in the connected company, or none."""
    if not elsewhere(commitment):
        return ""
    if subject is commitment:
        return (f"Linked to {where_linked(commitment)}, not the one connected now: kept as "
                "history, never read or written. Unlink it to send it to this company.")
    return (f"Commitment {commitment.number} is linked to {where_linked(commitment)}, not the "
            "one connected now: nothing is read or written there. Unlink the commitment to "
            "send it and its change orders to this company.")


def panel_for(subject) -> Panel:
    from blueprints.erp import books as book_routes
    from workflow.books import books_actions

    commitment = kinds.of(subject).commitment_of(subject)
    drift, drift_commitment_url = None, None
    if isinstance(subject, Commitment) and commitment.qbo_purchase_order_id:
        drift = erp.drift(commitment, visible_change_orders(current_user, commitment),
                          current_user, actions=lambda view: _drift_actions(commitment, view))
    elif not isinstance(subject, Commitment):  # a CCO: its commitment's, only if it differs
        drift = cards.commitment_drift(commitment, current_user)
        if drift is not None:
            drift_commitment_url = _commitment_url(subject, "quickbooks-drift")
    elsewhere = _elsewhere_note(subject, commitment)
    return Panel(actions=erp.project_actions(current_user, subject), urls=_urls(subject),
                 export=erp.latest_export(subject),
                 purchase_order_id=(commitment.qbo_purchase_order_id
                                    if subject.erp_status == ErpStatus.SYNCED and not elsewhere
                                    else None),
                 drift=drift, drift_commitment_url=drift_commitment_url, subject=subject,
                 elsewhere=elsewhere,
                 books=books_actions(current_user, subject),
                 books_urls=book_routes.action_urls(subject),
                 books_advice=book_routes.advice(subject),
                 linked_doc_number=book_routes.linked_doc_number(subject))


def record_url(subject) -> str:
    """The record's own page (its kind says where)."""
    return request.script_root + kinds.of(subject).page_path(subject)


def answer(subject, message: str | None = None, status: int = 200):
    """The panel again for htmx (with any message), the record's page otherwise."""
    if not is_htmx() and request.method == "GET":
        return redirect(record_url(subject) + "#erp", 303)
    if not is_htmx():
        if message:
            flash(message, "error")
        return redirect(record_url(subject) + "#erp", 303)
    db.session.refresh(subject)
    return render_partial("erp/_panel.html", status=status, subject=subject,
                          panel=panel_for(subject), message=message, oob_state=True)


def act(subject, action):
    """Send or Retrieve (``action``), answered with the panel."""
    try:
        action(current_user, subject)
    except (Locked, AlreadyHandled) as error:
        db.session.rollback()
        return answer(subject, error.message, 409)
    return answer(subject)


@bp.post("/<int:commitment_id>/erp/send")
@login_required
def send_to_erp(project_id: int, commitment_id: int):
    return act(load_commitment(project_id, commitment_id), erp.send_to_erp)


@bp.post("/<int:commitment_id>/erp/retrieve")
@login_required
def retrieve_from_erp(project_id: int, commitment_id: int):
    return act(load_commitment(project_id, commitment_id), erp.retrieve_from_erp)


def _cco(project_id: int, commitment_id: int, cco_id: int) -> ChangeOrder:
    return load_cco(project_id, commitment_id, cco_id)


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/erp/send")
@login_required
def send_cco_to_erp(project_id: int, commitment_id: int, cco_id: int):
    return act(_cco(project_id, commitment_id, cco_id), erp.send_to_erp)


@bp.post("/<int:commitment_id>/change-orders/<int:cco_id>/erp/retrieve")
@login_required
def retrieve_cco_from_erp(project_id: int, commitment_id: int, cco_id: int):
    return act(_cco(project_id, commitment_id, cco_id), erp.retrieve_from_erp)


@bp.get("/<int:commitment_id>/erp")
@login_required
def erpanswer(project_id: int, commitment_id: int):
    """The panel alone: polled while the record is with accounting, so a Reject or a Synced
    shows without a reload."""
    return answer(load_commitment(project_id, commitment_id))


@bp.get("/<int:commitment_id>/change-orders/<int:cco_id>/erp")
@login_required
def cco_erpanswer(project_id: int, commitment_id: int, cco_id: int):
    return answer(_cco(project_id, commitment_id, cco_id))


def _drift_act(project_id: int, commitment_id: int, action):
    commitment = load_commitment(project_id, commitment_id)
    try:
        action(current_user, commitment)
    except (Locked, AlreadyHandled) as error:
        db.session.rollback()
        return answer(commitment, error.message, 409)
    return answer(commitment)


@bp.post("/<int:commitment_id>/erp/quickbooks-changes/acknowledge")
@login_required
def acknowledge_quickbooks_changes(project_id: int, commitment_id: int):
    """The changes made in QuickBooks are the bookkeeper's and stay (ERP admin)."""
    return _drift_act(project_id, commitment_id, qbo_drift.acknowledge)


@bp.post("/<int:commitment_id>/erp/quickbooks-changes/restore")
@login_required
def restore_our_lines(project_id: int, commitment_id: int):
    """Put our lines back: Ready to Export again, for the approver to Accept (ERP admin)."""
    return _drift_act(project_id, commitment_id, qbo_drift.restore_ours)
