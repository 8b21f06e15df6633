"""Column helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from models.statuses import ErpStatus

if TYPE_CHECKING:
    from models.people import User


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def str_enum(enum_class: type[enum.StrEnum], name: str) -> sa.Enum:
    """Store a StrEnum by value in a VARCHAR with a CHECK constraint (portable, easy to migrate)."""
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Versioned:
    """Who changed a record last and when, and its version: every UPDATE checks the version
    it read and raises it (optimistic locking, ``workflow/locking.py``)."""

    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    @declared_attr
    def updated_by(cls) -> Mapped[User | None]:
        return relationship("User", foreign_keys=f"{cls.__name__}.updated_by_id")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}


class ErpColumns:
    """The ERP columns of a record we send to QuickBooks (an ERP kind, workflow/kinds.py): its
    status on the ERP axis (docs/lifecycle.md) and accounting's reason when it rejected it.
    With ``Versioned``: the status moves by one conditional UPDATE of both."""

    erp_status: Mapped[ErpStatus] = mapped_column(
        str_enum(ErpStatus, "erp_status"), default=ErpStatus.NOT_SENT
    )
    erp_rejection_reason: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def erp_editable(self) -> bool:
        """Not with accounting: never sent, or rejected."""
        return self.erp_status.editable
