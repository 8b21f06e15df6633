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
