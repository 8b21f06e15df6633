"""The change data capture poll's cost at a number of linked PurchaseOrders: time and
QuickBooks calls of the first poll (a full read, a page of 1,000 at a time), of a poll that
finds 10 POs changed in QuickBooks, and of a poll that finds nothing (one call each)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from benchmarks import seed as seeding

PO_BODY = {"VendorRef": {"value": "56"}, "Line": [
    {"Amount": 100, "DetailType": "AccountBasedExpenseLineDetail",
     "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "81"}}}]}


@dataclass
class CdcPoll:
    size: int
    poll: str
    seconds: float
    calls: int
    changed: int


def cdc_polls(size: int, server, args, app_factory, fresh_schema, connect) -> list[CdcPoll]:
    from extensions import db
    from models import Commitment, QboConnection
    from models.types import utcnow
    from workflow import qbo_drift

    sandbox = server.sandbox
    rows: list[CdcPoll] = []
    with tempfile.TemporaryDirectory() as instance:
        app = app_factory(instance, server, args.database_url)
        fresh_schema(app)
        sandbox.reset()
        sandbox.configure(access_token_ttl=10 ** 7)  # no refresh in the middle of a figure
        realm = "9341453050298165"
        with app.app_context():
            seeding.seed(size, connect=connect)
            created = sandbox.add_purchase_orders(realm, [PO_BODY] * size)
            ids = list(db.session.scalars(select(Commitment.id).order_by(Commitment.id)
                                          .limit(size)))
            table = Commitment.__table__
            db.session.execute(
                update(table).where(table.c.id == bindparam("b_id"))
                .values(qbo_purchase_order_id=bindparam("b_po"), qbo_sync_token="0"),  # noqa: S106
                [{"b_id": cid, "b_po": po["Id"]} for cid, po in zip(ids, created, strict=False)])
            db.session.commit()

            def measure(name: str, now=None) -> None:
                db.session.remove()
                seq = max([e["seq"] for e in sandbox.request_log(realm)] or [0])
                started = time.perf_counter()
                result = qbo_drift.poll(now=now)
                seconds = time.perf_counter() - started
                calls = len(sandbox.request_log(realm, since=seq))
                assert calls == result.calls
                rows.append(CdcPoll(size, name, seconds, calls, result.changed))

            measure("first poll (full read)")
            # Later: the company's POs were made an hour ago; 10 change now.
            sandbox.advance_time(3600)
            later = utcnow() + timedelta(hours=1)
            db.session.execute(update(QboConnection).values(
                cdc_changed_since=later - timedelta(minutes=5)))
            db.session.commit()
            for po in created[:10]:
                sandbox.edit_purchase_order(realm, po["Id"], lines={"1": {"Amount": 250}})
            measure("10 POs changed in QuickBooks", later)
            db.session.execute(update(QboConnection).values(
                cdc_changed_since=later + timedelta(minutes=1)))
            db.session.commit()
            measure("nothing changed", later + timedelta(minutes=6))
    return rows


def report(rows: list[CdcPoll]) -> list[str]:
    lines = ["change data capture poll (workflow/qbo_drift.py, through the real client):", "",
             "| linked POs | poll | seconds | QuickBooks calls | linked POs changed |",
             "|---:|---|---:|---:|---:|"]
    lines += [f"| {r.size:,} | {r.poll} | {r.seconds:.2f} | {r.calls} | {r.changed:,} |"
              for r in rows]
    return lines
