"""Change data capture: what QuickBooks now holds for the company's PurchaseOrders.

One ``GET /v3/company/{realm}/cdc?entities=PurchaseOrder&changedSince=…`` a poll, whatever
the number of POs, through ``call`` (the token refresh and the realm's rate limits shared
with exports). Intuit's limits
(https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture):
changes of the last 30 days only; at most 1,000 objects an answer; a removed object comes back
as ``{"status": "Deleted", "Id": …}``. So:

* a full answer (1,000 objects) means more changed than one answer holds, and Intuit does not
  say which 1,000 it holds (CDC takes no upper bound, so a window cannot be split either):
  every PurchaseOrder is read instead, as after downtime. Polled every few minutes, a small
  contractor's books do not change 1,000 POs between two polls, so this costs nothing
  usually and is sure when it happens;
* when the last poll is older than the 30 days (downtime), CDC cannot answer: every
  PurchaseOrder is read instead, a page of 1,000 at a time, and a linked PO that is no longer
  there was deleted — once a read by its Id confirms it (``read_missing``: a PO deleted while
  the pages are read shifts the next page, so the paging alone can skip a PO).

Where the next poll starts is taken from QuickBooks' own clock (the ``time`` of the first
answer), never ours: QuickBooks stamps each change's ``LastUpdatedTime`` with its clock, so a
server clock that runs ahead of QuickBooks' would otherwise start the next poll after changes
it never read.

This module only reads; nothing here writes to QuickBooks.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from quickbooks_online.connection import call

LOOK_BACK = timedelta(days=30)
# Read in full a little before Intuit's limit, so clocks that differ cannot make CDC refuse.
FULL_READ_AFTER = LOOK_BACK - timedelta(hours=1)
MAX_OBJECTS = 1000
PAGE = 1000


@dataclass
class Changes:
    """What one poll found: PO Id → the PO as QuickBooks holds it (a deleted one as its
    ``{"status": "Deleted"}`` stub); ``complete``: a full read (every PO of the company),
    so a linked PO missing from ``purchase_orders`` was deleted; ``as_of``: QuickBooks' time
    when it answered the first call (every change stamped later is for the next poll)."""

    purchase_orders: dict[str, dict] = field(default_factory=dict)
    calls: int = 0
    complete: bool = False
    as_of: datetime | None = None

    def answered(self, answer: dict) -> None:
        self.calls += 1
        if self.as_of is None:  # no time in the answer: the caller's clock stands in
            with suppress(KeyError, TypeError, ValueError):
                self.as_of = _parse(str(answer["time"]))


def qbo_time(moment: datetime) -> str:
    """A changedSince QuickBooks takes: ISO 8601 with the offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def changes_since(since: datetime | None, now: datetime) -> Changes:
    """Every PurchaseOrder changed since ``since`` (None, or older than Intuit keeps: all)."""
    if since is None or now - since > FULL_READ_AFTER:
        return read_all()
    changes = Changes()
    answer = call(lambda qb: qb.change_data_capture("PurchaseOrder", qbo_time(since)))
    changes.answered(answer)
    found: list[dict] = []
    for block in answer.get("CDCResponse", [{}])[0].get("QueryResponse", []):
        found.extend(block.get("PurchaseOrder", []))
    if len(found) < MAX_OBJECTS:
        changes.purchase_orders = {str(po["Id"]): po for po in found}
        return changes
    # A full answer: some changes may be missing from it, and which is not said. Read all;
    # the next poll starts from this answer's time (the earlier of the two).
    full = read_all()
    full.calls += changes.calls
    full.as_of = min(filter(None, (changes.as_of, full.as_of)), default=None)
    return full


def read_all() -> Changes:
    """Every PurchaseOrder of the company, a page of 1,000 at a time."""
    changes = Changes(complete=True)
    start = 1
    while True:
        statement = (f"select * from PurchaseOrder STARTPOSITION {start} "  # noqa: S608
                     f"MAXRESULTS {PAGE}")
        answer = call(lambda qb, statement=statement: qb.query(statement))
        changes.answered(answer)
        page = list(answer.get("QueryResponse", {}).get("PurchaseOrder", []))
        for po in page:
            changes.purchase_orders[str(po["Id"])] = po
        if len(page) < PAGE:
            return changes
        start += PAGE


def read_missing(changes: Changes, ids: list[str]) -> None:
    """After a full read: read the POs ``ids`` (linked, not found by the paging) by Id, so
    that only those QuickBooks no longer has count as deleted."""
    for start in range(0, len(ids), PAGE):
        listed = ", ".join("'" + str(po_id).replace("\\", "").replace("'", "\\'") + "'"
                           for po_id in ids[start:start + PAGE])
        statement = (f"select * from PurchaseOrder where Id in ({listed}) "  # noqa: S608
                     f"MAXRESULTS {PAGE}")
        answer = call(lambda qb, statement=statement: qb.query(statement))
        changes.calls += 1
        for po in answer.get("QueryResponse", {}).get("PurchaseOrder", []):
            changes.purchase_orders[str(po["Id"])] = po
