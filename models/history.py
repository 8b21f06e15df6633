"""The Change History: an append-only audit trail of who changed what, when."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.people import User
from models.types import UTCDateTime, utcnow


class HistoryEvent(db.Model):
    __tablename__ = "history_events"
    __table_args__ = (sa.Index("ix_history_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(30))  # "commitment", "change_order"
    subject_id: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(40))  # created, changed, approved, …
    field: Mapped[str | None] = mapped_column(sa.String(60))
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # The record the event names (e.g. the CCO made from a change event), as a fact: its words
    # are written when the event is shown (workflow/history.py), never parsed back.
    ref_type: Mapped[str | None] = mapped_column(sa.String(30))  # a kind of models/subjects.py
    ref_id: Mapped[int | None]

    user: Mapped[User | None] = relationship()


@event.listens_for(HistoryEvent, "before_update")
@event.listens_for(HistoryEvent, "before_delete")
def _append_only(_mapper, _connection, target: HistoryEvent) -> None:
    raise RuntimeError("history events are append-only")


@event.listens_for(sa.orm.Session, "before_flush")
def _insert_together(session, _context, _instances) -> None:
    """A save that changes several fields records an event for each: write them in one
    statement. The ORM would send one INSERT … RETURNING each where the database cannot say
    which returned id is whose (SQLite), and nothing reads an event's id back within the
    save, so they are inserted without RETURNING and leave the session. Left to the ORM when
    there is one, or when the flush also adds the user or the project an event names."""
    from models.reference import Project

    events = [record for record in session.new if isinstance(record, HistoryEvent)]
    if len(events) < 2 or any(isinstance(record, User | Project) for record in session.new):
        return
    columns = [column.key for column in HistoryEvent.__table__.columns if column.key != "id"]
    rows = []
    for record in sorted(events, key=lambda r: sa.inspect(r).insert_order):
        row = {key: getattr(record, key) for key in columns}
        row["at"] = row["at"] or utcnow()
        if record.user is not None:
            row["user_id"] = record.user.id
        rows.append(row)
        session.expunge(record)
    session.connection().execute(HistoryEvent.__table__.insert(), rows)
