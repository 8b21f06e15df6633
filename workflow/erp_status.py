"""The ERP status of a record, moved only from a state it is still in: one conditional UPDATE
(… WHERE erp_status IN (allowed)); otherwise ``AlreadyHandled``, saying who moved it last."""

from __future__ import annotations

from sqlalchemy import update

from extensions import db
from models import ErpStatus
from models.types import utcnow
from workflow import history, kinds
from workflow.errors import AlreadyHandled


def already_handled(subject) -> AlreadyHandled:
    """Who moved the record last, when, and where it is now (history.already_handled)."""
    return AlreadyHandled(history.already_handled(subject, kinds.of(subject).title(subject),
                                                  subject.erp_status.label))


def move_erp_status(subject, allowed: tuple[ErpStatus, ...], to: ErpStatus,
                    **values) -> None:
    """Move the ERP status only if it is still one of ``allowed``; else AlreadyHandled."""
    model = type(subject)
    result = db.session.execute(
        update(model)
        .where(model.id == subject.id, model.erp_status.in_(allowed))
        .values(erp_status=to, version=model.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(subject)
        raise already_handled(subject)
    db.session.refresh(subject)
