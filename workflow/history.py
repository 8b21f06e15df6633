"""Writing the Change History. Every workflow change records who, when, what, old → new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from extensions import db
from models import ChangeEvent, ChangeOrder, Commitment, HistoryEvent, Project, User


def _subject(record) -> tuple[str, int, int]:
    if isinstance(record, Commitment):
        return "commitment", record.id, record.project_id
    if isinstance(record, ChangeOrder):
        return "change_order", record.id, record.commitment.project_id
    if isinstance(record, ChangeEvent):
        return "change_event", record.id, record.project_id
    if isinstance(record, Project):
        return "project", record.id, record.id
    raise TypeError(f"no history for {type(record).__name__}")


def show(value) -> str | None:
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
           old=None, new=None, comment: str | None = None) -> HistoryEvent:
    subject_type, subject_id, project_id = _subject(subject)
    event = HistoryEvent(user=actor, subject_type=subject_type, subject_id=subject_id,
                         project_id=project_id, action=action, field=field,
                         old_value=show(old), new_value=show(new), comment=comment)
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


@dataclass(frozen=True)
class MaskedEvent:
    """A history event as shown to someone who may not see all of it (the stored event is
    append-only and stays as it was)."""

    id: int
    at: datetime
    user: User | None
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    comment: str | None


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
