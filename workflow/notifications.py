"""Who is told what by email, and when (plain Python; the jobs in jobs/notifications.py run it).

* **Sent / resent to ERP** → every approver (``permissions.is_approver``, active, with an
  email; not the sender themselves), linking to the card's own page. Coalesced: the first
  send opens a batch per approver due ``NOTIFY_COALESCE_SECONDS`` (120 s) later; every send
  before it falls due joins it, so a project manager who sends five CCOs in two minutes makes
  one email per approver, not five. The worker's maintenance pass (every 30 s,
  jobs/worker.py) queues the job that mails due batches, so the email leaves 2 to 2.5 minutes
  after the first send. With no REDIS_URL (inline jobs, the demo) nothing can wait: the
  batch is mailed at once.
* **Rejected** (with the reason), **Synced**, **Failed to Export** (with QuickBooks' words) →
  whoever sent it last (the user of its last "sent"/"resent" history event), at once,
  linking to the card's own page (which sends a PM on to the record's page).
* **Digest** (``flask erp digest``, a daily cron) → every approver: what is Ready to Export,
  and for ERP admins what Failed to Export.

Everyone can turn each kind off for themselves (``EmailOptOut``). Each notification is a
``PendingNotification`` row, one per person and history event (recording twice adds
nothing). The rows are the outbox: ``record`` writes them in the same transaction as the
change they tell of (workflow/erp.py), so a change that is committed is a notice owed, even
when Redis is down; the worker mails them (``mail_due``, queued after the commit and by every
maintenance pass). The job that mails a batch claims its rows with one conditional UPDATE,
so two jobs never mail the same row; the email says every row it claims (a row is marked
sent only by an email that said it). A batch whose mail fails is released and tried again
by the next pass, and never stops the other batches. The claim is the mail job's RQ job id
(``claim_token``), so a job killed mid-send (its work horse SIGKILLed, its worker killed
whole) does not hold its rows until the claim expires: the worker releases them when it sees
its horse die, and the maintenance pass releases claims whose job no longer runs
(``release_dead_claims``, jobs/notifications.py); the next pass mails them. What an email
says is decided when it is composed: a notice about a record its recipient may no longer
open is dropped.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update

from extensions import db
from models import (
    ChangeOrder,
    EmailOptOut,
    ErpPermission,
    ErpStatus,
    HistoryEvent,
    NotificationKind,
    PendingNotification,
    User,
)
from models.types import utcnow
from workflow import kinds, mail
from workflow.permissions import is_approver, is_erp_admin
from workflow.settings import config as settings

Kind = NotificationKind
log = logging.getLogger(__name__)
# A claim older than this is a job that died mid-send (the last resort: a claim taken outside
# an RQ job, or whose job nothing could look up; a killed job's claims are released at once).
CLAIM_EXPIRES = timedelta(minutes=10)
TRIGGERS = {  # the history actions each kind is about
    Kind.SENT: ("sent", "resent"),
    Kind.REJECTED: ("rejected",),
    Kind.SYNCED: ("exported",),
    Kind.FAILED: ("export failed",),
    Kind.WITHDRAWN: ("approval_withdrawn",),
}


# ---- preferences --------------------------------------------------------------------------------

def opted_out(user: User) -> set[NotificationKind]:
    return set(db.session.scalars(select(EmailOptOut.kind).where(EmailOptOut.user_id == user.id)))


def preferences(user: User) -> dict[NotificationKind, bool]:
    """Each kind of email and whether ``user`` gets it."""
    off = opted_out(user)
    return {kind: kind not in off for kind in Kind}


def relevant_kinds(user: User) -> list[NotificationKind]:
    """The kinds that can reach this user (the settings page lists these)."""
    kinds = [Kind.REJECTED, Kind.SYNCED, Kind.FAILED, Kind.WITHDRAWN]
    if is_approver(user):
        kinds = [Kind.SENT, Kind.DIGEST, *kinds]
    return kinds


def set_preferences(actor: User, enabled: set[NotificationKind],
                    shown: list[NotificationKind] | None = None) -> None:
    """Of the kinds ``shown`` to ``actor`` (all by default), they get those in ``enabled``
    from now on; the others keep their setting. Only one's own setting, never another's."""
    shown = list(Kind) if shown is None else shown
    db.session.execute(delete(EmailOptOut).where(EmailOptOut.user_id == actor.id,
                                                 EmailOptOut.kind.in_(shown)))
    for kind in shown:
        if kind not in enabled:
            db.session.add(EmailOptOut(user_id=actor.id, kind=kind))
    db.session.commit()


def wants(user: User | None, kind: NotificationKind) -> bool:
    return bool(user is not None and user.active and user.email
                and not db.session.scalar(select(exists().where(
                    EmailOptOut.user_id == user.id, EmailOptOut.kind == kind))))


def approvers() -> list[User]:
    candidates = db.session.scalars(
        select(User).where(User.active.is_(True), User.can_push_to_accounting.is_(True),
                           User.erp_permission.in_((ErpPermission.STANDARD,
                                                    ErpPermission.ADMIN)))
        .order_by(User.id))
    return [user for user in candidates if is_approver(user) and user.email]


# ---- links ------------------------------------------------------------------------------------

def public_url() -> str:
    """Where people reach the app: every absolute link (emails, password links) starts here."""
    return (settings().get("PUBLIC_URL") or settings().get("DEFAULT_PUBLIC_URL")
            or "http://127.0.0.1:5000").rstrip("/")


def card_link(subject, tab: ErpStatus | None = None) -> str:
    """The subject's card on a page of its own (``/erp/<kind>/<id>``), whatever page of the
    inbox it would be on; someone without ERP Integrations is sent on to the record's page.
    (``tab`` is no longer needed: the card page knows the record's status.)"""
    return f"{public_url()}/erp/{kinds.of(subject).slug}/{subject.id}"


def page_link(subject) -> str:
    """Where an email about ``subject`` leads: its card (see ``card_link``)."""
    return card_link(subject)


def record_link(subject) -> str:
    """The commitment's or the CCO's own page (where a reviewer approves it again)."""
    return public_url() + kinds.of(subject).page_path(subject)


def _name(subject) -> str:
    return kinds.of(subject).title(subject)


def _title(subject) -> str:
    return f"{_name(subject)} ({subject.title})"


def _amount(subject) -> str:
    return kinds.of(subject).amount(subject)


def _may_see(user: User, subject) -> bool:
    """A private record (a CCO) is named only to approvers who may see it in the inbox."""
    kind = kinds.of(subject)
    visible = kind.visible_sql(user)
    if visible is None or not getattr(subject, "private", False):
        return True
    return bool(db.session.scalar(select(exists(
        kind.with_commitment(select(kind.model.id)).where(kind.model.id == subject.id,
                                                            visible)))))


# ---- recording what happened ---------------------------------------------------------------

def _subject(subject_type: str, subject_id: int):
    kind = kinds.named(subject_type)
    return db.session.get(kind.model, subject_id) if kind else None


def _last_event(subject_type: str, subject_id: int, actions) -> HistoryEvent | None:
    return db.session.scalar(
        select(HistoryEvent).where(HistoryEvent.subject_type == subject_type,
                                   HistoryEvent.subject_id == subject_id,
                                   HistoryEvent.action.in_(actions))
        .order_by(HistoryEvent.id.desc()).limit(1))


def _already_noted(user_id: int, event_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        PendingNotification.user_id == user_id,
        PendingNotification.history_event_id == event_id))))


def _open_batch_due(user_id: int, kind: NotificationKind) -> datetime | None:
    """When the user's unsent batch of this kind falls due (None: no batch is open)."""
    return db.session.scalar(
        select(func.min(PendingNotification.due_at))
        .where(PendingNotification.user_id == user_id, PendingNotification.kind == kind,
               PendingNotification.sent_at.is_(None), PendingNotification.claim.is_(None)))


def record(kind: NotificationKind, subject_type: str, subject_id: int,
           detail: str | None = None, now: datetime | None = None) -> list[int]:
    """Write the rows for what just happened to a commitment or CCO into the caller's
    transaction (no commit): the outbox the worker mails from. The ids of the people told."""
    if kind == Kind.SENT:
        return _record_sent(subject_type, subject_id, now)
    if kind == Kind.WITHDRAWN:
        told = _record_withdrawn(subject_id, now)
        return [] if told is None else [told]
    told = _record_for_sender(kind, subject_type, subject_id, detail, now)
    return [] if told is None else [told]


def note_sent(subject_type: str, subject_id: int, now: datetime | None = None) -> list[int]:
    """A commitment or CCO was sent or resent: each approver who wants it gets a row in their
    open batch (or a new batch, due after the coalescing window). The ids of those approvers."""
    told = _record_sent(subject_type, subject_id, now)
    db.session.commit()
    return told


def _record_sent(subject_type: str, subject_id: int, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    subject = _subject(subject_type, subject_id)
    event = _last_event(subject_type, subject_id, TRIGGERS[Kind.SENT])
    if subject is None or event is None or subject.erp_status != ErpStatus.READY_TO_EXPORT:
        return []  # retrieved (or accepted) before the job ran: nothing waits any more
    window = timedelta(seconds=settings().get("NOTIFY_COALESCE_SECONDS", 120))
    told = []
    for user in approvers():
        if user.id == event.user_id or not wants(user, Kind.SENT) \
                or _already_noted(user.id, event.id) or not _may_see(user, subject):
            continue
        due = _open_batch_due(user.id, Kind.SENT) or now + window
        db.session.add(PendingNotification(
            user_id=user.id, kind=Kind.SENT, subject_type=subject_type, subject_id=subject_id,
            action=event.action, actor_id=event.user_id, history_event_id=event.id,
            created_at=now, due_at=due))
        told.append(user.id)
    return told


def note_for_sender(kind: NotificationKind, subject_type: str, subject_id: int,
                    detail: str | None = None, now: datetime | None = None) -> int | None:
    """Rejected, synced or failed: a row for whoever sent it last, due at once. Their id."""
    told = _record_for_sender(kind, subject_type, subject_id, detail, now)
    db.session.commit()
    return told


def _record_for_sender(kind: NotificationKind, subject_type: str, subject_id: int,
                       detail: str | None = None, now: datetime | None = None) -> int | None:
    now = now or utcnow()
    subject = _subject(subject_type, subject_id)
    event = _last_event(subject_type, subject_id, TRIGGERS[kind])
    sent = _last_event(subject_type, subject_id, TRIGGERS[Kind.SENT])
    if subject is None or event is None or sent is None:
        return None
    sender = sent.user
    if sender is None or not wants(sender, kind) or _already_noted(sender.id, event.id):
        return None
    if detail is None and kind == Kind.REJECTED:
        detail = event.comment
    db.session.add(PendingNotification(
        user_id=sender.id, kind=kind, subject_type=subject_type, subject_id=subject_id,
        action=event.action, actor_id=event.user_id, history_event_id=event.id, detail=detail,
        created_at=now, due_at=now))
    return sender.id


def _record_withdrawn(change_order_id: int, now: datetime | None = None) -> int | None:
    """A CCO's approval was withdrawn by a change: a row for whoever approved it (not the one
    who changed it), due at once, with what changed, in the caller's transaction. Their id."""
    now = now or utcnow()
    cco = db.session.get(ChangeOrder, change_order_id)
    event = _last_event("change_order", change_order_id, TRIGGERS[Kind.WITHDRAWN])
    if cco is None or event is None:
        return None
    approval = cco.last_withdrawal()
    reviewer = (approval.approved_by if approval and approval.approved_by
                else cco.reviewed_by or cco.designated_reviewer)
    if reviewer is None or reviewer.id == event.user_id or not wants(reviewer, Kind.WITHDRAWN) \
            or _already_noted(reviewer.id, event.id):
        return None
    db.session.add(PendingNotification(
        user_id=reviewer.id, kind=Kind.WITHDRAWN, subject_type="change_order",
        subject_id=change_order_id, action=event.action, actor_id=event.user_id,
        history_event_id=event.id, detail=approval.withdrawn_because if approval else None,
        created_at=now, due_at=now))
    return reviewer.id


# ---- mailing due batches ----------------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    user_id: int
    kind: NotificationKind


def _free_claim(now: datetime):
    return or_(PendingNotification.claim.is_(None),
               PendingNotification.claimed_at < now - CLAIM_EXPIRES)


def due_batches(now: datetime | None = None, user_ids=None, ignore_due: bool = False
                ) -> list[Batch]:
    """The (person, kind) batches to mail now: unsent rows whose earliest due time has come
    (``ignore_due``: every unsent one, for inline mode where nothing can wait)."""
    now = now or utcnow()
    query = (select(PendingNotification.user_id, PendingNotification.kind)
             .where(PendingNotification.sent_at.is_(None), _free_claim(now))
             .group_by(PendingNotification.user_id, PendingNotification.kind)
             .order_by(PendingNotification.user_id, PendingNotification.kind))
    if not ignore_due:
        query = query.having(func.min(PendingNotification.due_at) <= now)
    if user_ids is not None:
        query = query.where(PendingNotification.user_id.in_(list(user_ids)))
    return [Batch(user_id, kind) for user_id, kind in db.session.execute(query).all()]


def any_due(now: datetime | None = None) -> bool:
    """Cheap: is any batch due (the worker's maintenance pass asks every 30 s)."""
    now = now or utcnow()
    return bool(db.session.scalar(select(exists().where(
        PendingNotification.sent_at.is_(None), PendingNotification.due_at <= now,
        _free_claim(now)))))


def claim_token(job_id: str | None = None) -> str:
    """What a mail job writes in the rows it claims: its RQ job id (a uuid's 32 hex digits
    when the id is a uuid, as RQ's own ids are; the column holds 32 characters), so a claim
    names the job that holds it. Outside a job (inline, a shell) a random one."""
    if job_id is None:
        from rq import get_current_job

        job = get_current_job()
        job_id = job.id if job is not None else None
    if job_id:
        if len(job_id) <= 32:
            return job_id
        try:
            return uuid.UUID(job_id).hex
        except ValueError:
            pass
    return uuid.uuid4().hex


def job_ids_of(token: str) -> list[str]:
    """The RQ job ids a claim token may stand for (``claim_token`` in reverse)."""
    ids = [token]
    if len(token) == 32:
        with suppress(ValueError):
            ids.append(str(uuid.UUID(token)))
    return ids


def _claimed_by(token: str, batch: Batch):
    """The rows of ``batch`` that ``token`` holds and that are not sent yet. (One job mails
    several batches under the same token: each batch's rows are told apart by their person
    and kind, and a row an earlier batch sent is never taken for this one's.)"""
    return (PendingNotification.claim == token, PendingNotification.sent_at.is_(None),
            PendingNotification.user_id == batch.user_id, PendingNotification.kind == batch.kind)


def _claim(batch: Batch, now: datetime) -> tuple[str, list[PendingNotification]]:
    token = claim_token()
    db.session.execute(
        update(PendingNotification)
        .where(PendingNotification.user_id == batch.user_id,
               PendingNotification.kind == batch.kind,
               PendingNotification.sent_at.is_(None), _free_claim(now))
        .values(claim=token, claimed_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    rows = list(db.session.scalars(select(PendingNotification)
                                   .where(*_claimed_by(token, batch))
                                   .order_by(PendingNotification.id)))
    return token, rows


def held_claims() -> list[tuple[str, datetime]]:
    """(token, when it was last used to claim) of each claim on rows not sent yet: the
    maintenance pass asks whether its job still runs."""
    return [(token, claimed_at) for token, claimed_at in db.session.execute(
        select(PendingNotification.claim, func.max(PendingNotification.claimed_at))
        .where(PendingNotification.claim.is_not(None), PendingNotification.sent_at.is_(None))
        .group_by(PendingNotification.claim)).all()]


def release(token: str) -> int:
    """Free the unsent rows claimed by ``token`` (its job is dead: the next pass mails them);
    how many. Commits."""
    result = db.session.execute(
        update(PendingNotification)
        .where(PendingNotification.claim == token, PendingNotification.sent_at.is_(None))
        .values(claim=None, claimed_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def mail_batch(batch: Batch, now: datetime | None = None) -> bool:
    """Mail one batch as one email; True if an email went out. On a mail error the rows are
    released (the next pass tries again) and the error propagates."""
    now = now or utcnow()
    token, rows = _claim(batch, now)
    if not rows:
        return False  # another job has it
    user = db.session.get(User, batch.user_id)
    message = None
    if user is not None and wants(user, batch.kind) \
            and (batch.kind != Kind.SENT or is_approver(user)):
        message = compose(user, batch.kind, rows)
    try:
        if message is not None:
            mail.send(user, batch.kind.value, *message)
        db.session.execute(update(PendingNotification)
                           .where(*_claimed_by(token, batch))
                           .values(sent_at=now)
                           .execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:
        db.session.rollback()
        db.session.execute(update(PendingNotification)
                           .where(*_claimed_by(token, batch))
                           .values(claim=None, claimed_at=None)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        raise
    return message is not None


def mail_due(now: datetime | None = None, user_ids=None, ignore_due: bool = False) -> int:
    """Mail every due batch; how many emails went out. A batch that fails (the SMTP server
    is down, refuses the address…) is logged and left for the next pass; the others go."""
    sent = 0
    for batch in due_batches(now, user_ids, ignore_due):
        try:
            sent += mail_batch(batch, now)
        except Exception:
            log.exception("could not mail the %s notices of user %s; the next pass tries "
                          "again", batch.kind.value, batch.user_id)
    return sent


# ---- what the emails say ------------------------------------------------------------------

def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _footer() -> str:
    return (f"\n\n--\nChangeOrder Desk. Choose which emails you get: "
            f"{public_url()}/account/notifications\n")


def compose(user: User, kind: NotificationKind, rows: list[PendingNotification]
            ) -> tuple[str, str] | None:
    """(subject, body) of one email for these rows -- every one of them -- or None when
    nothing is left to say (every item was already handled, is gone, or is no longer one
    the person may open)."""
    if kind == Kind.SENT:
        return _compose_sent(user, rows)
    notices = []
    for row in rows:
        subject = _subject(row.subject_type, row.subject_id)
        if subject is None or not may_open(user, subject):
            continue
        notices.append(_sender_notice(kind, row, subject))
    if not notices:
        return None
    if len(notices) == 1:
        title, body = notices[0]
    else:
        heading = {Kind.REJECTED: "rejected by accounting", Kind.SYNCED: "in QuickBooks",
                   Kind.FAILED: "failed to export"}.get(kind, kind.value)
        title = f"{len(notices)} of your items: {heading}"
        body = "\n\n----\n\n".join(f"{t}\n\n{b}" for t, b in notices)
    return title, body + _footer()


def may_open(user: User, subject) -> bool:
    """May ``user`` open this commitment's or CCO's page now (the link a notice gives)?"""
    return user.active and kinds.of(subject).may_read(user, subject)


def _sender_notice(kind: NotificationKind, row: PendingNotification, subject
                   ) -> tuple[str, str]:
    """What one rejected / synced / failed row says: (title, body)."""
    actor = db.session.get(User, row.actor_id) if row.actor_id else None
    link = page_link(subject)
    if kind == Kind.REJECTED:
        title = f"Rejected by accounting: {_title(subject)}"
        body = (f"{actor.name if actor else 'Accounting'} rejected {_title(subject)}, "
                f"{_amount(subject)}, at {_when(row.created_at)}.\n\n"
                f"Reason: {row.detail or '(none given)'}\n\n"
                f"Correct it and press \"Resend to ERP\":\n{link}")
    elif kind == Kind.WITHDRAWN:
        link = record_link(subject)  # the review box, not the accounting card
        title = f"Approval withdrawn: {_title(subject)}"
        changes = "\n".join(f"* {change}" for change in (row.detail or "").split("; ") if change)
        body = (f"{actor.name if actor else 'Someone'} changed {_title(subject)} at "
                f"{_when(row.created_at)}, after you approved it:\n\n"
                f"{changes or '* its lines'}\n\nYour approval is withdrawn: it is "
                f"{subject.status.label} and cannot go to accounting until you approve it "
                f"again (now {_amount(subject)}):\n{link}")
    elif kind == Kind.SYNCED:
        title = f"In QuickBooks: {_title(subject)}"
        body = (f"{_title(subject)}, {_amount(subject)}, was exported to QuickBooks at "
                f"{_when(row.created_at)} and is Synced.\n\n{link}")
    elif kind == Kind.FAILED:
        title = f"Failed to export: {_title(subject)}"
        body = (f"{_title(subject)}, {_amount(subject)}, could not be exported to QuickBooks "
                f"at {_when(row.created_at)}.\n\nQuickBooks said: "
                f"{row.detail or '(no message)'}\n\nAn ERP admin can Retry Export once it is "
                f"put right, or accounting can reject it back to you:\n{link}")
    else:
        title = f"{kind.label}: {_title(subject)}"
        body = f"{_title(subject)}, {_amount(subject)}, at {_when(row.created_at)}.\n\n{link}"
    return title, body


def _compose_sent(user: User, rows: list[PendingNotification]) -> tuple[str, str] | None:
    latest: dict[tuple[str, int], PendingNotification] = {}
    for row in rows:  # a record sent, retrieved and resent in the window is listed once
        latest[(row.subject_type, row.subject_id)] = row
    items = []
    for row in latest.values():
        subject = _subject(row.subject_type, row.subject_id)
        if subject is None or subject.erp_status != ErpStatus.READY_TO_EXPORT \
                or not _may_see(user, subject):
            continue  # already accepted, rejected or retrieved: nothing waits
        items.append((row, subject))
    if not items:
        return None
    lines = []
    for row, subject in items:
        actor = db.session.get(User, row.actor_id) if row.actor_id else None
        commitment = kinds.of(subject).commitment_of(subject)
        lines.append(
            f"* {_title(subject)}: {_amount(subject)}, {commitment.vendor.name}, project "
            f"{commitment.project.number} {commitment.project.name}\n"
            f"  {row.action} by {actor.name if actor else 'someone'} at "
            f"{_when(row.created_at)}\n  Accept or reject: {card_link(subject)}")
    if len(items) == 1:
        row, subject = items[0]
        verb = "Resent" if row.action == "resent" else "Sent"
        title = f"{verb} to ERP: {_title(subject)}"
        intro = "This waits for your Accept or Reject:"
    else:
        title = f"{len(items)} items sent to ERP wait for you"
        intro = f"These {len(items)} wait for your Accept or Reject:"
    return title, f"{intro}\n\n" + "\n\n".join(lines) + _footer()


# ---- the daily digest -------------------------------------------------------------------------

def _waiting(status: ErpStatus, user: User) -> list:
    found = []
    for kind in kinds.all_kinds():
        visible = kind.visible_sql(user)
        found += db.session.scalars(
            kind.with_commitment(select(kind.model))
            .where(kind.model.erp_status == status, *([] if visible is None else [visible]))
            .order_by(kind.model.updated_at, kind.model.id))
    return sorted(found, key=lambda s: s.updated_at)


def digest_recipients() -> list[User]:
    return [user for user in approvers() if wants(user, Kind.DIGEST)]


def compose_digest(user: User) -> tuple[str, str] | None:
    """What waits for this approver (and, for an ERP admin, what failed); None: nothing."""
    sections = []
    ready = _waiting(ErpStatus.READY_TO_EXPORT, user)
    failed = _waiting(ErpStatus.FAILED_TO_EXPORT, user) if is_erp_admin(user) else []
    for items, status, heading in ((ready, ErpStatus.READY_TO_EXPORT, "Ready to Export"),
                                   (failed, ErpStatus.FAILED_TO_EXPORT, "Failed to Export")):
        if not items:
            continue
        lines = [f"{heading} ({len(items)}):"]
        for subject in items:
            commitment = kinds.of(subject).commitment_of(subject)
            lines.append(f"* {_title(subject)}: {_amount(subject)}, {commitment.vendor.name}, "
                         f"waiting since {_when(subject.updated_at)}\n"
                         f"  {card_link(subject, status)}")
        sections.append("\n".join(lines))
    if not sections:
        return None
    count = len(ready) + len(failed)
    title = f"{count} item{'s' if count != 1 else ''} wait for you in ERP Integrations"
    return title, "Good morning. Waiting for you:\n\n" + "\n\n".join(sections) + _footer()


def mail_digest(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or not is_approver(user) or not wants(user, Kind.DIGEST):
        return False
    message = compose_digest(user)
    if message is None:
        return False
    mail.send(user, Kind.DIGEST.value, *message)
    db.session.commit()
    return True
