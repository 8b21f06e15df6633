"""Throughput under 50 users against the production command, then Accept to Synced.

    make bench-load    (= .venv/bin/python -m benchmarks.load)
    .venv/bin/python -m benchmarks.load --users 50 --seconds 60 --think 1.0 --accepts 50

What runs, all on loopback and all started (and stopped) here:

* a scratch PostgreSQL database ``<base>_load`` on the server of ``--database-url``, migrated
  and bulk-seeded by benchmarks/seed.py (``--size`` rows of each kind), connected to
* the QuickBooks sandbox (qbo_sandbox) over HTTP in a thread of this process;
* a redis-server of its own on a free port (the shared Redis is never touched);
* the Procfile's two processes: ``gunicorn --workers 3 'app:create_app()'`` and
  ``rq worker --with-scheduler --worker-class jobs.worker.Worker``.

The load: ``--users`` simulated people, each its own session logged in through the login form,
each a loop (a pause of ``--think`` seconds on average between its requests, 0 for none) for
``--seconds``. Four in five are project managers: the commitments and change events lists, a
commitment, a CCO, a change event, and inline saves of an SOV line of their own commitment
(each its own, so no save is refused as stale). One in five are approvers: the inbox, and now
and then an Accept of a commitment waiting in it (exported by the worker meanwhile). Every
request counts; an error is any answer but 200 (or a redirect after a form), or a failure
to connect. Prints requests a second, p50, p95 and errors, overall and per kind of request.

Then Accept to Synced: the load stopped and the queue idle, ``--accepts`` commitments are
accepted one after another; for each, the time from the Accept's answer to the moment the
database says Synced (read every 5 ms). Prints p50 and p95.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.floor import (
    TOKEN_KEY,
    Client,
    admin_sql,
    analyze,
    database_exists,
    environment,
    p95,
    scratch_url,
    serve,
    stop,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Figures:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.accepted: list[int] = []

    def add(self, kind: str, ms: float, ok: bool, what: str = "") -> None:
        with self.lock:
            self.timings[kind].append(ms)
            if not ok:
                self.errors[f"{kind}: {what}"] += 1


def timed(figures: Figures, kind: str, client: Client, method: str, path: str,
          data: dict | None = None, htmx: bool = False, ok=(200,)) -> tuple[int, bytes]:
    start = time.perf_counter()
    try:
        status, body = client.request(method, path, data, htmx=htmx)
    except OSError as error:
        figures.add(kind, (time.perf_counter() - start) * 1000, False, type(error).__name__)
        client.connection.close()
        return 0, b""
    figures.add(kind, (time.perf_counter() - start) * 1000, status in ok, str(status))
    return status, body


def prepare(base: str, size: int, server, work: Path, accepts: int, users: int):
    """Seed the scratch database; the lines the managers save and the commitments to accept."""
    from sqlalchemy import select, text, update

    from benchmarks import run
    from benchmarks import seed as seeding
    from extensions import db
    from models import Commitment, ProjectMembership, QboRecord, SovLine, User
    from quickbooks_online.connection import get_connection

    name = f"{urlsplit(base).path.lstrip('/') or 'bench'}_load"
    if database_exists(base, name):
        admin_sql(base, f'DROP DATABASE "{name}" WITH (FORCE)')
    admin_sql(base, f'CREATE DATABASE "{name}"')
    url = scratch_url(base, name)
    app = run._app(str(work), server, url)
    run._fresh_schema(app)
    with app.app_context():
        seeded = seeding.seed(size, connect=run._connect)
        connection = get_connection()
        connection.ap_account_id = db.session.scalar(select(QboRecord.qbo_id).where(
            QboRecord.entity == "Account", QboRecord.detail == "Accounts Payable"))
        db.session.commit()
        # Each manager saves a line of a commitment of its own, in the projects the project
        # manager is a member of (the flagship first).
        projects = select(ProjectMembership.project_id).join(User).where(
            User.email == seeding.PM_EMAIL)
        editable = [c for c in db.session.scalars(
            select(Commitment).where(Commitment.project_id.in_(projects))
            .order_by(Commitment.project_id != seeded.project_id, Commitment.id))
            if c.erp_editable and c.sov_lines][:users]
        lines = [(c.project_id, c.id, c.sov_lines[0].id, c.sov_lines[0].amount,
                  c.sov_lines[0].version, c.sov_lines[0].description,
                  c.sov_lines[0].cost_code_id, c.sov_lines[0].category_id)
                 for c in editable[:users]]
        # What the approvers accept: commitments waiting in the inbox, not yet in QuickBooks.
        waiting = list(db.session.scalars(
            select(Commitment.id).where(Commitment.erp_status == "ready_to_export",
                                        Commitment.project_id != seeded.project_id)
            .order_by(Commitment.id).limit(accepts + 200)))
        db.session.execute(update(Commitment).where(Commitment.id.in_(waiting)).values(
            status="approved", qbo_purchase_order_id=None, qbo_sync_token=None),
            execution_options={"synchronize_session": False})
        db.session.execute(update(SovLine).where(SovLine.commitment_id.in_(waiting))
                           .values(qbo_line_id=None),
                           execution_options={"synchronize_session": False})
        db.session.execute(text("DELETE FROM exports WHERE commitment_id = ANY(:ids)"),
                           {"ids": waiting})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    analyze(url)
    return url, seeded, lines, waiting


def manager(figures: Figures, client: Client, seeded, line, stop_at: float, think: float,
            rng: random.Random) -> None:
    project = f"/projects/{seeded.project_id}"
    project_id, commitment_id, line_id, amount, version, description, cost_code, category = line
    own = f"/projects/{project_id}/commitments/{commitment_id}"
    pages = [("commitments list", f"{project}/commitments/"),
             ("change events list", f"{project}/change-events/"),
             ("commitment page", own),
             ("CCO page", f"{project}/commitments/{seeded.commitment_id}/change-orders/"
                          f"{seeded.cco_id}"),
             ("change event page", f"{project}/change-events/{seeded.change_event_id}")]
    step = 0
    while time.monotonic() < stop_at:
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))
        step += 1
        if step % 4 == 0:  # every fourth request an inline save
            amount += 1 if step % 8 else -1
            status, _ = timed(figures, "save SOV line", client, "POST",
                              f"{own}/sov/{line_id}",
                              {"description": description, "cost_code_id": cost_code,
                               "category_id": category, "amount": str(amount),
                               "version": str(version)}, htmx=True)
            if status == 200:
                version += 1
        else:
            kind, path = rng.choice(pages)
            timed(figures, kind, client, "GET", path)


def approver(figures: Figures, client: Client, waiting: list[int], stop_at: float,
             think: float, rng: random.Random, accept_every: int) -> None:
    step = 0
    while time.monotonic() < stop_at:
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))
        step += 1
        if step % accept_every == 0:
            with figures.lock:
                subject = waiting.pop() if waiting else None
            if subject is not None:
                status, _ = timed(figures, "accept", client, "POST",
                                  f"/erp/commitments/{subject}/accept", {}, htmx=True)
                if status == 200:
                    with figures.lock:
                        figures.accepted.append(subject)
                continue
        timed(figures, "inbox (ERP Integrations)", client, "GET", "/erp/")


def warm_up(clients: list[Client], approvers: int, seeded, port: int) -> None:
    """Every page a few times, untimed: each gunicorn worker compiles its templates and fills
    its caches before the load starts."""
    project = f"/projects/{seeded.project_id}"
    paths = [f"{project}/commitments/", f"{project}/change-events/",
             f"{project}/commitments/{seeded.commitment_id}",
             f"{project}/commitments/{seeded.commitment_id}/change-orders/{seeded.cco_id}",
             f"{project}/change-events/{seeded.change_event_id}"]
    for _ in range(6):
        clients[0].request("GET", "/erp/")
        for path in paths:
            clients[approvers].request("GET", path)


def idle_queue(redis_url: str, queue: str, seconds: float = 120) -> float:
    """Wait until nothing is queued or running; the seconds it took."""
    from redis import Redis
    from rq import Queue
    from rq.registry import StartedJobRegistry

    connection = Redis.from_url(redis_url)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if Queue(queue, connection=connection).count == 0 and \
                StartedJobRegistry(queue, connection=connection).count == 0:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def accept_to_synced(url: str, client: Client, subjects: list[int],
                     timeout: float = 30.0) -> tuple[list[float], Counter]:
    import psycopg

    times, outcomes = [], Counter()
    with psycopg.connect(url, autocommit=True) as connection:
        for subject in subjects:
            status, _ = client.request("POST", f"/erp/commitments/{subject}/accept", {},
                                       htmx=True)
            answered = time.perf_counter()
            if status != 200:
                outcomes[f"accept answered {status}"] += 1
                continue
            while True:
                state = connection.execute("SELECT erp_status FROM commitments WHERE id = %s",
                                           (subject,)).fetchone()[0]
                if state != "exporting" or time.perf_counter() - answered > timeout:
                    break
                time.sleep(0.005)
            outcomes[state] += 1
            if state == "synced":
                times.append(time.perf_counter() - answered)
    return times, outcomes


def summary(name: str, timings: list[float], seconds: float, errors: int) -> str:
    return (f"| {name} | {len(timings):,} | {len(timings) / seconds:.1f} | "
            f"{statistics.median(timings):.0f} | {p95(timings):.0f} | {max(timings):.0f} | "
            f"{errors} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between a user's requests, seconds (0: none)")
    parser.add_argument("--accept-every", type=int, default=5,
                        help="an approver's every Nth request is an Accept")
    parser.add_argument("--accepts", type=int, default=50, help="Accept to Synced samples")
    parser.add_argument("--size", type=int, default=1000, help="rows of each kind seeded")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or
                        "postgresql://127.0.0.1:5432/bench",
                        help="a PostgreSQL server (its database's name prefixes the scratch "
                             "database's)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    os.environ["QBO_TOKEN_KEY"] = TOKEN_KEY
    from benchmarks import seed as seeding
    from qbo_sandbox import SandboxServer
    from tests.redis_server import RedisServer

    work = Path(tempfile.mkdtemp(prefix="load-"))
    redis = RedisServer(work)
    processes = []
    with SandboxServer() as server:
        server.sandbox.configure(rate_limit_per_minute=1_000_000, concurrency_limit=1_000)
        url, seeded, lines, waiting = prepare(args.database_url, args.size, server, work,
                                              args.accepts, args.users)
        redis.start()
        env = {**environment(url, server), "REDIS_URL": redis.url, "RQ_QUEUE": "changeorder",
               "PUBLIC_URL": "http://127.0.0.1"}
        try:
            web, port = serve("app:create_app()", ROOT, env, work / "web.log",
                              workers=args.web_workers, worker_class="sync")
            processes.append(web)
            import subprocess

            worker = subprocess.Popen(  # noqa: S603
                [str(BIN / "rq"), "worker", "--with-scheduler", "--worker-class",
                 "jobs.worker.Worker", "--url", redis.url, "changeorder"], cwd=ROOT, env=env,
                stdout=(work / "worker.log").open("a"), stderr=subprocess.STDOUT,
                start_new_session=True)
            processes.append(worker)
            figures = Figures()
            approvers = max(1, args.users // 5)
            clients = []
            for n in range(args.users):
                email = seeding.APPROVER_EMAIL if n < approvers else seeding.PM_EMAIL
                clients.append(Client(port).login(email, seeding.PASSWORD))
            for client in clients[approvers:]:  # the token of a page, for the saves
                client.token(client.request("GET", f"/projects/{seeded.project_id}/"
                                                   "commitments/")[1])
            warm_up(clients, approvers, seeded, port)
            idle_queue(redis.url, "changeorder")
            stop_at = time.monotonic() + args.seconds
            threads = []
            to_accept = list(reversed(waiting[args.accepts:]))
            for n, client in enumerate(clients):
                rng = random.Random(n)  # noqa: S311 (a repeatable mix, not a secret)
                if n < approvers:
                    target = approver
                    arguments = (figures, client, to_accept, stop_at, args.think, rng,
                                 args.accept_every)
                else:
                    target = manager
                    arguments = (figures, client, seeded, lines[(n - approvers) % len(lines)],
                                 stop_at, args.think, rng)
                threads.append(threading.Thread(target=target, args=arguments, daemon=True))
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(args.seconds + 120)
            elapsed = time.monotonic() - started
            settle = idle_queue(redis.url, "changeorder")
            times, outcomes = accept_to_synced(url, clients[0], waiting[:args.accepts])
        finally:
            for process in processes:
                stop(process)
            redis.stop()
    everything = [t for ts in figures.timings.values() for t in ts]
    errors = sum(figures.errors.values())
    out = [f"## Load: {args.users} users for {args.seconds:.0f} s against gunicorn "
           f"×{args.web_workers} (sync), PostgreSQL, Redis, an rq worker and the sandbox; "
           f"think time {args.think} s on average; {args.size:,} rows of each kind",
           "", "| requests | count | a second | p50 ms | p95 ms | max ms | errors |",
           "|---|---:|---:|---:|---:|---:|---:|",
           summary("all", everything, elapsed, errors)]
    for kind in sorted(figures.timings):
        out.append(summary(kind, figures.timings[kind], elapsed,
                           sum(n for k, n in figures.errors.items()
                               if k.startswith(kind + ":"))))
    if figures.errors:
        out += ["", f"errors: {dict(figures.errors)}"]
    out += ["", f"accepted under load: {len(figures.accepted)}; the queue was idle "
                f"{settle:.1f} s after the load"]
    if times:
        out += [f"Accept to Synced ({len(times)} of {args.accepts} accepts, idle queue): "
                f"p50 {statistics.median(times):.2f} s, p95 {p95(times):.2f} s, "
                f"max {max(times):.2f} s; outcomes {dict(outcomes)}"]
    else:
        out += [f"Accept to Synced: nothing synced; outcomes {dict(outcomes)}"]
    load_p95 = p95(everything)
    out += ["", f"{'PASS' if load_p95 <= 1000 else 'FAIL'}: p95 {load_p95:.0f} ms <= 1,000 ms",
            f"{'PASS' if errors == 0 else 'FAIL'}: {errors} errors",
            f"{'PASS' if times and p95(times) <= 2 and len(times) == args.accepts else 'FAIL'}"
            f": Accept to Synced p95 <= 2 s"]
    print("\n".join(out))
    admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" '
                                 "WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
