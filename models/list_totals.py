"""The commitments and change events lists' totals rows, kept ready so that reading them costs
the same at any size (docs/architecture.md, "List totals kept as records change").

Each list ends in a totals row over every record its filters match, on every page. Adding the
records up when the list is read costs more each year a project runs, so the adding is done
when a record changes instead:

* a *share* row per record (``commitment_sums``, ``change_event_sums``) holds what the record
  adds to its list, and the filter values it was added under;
* a *list totals* row per project and filter key (``commitment_list_totals``,
  ``change_event_list_totals``) holds the shares added up. Its ``vendor_id`` is the vendor
  filter's value, 0 for "any vendor"; a change event counts under each vendor on its items.
* private CCOs are added up apart, for everyone (``viewer_id`` 0: a project admin sees them
  all) and for each user who may see one without being an admin (its creator, its reviewer,
  the viewers it names; ``viewer_id`` theirs), so each viewer's totals row leaves out, and
  counts, only the private CCOs they may not open, still in a few rows.

The list's totals row then sums at most a few list totals rows (workflow/commitments.py,
workflow/change_events.py). Amounts are integer cents, so adding and taking away never drifts.

The hook at the bottom keeps them in step. After a flush that wrote anything a total depends on
(an amount, a status, a vendor, the private flag; a record or line added or removed), the
records concerned are summed again from their lines, and the difference from their share rows
is added to the list totals rows they leave and join. The share rows are read FOR UPDATE first:
on PostgreSQL two transactions that change one record's total run one after the other, and the
second adds up what the first committed. Writes that bypass the ORM (Core ``insert()`` of the
benchmark seed, a migration) call :func:`rebuild` afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from extensions import db
from models.change_events import ChangeEvent, ChangeEventLine
from models.change_orders import ChangeOrder, ChangeOrderLine
from models.commitments import Commitment, SovLine
from models.statuses import ChangeOrderStatus

ANY_VENDOR = 0  # the list totals row of every vendor together (no vendor filter)
EVERYONE = 0  # the list totals row of every CCO (a viewer's own rows: their private CCOs only)


def _cents_columns(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger, nullable=False, default=0, server_default="0")
            for name in names]


COMMITMENT_AMOUNTS = ("original", "approved", "pending",
                      "private_approved", "private_pending", "private_count")
PRIVATE_AMOUNTS = COMMITMENT_AMOUNTS[3:]  # what a viewer's own rows hold
CHANGE_EVENT_AMOUNTS = ("cost_rom", "latest_cost")

commitment_sums = sa.Table(
    "commitment_sums", db.metadata,
    # No foreign key: the row must outlive its commitment until the hook has taken its share
    # out of the list totals.
    sa.Column("commitment_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("vendor_id", sa.Integer, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    *_cents_columns(*COMMITMENT_AMOUNTS),
    # the private CCOs' amounts per user who may see them: "user:approved:pending:count,..."
    sa.Column("viewers", sa.Text, nullable=False, default="", server_default=""),
)

commitment_list_totals = sa.Table(
    "commitment_list_totals", db.metadata,
    sa.Column("project_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("vendor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(32), primary_key=True),
    sa.Column("viewer_id", sa.Integer, primary_key=True, autoincrement=False),
    *_cents_columns("records", *COMMITMENT_AMOUNTS),
)

change_event_sums = sa.Table(
    "change_event_sums", db.metadata,
    sa.Column("change_event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    # the vendors on its items, "3,17": the list totals rows it counts under besides ANY_VENDOR
    sa.Column("vendor_ids", sa.Text, nullable=False, default="", server_default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(32), nullable=False),
    *_cents_columns(*CHANGE_EVENT_AMOUNTS),
)

change_event_list_totals = sa.Table(
    "change_event_list_totals", db.metadata,
    sa.Column("project_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("vendor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(32), primary_key=True),
    sa.Column("scope", sa.String(32), primary_key=True),
    *_cents_columns("records", *CHANGE_EVENT_AMOUNTS),
)


@dataclass(frozen=True)
class Share:
    """What one record adds to its project's list: under which filter values, how much."""

    project_id: int
    keys: tuple[str, ...]  # the list's other filter values (type and status; status and scope)
    vendor_ids: tuple[int, ...]
    amounts: tuple[int, ...]
    # commitments: (user id, *PRIVATE_AMOUNTS) of the private CCOs each user may see
    viewers: tuple[tuple[int, ...], ...] | None = None

    def rows(self) -> Iterable[tuple[tuple, tuple[int, ...]]]:
        """(list totals key, the record count and amounts it adds there)."""
        for vendor_id in (ANY_VENDOR, *self.vendor_ids):
            if self.viewers is None:
                yield (self.project_id, vendor_id, *self.keys), (1, *self.amounts)
                continue
            yield (self.project_id, vendor_id, *self.keys, EVERYONE), (1, *self.amounts)
            padding = (0,) * (1 + len(self.amounts) - len(PRIVATE_AMOUNTS))
            for user_id, *private in self.viewers:
                yield (self.project_id, vendor_id, *self.keys, user_id), (*padding, *private)


def _cents(column):
    """A sum of money in integer cents, the same on SQLite and PostgreSQL."""
    return sa.cast(sa.func.round(sa.func.coalesce(sa.func.sum(column), 0) * 100), sa.BigInteger)


def _commitment_shares(connection: Connection, ids: list[int] | None) -> dict[int, Share]:
    """Each commitment's share, summed from its SOV lines and its approved and pending CCOs
    (private ones apart, as a viewer may not see them), in one statement."""
    pending = [s for s in ChangeOrderStatus if s.is_pending]
    approved = ChangeOrder.status == ChangeOrderStatus.APPROVED
    private = ChangeOrder.private.is_(True)

    def part(condition):
        return _cents(sa.case((condition, ChangeOrderLine.amount), else_=0))

    sov = select(SovLine.commitment_id.label("cid"), _cents(SovLine.amount).label("original"))
    ccos = (select(ChangeOrder.commitment_id.label("cid"),
                   part(approved & ~private).label("approved"),
                   part(~approved & ~private).label("pending"),
                   part(approved & private).label("private_approved"),
                   part(~approved & private).label("private_pending"),
                   sa.func.count(sa.case((private, ChangeOrder.id)).distinct())
                   .label("private_count"))
            .join(ChangeOrderLine, ChangeOrderLine.change_order_id == ChangeOrder.id)
            .where(ChangeOrder.status.in_([ChangeOrderStatus.APPROVED, *pending])))
    query = select(Commitment.id, Commitment.project_id, Commitment.type, Commitment.status,
                   Commitment.vendor_id)
    if ids is not None:
        sov = sov.where(SovLine.commitment_id.in_(ids))
        ccos = ccos.where(ChangeOrder.commitment_id.in_(ids))
        query = query.where(Commitment.id.in_(ids))
    sov = sov.group_by(SovLine.commitment_id).subquery()
    ccos = ccos.group_by(ChangeOrder.commitment_id).subquery()
    amounts = (sov.c.original, *(ccos.c[name] for name in COMMITMENT_AMOUNTS[1:]))
    query = (query.add_columns(*(sa.func.coalesce(column, 0) for column in amounts))
             .outerjoin(sov, sov.c.cid == Commitment.id)
             .outerjoin(ccos, ccos.c.cid == Commitment.id))
    viewers: dict[int, list[tuple[int, ...]]] = {}
    for cid, *viewer in connection.execute(_private_viewers(ids)):
        viewers.setdefault(cid, []).append(tuple(int(v) for v in viewer))
    return {cid: Share(project_id, (str(kind), str(status)), (vendor_id,),
                       tuple(int(a) for a in amounts), tuple(viewers.get(cid, ())))
            for cid, project_id, kind, status, vendor_id, *amounts in connection.execute(query)}


def _private_viewers(ids: list[int] | None):
    """(commitment id, user id, approved, pending, count) of the private approved and pending
    CCOs each user may see without being a project admin: they wrote it, review it, or are
    named on it (workflow/change_orders.py:can_view), by commitment and user."""
    from models.change_orders import cco_viewers

    private = [ChangeOrder.private.is_(True)]
    if ids is not None:
        private.append(ChangeOrder.commitment_id.in_(ids))
    pairs = sa.union(
        select(ChangeOrder.id.label("cco"), ChangeOrder.created_by_id.label("uid"))
        .where(*private, ChangeOrder.created_by_id.is_not(None)),
        select(ChangeOrder.id, ChangeOrder.designated_reviewer_id)
        .where(*private, ChangeOrder.designated_reviewer_id.is_not(None)),
        select(cco_viewers.c.change_order_id, cco_viewers.c.user_id)
        .join(ChangeOrder, ChangeOrder.id == cco_viewers.c.change_order_id).where(*private),
    ).subquery()
    pending = [s for s in ChangeOrderStatus if s.is_pending]
    approved = ChangeOrder.status == ChangeOrderStatus.APPROVED
    return (select(ChangeOrder.commitment_id, pairs.c.uid,
                   _cents(sa.case((approved, ChangeOrderLine.amount), else_=0)),
                   _cents(sa.case((approved, 0), else_=ChangeOrderLine.amount)),
                   sa.func.count(ChangeOrder.id.distinct()))
            .join(pairs, pairs.c.cco == ChangeOrder.id)
            .join(ChangeOrderLine, ChangeOrderLine.change_order_id == ChangeOrder.id)
            .where(ChangeOrder.status.in_([ChangeOrderStatus.APPROVED, *pending]))
            .group_by(ChangeOrder.commitment_id, pairs.c.uid)
            .order_by(ChangeOrder.commitment_id, pairs.c.uid))


def _change_event_shares(connection: Connection, ids: list[int] | None) -> dict[int, Share]:
    """Each change event's share (its items' ROM and latest cost, and their vendors), in one
    statement: a row per event and vendor."""
    sums = select(ChangeEventLine.change_event_id.label("eid"),
                  _cents(ChangeEventLine.cost_rom).label("cost_rom"),
                  _cents(ChangeEventLine.latest_cost).label("latest_cost"))
    vendors = (select(ChangeEventLine.change_event_id.label("eid"),
                      ChangeEventLine.vendor_id.label("vendor_id"))
               .where(ChangeEventLine.vendor_id.is_not(None)).distinct())
    query = select(ChangeEvent.id, ChangeEvent.project_id, ChangeEvent.status, ChangeEvent.scope)
    if ids is not None:
        sums = sums.where(ChangeEventLine.change_event_id.in_(ids))
        vendors = vendors.where(ChangeEventLine.change_event_id.in_(ids))
        query = query.where(ChangeEvent.id.in_(ids))
    sums = sums.group_by(ChangeEventLine.change_event_id).subquery()
    vendors = vendors.subquery()
    query = (query.add_columns(sa.func.coalesce(sums.c.cost_rom, 0),
                               sa.func.coalesce(sums.c.latest_cost, 0), vendors.c.vendor_id)
             .outerjoin(sums, sums.c.eid == ChangeEvent.id)
             .outerjoin(vendors, vendors.c.eid == ChangeEvent.id)
             .order_by(ChangeEvent.id, vendors.c.vendor_id))
    shares: dict[int, Share] = {}
    for eid, rows in itertools.groupby(connection.execute(query), key=lambda row: row[0]):
        rows = list(rows)
        _, project_id, status, scope, rom, latest, _ = rows[0]
        shares[eid] = Share(project_id, (str(status), str(scope)),
                            tuple(row[-1] for row in rows if row[-1] is not None),
                            (int(rom), int(latest)))
    return shares


@dataclass(frozen=True)
class _List:
    """One list's share and totals tables, and how a record's share is summed."""

    sums: sa.Table
    totals: sa.Table
    record: str  # the share table's record id column
    keys: tuple[str, ...]  # the other filter columns, in Share.keys order
    amounts: tuple[str, ...]
    shares: Callable[[Connection, list[int] | None], dict[int, Share]]

    def share_of(self, row) -> Share:
        mapping = row._mapping
        if "vendor_ids" in mapping:
            vendors = tuple(int(v) for v in mapping["vendor_ids"].split(",") if v)
        else:
            vendors = (mapping["vendor_id"],)
        viewers = None
        if "viewers" in mapping:
            viewers = tuple(tuple(int(v) for v in viewer.split(":"))
                            for viewer in mapping["viewers"].split(",") if viewer)
        return Share(mapping["project_id"], tuple(mapping[k] for k in self.keys), vendors,
                     tuple(int(mapping[a]) for a in self.amounts), viewers)

    def share_row(self, record_id: int, share: Share) -> dict:
        row = {self.record: record_id, "project_id": share.project_id,
               **dict(zip(self.keys, share.keys, strict=True)),
               **dict(zip(self.amounts, share.amounts, strict=True))}
        if share.viewers is not None:
            row["viewers"] = ",".join(":".join(str(v) for v in viewer)
                                      for viewer in share.viewers)
        if "vendor_ids" in self.sums.c:
            row["vendor_ids"] = ",".join(str(v) for v in share.vendor_ids)
        else:
            row["vendor_id"] = share.vendor_ids[0]
        return row


COMMITMENTS = _List(commitment_sums, commitment_list_totals, "commitment_id", ("type", "status"),
                    COMMITMENT_AMOUNTS, _commitment_shares)
CHANGE_EVENTS = _List(change_event_sums, change_event_list_totals, "change_event_id",
                      ("status", "scope"), CHANGE_EVENT_AMOUNTS, _change_event_shares)


def _insert(connection: Connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _upsert(connection: Connection, table: sa.Table, rows: list[dict], *, add: bool) -> None:
    """Insert ``rows``, or where the key exists, add to (``add``) or replace its amounts."""
    if not rows:
        return
    statement = _insert(connection)(table).values(rows)
    key = [c.name for c in table.primary_key.columns]
    changes = {c.name: (c + statement.excluded[c.name]) if add else statement.excluded[c.name]
               for c in table.columns if c.name not in key}
    connection.execute(statement.on_conflict_do_update(index_elements=key, set_=changes))


def _differences(pairs: Iterable[tuple[Share | None, Share | None]]) -> dict[tuple, list[int]]:
    """What moving each record's share from ``before`` to ``after`` adds to each list totals
    row (by its key)."""
    changes: dict[tuple, list[int]] = {}
    for before, after in pairs:
        if before == after:
            continue
        for share, sign in ((before, -1), (after, 1)):
            for key, adds in share.rows() if share else ():
                total = changes.setdefault(key, [0] * len(adds))
                for i, value in enumerate(adds):
                    total[i] += sign * value
    return changes


def _add_to_totals(connection: Connection, kind: _List, changes: dict[tuple, list[int]]) -> None:
    key_columns = [c.name for c in kind.totals.primary_key.columns]
    _upsert(connection, kind.totals,
            [{**dict(zip(key_columns, key, strict=True)),
              **dict(zip(("records", *kind.amounts), adds, strict=True))}
             for key, adds in sorted(changes.items()) if any(adds)], add=True)


def refresh(connection: Connection, kind: _List, ids: Iterable[int]) -> dict[int, Share]:
    """Sum these records again and move the difference into their list totals rows; return
    their shares."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    old = {row._mapping[kind.record]: kind.share_of(row) for row in connection.execute(
        select(kind.sums).where(kind.sums.c[kind.record].in_(ids))
        .order_by(kind.sums.c[kind.record]).with_for_update())}
    new = kind.shares(connection, ids)
    changes = _differences((old.get(i), new.get(i)) for i in ids)
    if not changes:
        return new
    _upsert(connection, kind.sums, [kind.share_row(i, s) for i, s in new.items()
                                    if old.get(i) != s], add=False)
    gone = [i for i in old if i not in new]
    if gone:
        connection.execute(kind.sums.delete().where(kind.sums.c[kind.record].in_(gone)))
    _add_to_totals(connection, kind, changes)
    return new


def add_amounts(connection: Connection, kind: _List, deltas: dict[int, dict[str, int]]
                ) -> tuple[dict[int, Share], list[int]]:
    """Add ``deltas`` (record id → amount column → cents) to these records' shares, one
    ``UPDATE … SET x = x + :delta … RETURNING`` each, and the same to the list totals rows
    they count in, one upsert for them all: for a change of amounts only (a line's amount
    edited), where nothing moves between filter values. Each UPDATE locks the share row it
    adds to, so two such changes at once both count, in either order (an SOV save also holds
    its commitment's lock; CCO line and change event item saves do not need one); adding is
    exact in integer cents. Returns the
    shares written, and the records that have no share row yet (to ``refresh``)."""
    written: dict[int, Share] = {}
    missing: list[int] = []
    pairs = []
    for record_id, adds in sorted(deltas.items()):
        if not any(adds.values()):
            continue
        row = connection.execute(
            kind.sums.update().where(kind.sums.c[kind.record] == record_id)
            .values({name: kind.sums.c[name] + value for name, value in adds.items()})
            .returning(*kind.sums.c)).first()
        if row is None:
            missing.append(record_id)
            continue
        after = kind.share_of(row)
        before = Share(after.project_id, after.keys, after.vendor_ids,
                       tuple(amount - adds.get(name, 0)
                             for name, amount in zip(kind.amounts, after.amounts, strict=True)),
                       after.viewers)
        written[record_id] = after
        pairs.append((before, after))
    _add_to_totals(connection, kind, _differences(pairs))
    return written, missing


def rebuild(connection: Connection) -> None:
    """Sum every record again from its lines (after bulk writes, and in the migration)."""
    for kind in (COMMITMENTS, CHANGE_EVENTS):
        connection.execute(kind.totals.delete())
        connection.execute(kind.sums.delete())
        shares = kind.shares(connection, None)
        totals: dict[tuple, list[int]] = {}
        for share in shares.values():
            for key, adds in share.rows():
                total = totals.setdefault(key, [0] * len(adds))
                for i, value in enumerate(adds):
                    total[i] += value
        key_columns = [c.name for c in kind.totals.primary_key.columns]
        rows = [kind.share_row(i, s) for i, s in shares.items()]
        for start in range(0, len(rows), 5000):
            connection.execute(kind.sums.insert(), rows[start:start + 5000])
        rows = [{**dict(zip(key_columns, key, strict=True)),
                 **dict(zip(("records", *kind.amounts), adds, strict=True))}
                for key, adds in sorted(totals.items())]
        for start in range(0, len(rows), 5000):
            connection.execute(kind.totals.insert(), rows[start:start + 5000])


# ---- the hook ----------------------------------------------------------------------------------

# What a list total depends on, per model: a change to any of these attributes (or the record
# added or removed) re-sums the commitment or change event it belongs to.
_WATCHED: dict[type, tuple[str, ...]] = {
    Commitment: ("project_id", "vendor_id", "type", "status"),
    SovLine: ("commitment_id", "amount"),
    ChangeOrder: ("commitment_id", "status", "private", "created_by_id",
                  "designated_reviewer_id", "viewers"),
    ChangeOrderLine: ("change_order_id", "amount"),
    ChangeEvent: ("project_id", "status", "scope"),
    ChangeEventLine: ("change_event_id", "vendor_id", "cost_rom", "latest_cost"),
}
_OWNER = {Commitment: "id", SovLine: "commitment_id", ChangeOrder: "commitment_id",
          ChangeOrderLine: "change_order_id", ChangeEvent: "id",
          ChangeEventLine: "change_event_id"}


def _values(record, attribute: str) -> set:
    """The attribute's value before and after this flush."""
    history = sa.inspect(record).attrs[attribute].history
    return {v for v in (*history.added, *history.deleted, *history.unchanged) if v is not None}


@event.listens_for(Session, "before_flush")
def _load_owners(session: Session, _context, _instances) -> None:
    """Read the owner id of each changed or removed line while its row is still there (a
    record expired by a commit has none loaded, and a removed one cannot load it after)."""
    with session.no_autoflush:
        for record in itertools.chain(session.dirty, session.deleted):
            owner = _OWNER.get(type(record))
            if owner is not None and owner not in sa.inspect(record).dict:
                getattr(record, owner)


# The amounts a line adds to its record's share: a change of these alone (a line's amount
# edited) is added to the share and the list totals rows as it is (``add_amounts``).
_AMOUNTS: dict[type, dict[str, str]] = {
    SovLine: {"amount": "original"},
    ChangeOrderLine: {"amount": ""},  # approved or pending, by its CCO's status
    ChangeEventLine: {"cost_rom": "cost_rom", "latest_cost": "latest_cost"},
}
_CENT = Decimal("0.01")


def _cents_of(value) -> int:
    return int(Decimal(value or 0).quantize(_CENT) * 100)


def _amount_deltas(session: Session) -> dict[str, dict[int, dict[str, int]]] | None:
    """For a flush that changed nothing but lines' amounts, what each record's share gains
    (``COMMITMENTS``/``CHANGE_EVENTS`` sums table name → record id → column → cents); None
    for any other change (a record or line added, removed, moved, a status, a vendor, a
    private CCO's amount), which is summed again (``refresh``)."""
    if any(type(record) in _WATCHED for record in itertools.chain(session.new,
                                                                   session.deleted)):
        return None
    deltas: dict[str, dict[int, dict[str, int]]] = {}
    for record in session.dirty:
        watched = _WATCHED.get(type(record))
        if watched is None:
            continue
        state = sa.inspect(record)
        changed = [a for a in watched if state.attrs[a].history.has_changes()]
        if not changed:
            continue
        amounts = _AMOUNTS.get(type(record), {})
        if any(a not in amounts for a in changed):
            return None
        kind, owner, columns = COMMITMENTS, record.commitment_id if isinstance(
            record, SovLine) else None, dict(amounts)
        if isinstance(record, ChangeOrderLine):
            cco = session.identity_map.get(session.identity_key(ChangeOrder,
                                                                record.change_order_id))
            if cco is None or not {"status", "private", "commitment_id"} <= set(
                    sa.inspect(cco).dict) or cco.private:
                return None
            if cco.status == ChangeOrderStatus.APPROVED:
                columns = {"amount": "approved"}
            elif cco.status.is_pending:
                columns = {"amount": "pending"}
            else:
                continue  # a draft or void CCO's lines count in no total
            owner = cco.commitment_id
        elif isinstance(record, ChangeEventLine):
            kind, owner = CHANGE_EVENTS, record.change_event_id
        adds = deltas.setdefault(kind.sums.name, {}).setdefault(owner, {})
        for attribute in changed:
            history = state.attrs[attribute].history
            if not history.deleted:
                return None  # the value before was not read: sum it again
            column = columns[attribute]
            adds[column] = adds.get(column, 0) + _cents_of(history.added[0] if history.added
                                                           else None) \
                - _cents_of(history.deleted[0])
    return deltas


KEPT_SHARES = "list_shares"  # session.info: the shares written in a save's transaction


def kept_share(kind: _List, record_id: int) -> Share | None:
    """The share this record's save just wrote, within ``keep_shares`` (else None): the
    record's totals, as its list adds them, without reading them again."""
    return db.session.info.get(KEPT_SHARES, {}).get((kind.sums.name, record_id))


@contextmanager
def keep_shares():
    """Within this block the shares the hook writes are kept (``kept_share``) for the answer
    of the save that wrote them; a rollback forgets them."""
    session = db.session()
    session.info[KEPT_SHARES] = {}
    try:
        yield
    finally:
        session.info.pop(KEPT_SHARES, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_shares(session: Session, _previous) -> None:
    if KEPT_SHARES in session.info:
        session.info[KEPT_SHARES] = {}


def _keep(session: Session, kind: _List, shares: dict[int, Share]) -> None:
    kept = session.info.get(KEPT_SHARES)
    if kept is not None:
        kept.update({(kind.sums.name, i): share for i, share in shares.items()})


@event.listens_for(Session, "after_flush")
def _keep_list_totals(session: Session, _context) -> None:
    deltas = _amount_deltas(session)
    if deltas is not None:
        if not deltas:
            return
        connection = session.connection()
        for kind in (COMMITMENTS, CHANGE_EVENTS):
            if kind.sums.name in deltas:
                written, missing = add_amounts(connection, kind, deltas[kind.sums.name])
                _keep(session, kind, written)
                _keep(session, kind, refresh(connection, kind, missing))
        return
    commitments: set[int] = set()
    ccos: set[int] = set()
    events: set[int] = set()
    into = {Commitment: commitments, SovLine: commitments, ChangeOrder: commitments,
            ChangeOrderLine: ccos, ChangeEvent: events, ChangeEventLine: events}
    for record in itertools.chain(session.new, session.dirty, session.deleted):
        watched = _WATCHED.get(type(record))
        if watched is None:
            continue
        if record in session.dirty and not any(
                sa.inspect(record).attrs[a].history.has_changes() for a in watched):
            continue
        into[type(record)].update(_values(record, _OWNER[type(record)]))
    if not (commitments or ccos or events):
        return
    connection = session.connection()
    if ccos:
        unknown = set()
        for cco_id in ccos:
            cco = session.identity_map.get(session.identity_key(ChangeOrder, cco_id))
            if cco is not None and "commitment_id" in sa.inspect(cco).dict:
                commitments.update(_values(cco, "commitment_id"))
            else:
                unknown.add(cco_id)
        if unknown:
            commitments.update(connection.scalars(
                select(ChangeOrder.commitment_id).where(ChangeOrder.id.in_(unknown))))
    _keep(session, COMMITMENTS, refresh(connection, COMMITMENTS, commitments))
    _keep(session, CHANGE_EVENTS, refresh(connection, CHANGE_EVENTS, events))
