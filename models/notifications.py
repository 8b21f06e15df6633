"""Email notifications: who turned which kind off, what waits to be mailed, what was mailed."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime, str_enum, utcnow


class NotificationKind(enum.StrEnum):
    """A kind of email a person can turn off for themselves."""

    SENT = "sent"  # to approvers: a commitment or CCO was sent or resent to ERP
    REJECTED = "rejected"  # to the sender: accounting rejected it (with the reason)
    SYNCED = "synced"  # to the sender: it is in QuickBooks
    FAILED = "failed"  # to the sender: the export failed (with QuickBooks' words)
    DIGEST = "digest"  # to approvers: the daily summary of what waits (flask erp digest)
    WITHDRAWN = "withdrawn"  # to the reviewer: a CCO they approved changed; approve it again

    @property
    def label(self) -> str:
        return {
            "sent": "Something is sent or resent to ERP and waits for my Accept or Reject",
            "rejected": "Accounting rejects something I sent",
            "synced": "Something I sent is in QuickBooks (Synced)",
            "failed": "Something I sent failed to export",
            "digest": "The morning summary of what waits for me",
            "withdrawn": "A change order I approved was changed and needs my approval again",
        }[self.value]


class EmailOptOut(db.Model):
    """One kind of email a user turned off (no row: they get it)."""

    __tablename__ = "email_opt_outs"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind,
                                                            "notification_kind"))


class PendingNotification(db.Model):
    """One thing to tell one person, waiting for its email.

    Rows of one person and kind that are unsent when the earliest of them falls due go out
    together in one email (workflow/notifications.py): a send joins the batch of an earlier,
    still unsent one, so several sends within the coalescing window make one email."""

    __tablename__ = "pending_notifications"
    __table_args__ = (
        sa.Index("ix_pending_notifications_sent_at_due_at", "sent_at", "due_at"),
        sa.Index("ix_pending_notifications_user_id_kind", "user_id", "kind"),
        # One row per person and history event: a job that runs twice adds nothing.
        sa.UniqueConstraint("user_id", "history_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind,
                                                            "notification_kind"))
    subject_type: Mapped[str] = mapped_column(sa.String(30))  # "commitment", "change_order"
    subject_id: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(40))  # sent, resent, rejected, …
    history_event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("history_events.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(sa.Text)  # the reason, QuickBooks' message
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the job that mails it (a conditional UPDATE), so two jobs never mail one row.
    claim: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SentEmail(db.Model):
    """Every email the app sent, by SMTP or (with no MAIL_SERVER) only to the log: the outbox
    page (/mail/outbox) shows them."""

    __tablename__ = "sent_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    transport: Mapped[str] = mapped_column(sa.String(10))  # "smtp" or "log"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
