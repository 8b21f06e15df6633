"""ERP Integrations: what waits for accounting (Accept / Reject), commitments and CCOs alike."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blueprints.commitments import erp_panel
from blueprints.erp import bp
from blueprints.erp.forms import RejectForm
from blueprints.fields import parse_id, show_workflow_error, unique_ids
from blueprints.rendering import is_htmx, per_request, render, render_partial
from extensions import db
from models import ErpStatus
from workflow import cards, erp, inbox, kinds
from workflow.errors import AlreadyHandled, Locked, WorkflowError
from workflow.permissions import can_view_erp, is_approver

TABS = (ErpStatus.READY_TO_EXPORT, ErpStatus.EXPORTING, ErpStatus.FAILED_TO_EXPORT,
        ErpStatus.REJECTED, ErpStatus.SYNCED)
OPENABLE = {"accept", "reject"}  # what a card page may open: ?open=accept|reject
POLL_MAX_SECONDS = 30  # an Exporting card asks again after 1, 2, 4 … at most this many seconds


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
    """The record's URL slug (``/erp/<slug>/<id>``)."""
    return kinds.of(subject).slug


class _CardData:
    """A page of cards: their facts (workflow/cards.py) and, per card, its Reject form and the
    page's defaults."""

    def __init__(self, subjects: list) -> None:
        self.cards = cards.Cards(subjects, current_user)

    def card(self, subject, **extra) -> dict:
        facts = self.cards.facts(subject)
        return {**facts, "open": None, "own_page": False, "poll_wait": 1,
                "reject_form": unique_ids(RejectForm(formdata=None),
                                          f"reject-{facts['kind']}-{subject.id}"),
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
    """The record behind a card, or 404 for one the viewer may not see (``inbox.may_see``,
    the rule "Accept selected" uses too)."""
    require_erp_view()
    record_kind = kinds.by_slug(kind)
    subject = db.session.get(record_kind.model, subject_id) if record_kind else None
    if not inbox.may_see(current_user, subject):
        abort(404)
    return subject


def record_page_url(subject) -> str:
    """The record's own page, at its ERP panel."""
    return erp_panel.record_url(subject) + "#erp"


def _card(subject, status: int = 200, **extra):
    """One card, with the tab counts and the navigation's count updated out of band."""
    db.session.refresh(subject)
    return render_partial("erp/_card.html", status=status, oob_counts=True, tabs=TABS,
                          counts=_counts(), ctx=_card_context(subject, **extra))


KIND = "<kind>"  # a registered kind's slug (workflow/kinds.py); any other is a 404


@bp.get(f"/{KIND}/<int:subject_id>/card")
@login_required
def card(kind: str, subject_id: int):
    """One card (an Exporting card asks for itself again, ``wait`` seconds later: 1, 2, 4 …
    30, by static/js/app.js, and not while the tab is hidden)."""
    wait = parse_id(request.args.get("wait")) or 1
    return _card(_subject(kind, subject_id), poll_wait=min(wait, POLL_MAX_SECONDS))


@bp.get(f"/{KIND}/<int:subject_id>")
@login_required
def card_page(kind: str, subject_id: int):
    """A record's card on a page of its own, whatever page of the inbox it would be on: what
    every email links to. Someone without ERP Integrations who may read the record (the
    project manager) goes to its own page instead. ``?open=accept|reject`` opens the
    confirmation or the reason (what the buttons do without JavaScript)."""
    if not can_view_erp(current_user):
        record_kind = kinds.by_slug(kind)
        subject = db.session.get(record_kind.model, subject_id) if record_kind else None
        if subject is not None and _may_read_record(subject):
            return redirect(record_page_url(subject), 303)
        abort(404)
    subject = _subject(kind, subject_id)
    opened = request.args.get("open")
    return _card_page(subject, open=opened if opened in OPENABLE else None)


def _may_read_record(subject) -> bool:
    return kinds.of(subject).may_read(current_user, subject)


def _card_page(subject, status: int = 200, **extra):
    response = make_response(render_template(
        "erp/card_page.html", tool="erp", ctx=_card_context(subject, own_page=True, **extra),
        inbox_url=url_for("erp.index", tab=subject.erp_status.value),
        record_url=record_page_url(subject) if _may_read_record(subject) else None), status)
    response.headers["Vary"] = "HX-Request"
    return response


def _readable(kind: str, subject_id: int):
    """The record for its own page's ERP panel, or 404 unless the viewer may read it (its
    kind's rule); the workflow checks who may send or retrieve."""
    record_kind = kinds.by_slug(kind)
    subject = db.session.get(record_kind.model, subject_id) if record_kind else None
    if subject is None or not record_kind.may_read(current_user, subject):
        abort(404)
    return subject


@bp.post(f"/{KIND}/<int:subject_id>/send")
@login_required
def send_to_erp(kind: str, subject_id: int):
    """Send (or Resend) to ERP, from the record's ERP panel."""
    return erp_panel.act(_readable(kind, subject_id), erp.send_to_erp)


@bp.post(f"/{KIND}/<int:subject_id>/retrieve")
@login_required
def retrieve_from_erp(kind: str, subject_id: int):
    return erp_panel.act(_readable(kind, subject_id), erp.retrieve_from_erp)


@bp.get(f"/{KIND}/<int:subject_id>/panel")
@login_required
def panel(kind: str, subject_id: int):
    """The record's ERP panel alone: polled while it is with accounting."""
    return erp_panel.answer(_readable(kind, subject_id))


@bp.post(f"/{KIND}/<int:subject_id>/accept")
@login_required
def accept(kind: str, subject_id: int):
    """Confirm Accept: of the record as the card showed it (its ``version``)."""
    return _act(_subject(kind, subject_id), erp.accept,
                expected_version=seen_version(request.form.get("version")))


def seen_version(value: str | None) -> int | None:
    """The version a form says the approver saw: None when it says none (not compared); a
    value that is no version matches none, so it is refused."""
    if value is None:
        return None
    return parse_id(value) or 0


@bp.post(f"/{KIND}/<int:subject_id>/retry")
@login_required
def retry(kind: str, subject_id: int):
    return _act(_subject(kind, subject_id), erp.retry_export)


def _act(subject, action, **options):
    try:
        action(current_user, subject, **options)
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
    """The card again for htmx (with any message on it); its own page otherwise."""
    if is_htmx():
        return _card(subject, status, message=message, **extra)
    if status == 422:
        db.session.refresh(subject)
        return _card_page(subject, status, open="reject", **extra)
    if message:
        flash(message, "error")
    return redirect(url_for("erp.card_page", kind=kind_of(subject), subject_id=subject.id), 303)


def _selected(values: list[str]) -> list:
    """The records ticked for "Accept selected", each one the viewer may see (the card's own
    rule); the others are left out without a word."""
    return inbox.parse_selected(values, current_user)


def _selected_values(subjects: list) -> list[str]:
    return [f"{kind_of(s)}:{s.id}" for s in subjects]


def _require_approver() -> None:
    require_erp_view()
    if not is_approver(current_user):
        abort(403)


@bp.get("/accept-selected")
@login_required
def accept_selected_list():
    """Bulk Accept, step one (reads only): the ticked records, each amount and PurchaseOrder,
    and the total, with Confirm."""
    _require_approver()
    subjects = _selected(request.args.getlist("selected"))
    if not subjects:
        flash("Tick the cards to accept first.", "error")
        return redirect(url_for("erp.index"), 303)
    data = _CardData(subjects)
    return render_template("erp/accept_selected.html", tool="erp", subjects=subjects,
                           card=data.card, total=sum(data.card(s)["total"] for s in subjects))


@bp.post("/accept-selected")
@login_required
def accept_selected():
    """Bulk Accept, step two: each record is accepted (and exported exactly once) on its own
    if it is still as the list showed it (``version:<kind>:<id>``; one changed since is left,
    said in the flash), then a redirect to what became of them (so Back and reload never post
    again). A post without ``confirm=yes`` goes to step one."""
    _require_approver()
    subjects = _selected(request.form.getlist("selected"))
    if not subjects:
        flash("Tick the cards to accept first.", "error")
        return redirect(url_for("erp.index"), 303)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("erp.accept_selected_list",
                                selected=_selected_values(subjects)), 303)
    for subject in subjects:
        seen = seen_version(request.form.get(f"version:{kind_of(subject)}:{subject.id}"))
        try:
            erp.accept(current_user, subject, expected_version=seen)
        except (AlreadyHandled, Locked) as error:
            flash(f"{erp.subject_name(subject)}: {error.message}", "error")
    return redirect(url_for("erp.accepted", selected=_selected_values(subjects)), 303)


@bp.get("/accepted")
@login_required
def accepted():
    """After a bulk Accept: the cards of what was accepted, each saying how it went."""
    require_erp_view()
    subjects = _selected(request.args.getlist("selected"))
    data = _CardData(subjects)
    return render_template("erp/accept_selected.html", tool="erp", subjects=subjects, done=True,
                           card=data.card)
