"""Benchmarks: page times and SQL query counts as the data grows, and export throughput.

    make bench            (or: .venv/bin/python -m benchmarks.run [--sizes 10,100,400])

Uses a fresh SQLite database in a temporary folder (or DATABASE_URL when set) and the
QuickBooks sandbox in-process. Prints one table; nothing is asserted: compare runs.
A page whose query count grows with the number of rows has an N+1 to fix.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from decimal import Decimal

from sqlalchemy import event


def _app(instance: str, sandbox_server):
    from app import create_app

    config = {"TESTING": True, "WTF_CSRF_ENABLED": False, "QBO_BUILTIN_SANDBOX": False,
              "SECRET_KEY": "bench", "HTMX_CDN": False,
              "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
              "QBO_ENVIRONMENT": sandbox_server.discovery_url,
              "QBO_API_URL": sandbox_server.api_url_v3,
              "QBO_CLIENT_ID": "sandbox-client-id", "QBO_CLIENT_SECRET": "sandbox-client-secret",
              "QBO_REDIRECT_URI": "http://127.0.0.1/erp/settings/callback",
              "QBO_MAX_PER_MINUTE": 100_000, "REDIS_URL": None}
    if not os.environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance}/bench.db"
    return create_app(config, instance_path=instance)


class QueryCounter:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1


def _seed(size: int):
    from extensions import db
    from models import (
        Category,
        ChangeOrder,
        ChangeOrderLine,
        ChangeOrderStatus,
        Commitment,
        CommitmentStatus,
        CommitmentType,
        CostCode,
        ErpPermission,
        ErpStatus,
        Project,
        ProjectMembership,
        ProjectRole,
        SovLine,
        User,
        Vendor,
    )

    admin = User(email="admin@bench.test", name="Admin", is_company_admin=True,
                 erp_permission=ErpPermission.ADMIN, can_push_to_accounting=True)
    admin.set_password("bench-password")
    project = Project(number="B-1", name="Benchmark job")
    vendor = Vendor(name="Summit Concrete Co.")
    code = CostCode(code="03-300", description="Cast-in-place concrete")
    db.session.add_all([admin, project, vendor, code,
                        ProjectMembership(project=project, user=admin, role=ProjectRole.ADMIN)])
    category = db.session.query(Category).filter_by(name="Subcontract").one()
    for n in range(size):
        commitment = Commitment(project=project, vendor=vendor, type=CommitmentType.SUBCONTRACT,
                                number=f"SC-{n:05d}", title=f"Scope {n}",
                                status=CommitmentStatus.APPROVED,
                                erp_status=ErpStatus.READY_TO_EXPORT)
        db.session.add(commitment)
        for line in range(1, 6):
            db.session.add(SovLine(commitment=commitment, line_number=line,
                                   description=f"Line {line}", cost_code=code,
                                   category=category, amount=Decimal("1000.00")))
        cco = ChangeOrder(commitment=commitment, number="001", title="Extra",
                          status=ChangeOrderStatus.APPROVED)
        db.session.add(cco)
        db.session.flush()
        db.session.add(ChangeOrderLine(change_order=cco, sov_line=commitment.sov_lines[0],
                                       description="More", amount=Decimal("250.00")))
    db.session.commit()
    return project


def _time_page(client, counter, url: str, repeat: int = 5) -> tuple[float, int]:
    timings = []
    for _ in range(repeat):
        counter.count = 0
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings), counter.count


def pages(sizes: list[int], sandbox_server) -> list[tuple]:
    from flask_migrate import upgrade

    from extensions import db

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as instance:
            app = _app(instance, sandbox_server)
            with app.app_context():
                if os.environ.get("DATABASE_URL"):
                    db.drop_all()
                upgrade()
                project = _seed(size)
                client = app.test_client()
                client.post("/auth/login", data={"email": "admin@bench.test",
                                                 "password": "bench-password"})
                counter = QueryCounter(db.engine)
                for name, url in (("commitments list", f"/projects/{project.id}/commitments/"),
                                  ("ERP inbox", "/erp/"),
                                  ("commitment page", f"/projects/{project.id}/commitments/1")):
                    ms, queries = _time_page(client, counter, url)
                    rows.append((name, size, ms, queries))
                db.session.remove()
                db.engine.dispose()
    return rows


def exports(count: int, sandbox_server) -> tuple[int, float]:
    """Accept ``count`` commitments, inline, each exported to the sandbox as a PurchaseOrder."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from extensions import db
    from models import Commitment, CostMapping, User
    from quickbooks_online.connection import get_connection
    from tests import qbo_helpers
    from workflow import erp

    with tempfile.TemporaryDirectory() as instance:
        app = _app(instance, sandbox_server)
        with app.app_context():
            if os.environ.get("DATABASE_URL"):
                db.drop_all()
            upgrade()
            _seed(count)
            admin = db.session.scalar(select(User))
            sandbox_server.sandbox.reset()
            qbo_helpers.connect(admin)
            commitments = db.session.scalars(select(Commitment)).all()
            qbo_helpers.map_for(commitments[0])
            assert db.session.scalar(select(CostMapping)) and get_connection().ap_account_id
            start = time.perf_counter()
            for commitment in commitments:
                erp.accept(admin, commitment)
            elapsed = time.perf_counter() - start
            synced = len(sandbox_server.sandbox.purchase_orders(qbo_helpers.DEMO_REALM))
            db.session.remove()
            db.engine.dispose()
    return synced, elapsed


def _bulk_inbox(size: int) -> None:
    """``size`` records waiting in the inbox (nine commitments to one CCO), across 20 projects
    and 50 vendors, each commitment with 3 SOV lines over 10 cost codes: bulk inserts."""
    from sqlalchemy import insert, select

    from extensions import db
    from models import (
        Category,
        ChangeOrder,
        ChangeOrderLine,
        Commitment,
        CostCode,
        ErpPermission,
        Project,
        SovLine,
        User,
        Vendor,
    )
    from models.types import utcnow

    admin = User(email="admin@bench.test", name="Admin", is_company_admin=True,
                 erp_permission=ErpPermission.ADMIN, can_push_to_accounting=True)
    admin.set_password("bench-password")
    db.session.add(admin)
    projects = [Project(number=f"B-{n}", name=f"Job {n}") for n in range(20)]
    vendors = [Vendor(name=f"Vendor {n}") for n in range(50)]
    codes = [CostCode(code=f"0{n}-100", description=f"Code {n}") for n in range(10)]
    db.session.add_all(projects + vendors + codes)
    db.session.flush()
    category = db.session.scalar(select(Category).where(Category.name == "Subcontract"))
    now = utcnow()
    commitments = size - size // 10
    db.session.execute(insert(Commitment), [
        {"id": n + 1, "project_id": projects[n % 20].id, "vendor_id": vendors[n % 50].id,
         "type": "subcontract", "number": f"SC-{n:06d}", "title": f"Scope {n}",
         "description": "", "status": "approved",
         "erp_status": "ready_to_export" if n % 3 else "synced",
         "qbo_purchase_order_id": None if n % 3 else str(n), "last_cco_number": 1,
         "created_at": now, "updated_at": now, "version": 1} for n in range(commitments)])
    db.session.execute(insert(SovLine), [
        {"commitment_id": n // 3 + 1, "line_number": n % 3 + 1, "description": "Line",
         "cost_code_id": codes[n % 10].id, "category_id": category.id, "amount": Decimal("1000"),
         "updated_at": now, "version": 1} for n in range(commitments * 3)])
    ccos = size // 10
    db.session.execute(insert(ChangeOrder), [
        {"id": n + 1, "commitment_id": (n * 3) % commitments + 1, "number": "001",
         "title": "Extra", "description": "", "change_reason": "", "status": "approved",
         "erp_status": "ready_to_export", "executed": False, "private": False,
         "erp_reopen_pending": False, "created_at": now, "updated_at": now, "version": 1}
        for n in range(ccos)])
    db.session.execute(insert(ChangeOrderLine), [
        {"change_order_id": n + 1, "sov_line_id": ((n * 3) % commitments) * 3 + 1,
         "description": "More", "amount": Decimal("250"), "updated_at": now, "version": 1}
        for n in range(ccos)])
    db.session.commit()


def inbox(sizes: list[int], sandbox_server) -> list[tuple]:
    """The approver's inbox as it grows: p50 and p95 of 20 requests, statements per request,
    for the page and for a live poll that finds nothing new."""
    from flask_migrate import upgrade

    from extensions import db

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as instance:
            app = _app(instance, sandbox_server)
            with app.app_context():
                if os.environ.get("DATABASE_URL"):
                    db.drop_all()
                upgrade()
                started = time.perf_counter()
                _bulk_inbox(size)
                seeded = time.perf_counter() - started
                client = app.test_client()
                client.post("/auth/login", data={"email": "admin@bench.test",
                                                 "password": "bench-password"})
                counter = QueryCounter(db.engine)
                page = client.get("/erp/").get_data(as_text=True)
                poll = page.split('hx-get="/erp/changes?', 1)[1].split('"', 1)[0]
                for name, url in (("inbox page", "/erp/"),
                                  ("inbox poll (no change)", "/erp/changes?" +
                                   poll.replace("&amp;", "&"))):
                    timings, statements = [], 0
                    for _ in range(20):
                        counter.count = 0
                        start = time.perf_counter()
                        assert client.get(url).status_code in (200, 204)
                        timings.append((time.perf_counter() - start) * 1000)
                        statements = counter.count
                    timings.sort()
                    rows.append((name, size, statistics.median(timings), timings[18],
                                 statements, seeded))
                db.session.remove()
                db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,400")
    parser.add_argument("--exports", type=int, default=50)
    parser.add_argument("--inbox-sizes", default="100,10000,100000")
    args = parser.parse_args()
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    from qbo_sandbox import SandboxServer

    with SandboxServer() as server:
        rows = pages([int(s) for s in args.sizes.split(",")], server)
        synced, elapsed = exports(args.exports, server)
        inbox_rows = inbox([int(s) for s in args.inbox_sizes.split(",") if s], server)
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(f"ChangeOrder Desk benchmarks ({database}; median of 5 requests)")
    print(f"{'page':<18}{'commitments':>12}{'ms':>10}{'SQL queries':>13}")
    for name, size, ms, queries in rows:
        print(f"{name:<18}{size:>12}{ms:>10.1f}{queries:>13}")
    print(f"\n{'inbox':<24}{'records':>9}{'p50 ms':>9}{'p95 ms':>9}{'SQL':>6}{'seeded s':>10}")
    for name, size, p50, p95, statements, seeded in inbox_rows:
        print(f"{name:<24}{size:>9}{p50:>9.1f}{p95:>9.1f}{statements:>6}{seeded:>10.1f}")
    print(f"\nexports: {synced} PurchaseOrders in {elapsed:.2f} s "
          f"({elapsed / max(synced, 1) * 1000:.0f} ms each, inline jobs, local sandbox)")


if __name__ == "__main__":
    main()
