"""The chaos soak: the production shape under mixed faults for a given number of minutes.

    make soak SOAK_MINUTES=10        (= .venv/bin/python -m benchmarks.soak --minutes 10)

What runs, all on loopback and all started (and stopped) here:

* a scratch PostgreSQL database ``soak_<pid>`` on the server of ``--postgres`` (default: the
  server of DATABASE_URL when it is PostgreSQL, else ``postgresql://127.0.0.1:5432/postgres``),
  created, migrated and seeded here and dropped at the end;
* a redis-server of its own on a free port (tests/redis_server.py, with an append-only file,
  restarted as a fault: as a process manager restarts it); the shared Redis is never touched;
* the QuickBooks sandbox (qbo_sandbox) over HTTP in a thread of this process, whose fault hooks
  answer 429, 500, dropped connections (before, and after the write was applied) and slow
  replies; a 5010 comes as QuickBooks gives it, to a write after someone edited the
  PurchaseOrder in QuickBooks;
* gunicorn (``--web-workers``, default 2) serving ``app:create_app()`` and a real
  ``rq worker --with-scheduler --worker-class jobs.worker.Worker``, each in a session of its
  own so it can be killed whole.

A company connected to the sandbox, with its lists imported and every cost code mapped, has
``--commitments`` commitments (two SOV lines each) with ``--ccos`` approved CCOs each. A project
manager session sends them (CCOs once their commitment is Synced) and resends what was
rejected (every rejected commitment, about half the rejected CCOs once handed back); several
approver sessions (``--approvers``) accept and reject (about one in five) what waits in the
inbox. All of it over HTTP, logged in through the login form, with the CSRF token.
Meanwhile a chaos thread kills the work horse, kills the whole worker (and starts a new one),
restarts Redis, and makes QuickBooks answer faults or answer slowly.

Then the faults stop and the soak checks, with a new worker running:

* every record settles within 60 s: nothing left "Exporting", no rejected CCO still waiting to
  be handed back, no email owed and unwritten;
* no export "Failed to Export" (every fault played is temporary);
* one PurchaseOrder per Synced commitment (none for the others), found by its marker block;
* each PurchaseOrder line equals its revised SOV line (the SOV plus the Synced CCOs) to the
  cent, and the PurchaseOrder's total the revised SOV's;
* each Synced CCO is in its PurchaseOrder's marker block exactly once, and no other CCO is;
* no 5xx answer from the app.

It prints a table and exits 1 on any breach (listed), 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.processes import free_port, kill_horse, kill_whole
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "soak-password-1234"  # noqa: S105 (the soak's own users, in a scratch database)
DEMO_REALM = "9341453050298165"
SETTLE_SECONDS = 60
OWED = "SELECT count(*) FROM pending_notifications WHERE sent_at IS NULL"
FAULT_KINDS = ("kill horse", "kill worker", "restart redis", "qbo 429", "qbo 500",
               "qbo user edits a PO (5010)", "qbo drop", "qbo drop_after_apply", "qbo slow")
# The hidden field of a form, or the header every htmx request carries (base.html).
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


# ---- the run's figures ----------------------------------------------------------------------
@dataclass
class Figures:
    actions: Counter = field(default_factory=Counter)   # accept, reject, send, resend, refused
    faults: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    worker_exits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.actions[what] += n

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1


class Browser:
    """One person's HTTP session against gunicorn, logged in through the login form."""

    def __init__(self, base: str, email: str, figures: Figures) -> None:
        self.base, self.figures = base, figures
        self.http = requests.Session()
        page = self.http.get(f"{base}/auth/login", timeout=30)
        token = _CSRF.search(page.text)
        assert token, f"no CSRF token on the login page ({page.status_code})"
        answer = self.http.post(f"{base}/auth/login", timeout=30, allow_redirects=False, data={
            "csrf_token": token.group(1) or token.group(2), "email": email,
            "password": PASSWORD})
        assert answer.status_code == 302, f"login of {email}: {answer.status_code}"
        home = self.http.get(f"{base}/", timeout=30)
        token = _CSRF.search(home.text)
        assert token, f"no CSRF token on {home.url} ({home.status_code})"
        self.csrf = token.group(1) or token.group(2)

    def post(self, path: str, **data) -> int:
        try:
            # As htmx posts it: the CSRF header, and a partial (the card, the panel) back.
            answer = self.http.post(f"{self.base}{path}", data={"csrf_token": self.csrf, **data},
                                    headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
                                    timeout=60, allow_redirects=False)
        except requests.RequestException as error:
            self.figures.server_errors.append(f"POST {path}: {error!r}")
            return 599
        if answer.status_code >= 500:
            self.figures.server_errors.append(f"POST {path}: {answer.status_code}")
        return answer.status_code


# ---- the soak -------------------------------------------------------------------------------
class Soak:
    def __init__(self, args) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.figures = Figures()
        self.stop = threading.Event()
        self.work = Path(tempfile.mkdtemp(prefix="soak-"))
        self.database = f"soak_{os.getpid()}"
        self.server_url = args.postgres
        self.redis = RedisServer(self.work, persistent=True)
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_lock = threading.Lock()
        self.worker_starts = 0
        self.sandbox_server = None
        self.app = None
        self.port = free_port()
        self.created_db = False

    # -- set-up ---------------------------------------------------------------------------
    def _admin_sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(statement)

    def environment(self) -> dict:
        server = self.sandbox_server
        parts = urlsplit(self.server_url)
        database_url = urlunsplit((parts.scheme, parts.netloc, f"/{self.database}", "", ""))
        return {**os.environ,
                "DATABASE_URL": database_url, "REDIS_URL": self.redis.url,
                "RQ_QUEUE": "soak", "SECRET_KEY": "soak-secret-key",
                "QBO_TOKEN_KEY": "bXq2o3CqvI2cYk8nWm1Jx9a0lC3d6tQ9pW2sE5rT7uY=",
                "QBO_CLIENT_ID": "sandbox-client-id", "QBO_CLIENT_SECRET": "sandbox-client-secret",
                "QBO_REDIRECT_URI": f"http://127.0.0.1:{self.port}/erp/settings/callback",
                "QBO_ENVIRONMENT": server.discovery_url, "QBO_API_URL": server.api_url_v3,
                "QBO_TIMEOUT": "10", "PUBLIC_URL": f"http://127.0.0.1:{self.port}",
                "EXPORT_RETRY_INTERVALS": "2,4,8,15,20,30", "EXPORT_JOB_TIMEOUT": "120",
                "QBO_CDC_INTERVAL_MINUTES": "0", "NOTIFY_COALESCE_SECONDS": "3",
                "HTMX_CDN": "0", "MAIL_SERVER": "", "FLASK_APP": "app"}

    def set_up(self) -> None:
        from qbo_sandbox import SandboxServer

        self._admin_sql(f'CREATE DATABASE "{self.database}"')
        self.created_db = True
        self.redis.start()
        self.sandbox_server = SandboxServer().start()
        os.environ.update(self.environment())
        from app import create_app

        (self.work / "instance").mkdir()
        self.app = create_app(instance_path=str(self.work / "instance"))
        with self.app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=str(ROOT / "migrations"))
            self.seed()
        self.start_web()
        self.start_worker()

    def seed(self) -> None:
        from extensions import db
        from models import ErpPermission, ProjectRole
        from tests import qbo_helpers
        from tests.factories import Factory

        factory = Factory(PASSWORD)
        admin = factory.user(email="admin@soak.test", name="Company Admin",
                             is_company_admin=True, erp=ErpPermission.ADMIN, can_push=True)
        qbo_helpers.connect(admin)
        project = factory.project(number="SOAK-1", name="Riverside Medical Office Building")
        pm = factory.user(email="pm@soak.test", name="Pat Manager")
        factory.member(project, pm, ProjectRole.ADMIN)
        for n in range(self.args.approvers):
            factory.user(email=f"approver{n + 1}@soak.test", name=f"Approver {n + 1}",
                         erp=ErpPermission.STANDARD, can_push=True)
        vendor = factory.vendor("Summit Concrete Co.")
        for n in range(self.args.commitments):
            # Large enough that no mix of the CCOs takes a line below zero.
            amounts = (f"{self.rng.randint(8000, 90000)}.{self.rng.randint(0, 99):02d}",
                       f"{self.rng.randint(5000, 20000)}.{self.rng.randint(0, 99):02d}")
            commitment = factory.commitment(project, vendor=vendor, number=f"SK-{n + 1:03d}",
                                            title=f"Soak package {n + 1}", sov=amounts)
            qbo_helpers.map_for(commitment)
            for _ in range(self.args.ccos):
                lines = tuple((line, f"{self.rng.choice((-1, 1)) * self.rng.randint(1, 900)}."
                                     f"{self.rng.randint(0, 99):02d}")
                              for line in commitment.sov_lines if self.rng.random() < 0.8)
                factory.change_order(commitment, status="approved", reviewer=pm,
                                     lines=lines or ((commitment.sov_lines[0], "125.40"),))
        db.session.commit()
        db.session.remove()

    def start_web(self) -> None:
        log = (self.work / "gunicorn.log").open("a")
        self.web = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.args.web_workers), "--bind",
             f"127.0.0.1:{self.port}", "--timeout", "90", "app:create_app()"],
            cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            with suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok:
                    return
            if time.monotonic() > deadline or self.web.poll() is not None:
                raise RuntimeError("gunicorn did not start: "
                                   + (self.work / "gunicorn.log").read_text()[-2000:])
            time.sleep(0.2)

    def start_worker(self) -> None:
        with self.worker_lock:
            self.worker_starts += 1
            log = (self.work / "worker.log").open("a")
            self.worker = subprocess.Popen(
                [str(BIN / "rq"), "worker", "--with-scheduler", "--worker-class",
                 "jobs.worker.Worker", "--url", self.redis.url, "soak"],
                cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def keep_worker(self) -> None:
        """The process manager's part: a worker that exited is started again."""
        with self.worker_lock:
            exited = self.worker is not None and self.worker.poll() is not None
        if exited:
            self.figures.worker_exits += 1
            self.start_worker()

    # -- the people ---------------------------------------------------------------------------
    def _engine(self):
        from sqlalchemy import create_engine

        from config import database_url

        return create_engine(database_url(str(self.work)), pool_size=2, pool_pre_ping=True)

    @property
    def engine(self):
        """The soak's own read-only look at the database (the checks)."""
        if getattr(self, "_checks_engine", None) is None:
            self._checks_engine = self._engine()
        return self._checks_engine

    def _guarded(self, target, *args) -> None:
        """A person's or the chaos' thread: an error stops it and is a breach."""
        try:
            target(*args)
        except Exception as error:
            self.figures.server_errors.append(f"{target.__name__} stopped: {error!r}")

    def pm(self) -> None:
        from sqlalchemy import text

        engine = self._engine()
        browser = Browser(self.base, "pm@soak.test", self.figures)
        while not self.stop.is_set():
            with engine.connect() as db:
                commitments = db.execute(text(
                    "SELECT id, project_id, erp_status FROM commitments "
                    "WHERE erp_status IN ('not_sent', 'rejected')")).all()
                ccos = db.execute(text(
                    "SELECT c.id, m.project_id, c.commitment_id, c.erp_status FROM change_orders c "
                    "JOIN commitments m ON m.id = c.commitment_id "
                    "WHERE m.erp_status = 'synced' AND c.erp_reopen_pending IS NOT TRUE AND "
                    "(c.erp_status = 'not_sent' OR c.erp_status = 'rejected')")).all()
            todo = [("commitment", row) for row in commitments]
            todo += [("cco", row) for row in ccos
                     if row.erp_status == "not_sent" or self.rng.random() < 0.15]
            if not todo:
                self.stop.wait(1.0)
                continue
            kind, row = self.rng.choice(todo)
            if kind == "commitment":
                path = f"/projects/{row.project_id}/commitments/{row.id}/erp/send"
            else:
                path = (f"/projects/{row.project_id}/commitments/{row.commitment_id}"
                        f"/change-orders/{row.id}/erp/send")
            status = browser.post(path)
            verb = "resend" if row.erp_status == "rejected" else "send"
            self.figures.count(verb if status == 200 else "refused")
            self.stop.wait(self.rng.uniform(0.3, 1.5))
        engine.dispose()

    def approver(self, n: int) -> None:
        from sqlalchemy import text

        engine = self._engine()
        browser = Browser(self.base, f"approver{n}@soak.test", self.figures)
        while not self.stop.is_set():
            with engine.connect() as db:
                waiting = [("commitments", i) for i in db.execute(text(
                    "SELECT id FROM commitments WHERE erp_status = 'ready_to_export'")).scalars()]
                waiting += [("change-orders", i) for i in db.execute(text(
                    "SELECT id FROM change_orders WHERE erp_status = 'ready_to_export'"
                )).scalars()]
            if not waiting:
                self.stop.wait(0.5)
                continue
            kind, subject_id = self.rng.choice(waiting)
            if self.rng.random() < self.args.reject_rate:
                status = browser.post(f"/erp/{kind}/{subject_id}/reject",
                                      comment="Wrong cost code: check the breakdown and resend.")
                self.figures.count("reject" if status == 200 else "refused")
            else:
                status = browser.post(f"/erp/{kind}/{subject_id}/accept")
                self.figures.count("accept" if status == 200 else "refused")
            self.stop.wait(self.rng.uniform(0.2, 1.2))
        engine.dispose()

    # -- the chaos ------------------------------------------------------------------------------
    def chaos(self) -> None:
        sandbox = self.sandbox_server.sandbox
        while not self.stop.wait(self.rng.uniform(*self.args.fault_every)):
            self.keep_worker()
            kind = self.rng.choice(FAULT_KINDS)
            if kind == "kill horse":
                if self._kill_horse():
                    self.figures.fault(kind)
            elif kind == "kill worker":
                with self.worker_lock:
                    kill_whole(self.worker)
                self.figures.fault(kind)
                self.stop.wait(self.rng.uniform(0.5, 3))
                self.start_worker()
            elif kind == "restart redis":
                self.redis.stop()
                self.figures.fault(kind)
                time.sleep(self.rng.uniform(1, 4))
                self.redis.start()
            elif kind.startswith("qbo user edits"):
                if self._user_edits_a_purchase_order():
                    self.figures.fault(kind)
            elif kind == "qbo slow":
                sandbox.set_api_delay(DEMO_REALM, self.rng.uniform(1, 4))
                self.figures.fault(kind)
                self.stop.wait(self.rng.uniform(3, 8))
                sandbox.set_api_delay(DEMO_REALM, 0)
            else:
                count = self.rng.randint(1, 2)
                sandbox.inject_fault(DEMO_REALM, kind.split()[1], count=count)
                self.figures.faults[kind] += count

    def _user_edits_a_purchase_order(self) -> bool:
        """Someone saves a PurchaseOrder in QuickBooks (its memo): its SyncToken moves on, so
        an update of ours that read it before gets QuickBooks' 5010 (stale object) -- the way
        QuickBooks answers 5010, to a write only. (The fault hook's "5010" answers whatever
        call comes next, a read too, which QuickBooks never does.)"""
        sandbox = self.sandbox_server.sandbox
        with sandbox.lock:
            pos = list(sandbox.realm(DEMO_REALM).entities["PurchaseOrder"].values())
            if not pos:
                return False
            po = self.rng.choice(pos)
            po["SyncToken"] = str(int(po.get("SyncToken") or 0) + 1)
            po["Memo"] = f"Checked by the bookkeeper ({po['SyncToken']})"
        return True

    def _kill_horse(self) -> bool:
        """SIGKILL of the work horse alone, when one runs within 3 s."""
        with self.worker_lock:
            return kill_horse(self.worker)

    # -- the run ------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self) -> int:
        try:
            self.set_up()
            before = self.sandbox_server.sandbox.counters()["requests"]
            people = [(self.pm, ()), (self.chaos, ())]
            people += [(self.approver, (n + 1,)) for n in range(self.args.approvers)]
            threads = [threading.Thread(target=self._guarded, args=(target, *args), daemon=True)
                       for target, args in people]
            for thread in threads:
                thread.start()
            self.stop.wait(self.args.minutes * 60)
            self.stop.set()
            for thread in threads:
                thread.join(timeout=120)
            # The faults stop: QuickBooks answers, Redis and a worker run.
            sandbox = self.sandbox_server.sandbox
            sandbox.clear_faults(DEMO_REALM)
            sandbox.set_api_delay(DEMO_REALM, 0)
            if not self.redis.running():
                self.redis.start()
            self.keep_worker()
            settled = self.settle()
            calls = sandbox.counters()["requests"] - before
            breaches = self.check(settled)
            print(self.report(settled, calls, breaches))
            return 1 if breaches else 0
        finally:
            self.clean_up()

    def _unsettled(self) -> dict[str, int]:
        from sqlalchemy import text

        with self.engine.connect() as db:
            return {
                "exporting": db.scalar(text(
                    "SELECT (SELECT count(*) FROM commitments WHERE erp_status = 'exporting') + "
                    "(SELECT count(*) FROM change_orders WHERE erp_status = 'exporting')")),
                "reopen pending": db.scalar(text(
                    "SELECT count(*) FROM change_orders WHERE erp_reopen_pending")),
                "emails owed": db.scalar(text(OWED)),
            }

    def settle(self) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < SETTLE_SECONDS:
            self.keep_worker()
            if not any(self._unsettled().values()):
                return time.monotonic() - started
            time.sleep(0.5)
        return None

    def check(self, settled: float | None) -> list[str]:
        from sqlalchemy import text

        from quickbooks_online.marker import split_note

        breaches = []
        if settled is None:
            left = {k: v for k, v in self._unsettled().items() if v}
            breaches.append(f"not settled within {SETTLE_SECONDS} s: {left}")
            if left.get("exporting"):
                with self.engine.connect() as db:
                    for row in db.execute(text(
                            "SELECT e.id, e.subject_type, e.commitment_id, e.change_order_id, "
                            "e.status, e.attempts, e.retries, e.job_id, e.next_attempt_at, "
                            "e.last_error_code, e.last_error_message FROM exports e "
                            "WHERE e.status IN ('queued', 'running')")):
                        breaches.append(f"export left: {dict(row._mapping)}")
            if left.get("emails owed"):
                with self.engine.connect() as db:
                    owed = OWED.replace("count(*)", "kind, action, subject_type, subject_id, "
                                        "created_at, due_at, claim, claimed_at")
                    for row in db.execute(text(owed)):
                        breaches.append(f"email owed: {dict(row._mapping)}")
        breaches += [f"the app answered {e}" for e in self.figures.server_errors[:20]]
        with self.engine.connect() as db:
            self.statuses = Counter()
            for table, label in (("commitments", "commitment"), ("change_orders", "CCO")):
                for status, n in db.execute(text(
                        f"SELECT erp_status, count(*) FROM {table} GROUP BY erp_status")):  # noqa: S608
                    self.statuses[f"{label} {status}"] = n
            for row in db.execute(text(
                    "SELECT subject_type, commitment_id, change_order_id, last_error_code, "
                    "last_error_message "
                    "FROM exports WHERE status = 'failed'")):
                subject = row.change_order_id or row.commitment_id
                breaches.append(f"an export failed for good: {row.subject_type} {subject}: "
                                f"{row.last_error_code} {row.last_error_message}")
            self.retries = db.scalar(text("SELECT coalesce(sum(retries), 0) FROM exports"))
            self.exports = db.scalar(text("SELECT count(*) FROM exports"))
            self.emails = db.scalar(text("SELECT count(*) FROM sent_emails"))
        with self.engine.connect() as db:
            commitments = db.execute(text(
                "SELECT id, number, erp_status, qbo_purchase_order_id FROM commitments")).all()
            sov = db.execute(text(
                "SELECT id, commitment_id, amount, qbo_line_id FROM sov_lines")).all()
            ccos = db.execute(text(
                "SELECT id, commitment_id, number, erp_status, erp_reopen_pending "
                "FROM change_orders")).all()
            deltas = Counter()
            for line in db.execute(text(
                    "SELECT l.sov_line_id, l.amount FROM change_order_lines l JOIN change_orders "
                    "c ON c.id = l.change_order_id WHERE c.erp_status = 'synced'")):
                deltas[line.sov_line_id] += line.amount
        breaches += [f"rejected CCO {c.id} not handed back" for c in ccos
                     if c.erp_status == "rejected" and c.erp_reopen_pending]
        sandbox = self.sandbox_server.sandbox
        with sandbox.lock:
            pos = [dict(po) for po in sandbox.realm(DEMO_REALM).entities["PurchaseOrder"].values()]
        by_commitment: dict[int, list[tuple[dict, object]]] = {}
        for po in pos:
            _, marker = split_note(po.get("PrivateNote"))
            if marker is None:
                breaches.append(f"PurchaseOrder {po['Id']} has no marker block")
                continue
            by_commitment.setdefault(marker.commitment_id, []).append((po, marker))
        for commitment in commitments:
            found = by_commitment.get(commitment.id, [])
            if commitment.erp_status != "synced":
                if found:
                    breaches.append(f"commitment {commitment.number} is {commitment.erp_status} "
                                    f"but has {len(found)} PurchaseOrder(s)")
                continue
            if len(found) != 1:
                breaches.append(f"commitment {commitment.number}: {len(found)} PurchaseOrders")
                continue
            po, marker = found[0]
            if po["Id"] != commitment.qbo_purchase_order_id:
                breaches.append(f"commitment {commitment.number} records PurchaseOrder "
                                f"{commitment.qbo_purchase_order_id}, QuickBooks holds {po['Id']}")
            po_lines = {str(line.get("Id")): Decimal(str(line.get("Amount") or 0)).quantize(
                Decimal("0.01")) for line in po.get("Line", [])}
            revised_total = Decimal("0.00")
            for line in (s for s in sov if s.commitment_id == commitment.id):
                revised = (line.amount + deltas[line.id]).quantize(Decimal("0.01"))
                revised_total += revised
                if po_lines.get(str(line.qbo_line_id)) != revised:
                    breaches.append(f"commitment {commitment.number} SOV line {line.id}: "
                                    f"revised {revised}, PurchaseOrder line "
                                    f"{po_lines.get(str(line.qbo_line_id))}")
            if sum(po_lines.values(), Decimal("0.00")) != revised_total:
                breaches.append(f"commitment {commitment.number}: revised SOV {revised_total}, "
                                f"PurchaseOrder lines {sum(po_lines.values())}")
            tokens = Counter(marker.change_orders)
            synced = {c.number for c in ccos
                      if c.commitment_id == commitment.id and c.erp_status == "synced"}
            for number in synced:
                if tokens[number] != 1:
                    breaches.append(f"CCO {number} of {commitment.number} is in the marker block "
                                    f"{tokens[number]} times")
            for number in set(tokens) - synced:
                breaches.append(f"CCO {number} of {commitment.number} is in the marker block but "
                                "not Synced")
        return breaches

    def report(self, settled: float | None, calls: int, breaches: list[str]) -> str:
        a, f = self.figures.actions, self.figures.faults
        rows = [
            ("minutes", f"{self.args.minutes:g}"),
            ("database", self.database),
            ("approver sessions", str(self.args.approvers)),
            ("commitments / CCOs seeded", f"{self.args.commitments} / "
                                          f"{self.args.commitments * self.args.ccos}"),
            ("accepts", str(a["accept"])), ("rejects", str(a["reject"])),
            ("sends / resends", f"{a['send']} / {a['resend']}"),
            ("refused (409: already handled, not yet allowed)", str(a["refused"])),
            *((f"fault: {kind}", str(f[kind])) for kind in FAULT_KINDS),
            ("worker exits restarted", str(self.figures.worker_exits)),
            ("exports / retries", f"{self.exports} / {self.retries}"),
            ("time to settle", f"{settled:.1f} s" if settled is not None else "NOT SETTLED"),
            ("QuickBooks calls per export", f"{calls / self.exports:.2f}" if self.exports else "-"),
            ("emails written", str(self.emails)),
            ("final states", ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))),
            ("breaches", str(len(breaches))),
        ]
        width = max(len(r[0]) for r in rows)
        lines = ["| what | figure |", "|---|---|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        lines += [f"BREACH: {b}" for b in breaches]
        lines.append("PASS" if not breaches else "FAIL")
        return "\n".join(lines)

    def clean_up(self) -> None:
        self.stop.set()
        for process in (self.worker, self.web):
            if process is not None and process.poll() is None:
                kill_whole(process)
        self.redis.stop()
        if self.sandbox_server is not None:
            self.sandbox_server.stop()
        if getattr(self, "_checks_engine", None) is not None:
            self._checks_engine.dispose()
        if self.app is not None:
            with self.app.app_context():
                from extensions import db

                db.session.remove()
                db.engine.dispose()
        if self.created_db:
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except Exception as error:  # clean-up reports it, never hides the result
                print(f"could not drop database {self.database}: {error}", file=sys.stderr)
        if self.args.keep_logs:
            print(f"logs kept in {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def _default_server() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
        return urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    return "postgresql://127.0.0.1:5432/postgres"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--postgres", default=_default_server(),
                        help="a PostgreSQL server's maintenance database URL (the soak creates "
                             "and drops a database of its own there)")
    parser.add_argument("--approvers", type=int, default=3)
    parser.add_argument("--commitments", type=int, default=None,
                        help="commitments seeded (default: 8 a minute, at least 16), so the "
                             "approvers have work to the end")
    parser.add_argument("--ccos", type=int, default=4, help="CCOs per commitment")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--reject-rate", type=float, default=0.2)
    parser.add_argument("--fault-every", type=float, nargs=2, default=(3.0, 8.0),
                        metavar=("MIN", "MAX"), help="seconds between faults (uniform)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (a run to repeat)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the gunicorn and worker logs (their folder is printed)")
    args = parser.parse_args(argv)
    if args.commitments is None:
        args.commitments = max(16, round(8 * args.minutes))
    if shutil.which("redis-server") is None:
        print("redis-server is not installed", file=sys.stderr)
        return 2
    return Soak(args).run()


if __name__ == "__main__":
    sys.exit(main())
