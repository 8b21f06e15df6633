"""Bulk seeding for the benchmarks: ``size`` commitments, ``size`` CCOs and ``size`` change
event items, with the variety of a real company (many projects, vendors, cost codes, users).

Everything is built as lists of dicts and written with SQLAlchemy Core ``insert()`` in chunks,
inside one transaction: 100,000 of each (about a million rows with the SOV lines, CCO lines
and history) takes about a minute on SQLite.

The data, for ``size`` = N:

* projects: max(2, N / 100). Project 1 (the "flagship", where the pages are measured) holds a
  tenth of everything, so its lists grow with N; the rest is spread over the others.
* vendors max(5, N / 50), cost codes between 20 and 1,000 (N / 100), the five categories, a
  cost mapping for every cost code x category pair, every project and vendor linked to a
  QuickBooks record (round-robin over the company's imported lists, when connected).
* users max(10, N / 100); each project has three members; the project manager (``PM_EMAIL``)
  is a standard member of the flagship and nine others; the approver (``APPROVER_EMAIL``) may
  accept exports; the company admin (``ADMIN_EMAIL``) sees every project.
* commitments: subcontracts and purchase orders, two to four SOV lines each, in every ERP
  status (a third waiting in the inbox); CCOs: two on each of the first half of the
  commitments, one or two lines each (modifying an SOV line, or a new line); change events
  with one to seven items each; a few history events per record; an Export for each Synced one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, insert, select, text, update

from models import list_totals

PASSWORD = "bench-password"  # noqa: S105 (benchmark users only)
PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 (fast logins)
PM_EMAIL = "pm@bench.test"
APPROVER_EMAIL = "approver@bench.test"
ADMIN_EMAIL = "admin@bench.test"
CHUNK = 5_000
FLAGSHIP_EVERY = 10  # one record in ten goes to the flagship project


@dataclass
class Seeded:
    """The records the benchmark opens and edits (all in the flagship project)."""

    size: int
    rows: int
    seconds: float
    project_id: int
    commitment_id: int
    sov_line_id: int
    cco_id: int
    cco_line_id: int
    change_event_id: int
    change_event_line_id: int


def _chunks(rows: list[dict]):
    for start in range(0, len(rows), CHUNK):
        yield rows[start:start + CHUNK]


class _Writer:
    def __init__(self, session) -> None:
        self.session = session
        self.rows = 0

    def __call__(self, table, rows: list[dict]) -> None:
        for chunk in _chunks(rows):
            self.session.execute(insert(table), chunk)
        self.rows += len(rows)


def _qbo_ids(session, entity: str) -> list[str]:
    """Ids of the company's imported QuickBooks records of ``entity`` (none when not
    connected: then made-up ids, enough for the pages)."""
    from models import QboRecord
    from quickbooks_online.lists import SALES_ONLY

    return list(session.scalars(select(QboRecord.qbo_id).where(
        QboRecord.entity == entity, QboRecord.active.is_(True),
        ~QboRecord.detail.startswith(SALES_ONLY)).order_by(QboRecord.id)))


def seed(size: int, connect=None) -> Seeded:
    """Bulk-insert the data for ``size`` into the app's database (inside an app context, on a
    freshly migrated schema) and commit once. ``connect(admin)``, when given, connects the
    company to QuickBooks once the users exist (it commits them), so the projects, vendors and
    cost mappings link to the company's real records."""
    import time

    from werkzeug.security import generate_password_hash

    from extensions import db
    from models import (
        Category,
        ChangeEvent,
        ChangeEventLine,
        ChangeOrder,
        ChangeOrderApproval,
        ChangeOrderLine,
        Commitment,
        CostCode,
        CostMapping,
        Export,
        HistoryEvent,
        Project,
        ProjectMembership,
        SovLine,
        User,
        Vendor,
        cco_viewers,
    )
    from models.types import utcnow

    started = time.perf_counter()
    session = db.session
    write = _Writer(session)
    now = utcnow()
    password_hash = generate_password_hash(PASSWORD, method=PASSWORD_HASH_METHOD)
    categories = list(session.scalars(select(Category.id).order_by(Category.id)))
    n_projects = max(2, size // 100)
    n_vendors = max(5, size // 50)
    n_codes = min(1_000, max(20, size // 100))
    n_users = max(10, size // 100)

    # -- reference data and people ------------------------------------------------------------
    write(User.__table__, [
        {"id": n, "email": email, "name": name, "password_hash": password_hash,
         "is_company_admin": n == 1, "erp_permission": erp, "can_push_to_accounting": n != 2,
         "created_at": now}
        for n, email, name, erp in [
            (1, ADMIN_EMAIL, "Casey Admin", "admin"), (2, PM_EMAIL, "Pat Manager", "none"),
            (3, APPROVER_EMAIL, "Alex Approver", "standard")]
        + [(n, f"user{n}@bench.test", f"User {n}", ("none", "read_only", "standard")[n % 3])
           for n in range(4, n_users + 1)]])
    if connect is not None:
        session.commit()
        connect(session.get(User, 1))
    items = _qbo_ids(session, "Item") or ["1"]
    qbo_vendors = _qbo_ids(session, "Vendor") or ["1"]
    customers = _qbo_ids(session, "Customer") or ["1"]
    write(Project.__table__, [
        {"id": p, "number": f"P-{p:05d}", "name": f"Job {p}" if p > 1 else "Flagship tower",
         "active": p % 50 != 49, "created_at": now,
         "qbo_customer_id": customers[p % len(customers)],
         "qbo_doc_prefix": "", "change_events_enabled": True, "last_change_event_number": 0}
        for p in range(1, n_projects + 1)])
    write(Vendor.__table__, [
        {"id": v, "name": f"Vendor {v:05d}", "active": v % 40 != 39,
         "qbo_vendor_id": qbo_vendors[v % len(qbo_vendors)]} for v in range(1, n_vendors + 1)])
    write(CostCode.__table__, [
        {"id": c, "code": f"{c // 100:02d}-{c % 100:02d}0", "description": f"Cost code {c}",
         "active": True} for c in range(1, n_codes + 1)])
    write(CostMapping.__table__, [
        {"cost_code_id": c, "category_id": cat, "qbo_item_id": items[(c + cat) % len(items)],
         "qbo_account_id": None, "qbo_name": "Item"}
        for c in range(1, n_codes + 1) for cat in categories])
    pm_projects = {1} | {2 + k * max(1, (n_projects - 1) // 9) for k in range(9)
                         if 2 + k * max(1, (n_projects - 1) // 9) <= n_projects}
    memberships = []
    for p in range(1, n_projects + 1):
        members = {1: "admin"}
        if p in pm_projects:
            members[2] = "standard"
        for k in range(3):
            members.setdefault(4 + (p * 3 + k) % max(1, n_users - 3), ("standard", "admin",
                                                                       "read_only")[k])
        memberships += [{"project_id": p, "user_id": u, "role": role}
                        for u, role in members.items() if u <= n_users]
    write(ProjectMembership.__table__, memberships)

    def project_of(index: int) -> int:
        """The flagship takes one record in ten; the rest go round the other projects."""
        return 1 if index % FLAGSHIP_EVERY == 0 else 2 + index % (n_projects - 1)

    # -- commitments and their SOV --------------------------------------------------------------
    commitments, sov, history, exports = [], [], [], []
    first_sov: dict[int, list[int]] = {}
    by_project: dict[int, list[tuple[int, int]]] = {}
    # (status, erp_status) by i % 6; i % 6 == 0 is editable (the one measured is the first).
    kinds = [("approved", "not_sent"), ("approved", "ready_to_export"), ("approved", "synced"),
             ("draft", "not_sent"), ("approved", "synced"), ("out_for_signature", "not_sent")]
    sov_id = 0
    for i in range(size):
        cid, project = i + 1, project_of(i)
        status, erp = kinds[i % 6]
        vendor = 1 + (i * 7) % n_vendors
        purchase_order = i % 4 == 3
        commitments.append({
            "id": cid, "project_id": project, "vendor_id": vendor,
            "type": "purchase_order" if purchase_order else "subcontract",
            "number": f"{'PO' if purchase_order else 'SC'}-{i:06d}",
            "title": f"Scope {i}: {('Concrete', 'Steel', 'Drywall', 'Electrical')[i % 4]}",
            "description": "Furnish and install per drawings and specifications.",
            "status": "approved" if purchase_order and status == "out_for_signature" else status,
            "erp_status": erp, "qbo_purchase_order_id": str(10_000 + i) if erp == "synced"
            else None, "qbo_sync_token": "0" if erp == "synced" else None,
            "last_cco_number": 0, "created_by_id": 2, "created_at": now, "updated_by_id": 2,
            "updated_at": now, "version": 1})
        by_project.setdefault(project, []).append((cid, vendor))
        lines = []
        for n in range(2 + i % 3):
            sov_id += 1
            lines.append(sov_id)
            sov.append({"id": sov_id, "commitment_id": cid, "line_number": n + 1,
                        "description": f"SOV line {n + 1}", "cost_code_id": 1 + (i + n) % n_codes,
                        "category_id": categories[(i + n) % len(categories)],
                        "amount": Decimal(1000 + (i * 37 + n * 101) % 90_000),
                        "qbo_line_id": str(n + 1) if erp == "synced" else None,
                        "updated_at": now, "version": 1})
        first_sov[cid] = lines
        history.append({"at": now, "user_id": 2, "project_id": project,
                        "subject_type": "commitment", "subject_id": cid, "action": "created"})
        history.append({"at": now, "user_id": 2, "project_id": project,
                        "subject_type": "commitment", "subject_id": cid, "action": "changed",
                        "field": "Status", "old_value": "Draft", "new_value": status})
        if erp == "synced":
            # Every row names every column: an executemany takes its columns from the first.
            exports.append({"subject_type": "commitment", "record_id": cid,
                            "target_key": f"purchase-order:{cid}", "commitment_id": cid,
                            "change_order_id": None, "idempotency_key": f"seed-c-{cid}",
                            "status": "synced",
                            "attempts": 1, "accepted_by_id": 3, "accepted_at": now,
                            "finished_at": now, "retries": 0})
    write(Commitment.__table__, commitments)
    write(SovLine.__table__, sov)

    # -- CCOs: two on each commitment of the first half ---------------------------------------
    ccos, cco_lines, viewers = [], [], []
    last_cco: dict[int, int] = {}
    line_id = 0
    for j in range(size):
        cco_id = j + 1
        commitment = commitments[j // 2]
        cid = commitment["id"]
        number = last_cco.get(cid, 0) + 1
        last_cco[cid] = number
        if commitment["erp_status"] == "synced":
            erp, status = (("ready_to_export", "approved"), ("synced", "approved"),
                           ("not_sent", "pending_in_review"))[j % 3]
        else:
            erp, status = "not_sent", ("approved", "draft", "pending_in_review")[j % 3]
        private = j % 10 == 9
        ccos.append({"id": cco_id, "commitment_id": cid, "number": f"{number:03d}",
                     "title": f"Change {j}", "description": "Owner-directed change.",
                     "change_reason": "", "status": status, "erp_status": erp,
                     "executed": status == "approved", "private": private,
                     "erp_reopen_pending": False, "created_by_id": 2, "created_at": now,
                     "updated_by_id": 2, "updated_at": now, "version": 1})
        if private:
            viewers.append({"change_order_id": cco_id, "user_id": 3})
        line_id += 1
        sovs = first_sov[cid]
        cco_lines.append({"id": line_id, "change_order_id": cco_id,
                          "sov_line_id": sovs[j % len(sovs)], "cost_code_id": None,
                          "category_id": None, "description": "Added scope",
                          "amount": Decimal(250 + j % 5000), "updated_at": now, "version": 1})
        if j % 3 == 0:
            line_id += 1
            cco_lines.append({"id": line_id, "change_order_id": cco_id, "sov_line_id": None,
                              "cost_code_id": 1 + (j * 11) % n_codes,
                              "category_id": categories[j % len(categories)],
                              "description": f"New line {j}", "amount": Decimal(100 + j % 900),
                              "updated_at": now, "version": 1})
        history.append({"at": now, "user_id": 2, "project_id": commitment["project_id"],
                        "subject_type": "change_order", "subject_id": cco_id,
                        "action": "created"})
        if erp == "synced":
            exports.append({"subject_type": "change_order", "record_id": cco_id,
                            "target_key": f"purchase-order:{cid}", "commitment_id": cid,
                            "change_order_id": cco_id, "idempotency_key": f"seed-o-{cco_id}",
                            "status": "synced", "attempts": 1, "accepted_by_id": 3,
                            "accepted_at": now, "finished_at": now, "retries": 0})
    write(ChangeOrder.__table__, ccos)
    write(ChangeOrderLine.__table__, cco_lines)
    write(ChangeOrderApproval.__table__, _approvals(ccos, cco_lines, now))
    write(cco_viewers, viewers)
    _set_last_numbers(session, Commitment.__table__, "last_cco_number", last_cco)

    # -- change events and their items --------------------------------------------------------
    events, items_rows = [], []
    numbers: dict[int, int] = {}
    item_id = 0
    for e in itertools.count():
        if item_id >= size:
            break
        ce_id, project = e + 1, project_of(e)
        numbers[project] = numbers.get(project, 0) + 1
        events.append({"id": ce_id, "project_id": project, "number": f"{numbers[project]:03d}",
                       "title": f"RFI {e} response", "status": ("open", "pending", "closed",
                                                                "void")[e % 4],
                       "scope": ("in_scope", "out_of_scope", "tbd")[e % 3],
                       "type": ("owner_change", "design_change", "allowance", "contingency",
                                "existing_condition", "tbd")[e % 6],
                       "change_reason": "", "description": "", "created_by_id": 2,
                       "created_at": now, "updated_by_id": 2, "updated_at": now, "version": 1})
        history.append({"at": now, "user_id": 2, "project_id": project,
                        "subject_type": "change_event", "subject_id": ce_id,
                        "action": "created"})
        candidates = by_project.get(project) or []
        for n in range(min(1 + e % 7, size - item_id)):
            item_id += 1
            commitment_id = vendor_id = None
            if candidates and item_id % 3:
                commitment_id, vendor_id = candidates[(e + n) % len(candidates)]
            elif item_id % 2:
                vendor_id = 1 + item_id % n_vendors
            items_rows.append({
                "id": item_id, "change_event_id": ce_id, "line_number": n + 1,
                "cost_code_id": 1 + (e + n * 13) % n_codes,
                "category_id": categories[(e + n) % len(categories)], "vendor_id": vendor_id,
                "commitment_id": commitment_id, "description": f"Item {n + 1} of event {e}",
                "cost_rom": Decimal(500 + (e * 17 + n) % 20_000),
                "latest_cost": Decimal(600 + (e * 13 + n) % 20_000) if n % 2 else None,
                "updated_at": now, "version": 1})
    write(ChangeEvent.__table__, events)
    write(ChangeEventLine.__table__, items_rows)
    _set_last_numbers(session, Project.__table__, "last_change_event_number", numbers)
    write(HistoryEvent.__table__, history)
    write(Export.__table__, exports)
    _fix_sequences(session)
    # The synced commitments' PurchaseOrders are the connected company's (as an export records
    # them: quickbooks_online/company.py); none when the seed connects no company.
    session.execute(text(
        "UPDATE commitments SET qbo_realm_id = (SELECT realm_id FROM qbo_connections "
        "ORDER BY id LIMIT 1) WHERE qbo_purchase_order_id IS NOT NULL"))
    # Core inserts bypass the hook that keeps the lists' totals rows: sum them once here.
    list_totals.rebuild(session.connection())
    session.commit()

    measured_cco = next(c for c in ccos if c["commitment_id"] == 1)
    return Seeded(
        size=size, rows=write.rows, seconds=time.perf_counter() - started, project_id=1,
        commitment_id=1, sov_line_id=first_sov[1][0], cco_id=measured_cco["id"],
        cco_line_id=next(line["id"] for line in cco_lines
                         if line["change_order_id"] == measured_cco["id"]),
        change_event_id=1,
        change_event_line_id=next(i["id"] for i in items_rows if i["change_event_id"] == 1))


def _approvals(ccos: list[dict], cco_lines: list[dict], now) -> list[dict]:
    """The reviewer's approval of each Approved CCO: its lines as seeded."""
    import json

    by_cco: dict[int, list[dict]] = {}
    for line in cco_lines:
        by_cco.setdefault(line["change_order_id"], []).append(line)
    rows = []
    for cco in ccos:
        if cco["status"] != "approved":
            continue
        lines = by_cco.get(cco["id"], [])
        rows.append({"change_order_id": cco["id"], "approved_by_id": 2, "approved_at": now,
                     "total": sum((line["amount"] for line in lines), Decimal("0.00")),
                     "lines": json.dumps([{
                         "line_id": line["id"], "sov_line_id": line["sov_line_id"],
                         "cost_code_id": line["cost_code_id"],
                         "category_id": line["category_id"], "amount": f"{line['amount']:.2f}",
                     } for line in lines])})
    return rows


def _set_last_numbers(session, table, column: str, values: dict[int, int]) -> None:
    """``column`` = the highest number handed out, for each row id in ``values``."""
    from sqlalchemy import bindparam

    statement = (update(table).where(table.c.id == bindparam("row_id"))
                 .values({column: bindparam("new_number")}))
    rows = [{"row_id": key, "new_number": value} for key, value in values.items()]
    for chunk in _chunks(rows):
        session.execute(statement.execution_options(synchronize_session=False), chunk)


def _fix_sequences(session) -> None:
    """PostgreSQL: move each id sequence past the ids written explicitly."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("users", "projects", "vendors", "cost_codes", "commitments", "sov_lines",
                  "change_orders", "change_order_lines", "change_events", "change_event_lines"):
        highest = session.scalar(select(func.max(text("id"))).select_from(text(table)))
        if highest:
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"{int(highest)})"))


def nothing_in_quickbooks_yet() -> None:
    """The seeded company as if nothing were in QuickBooks yet: every commitment approved and
    waiting in the inbox, no CCO sent, no export; the AP account mapped. (In an app context.)"""
    from sqlalchemy import select, text, update

    from extensions import db
    from models import ChangeOrder, Commitment, QboRecord, SovLine
    from quickbooks_online.connection import get_connection

    connection = get_connection()
    connection.ap_account_id = db.session.scalar(select(QboRecord.qbo_id).where(
        QboRecord.entity == "Account", QboRecord.detail == "Accounts Payable"))
    db.session.execute(update(Commitment).values(
        erp_status="ready_to_export", status="approved", qbo_purchase_order_id=None,
        qbo_sync_token=None), execution_options={"synchronize_session": False})
    db.session.execute(update(SovLine).values(qbo_line_id=None),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(ChangeOrder).values(erp_status="not_sent"),
                       execution_options={"synchronize_session": False})
    db.session.execute(text("DELETE FROM exports"))
    db.session.commit()
