"""ERP Integrations: what waits for accounting (Accept / Reject), commitments and CCOs alike."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.erp import bp
from blueprints.erp.forms import RejectForm
from blueprints.fields import parse_id, show_workflow_error, unique_ids
from blueprints.rendering import is_htmx, per_request, render, render_partial
from extensions import db
from models import ChangeOrder, Commitment, ErpStatus, ProjectRole
from workflow import erp, history, inbox, qbo_drift
from workflow.change_orders import can_view
from workflow.errors import AlreadyHandled, Locked, WorkflowError
from workflow.permissions import can_view_erp, has_project_role, is_approver

TABS = (ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING, ErpStatus.FAILED_TO_EXPORT,
        ErpStatus.REJECTED, ErpStatus.SYNCED)
KINDS = {"commitments": Commitment, "change-orders": ChangeOrder}


def require_erp_view() -> None:
    if not can_view_erp(current_user):
        abort(403)


def _counters(filters: inbox.Filters) -> inbox.Counters:
    """The tab counts, the navigation's counts and the live fingerprint, in one statement; the
    navigation reads its counts from here instead of asking again."""
    counters = inbox.counters(filters, current_user, TABS)
    per_request("nav_counts", value=(counters.waiting, counters.returned))
    return counters


def _counts() -> dict[ErpStatus, int]:
    """Every status's count, unfiltered (the tabs updated beside a changed card)."""
    return _counters(inbox.Filters(ErpStatus.READY_TO_EXPORT)).tabs


def kind_of(subject) -> str:
    return "change-orders" if isinstance(subject, ChangeOrder) else "commitments"


class _CardData:
    """What a page of cards needs, in a fixed number of statements for any number of cards."""

    def __init__(self, subjects: list) -> None:
        from quickbooks_online.lists import names_for

        commitments = [s for s in subjects if isinstance(s, Commitment)]
        ccos = [s for s in subjects if isinstance(s, ChangeOrder)]
        of_cards = {(s.commitment if isinstance(s, ChangeOrder) else s) for s in subjects}
        ledger = inbox.ledger([c.id for c in of_cards], current_user)
        self.totals, self.unsent, self.synced = ledger.totals, ledger.not_sent, ledger.synced
        self.exports, self.cco_exports = erp.latest_exports_of([c.id for c in commitments],
                                                               [c.id for c in ccos])
        self.mappings = {(line.cost_code_id, line.category_id): line.mapping for cco in ccos
                         for line in cco.lines if line.sov_line_id is None and line.mapping}
        self.sendings = inbox.sendings(subjects)
        self.quickbooks = qbo_drift.drifts_of(list(of_cards), loaded=True)
        self.names = names_for({pair for c in of_cards for pair in (
            ("Vendor", c.vendor.qbo_vendor_id), ("Customer", c.project.qbo_customer_id))})

    def name_of(self, entity: str, qbo_id: str | None) -> str | None:
        return self.names.get((entity, qbo_id))

    def preview(self, cco: ChangeOrder):
        """What QuickBooks will receive, by the export's own arithmetic (plan_change_order),
        on the PurchaseOrder as we last synced it: each line now, change, after."""
        from quickbooks_online.export.change_order import plan_change_order

        synced = self.synced.get(cco.commitment_id, {})
        touched = {line.sov_line for line in cco.lines if line.sov_line is not None}
        lines = [{"Id": line.qbo_line_id, "Amount": str(line.amount + synced.get(line.id, 0))}
                 for line in sorted(touched, key=lambda sov: sov.line_number)
                 if line.qbo_line_id]
        return plan_change_order(cco, lines, self.mappings)

    def card(self, subject, **extra) -> dict:
        from quickbooks_online.links import link_preview

        kind = kind_of(subject)
        commitment = subject.commitment if isinstance(subject, ChangeOrder) else subject
        if isinstance(subject, ChangeOrder):
            total, export = subject.grand_total, self.cco_exports.get(subject.id)
            preview = self.preview(subject)
        else:
            total, export = self.totals[subject.id].original, self.exports.get(subject.id)
            preview = link_preview(subject)  # linked to a PO already in QuickBooks
        drift = None
        if commitment.qbo_purchase_order_id:
            drift = erp.drift_from(commitment, self.totals[commitment.id].revised,
                                   self.unsent.get(commitment.id, []),
                                   self.quickbooks.get(commitment.id))
        return {"subject": subject, "kind": kind, "total": total, "export": export,
                "preview": preview, "drift": drift,
                "sending": self.sendings.get((kind, subject.id)),
                "actions": erp.approver_actions(current_user, subject),
                "name_of": self.name_of,
                "reject_form": unique_ids(RejectForm(formdata=None), f"reject-{kind}-{subject.id}"),
                **extra}


def _card_context(subject, **extra) -> dict:
    return _CardData([subject]).card(subject, **extra)


def _filters() -> inbox.Filters:
    tab = request.args.get("tab", ErpStatus.READY_TO_EXPORT.value)
    status = ErpStatus(tab) if tab in {t.value for t in TABS} else ErpStatus.READY_TO_EXPORT
    return inbox.Filters(status, parse_id(request.args.get("project")),
                         parse_id(request.args.get("vendor")))


def _inbox_context(filters: inbox.Filters) -> dict:
    subjects, cursor = inbox.page(filters, current_user,
                                  inbox.Cursor.parse(request.args.get("after")))
    data = _CardData(subjects)
    counters = _counters(filters)
    choices = inbox.choices(current_user, filters)
    per_request("nav_projects", value=choices.nav)
    return {"tool": "erp", "tabs": TABS, "tab": filters.status, "filters": filters,
            "counts": counters.tabs, "subjects": subjects,
            "card": data.card, "next_cursor": cursor.token() if cursor else None,
            "fingerprint": counters.fingerprint,
            "choices": choices,
            "after": request.args.get("after")}


@bp.get("/")
@login_required
def index():
    """The inbox: everything in one ERP status, oldest waiting first, a page at a time."""
    require_erp_view()
    context = _inbox_context(_filters())
    response = make_response(render("erp/index.html", "erp/_cards.html", **context))
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/changes")
@login_required
def changes():
    """The live inbox's poll: 204 (nothing sent) while nothing changed, one cheap statement;
    else the first page of cards again, swapped in out of band."""
    require_erp_view()
    filters = _filters()
    if _counters(filters).fingerprint == request.args.get("seen"):
        return "", 204
    return render_partial("erp/_live.html", polled=True, **_inbox_context(filters))


def _subject(kind: str, subject_id: int):
    require_erp_view()
    subject = db.get_or_404(KINDS[kind], subject_id)
    if isinstance(subject, ChangeOrder) and subject.private and not can_view(current_user,
                                                                              subject):
        abort(404)
    if subject.erp_status == ErpStatus.NOT_SENT and not has_project_role(
            current_user, subject.project, ProjectRole.READ_ONLY) \
            and not history.has_erp_history(subject):
        abort(404)  # never sent to accounting: only the project's members may read it
    return subject


def _card(subject, status: int = 200, **extra):
    """One card, with the tab counts and the navigation's count updated out of band."""
    db.session.refresh(subject)
    return render_partial("erp/_card.html", status=status, oob_counts=True, tabs=TABS,
                          counts=_counts(), ctx=_card_context(subject, **extra))


KIND = "<any(commitments, 'change-orders'):kind>"


@bp.get(f"/{KIND}/<int:subject_id>/card")
@login_required
def card(kind: str, subject_id: int):
    return _card(_subject(kind, subject_id))


@bp.post(f"/{KIND}/<int:subject_id>/accept")
@login_required
def accept(kind: str, subject_id: int):
    return _act(_subject(kind, subject_id), erp.accept)


@bp.post(f"/{KIND}/<int:subject_id>/retry")
@login_required
def retry(kind: str, subject_id: int):
    return _act(_subject(kind, subject_id), erp.retry_export)


def _act(subject, action):
    try:
        action(current_user, subject)
    except (AlreadyHandled, Locked) as error:
        return _answer(subject, error.message, 409)
    return _answer(subject, None)


@bp.post(f"/{KIND}/<int:subject_id>/reject")
@login_required
def reject(kind: str, subject_id: int):
    subject = _subject(kind, subject_id)
    form = unique_ids(RejectForm(), f"reject-{kind}-{subject.id}")
    if not form.validate_on_submit():
        return _answer(subject, None, 422, reject_form=form)
    try:
        erp.reject(current_user, subject, form.comment.data)
    except AlreadyHandled as error:
        return _answer(subject, error.message, 409)
    except WorkflowError as error:
        db.session.rollback()
        status = show_workflow_error(form, error)
        return _answer(subject, None, status, reject_form=form)
    return _answer(subject, None)


def _answer(subject, message: str | None, status: int = 200, **extra):
    """The card again for htmx (with any message on it); the inbox page otherwise."""
    if is_htmx():
        return _card(subject, status, message=message, **extra)
    if message:
        flash(message, "error")
    if status == 422:
        context = _inbox_context(inbox.Filters(subject.erp_status))
        context.update(subjects=[subject], card=lambda s: _card_context(s, **extra),
                       next_cursor=None)
        return render_template("erp/index.html", **context), status
    return redirect(url_for("erp.index", tab=subject.erp_status.value), 303)


def _selected() -> list:
    """The records ticked for "Accept selected" (kind:id), each one the viewer may see."""
    subjects = []
    for value in request.form.getlist("selected")[:100]:
        kind, _, ident = value.partition(":")
        subject_id = parse_id(ident)
        if kind in KINDS and subject_id:
            subject = db.session.get(KINDS[kind], subject_id)
            if subject is not None and not (isinstance(subject, ChangeOrder) and subject.private
                                            and not can_view(current_user, subject)):
                subjects.append(subject)
    return subjects


@bp.post("/accept-selected")
@login_required
def accept_selected():
    """Bulk Accept in two steps: the list with each amount and PurchaseOrder, then Confirm.
    Each record is accepted (and exported exactly once) on its own; each card says how it went."""
    require_erp_view()
    if not is_approver(current_user):
        abort(403)
    subjects = _selected()
    if not subjects:
        flash("Tick the cards to accept first.", "error")
        return redirect(url_for("erp.index"), 303)
    if request.form.get("confirm") != "yes":
        data = _CardData(subjects)
        return render_template("erp/accept_selected.html", tool="erp", subjects=subjects,
                               card=data.card, total=sum(data.card(s)["total"] for s in subjects))
    outcomes = {}
    for subject in subjects:
        try:
            erp.accept(current_user, subject)
            outcomes[(kind_of(subject), subject.id)] = None
        except (AlreadyHandled, Locked) as error:
            outcomes[(kind_of(subject), subject.id)] = error.message
    for subject in subjects:
        db.session.refresh(subject)
    data = _CardData(subjects)
    return render_template("erp/accept_selected.html", tool="erp", subjects=subjects, done=True,
                           card=lambda s: data.card(s, message=outcomes.get((kind_of(s), s.id))))
