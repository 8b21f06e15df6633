"""Optimistic locking: a save names the version it was made from; a newer one refuses it."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from workflow.errors import StaleEdit

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
    """Commit; if another transaction won the race between our check and our write, say so."""
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        db.session.refresh(record)
        raise StaleEdit(record, deleting=deleting) from None
