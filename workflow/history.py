"""Writing the Change History. Every workflow change records who, when, what, old → new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from extensions import db
from models import HistoryEvent, User
from models.subjects import subject_kind, subject_of
from models.types import utcnow
from workflow.locking import committing


def _subject(record) -> tuple[str, int, int]:
    """The kind, id and project of a record with a Change History (models/subjects.py)."""
    subject = subject_of(record)
    return subject.kind, record.id, subject.project_id(record)


def display_value(value) -> str | None:
    """A value as the history shows it."""
    if value is None or value == "":
        return None
    if isinstance(value, Enum) and hasattr(value, "label"):
        return value.label
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "label", None) or str(value)


def record(actor: User | None, subject, action: str, *, field: str | None = None,
           old=None, new=None, comment: str | None = None, refers_to=None) -> HistoryEvent:
    """``refers_to``: a record the event names as its new value (kept as a reference; its
    words are written when the event is shown, by ``with_words``)."""
    subject_type, subject_id, project_id = _subject(subject)
    ref_type, ref_id, _ = _subject(refers_to) if refers_to is not None else (None, None, None)
    event = HistoryEvent(user=actor, subject_type=subject_type, subject_id=subject_id,
                         project_id=project_id, action=action, field=field,
                         old_value=display_value(old), new_value=display_value(new),
                         comment=comment, ref_type=ref_type, ref_id=ref_id)
    db.session.add(event)
    return event


def record_changes(actor: User | None, subject, target, values: dict, labels: dict[str, str],
                   prefix: str = "") -> list[str]:
    """Set each value on ``target``; record a 'changed' event for each that differs."""
    changed = []
    for name, new in values.items():
        old = getattr(target, name)
        if old != new:
            setattr(target, name, new)
            record(actor, subject, "changed", field=prefix + labels.get(name, name),
                   old=old, new=new)
            changed.append(name)
    return changed



def record_created(actor: User, new, comment: str, *, commit: bool = True) -> None:
    """Add a new record and its 'created' event, and commit (unless ``commit`` is false)."""
    db.session.add(new)
    db.session.flush()
    record(actor, new, "created", comment=comment)
    if commit:
        db.session.commit()


def record_added(actor: User, subject, line, field: str, new: str, *,
                 touching: tuple = ()) -> None:
    """Add ``line`` to ``subject`` with a 'changed' event of ``subject`` (``field`` and
    ``new``), stamp ``touching`` with who changed them and when, and commit."""
    db.session.add(line)
    record(actor, subject, "changed", field=field, new=new)
    touch(actor, *touching)
    db.session.commit()


def touch(actor: User, *records) -> None:
    """Stamp the records with who changed them last, and when."""
    for changed in records:
        changed.updated_by = actor
        changed.updated_at = utcnow()


def commit_changes(actor: User, subject, target, values: dict, labels: dict[str, str], *,
                   prefix: str = "", touching: tuple = ()) -> list[str]:
    """Set ``values`` on ``target`` and commit (a lost race is ``StaleEdit`` or ``Gone``):
    each value that differs is a 'changed' event of ``subject``; if any did, ``target`` and
    ``touching`` are stamped with who changed them and when."""
    with committing(target):
        changed = record_changes(actor, subject, target, values, labels, prefix)
        if changed:
            touch(actor, target, *touching)
    return changed

@dataclass(frozen=True)
class MaskedEvent:
    """A history event as shown: masked for someone who may not see all of it, or with the
    record it refers to in words (the stored event is append-only and stays as it was)."""

    id: int
    at: datetime
    user: User | None
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    comment: str | None
    ref_type: str | None = None
    ref_id: int | None = None


def referenced(event: HistoryEvent):
    """The record an event refers to (``record(refers_to=…)``), or None."""
    kind = subject_kind(event.ref_type) if event.ref_type else None
    return db.session.get(kind.model, event.ref_id) if kind and event.ref_id else None


def with_words(event: HistoryEvent, reference=None):
    """The event as shown: a reference named in words as its new value ("CCO #001 of
    SC-1042"). ``reference``: the referenced record, when the caller has it already."""
    reference = reference if reference is not None else referenced(event)
    if reference is None:
        return event
    return masked(event, new_value=subject_of(reference).name(reference))


def masked(event: HistoryEvent, **shown) -> MaskedEvent:
    values = {name: getattr(event, name) for name in MaskedEvent.__dataclass_fields__}
    return MaskedEvent(**{**values, **shown})


def history_for(subject, before: int | None = None,
                limit: int | None = None) -> list[HistoryEvent]:
    """The record's history, newest first: with ``before`` only events older than that event
    id (the cursor of the next page), at most ``limit`` of them; who made each is read along."""
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    subject_type, subject_id, _ = _subject(subject)
    query = (select(HistoryEvent).where(HistoryEvent.subject_type == subject_type,
                                        HistoryEvent.subject_id == subject_id)
             .options(joinedload(HistoryEvent.user)).order_by(HistoryEvent.id.desc()))
    if before is not None:
        query = query.where(HistoryEvent.id < before)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def already_handled(subject, number: str, status_label: str) -> str:
    """The answer to a stale action: who moved the record last, when, and where it is now."""
    from sqlalchemy import select

    subject_type, subject_id, _ = _subject(subject)
    # The last person who moved it (an export finishing afterwards is not who handled it).
    event = db.session.scalar(
        select(HistoryEvent).where(HistoryEvent.subject_type == subject_type,
                                   HistoryEvent.subject_id == subject_id,
                                   HistoryEvent.field == "ERP status")
        .order_by(HistoryEvent.user_id.is_(None), HistoryEvent.id.desc()).limit(1))
    if event is None:
        return f"Already handled: {number} is now {status_label}."
    who = event.user.name if event.user else "the QuickBooks export"
    return (f"Already handled: {number} is now {status_label}, {event.action} by {who} at "
            f"{event.at.strftime('%Y-%m-%d %H:%M')} UTC.")


def has_erp_history(subject) -> bool:
    """Whether the record was ever sent to ERP (any move of its ERP status is recorded)."""
    from sqlalchemy import select

    subject_type, subject_id, _ = _subject(subject)
    return db.session.scalar(
        select(HistoryEvent.id).where(HistoryEvent.subject_type == subject_type,
                                      HistoryEvent.subject_id == subject_id,
                                      HistoryEvent.field == "ERP status").limit(1)) is not None
