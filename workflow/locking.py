"""Optimistic locking: a save names the version it was made from; a newer one refuses it."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import inspect, update
from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from workflow.errors import Gone, StaleEdit

NO_VERSION = ("This form did not say which version of the record it was opened from, so "
              "nothing was saved. Reload the page, check the values and try again.")


def check_version(record, version: int | None, *, deleting: bool = False) -> None:
    """Refuse the save if the record changed since the form was rendered.

    A form without a version cannot prove it saw the current record, so it is refused too
    (an old cached page, a hand-made request): saving it could silently overwrite a change."""
    if version is None:
        raise StaleEdit(record, message=NO_VERSION)
    if int(version) != record.version:
        raise StaleEdit(record, deleting=deleting)


@contextmanager
def committing(record, *, deleting: bool = False):
    """Commit; if another transaction won the race between our check and our write, say so:
    a newer version (StaleEdit), or the row deleted meanwhile (Gone)."""
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        identity = inspect(record).identity
        if identity is None or db.session.get(type(record), identity,
                                              populate_existing=True) is None:
            raise Gone() from None
        raise StaleEdit(record, deleting=deleting) from None


def take_write_lock(subject) -> None:
    """Take the record's write lock (an UPDATE: a row lock on PostgreSQL, the database on
    SQLite), then read it again: edits and Send to ERP of one record run one after the other,
    so what Send to ERP checked is what is sent."""
    model = type(subject)
    db.session.execute(update(model).where(model.id == subject.id)
                       .values(version=model.version)
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    db.session.refresh(subject)
