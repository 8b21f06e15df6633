"""The framework's floor: the app's main pages over a real WSGI server, as a ratio of a minimal
Flask page served the same way.

    make bench-floor   (= .venv/bin/python -m benchmarks.floor; also the last part of make bench)
    .venv/bin/python -m benchmarks.floor --sizes 100,100000 --requests 300 --reuse

For each size N (``--sizes``; 100 is the demo's size) a scratch PostgreSQL database
``<base>_floor_<N>`` on the server of ``--database-url`` is migrated and bulk-seeded by
benchmarks/seed.py (``--reuse`` keeps one seeded by an earlier run). Then, all on loopback:

* the app, ``gunicorn --workers 1 --worker-class gthread --threads 1 'app:create_app()'``
  (production settings: CSRF on, sessions, gzip for a browser that asks), and
* the floor, ``benchmarks/floor_app.py``: a page of 25 cards rendered by Jinja, no database,
  served by the same gunicorn command (gthread: the connection is kept alive between requests,
  as a browser keeps it);
* the stack's floor, ``benchmarks/floor_app.py: stack()``: the same page behind a login (the
  signed session cookie, Flask-Login loading the user through Flask-SQLAlchemy from the
  scratch database: one statement), the least any page of the app costs;
* one keep-alive connection per user (http.client), each logged in through the login form: the
  project manager for the record pages, lists and saves, the approver for the inbox;
* ``--requests`` rounds, each requesting every page once in turn (floor included), so that
  whatever else the machine does at that moment weighs on all of them alike. A save posts a
  changed amount with ``HX-Request: true`` and the CSRF token, as the row's form does.

Prints, per size, each page's p50 and p95 and their ratio to the floor's p50 and p95 measured
in the same run, its p50's ratio to the stack's floor, and the SQL statements each page runs
(counted once, in process). ``--compare CHECKOUT`` also serves another checkout's app (e.g.
main's worktree) on the same database, its pages in the same rounds: a before/after table
measured side by side.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN_KEY = "bXq2o3CqvI2cYk8nWm1Jx9a0lC3d6tQ9pW2sE5rT7uY="  # noqa: S105 (scratch databases only)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')
SAVES = ("save SOV line", "save CCO line", "save change event item")


@dataclass
class Row:
    page: str
    size: int
    p50: float
    p95: float
    floor_p50: float
    floor_p95: float
    statements: int | None
    requests: int
    stack_p50: float | None = None

    @property
    def stack_ratio50(self) -> float | None:
        return self.p50 / self.stack_p50 if self.stack_p50 else None

    @property
    def ratio50(self) -> float:
        return self.p50 / self.floor_p50

    @property
    def ratio95(self) -> float:
        return self.p95 / self.floor_p95


def p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ---- processes ------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(target: str, cwd: Path, env: dict, log: Path, workers: int = 1,
          worker_class: str = "gthread") -> tuple[subprocess.Popen, int]:
    """gunicorn serving ``target`` on a free loopback port, started in a session of its own."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--timeout", "120", "--keep-alive", "30"]
    if worker_class == "gthread":
        command += ["--worker-class", "gthread", "--threads", "1"]
    process = subprocess.Popen([*command, target], cwd=cwd, env=env,  # noqa: S603
                               stdout=log.open("a"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/favicon.ico" if "app:" in target else "/")
            connection.getresponse().read()
            connection.close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {target} did not start: "
                                   + log.read_text()[-3000:]) from None
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    from tests.processes import kill_whole

    kill_whole(process)


# ---- a browser-like client ------------------------------------------------------------------

class Client:
    """One user: one keep-alive connection, the cookies the app sets, the CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None

    def request(self, method: str, path: str, data: dict | None = None,
                htmx: bool = False) -> tuple[int, bytes]:
        headers = {"Accept-Encoding": "gzip", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if htmx:
            headers["HX-Request"] = "true"
            if self.csrf:
                headers["X-CSRFToken"] = self.csrf
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a kept-alive connection the server closed: open a new one
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        if response.headers.get("Content-Encoding") == "gzip":
            content = gzip.decompress(content)
        return response.status, content

    def token(self, html: bytes) -> None:
        found = CSRF.search(html.decode())
        if found:
            self.csrf = found.group(1) or found.group(2)

    def login(self, email: str, password: str) -> Client:
        status, html = self.request("GET", "/auth/login")
        self.token(html)
        status, _ = self.request("POST", "/auth/login", {"email": email, "password": password,
                                                         "csrf_token": self.csrf or ""})
        if status not in (302, 303):
            raise RuntimeError(f"login of {email} answered {status}")
        self.token(self.request("GET", "/")[1])
        return self


# ---- the data -------------------------------------------------------------------------------

def scratch_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def admin_sql(base: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(scratch_url(base, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


def database_exists(base: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(scratch_url(base, "postgres"), autocommit=True) as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (name,)).fetchone() is not None


def prepare(size: int, base: str, server, instance: str, reuse: bool):
    """The seeded scratch database of ``size``: (its URL, the Seeded ids, an in-process app)."""
    from benchmarks import run
    from benchmarks import seed as seeding

    name = f"{urlsplit(base).path.lstrip('/') or 'bench'}_floor_{size}"
    url = scratch_url(base, name)
    marker = Path(tempfile.gettempdir()) / f"changeorder-{name}.json"
    app = run._app(instance, server, url)
    if reuse and marker.exists() and database_exists(base, name):
        return url, seeding.Seeded(**json.loads(marker.read_text())), app
    if database_exists(base, name):
        admin_sql(base, f'DROP DATABASE "{name}" WITH (FORCE)')
    admin_sql(base, f'CREATE DATABASE "{name}"')
    run._fresh_schema(app)
    from extensions import db

    with app.app_context():
        seeded = seeding.seed(size, connect=run._connect)
        db.session.remove()
        db.engine.dispose()
    analyze(url)
    marker.write_text(json.dumps(seeded.__dict__))
    print(f"  seeded {size:,}: {seeded.rows:,} rows in {seeded.seconds:.0f} s", file=sys.stderr)
    return url, seeded, app


def analyze(url: str) -> None:
    """Table statistics for the freshly seeded rows, as a database in use has them (autovacuum
    may not get to a million rows written in one transaction before the run starts, and the
    planner then reads whole tables where an index would do)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")


def environment(url: str, server) -> dict:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "floor-secret-key",
            "QBO_TOKEN_KEY": TOKEN_KEY, "QBO_CLIENT_ID": "sandbox-client-id",
            "QBO_CLIENT_SECRET": "sandbox-client-secret",
            "QBO_REDIRECT_URI": "http://127.0.0.1/erp/settings/callback",
            "QBO_ENVIRONMENT": server.discovery_url, "QBO_API_URL": server.api_url_v3,
            "QBO_CDC_INTERVAL_MINUTES": "0", "HTMX_CDN": "0", "MAIL_SERVER": "",
            "REDIS_URL": "", "LOGIN_LIMIT_ACCOUNT": "1000 per minute",
            "LOGIN_LIMIT_ADDRESS": "1000 per minute", "LOGIN_LIMIT_ACCOUNT_ANY": "1000 per minute"}


def pages(seeded) -> list[tuple[str, str, str]]:
    """(name, user, path) of each page measured; a save's path is its row's URL."""
    project = f"/projects/{seeded.project_id}"
    commitment = f"{project}/commitments/{seeded.commitment_id}"
    cco = f"{commitment}/change-orders/{seeded.cco_id}"
    ce = f"{project}/change-events/{seeded.change_event_id}"
    return [
        ("inbox (ERP Integrations)", "approver", "/erp/"),
        ("commitment page", "pm", commitment),
        ("CCO page", "pm", cco),
        ("change event page", "pm", ce),
        ("commitments list", "pm", f"{project}/commitments/"),
        ("change events list", "pm", f"{project}/change-events/"),
        ("save SOV line", "pm", f"{commitment}/sov/{seeded.sov_line_id}"),
        ("save CCO line", "pm", f"{cco}/lines/{seeded.cco_line_id}"),
        ("save change event item", "pm", f"{ce}/lines/{seeded.change_event_line_id}"),
    ]


def forms(app, seeded):
    """name → a function giving the row's form with a changed amount (read untimed)."""
    from benchmarks.run import _form
    from models import ChangeEventLine, ChangeOrderLine, SovLine

    return {
        "save SOV line": lambda: _form(app, SovLine, seeded.sov_line_id,
                                       ("description", "cost_code_id", "category_id"),
                                       "amount"),
        "save CCO line": lambda: _form(app, ChangeOrderLine, seeded.cco_line_id,
                                       ("sov_line_id", "cost_code_id", "category_id",
                                        "description"), "amount"),
        "save change event item": lambda: _form(
            app, ChangeEventLine, seeded.change_event_line_id,
            ("cost_code_id", "category_id", "vendor_id", "commitment_id", "description",
             "latest_cost"), "cost_rom"),
    }


def statement_counts(app, measured, make_form) -> dict[str, int]:
    """Each page once through the in-process app, its SQL statements counted."""
    from benchmarks import run
    from benchmarks import seed as seeding
    from extensions import db

    with app.app_context():
        engine = db.engine
    users = {"pm": run._login(app, seeding.PM_EMAIL),
             "approver": run._login(app, seeding.APPROVER_EMAIL)}
    counter = run.QueryCounter(engine)
    found = {}
    for name, user, path in measured:
        for _ in range(2):  # the second: warm
            data = make_form[name]() if name in SAVES else None
            counter.count = 0
            if data is None:
                response = users[user].get(path)
            else:
                response = users[user].post(path, data=data, headers={"HX-Request": "true"})
            assert response.status_code == 200, (name, response.status_code)
        found[name] = counter.count
    from sqlalchemy import event

    event.remove(engine, "before_cursor_execute", counter._count)
    return found


def measure(size: int, args) -> list[Row]:
    """Every page of every checkout (``--compare``) and the floor, interleaved in one run."""
    from benchmarks import seed as seeding
    from qbo_sandbox import SandboxServer

    work = Path(tempfile.mkdtemp(prefix="floor-"))
    os.environ["QBO_TOKEN_KEY"] = TOKEN_KEY
    checkouts = [("", ROOT)] + [(f"{Path(root).name}: ", Path(root))
                                for root in args.compare]
    with SandboxServer() as server:
        url, seeded, app = prepare(size, args.database_url, server, str(work), args.reuse)
        env = environment(url, server)
        servers = []
        try:
            floor, floor_port = serve("benchmarks.floor_app:app", ROOT, env, work / "floor.log")
            servers.append(floor)
            stack, stack_port = serve("benchmarks.floor_app:stack()", ROOT, env,
                                      work / "stack.log")
            servers.append(stack)
            stack_user = Client(stack_port)
            stack_user.request("GET", f"/login/{user_id(app, seeding.PM_EMAIL)}")
            rounds = [("floor", Client(floor_port), "/"), (STACK, stack_user, "/")]
            measured = pages(seeded)
            make_form = forms(app, seeded)
            for label, root in checkouts:
                web, port = serve("app:create_app()", root, env,
                                  work / f"app{len(servers)}.log")
                servers.append(web)
                users = {"pm": Client(port).login(seeding.PM_EMAIL, seeding.PASSWORD),
                         "approver": Client(port).login(seeding.APPROVER_EMAIL,
                                                        seeding.PASSWORD)}
                users["pm"].token(users["pm"].request("GET", measured[1][2])[1])
                rounds += [(label + name, users[user], path) for name, user, path in measured]
            timings: dict[str, list[float]] = {name: [] for name, *_ in rounds}
            for n in range(args.warmup + args.requests):
                for name, client, path in rounds:
                    save = name.split(": ")[-1]
                    data = make_form[save]() if save in SAVES else None
                    start = time.perf_counter()
                    if data is None:
                        status, _ = client.request("GET", path)
                    else:
                        status, _ = client.request("POST", path, data, htmx=True)
                    elapsed = (time.perf_counter() - start) * 1000
                    if status != 200:
                        raise RuntimeError(f"{name} @ {size}: {status}")
                    if n >= args.warmup:
                        timings[name].append(elapsed)
        finally:
            for process in servers:
                stop(process)
        counts = statement_counts(app, measured, make_form)  # this checkout's code
        from extensions import db

        with app.app_context():
            db.engine.dispose()
    floor50, floor95 = statistics.median(timings["floor"]), p95(timings["floor"])
    stack50 = statistics.median(timings[STACK])
    rows = [Row("floor (Flask, 25 cards, no database)", size, floor50, floor95, floor50,
                floor95, 0, len(timings["floor"]), stack50)]
    for name, *_ in rounds[1:]:
        rows.append(Row(name, size, statistics.median(timings[name]), p95(timings[name]),
                        floor50, floor95, 1 if name == STACK else
                        None if ": " in name else counts.get(name), len(timings[name]),
                        stack50))
    return rows


STACK = "stack floor (the same page, logged in: session, Flask-Login, one statement)"


def user_id(app, email: str) -> int:
    from sqlalchemy import select

    from extensions import db
    from models import User

    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.email == email))
        db.session.remove()
    return found


def table(rows: list[Row]) -> str:
    lines = ["| page | size | p50 ms | p95 ms | p50 / floor | p95 / floor | p50 / stack floor "
             "| statements |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        stack = f"{row.stack_ratio50:.2f}×" if row.stack_ratio50 else ""
        lines.append(f"| {row.page} | {row.size:,} | {row.p50:.1f} | {row.p95:.1f} | "
                     f"{row.ratio50:.2f}× | {row.ratio95:.2f}× | {stack} | "
                     f"{'' if row.statements is None else row.statements} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,100000",
                        help="rows of each kind; 100 is the demo's size")
    parser.add_argument("--requests", type=int, default=200, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or
                        "postgresql://127.0.0.1:5432/bench",
                        help="a PostgreSQL server (its database's name is the scratch "
                             "databases' prefix)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a scratch database seeded by an earlier run")
    parser.add_argument("--compare", action="append", default=[], metavar="CHECKOUT",
                        help="also serve the app of another checkout (e.g. main's worktree), "
                             "its pages interleaved with this one's: a before/after table "
                             "from one run")
    args = parser.parse_args(argv)
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    rows: list[Row] = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        rows += measure(size, args)
    report = "\n".join([
        f"## Pages against the framework's floor (gunicorn, 1 worker, keep-alive, PostgreSQL; "
        f"{args.requests} interleaved rounds after {args.warmup} warm-up; statements: this "
        "checkout's, counted in process)", "", table(rows)])
    print(report)
    return report


if __name__ == "__main__":
    main()
