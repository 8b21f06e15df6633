"""Benchmarks: page and inline-save times, SQL statements and bytes as the data grows, and
export throughput against the QuickBooks sandbox with its rate limit in force.

    make bench    (= .venv/bin/python -m benchmarks.run)
    .venv/bin/python -m benchmarks.run --sizes 100,10000 --exports 200
    .venv/bin/python -m benchmarks.run --database-url postgresql://127.0.0.1:5432/bench

For each size N (``--sizes``, default 100,10000,100000) a fresh database (SQLite in a
temporary folder, or the PostgreSQL database of ``--database-url``, its schema dropped and
migrated again) is bulk-seeded by benchmarks/seed.py with N commitments, N CCOs and N change
event items, connected to a QuickBooks sandbox of its own. Each size runs in a fresh process
(this module with ``--only-size``), so no size pays for what an earlier one left in memory or
in caches. Each page and each inline save is
requested through the Flask test client by the user who would use it, logged in through the
login form: warm-up requests, then ``--requests`` timed ones (fewer when a page takes longer
than ``--max-seconds`` in all). No app context is held around the requests, so nothing is
cached between them beyond what the app itself does.

Then ``--exports`` records are accepted and exported inline (the RQ job run in-process, the
real quickbooks_online.export code) against the sandbox throttling at ``--rate-limit`` calls
a minute per company (Intuit's: 500), with the app pacing itself at its QBO_MAX_PER_MINUTE.

Then ``--cco-exports`` CCOs (default: as many as ``--exports``) exported one after the other
onto PurchaseOrders that QuickBooks holds as our last write left them (benchmarks/cco_exports.py):
calls per CCO export and the time at the app's pace.

Then the change data capture poll (benchmarks/cdc.py) at ``--cdc-sizes`` linked
PurchaseOrders: its time and QuickBooks calls.

Prints one markdown table, the exports' figures and a PASS/FAIL line per target. Nothing is
asserted: compare runs.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import event, select, text

from benchmarks import seed as seeding

# The pages the targets call list pages: statements constant and at most 10, flat p95.
LIST_PAGES = ("projects list (PM)", "projects list (company admin)", "commitments list",
              "change events list", "inbox (ERP Integrations)")
MAX_LIST_STATEMENTS = 10
MAX_P95_RATIO = 1.5
HTMX = {"HX-Request": "true"}



@dataclass
class Row:
    page: str
    size: int
    p50: float
    p95: float
    statements: int
    statements_min: int
    raw: int
    gzipped: int
    requests: int


@dataclass
class Exports:
    count: int = 0
    rate_limit: int = 0
    app_limit: int = 0
    synced: int = 0
    failed: int = 0
    seconds: float = 0.0
    calls: int = 0
    calls_per_export: Counter = field(default_factory=Counter)
    by_kind: dict = field(default_factory=dict)
    paths: Counter = field(default_factory=Counter)
    throttled: int = 0
    recovered: int = 0
    peak_window: int = 0
    seed_seconds: float = 0.0


def _postgres_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _app(instance: str, server, database_url: str | None, per_minute: int | None = None):
    from app import create_app

    config = {"TESTING": True, "WTF_CSRF_ENABLED": False, "QBO_BUILTIN_SANDBOX": False,
              "SECRET_KEY": "bench", "HTMX_CDN": False,
              "PASSWORD_HASH_METHOD": seeding.PASSWORD_HASH_METHOD,
              "QBO_ENVIRONMENT": server.discovery_url, "QBO_API_URL": server.api_url_v3,
              "QBO_CLIENT_ID": "sandbox-client-id", "QBO_CLIENT_SECRET": "sandbox-client-secret",
              "QBO_REDIRECT_URI": "http://127.0.0.1/erp/settings/callback", "REDIS_URL": None,
              "SQLALCHEMY_DATABASE_URI": _postgres_url(database_url) if database_url
              else f"sqlite:///{instance}/bench.db"}
    if per_minute:
        config["QBO_MAX_PER_MINUTE"] = per_minute
    return create_app(config, instance_path=instance)


def _fresh_schema(app) -> None:
    """Migrate an empty database (PostgreSQL: drop everything in it first)."""
    from flask_migrate import upgrade

    from extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()


def _connect(admin) -> None:
    from tests import qbo_helpers

    qbo_helpers.connect(admin)


class QueryCounter:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1


def _login(app, email: str):
    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": seeding.PASSWORD})
    assert response.status_code in (302, 303), (email, response.status_code)
    return client


def _p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _measure(name: str, size: int, counter: QueryCounter, send, *, requests: int, warmup: int,
             max_seconds: float, prepare=None) -> Row:
    """``send()`` once per request (``prepare()`` before each, untimed and uncounted)."""
    timings, statements = [], []
    response = None
    started = time.perf_counter()
    for n in range(warmup + requests):
        arguments = prepare() if prepare else {}
        counter.count = 0
        start = time.perf_counter()
        response = send(**arguments)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code in (200, 204), (name, size, response.status_code,
                                                     response.get_data(as_text=True)[:500])
        if n >= warmup:
            timings.append(elapsed)
            statements.append(counter.count)
            if len(timings) >= 5 and time.perf_counter() - started > max_seconds:
                break
    body = response.get_data()
    return Row(name, size, statistics.median(timings), _p95(timings), max(statements),
               min(statements), len(body), len(gzip.compress(body)) if body else 0,
               len(timings))


def _form(app, model, line_id: int, fields: tuple[str, ...], money: str) -> dict:
    """The row's form as the page shows it, with ``money`` changed (untimed)."""
    from extensions import db

    with app.app_context():
        line = db.session.get(model, line_id)
        data = {}
        for name in fields:
            value = getattr(line, name)
            data[name] = "" if value is None else str(value)
        amount = getattr(line, money)
        data[money] = str(amount + 1 if amount < 1_000_000 else amount - 1)
        data["version"] = str(line.version)
        db.session.rollback()
    return data


def pages(size: int, server, args) -> tuple[list[Row], seeding.Seeded]:
    from extensions import db
    from models import ChangeEventLine, ChangeOrderLine, SovLine

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as instance:
        app = _app(instance, server, args.database_url)
        _fresh_schema(app)
        server.sandbox.reset()
        server.sandbox.configure(rate_limit_per_minute=1_000_000, concurrency_limit=1_000)
        with app.app_context():
            seeded = seeding.seed(size, connect=_connect)
            engine = db.engine
            db.session.remove()
        pm = _login(app, seeding.PM_EMAIL)
        approver = _login(app, seeding.APPROVER_EMAIL)
        admin = _login(app, seeding.ADMIN_EMAIL)
        counter = QueryCounter(engine)
        # What the harness itself holds (the seeded rows it built, the in-process sandbox, the
        # sizes before this one) is set aside from the garbage collector, as a preloading
        # server does after start-up: the requests then pay for their own objects only, and
        # no size pays to scan what an earlier one left.
        gc.collect()
        gc.freeze()
        project = f"/projects/{seeded.project_id}"
        commitment = f"{project}/commitments/{seeded.commitment_id}"
        cco = f"{commitment}/change-orders/{seeded.cco_id}"
        ce = f"{project}/change-events/{seeded.change_event_id}"
        inbox_page = approver.get("/erp/").get_data(as_text=True)
        poll = "/erp/changes?" + inbox_page.split('hx-get="/erp/changes?', 1)[1].split(
            '"', 1)[0].replace("&amp;", "&")

        def get(client, url):
            return lambda: client.get(url)

        def post(client, url):
            return lambda **data: client.post(url, data=data, headers=HTMX)

        measured = [
            ("projects list (PM)", get(pm, "/"), None),
            ("projects list (company admin)", get(admin, "/"), None),
            ("commitments list", get(pm, f"{project}/commitments/"), None),
            ("commitment page", get(pm, commitment), None),
            ("CCO page", get(pm, cco), None),
            ("change events list", get(pm, f"{project}/change-events/"), None),
            ("change event page", get(pm, ce), None),
            ("inbox (ERP Integrations)", get(approver, "/erp/"), None),
            ("inbox poll (no change)", get(approver, poll), None),
            ("save SOV line (htmx)", post(pm, f"{commitment}/sov/{seeded.sov_line_id}"),
             lambda: _form(app, SovLine, seeded.sov_line_id,
                           ("description", "cost_code_id", "category_id"), "amount")),
            ("save CCO line (htmx)", post(pm, f"{cco}/lines/{seeded.cco_line_id}"),
             lambda: _form(app, ChangeOrderLine, seeded.cco_line_id,
                           ("sov_line_id", "cost_code_id", "category_id", "description"),
                           "amount")),
            ("save change event item (htmx)",
             post(pm, f"{ce}/lines/{seeded.change_event_line_id}"),
             lambda: _form(app, ChangeEventLine, seeded.change_event_line_id,
                           ("cost_code_id", "category_id", "vendor_id", "commitment_id",
                            "description", "latest_cost"), "cost_rom")),
        ]
        for name, send, prepare in measured:
            rows.append(_measure(name, size, counter, send, requests=args.requests,
                                 warmup=args.warmup, max_seconds=args.max_seconds,
                                 prepare=prepare))
            print(f"  {name} @ {size}: p50 {rows[-1].p50:.1f} ms, "
                  f"{rows[-1].statements} statements", file=sys.stderr)
        event.remove(engine, "before_cursor_execute", counter._count)
        engine.dispose()
        gc.unfreeze()
    return rows, seeded


# ---- exports -------------------------------------------------------------------------------

def _log_time(entry: dict) -> float:
    return datetime.fromisoformat(entry["time"]).timestamp()


def exports(count: int, server, args) -> Exports:
    """Accept ``count`` records, four commitments (a PurchaseOrder created) to one CCO (the
    PurchaseOrder updated), each exported inline through the real job."""

    from extensions import db
    from models import ChangeOrder, Commitment, ExportStatus, User
    from models import Export as ExportRow
    from workflow import erp

    result = Exports(count=count, rate_limit=args.rate_limit)
    sandbox = server.sandbox
    with tempfile.TemporaryDirectory() as instance:
        app = _app(instance, server, args.database_url, args.qbo_max_per_minute)
        result.app_limit = app.config["QBO_MAX_PER_MINUTE"]
        _fresh_schema(app)
        sandbox.reset()
        sandbox.configure(rate_limit_per_minute=args.rate_limit)
        commitments_wanted = count - count // 5
        with app.app_context():
            started = time.perf_counter()
            seeding.seed(max(100, commitments_wanted), connect=_connect)
            result.seed_seconds = time.perf_counter() - started
            seeding.nothing_in_quickbooks_yet()
            approver_id = db.session.scalar(select(User.id).where(
                User.email == seeding.APPROVER_EMAIL))
            subjects = [("commitment", cid) for cid in db.session.scalars(
                select(Commitment.id).order_by(Commitment.id).limit(commitments_wanted))]
            ccos = list(db.session.scalars(
                select(ChangeOrder.id).where(ChangeOrder.commitment_id <= commitments_wanted)
                .order_by(ChangeOrder.id).limit(count - len(subjects))))
            subjects += [("change_order", cco_id) for cco_id in ccos]
            db.session.remove()

            seq = max([e["seq"] for e in sandbox.request_log()] or [0])
            before = sandbox.counters()
            entries: list[dict] = []
            result.by_kind = {"commitment": Counter(), "change_order": Counter()}
            started = time.perf_counter()
            for kind, subject_id in subjects:
                model = Commitment if kind == "commitment" else ChangeOrder
                subject = db.session.get(model, subject_id)
                if kind == "change_order":  # approved and sent by the PM, waiting for Accept
                    if subject.approval is None:
                        from workflow.approvals import record_approval

                        record_approval(None, subject)
                    subject.status, subject.erp_status = "approved", "ready_to_export"
                    db.session.commit()
                erp.accept(db.session.get(User, approver_id), subject)
                new = sandbox.request_log(since=seq)
                seq = max([e["seq"] for e in new] or [seq])
                entries += new
                result.calls_per_export[len(new)] += 1
                result.by_kind[kind][len(new)] += 1
                if any(e["status"] == 429 for e in new):
                    result.throttled += sum(e["status"] == 429 for e in new)
                    db.session.expire_all()
                    if db.session.get(model, subject_id).erp_status == "synced":
                        result.recovered += 1
                db.session.remove()
            result.seconds = time.perf_counter() - started
            after = sandbox.counters()
            result.calls = after["requests"] - before["requests"]
            result.throttled = max(result.throttled, after["throttled"] - before["throttled"])
            statuses = Counter(db.session.scalars(select(ExportRow.status)))
            result.synced = statuses[ExportStatus.SYNCED]
            result.failed = sum(statuses.values()) - result.synced
            db.session.remove()
            db.engine.dispose()
    times = sorted(_log_time(e) for e in entries)
    result.paths = Counter(f"{e['method']} {re.sub(r'/[0-9]+', '/<id>', e['path'])}"
                           for e in entries)
    start = 0
    for end, moment in enumerate(times):  # the most calls in any 60 seconds
        while moment - times[start] >= 60:
            start += 1
        result.peak_window = max(result.peak_window, end - start + 1)
    return result


# ---- report --------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    lines = ["| page | size | p50 ms | p95 ms | statements | bytes | gzip bytes | requests |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: ([n for n, *_ in PAGE_ORDER].index(r.page), r.size)):
        statements = (str(row.statements) if row.statements == row.statements_min
                      else f"{row.statements_min}-{row.statements}")
        lines.append(f"| {row.page} | {row.size:,} | {row.p50:.1f} | {row.p95:.1f} | "
                     f"{statements} | {row.raw:,} | {row.gzipped:,} | {row.requests} |")
    return "\n".join(lines)


PAGE_ORDER = [(name,) for name in (
    "projects list (PM)", "projects list (company admin)", "commitments list",
    "commitment page", "CCO page", "change events list", "change event page",
    "inbox (ERP Integrations)", "inbox poll (no change)", "save SOV line (htmx)",
    "save CCO line (htmx)", "save change event item (htmx)")]


def targets(rows: list[Row]) -> list[str]:
    lines = []
    sizes = sorted({r.size for r in rows})
    by = {(r.page, r.size): r for r in rows}
    for (page,) in PAGE_ORDER:
        mine = [by[(page, s)] for s in sizes if (page, s) in by]
        if not mine:
            continue
        counts = [r.statements for r in mine]
        constant = len(set(counts)) == 1
        if page in LIST_PAGES:
            ok = constant and max(counts) <= MAX_LIST_STATEMENTS
            lines.append(f"{'PASS' if ok else 'FAIL'}: {page}: statements constant and "
                         f"<= {MAX_LIST_STATEMENTS} ({' / '.join(map(str, counts))} at "
                         f"{' / '.join(f'{s:,}' for s in sizes)})")
            if len(mine) > 1:
                ratio = mine[-1].p95 / mine[0].p95
                lines.append(f"{'PASS' if ratio <= MAX_P95_RATIO else 'FAIL'}: {page}: p95 at "
                             f"{mine[-1].size:,} / p95 at {mine[0].size:,} = {ratio:.2f} "
                             f"(target <= {MAX_P95_RATIO})")
        else:
            lines.append(f"{'PASS' if constant else 'FAIL'}: {page}: statements constant "
                         f"({' / '.join(map(str, counts))})")
    return lines


def export_report(result: Exports) -> list[str]:
    minutes = result.seconds / 60
    per_minute = result.calls / minutes if minutes else 0.0
    clean = {k: dict(sorted(v.items())) for k, v in result.by_kind.items()}
    most = max((n for kind in result.by_kind.values() for n in kind), default=0)
    lines = [
        f"exports: {result.count:,} accepted ({sum(result.by_kind['commitment'].values()):,} "
        f"commitments -> PurchaseOrder created, {sum(result.by_kind['change_order'].values()):,}"
        f" CCOs -> PurchaseOrder updated), inline jobs; sandbox limit "
        f"{result.rate_limit}/min per company, app pacing QBO_MAX_PER_MINUTE="
        f"{result.app_limit}",
        f"  synced {result.synced:,}, failed {result.failed:,} in {result.seconds:.1f} s "
        f"({result.seconds / max(result.count, 1) * 1000:.0f} ms an export)",
        f"  QuickBooks calls: {result.calls:,}, {result.calls / max(result.count, 1):.2f} an "
        f"export; calls per export (calls: exports) {clean}",
        f"  calls by kind: {dict(result.paths.most_common())}",
        f"  requests a minute: {per_minute:.0f} on average, {result.peak_window} at most in any "
        f"60 s = {per_minute / result.rate_limit:.0%} / "
        f"{result.peak_window / result.rate_limit:.0%} of the sandbox's {result.rate_limit} "
        f"(app's own ceiling {result.app_limit} = "
        f"{result.app_limit / result.rate_limit:.0%})",
        f"  429s: {result.throttled} seen, {result.recovered} of their exports synced anyway",
    ]
    reached = per_minute >= 0.9 * result.rate_limit
    short = " (the run took under a minute: extrapolated)" if result.seconds < 60 else ""
    lines.append(f"{'PASS' if reached else 'FAIL'}: exports reach >= 90% of the "
                 f"{result.rate_limit}/min limit ({per_minute:.0f}/min){short}")
    lines.append(f"{'PASS' if most <= 2 and result.failed == 0 else 'FAIL'}: <= 2 QuickBooks "
                 f"calls an export when nothing fails (at most {most})")
    return lines


def _one_size(size: int, args) -> tuple[list[Row], seeding.Seeded]:
    """The pages of one size, measured in a fresh process (its progress goes to stderr)."""
    command = [sys.executable, "-m", "benchmarks.run", "--only-size", str(size),
               "--requests", str(args.requests), "--warmup", str(args.warmup),
               "--max-seconds", str(args.max_seconds)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True,  # noqa: S603
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return [Row(**r) for r in found["rows"]], seeding.Seeded(**found["seeded"])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000,100000",
                        help="rows of each kind (commitments, CCOs, change event items)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests a page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="stop timing a page after this long (at least 5 requests)")
    parser.add_argument("--exports", type=int, default=1000, help="0 to skip the exports")
    parser.add_argument("--rate-limit", type=int, default=500,
                        help="the sandbox's calls a minute per company (Intuit: 500)")
    parser.add_argument("--qbo-max-per-minute", type=int, default=None,
                        help="the app's own pacing (default: its QBO_MAX_PER_MINUTE)")
    parser.add_argument("--database-url", "--postgres", dest="database_url",
                        help="a PostgreSQL database to use (its schema is dropped!)")
    parser.add_argument("--cco-exports", type=int, default=None,
                        help="CCOs exported one after the other for the calls per CCO export "
                             "(benchmarks/cco_exports.py; default: --exports; 0 skips)")
    parser.add_argument("--cdc-sizes", default="100,10000",
                        help="linked PurchaseOrders for the change data capture poll ('' skips)")
    parser.add_argument("--only-size", type=int, help=argparse.SUPPRESS)  # one size, as JSON
    args = parser.parse_args(argv)
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    from qbo_sandbox import SandboxServer

    if args.only_size:
        with SandboxServer() as server:
            size_rows, seeded = pages(args.only_size, server, args)
        print(json.dumps({"rows": [asdict(r) for r in size_rows], "seeded": asdict(seeded)}))
        return ""
    rows: list[Row] = []
    seeds: list[seeding.Seeded] = []
    result = None
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        size_rows, seeded = _one_size(size, args)
        rows += size_rows
        seeds.append(seeded)
    if args.exports:
        with SandboxServer() as server:
            result = exports(args.exports, server, args)
    cco_result = None
    cco_count = args.exports if args.cco_exports is None else args.cco_exports
    if cco_count:
        from benchmarks import cco_exports

        with SandboxServer() as server:
            cco_result = cco_exports.cco_exports(cco_count, server, args, _app, _fresh_schema,
                                                 _connect)
    from benchmarks import cdc

    cdc_rows: list = []
    for size in [int(s) for s in args.cdc_sizes.split(",") if s.strip()]:
        with SandboxServer() as server:
            cdc_rows += cdc.cdc_polls(size, server, args, _app, _fresh_schema, _connect)
    database = "PostgreSQL" if args.database_url else "SQLite"
    out = [f"## ChangeOrder Desk benchmarks ({database}; p50/p95 of {args.requests} requests "
           f"after {args.warmup} warm-up; statements = SQL statements a request, a range when "
           "they varied; bytes = the last response, raw and gzip)", "", table(rows), ""]
    out += [f"seeded {s.size:,}: {s.rows:,} rows in {s.seconds:.1f} s" for s in seeds]
    if result:
        out += ["", *export_report(result)]
    if cco_result:
        out += ["", *cco_exports.report(cco_result)]
    if cdc_rows:
        out += ["", *cdc.report(cdc_rows)]
    out += ["", "targets:", *targets(rows)]
    report = "\n".join(out)
    print(report)
    return report


if __name__ == "__main__":
    main()
