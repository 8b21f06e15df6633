"""RQ jobs for change orders."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from extensions import db
from jobs.context import job_app_context
from models import ChangeOrder
from models.types import utcnow
from workflow import erp

log = logging.getLogger(__name__)


def reopen_rejected_cco(change_order_id: int) -> str:
    """Hand a CCO that accounting rejected back to its project: editable again, a history
    event, a notice for whoever sent it. Safe to run twice (the second run does nothing)."""
    with job_app_context():
        cco = db.session.get(ChangeOrder, change_order_id)
        if cco is None:
            return "missing"
        if erp.reopen_rejected(cco):
            log.info("CCO %s reopened after rejection", change_order_id)
            return "reopened"
        return "nothing to do"


def reopen_stalled(older_than: timedelta = timedelta(seconds=30)) -> int:
    """Rejected CCOs whose reopen job was lost (Redis down at Reject): reopen them now."""
    ids = db.session.scalars(select(ChangeOrder.id).where(
        ChangeOrder.erp_reopen_pending.is_(True),
        ChangeOrder.updated_at < utcnow() - older_than)).all()
    return sum(reopen_rejected_cco(cco_id) == "reopened" for cco_id in ids)
