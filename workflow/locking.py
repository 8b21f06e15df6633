"""Optimistic locking: a save names the version it was made from; a newer one refuses it."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from workflow.errors import StaleEdit


def check_version(record, version: int | None) -> None:
    """Refuse the save if the record changed since the form was rendered."""
    if version is not None and int(version) != record.version:
        raise StaleEdit(record)


@contextmanager
def committing(record):
    """Commit; if another transaction won the race between our check and our write, say so."""
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        db.session.refresh(record)
        raise StaleEdit(record) from None
