"""In-app notices: a line at the top of the user's next pages until they dismiss it."""

from __future__ import annotations

from sqlalchemy import select, update

from extensions import db
from models import Notice, User
from models.types import utcnow

SHOWN_AT_ONCE = 5
# Read at most this many of the newest unseen notices on a page, however many about records the
# user may no longer open were left behind (every page shows notices: its cost stays flat).
SCANNED = 50


def unseen(user: User) -> list[Notice]:
    """The newest notices not dismissed, about records the user may still open (one removed
    from the project, or no longer allowed a private CCO, is not shown what it says)."""
    from workflow import kinds
    from workflow.notifications import may_open

    shown = []
    for notice in db.session.scalars(
            select(Notice).where(Notice.user_id == user.id, Notice.seen_at.is_(None))
            .order_by(Notice.id.desc()).limit(SCANNED)):
        kind = kinds.named(notice.subject_type) if notice.subject_type else None
        subject = db.session.get(kind.model, notice.subject_id) if kind else None
        if kind is not None and (subject is None or not may_open(user, subject)):
            continue
        shown.append(notice)
        if len(shown) == SHOWN_AT_ONCE:
            break
    return shown


def dismiss(user: User, notice_id: int) -> None:
    """Only the notice's own user can dismiss it; dismissing twice does nothing."""
    db.session.execute(update(Notice).where(Notice.id == notice_id, Notice.user_id == user.id,
                                            Notice.seen_at.is_(None))
                       .values(seen_at=utcnow()))
    db.session.commit()


def settle(subject_type: str, subject_id: int, about: str) -> None:
    """What the notices ``about`` this record asked for is done (a rejected CCO resent or
    synced, a withdrawn approval reviewed again): put them away for everyone, in the caller's
    transaction, so nobody reads a request that no longer holds."""
    db.session.execute(update(Notice).where(Notice.subject_type == subject_type,
                                            Notice.subject_id == subject_id,
                                            Notice.about == about, Notice.seen_at.is_(None))
                       .values(seen_at=utcnow())
                       .execution_options(synchronize_session=False))
