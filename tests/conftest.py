"""Fixtures in the style of flaskr: ``app``, ``client``, ``runner``, ``auth`` and factories.

The app is built once per test session on a database migrated once (through the Alembic
migrations, so the tests also prove them). Each test runs inside a transaction on one
connection that is rolled back at its end: the workflow's own ``commit()`` calls release a
SAVEPOINT instead (SQLAlchemy's "joining a Session into an external transaction" recipe,
``join_transaction_mode="create_savepoint"``; on SQLite with pysqlite's SAVEPOINT workaround).
Nothing is truncated, copied or reinserted between tests.

A test whose data must be committed, because another connection reads it (the browser tests'
live server threads, a real ``rq worker`` or gunicorn process, ``at_once`` threads racing
each other), runs on a database of its own instead, emptied before it: mark it
``@pytest.mark.own_database("why")``. Tests that use ``live_server``, ``start_worker`` or
``at_once`` are marked so when collected.
"""

from __future__ import annotations

import inspect as pyinspect
import os
import shutil
import signal
import uuid

import pytest
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, inspect, make_url, select, text

import config
from app import create_app
from extensions import db
from models import DEFAULT_CATEGORIES, Category
from tests.factories import Factory

pytest_plugins = ["tests.erp_fixtures",  # connected, erp_commitment, approver, synced
                  "tests.worker_fixtures"]  # own_redis, workers (real rq workers)

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery"

# Words in a test's source that mean another connection must see its commits.
_NEEDS_COMMITS = {
    "live_server": "a live server thread reads it over its own connection",
    "start_worker(": "a real rq worker process reads it",
    "at_once(": "concurrent threads each use their own connection",
    "Thread(": "its threads each use their own connection",
    "gunicorn": "a gunicorn process reads it",
    "@app.get(": "it adds a route, so it needs an app of its own",
    "@app.route(": "it adds a route, so it needs an app of its own",
    "@app.post(": "it adds a route, so it needs an app of its own",
}
# Words that make a test slow: a marker each, so `make test-quick` can leave them out.
_SLOW_WORDS = {"start_worker(": "process", "gunicorn": "process"}


def _source(function) -> str:
    try:
        return pyinspect.getsource(function)
    except (OSError, TypeError):
        return ""


def _helpers_by_word(module) -> dict[str, str]:
    """The module's own helper functions whose source holds one of the words above: a test
    that calls one is marked as if it held the word itself."""
    found = {}
    for name, function in vars(module).items():
        if (pyinspect.isfunction(function) and not name.startswith("test_")
                and function.__module__ == module.__name__):
            text = _source(function)
            for word in (*_NEEDS_COMMITS, *_SLOW_WORDS):
                if word in text:
                    found.setdefault(f"{name}(", word)
    return found


def pytest_collection_modifyitems(config, items):
    helpers: dict = {}
    for item in items:
        function = getattr(item, "function", None)
        source = _source(function) if function else ""
        module = getattr(item, "module", None)
        if module is not None:
            if module not in helpers:
                helpers[module] = _helpers_by_word(module)
            source += " ".join(word for call, word in helpers[module].items() if call in source)
        names = set(getattr(item, "fixturenames", ()))
        if not item.get_closest_marker("own_database"):
            for word, why in _NEEDS_COMMITS.items():
                if word in source or word.rstrip("(") in names:
                    item.add_marker(pytest.mark.own_database(why))
                    break
        for word, marker in _SLOW_WORDS.items():
            if word in source:
                item.add_marker(getattr(pytest.mark, marker))
        if "tests/browser/" in item.nodeid or "live_server" in names:
            item.add_marker(pytest.mark.browser)
        if any(item.get_closest_marker(m) for m in ("browser", "process", "scale")):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_start_order)


# The longest tests start first: under ``pytest -n 2 --dist worksteal`` the first half of this
# order goes to one worker, which begins with the soak (minutes on its own) while the other
# worker runs the quick tests and then takes over what is left. The sort is stable, so each
# module's tests keep their order (and their module-scoped fixtures stay set up once).
_LONGEST_FIRST = ("tests/test_soak.py",)
_MARKER_ORDER = ("process", "browser", "scale")


def _start_order(item) -> tuple[int, int]:
    first = 0 if item.nodeid.startswith(_LONGEST_FIRST) else 1
    for rank, marker in enumerate(_MARKER_ORDER):
        if item.get_closest_marker(marker):
            return first, rank
    return first, len(_MARKER_ORDER)


# Statements the per-test transaction adds (the workflow's commits become SAVEPOINTs): a test
# that counts the app's statements leaves these out (``app_statement``).
_HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def app_statement(statement: str) -> bool:
    """True for a statement the app ran, False for the test transaction's SAVEPOINTs."""
    return not statement.lstrip().upper().startswith(_HARNESS)


def require(condition: bool, reason: str) -> None:
    """Skip a test whose service or browser is missing; in CI that is a failure instead."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


HTMX = {"HX-Request": "true"}  # the header htmx sends: the app answers with a partial


def commitment_url(commitment, rest: str = "") -> str:
    return f"/projects/{commitment.project_id}/commitments/{commitment.id}{rest}"


TOKEN_KEY = "bXq2o3CqvI2cYk8nWm1Jx9a0lC3d6tQ9pW2sE5rT7uY="  # a fixed Fernet key for tests


def _test_config(uri: str, sandbox_server=None) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "HTMX_CDN": False,
        # Fast hashing keeps hundreds of logins quick; production uses scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Each test its own queue, so no job outlives the test that queued it.
        "RQ_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "QBO_BUILTIN_SANDBOX": False,
        "QBO_TOKEN_KEY": TOKEN_KEY,
        "QBO_CLIENT_ID": "sandbox-client-id",
        "QBO_CLIENT_SECRET": "sandbox-client-secret",
        "QBO_REDIRECT_URI": "http://127.0.0.1/erp/settings/callback",
        "EXPORT_RETRY_INTERVALS": [1, 1, 1],
        "EXPORT_INLINE_PAUSES": [0.01, 0.01],
        "QBO_MAX_PER_MINUTE": 100_000,  # the suite makes many calls; limits have their own tests
        # No change data capture poll unless a test asks for one: a worker's own poll would
        # take QuickBooks calls (and work horses) that the export tests count.
        "QBO_CDC_INTERVAL_MINUTES": 0,
    }
    if sandbox_server is not None:
        config["QBO_ENVIRONMENT"] = sandbox_server.discovery_url
        config["QBO_API_URL"] = sandbox_server.api_url_v3
    return config


@pytest.fixture(scope="session")
def sandbox_server():
    """The QuickBooks sandbox on a loopback port, for the whole run."""
    from qbo_sandbox import SandboxServer

    server = SandboxServer().start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox's state and hooks, fresh for this test."""
    sandbox_server.sandbox.reset()
    yield sandbox_server.sandbox
    sandbox_server.sandbox.reset()


def _migrate(uri: str, instance) -> None:
    """An empty schema brought to head through the migrations (PostgreSQL: dropped first)."""
    app = create_app(_test_config(uri), instance_path=str(instance))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()


def _worker_suffix() -> str:
    """Under pytest-xdist each worker process has a database of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def worker_index() -> int:
    """This pytest-xdist worker's number (``gw1`` -> 1); 0 without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker[2:].isdigit() else 0


def worker_redis_url(url: str) -> str:
    """Under pytest-xdist each worker its own Redis database: the given number + the worker's
    index (mod 16). The rate limiter's reset and the QuickBooks slot keys
    (``changeorder:qbo:*``) are per database, so one worker's test never clears another's."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not worker_index() or not parts.scheme.startswith("redis"):
        return url
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number + worker_index()) % 16}"))


# The Redis a test uses when REDIS_URL is unset (the worker tests in the embedded run):
# database 15, 14, ... for xdist workers 0, 1, ...
LOCAL_REDIS_URL = f"redis://127.0.0.1:6379/{15 - worker_index() % 16}"


def pytest_configure(config):
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = worker_redis_url(os.environ["REDIS_URL"])


def _postgres_database(base_uri: str, suffix: str) -> str:
    """``base_uri``'s database with ``suffix`` added to its name, created when missing."""
    if not suffix:
        return base_uri
    from sqlalchemy import create_engine

    url = make_url(base_uri)
    name = f"{url.database}{suffix}"
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """The database the session's app uses, migrated once: ``("postgresql", uri)`` or
    ``("sqlite", path)``. Tests run on it in rolled-back transactions."""
    instance = tmp_path_factory.mktemp("instance")
    if os.environ.get("DATABASE_URL"):
        uri = _postgres_database(config.database_url(str(instance)), _worker_suffix())
        _migrate(uri, instance)
        _fill_categories(uri)
        return "postgresql", uri
    path = instance / "template.db"
    _migrate(f"sqlite:///{path}", instance)
    return "sqlite", path


@pytest.fixture(scope="session")
def own_database_template(database_template, tmp_path_factory):
    """For ``own_database`` tests and ``seed_once``: on PostgreSQL a second database (the
    session's name + ``_own``) migrated once and emptied before each use; on SQLite the
    migrated template file, copied for each use."""
    kind, template = database_template
    if kind == "sqlite":
        return kind, template
    uri = _postgres_database(template, "_own")
    _migrate_once(uri, tmp_path_factory.mktemp("own-instance"))
    return kind, uri


def _fill_categories(uri: str) -> None:
    """The default categories the migrations insert (kept after TRUNCATE)."""
    from sqlalchemy import create_engine

    engine = create_engine(uri)
    with engine.begin() as conn:
        if not conn.scalar(select(Category.__table__.c.id).limit(1)):
            conn.execute(Category.__table__.insert(),
                         [{"name": n, "active": True} for n in DEFAULT_CATEGORIES])
    engine.dispose()


def _empty_postgres() -> None:
    tables = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(
            Category.__table__.insert(), [{"name": n, "active": True} for n in DEFAULT_CATEGORIES]
        )


def _forget_quickbooks_limits() -> None:
    """Each test starts with every QuickBooks slot free: a worker an earlier test killed holds
    its slot in Redis until SLOT_TTL, which would starve a test that counts slots."""
    from jobs.queue import get_queue, is_inline

    if is_inline():
        return
    redis = get_queue().connection
    for key in redis.scan_iter("changeorder:qbo:*"):
        redis.delete(key)


def _savepoints_on_sqlite(engine) -> None:
    """pysqlite starts transactions itself and breaks SAVEPOINT; let SQLAlchemy do it
    (SQLAlchemy's documented workaround)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session")
def session_app(database_template, sandbox_server, tmp_path_factory):
    """The one app of this test session (of this xdist worker), on the migrated database."""
    kind, template = database_template
    uri = template if kind == "postgresql" else f"sqlite:///{template}"
    app = create_app(_test_config(uri, sandbox_server),
                     instance_path=str(tmp_path_factory.mktemp("app-instance")))
    with app.app_context():
        _savepoints_on_sqlite(db.engine)
    yield app
    with app.app_context():
        db.engine.dispose()


class _JoinedSession(FlaskSession):
    """A session that uses the connection it was given (the test's, in its transaction)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _restore_signal_handlers():
    """Put back SIGINT/SIGTERM handlers a test (an rq SimpleWorker) installed."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(s, h) for s, h in handlers.items()]


@pytest.fixture(autouse=True)
def _signal_handlers_put_back():
    """Every test leaves the process's SIGINT/SIGTERM handlers as it found them: a worker's
    handler left behind would turn a later SIGTERM into StopRequested in some other test."""
    put_back = _restore_signal_handlers()
    yield
    put_back()


@pytest.fixture
def app(request, sandbox_server):
    """The app, in an app context, on a database no other test sees: by default the session's
    app in a transaction rolled back after the test; ``own_database`` tests a fresh app on a
    database of their own."""
    if request.node.get_closest_marker("own_database"):
        yield from _app_on_own_database(request)
        return
    app = request.getfixturevalue("session_app")
    saved_config, saved_extensions = dict(app.config), dict(app.extensions)
    saved_hooks = {name: {key: list(funcs) for key, funcs in getattr(app, name).items()}
                   for name in _HOOKS}
    app._got_first_request = False  # a test (or its fixture) may add a hook, as on a new app
    app.config["RQ_QUEUE"] = f"test-{uuid.uuid4().hex[:12]}"
    from extensions import limiter

    original_session = db.session
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        joined = db.session = _scoped(original_session.session_factory, connection)
        try:
            _forget_quickbooks_limits()
            limiter.reset()  # each test starts with no failed logins counted
            yield app
        finally:
            db.session = original_session
            app.config.clear()
            app.config.update(saved_config)
            app.extensions.clear()
            app.extensions.update(saved_extensions)
            for name, hooks in saved_hooks.items():
                getattr(app, name).clear()
                getattr(app, name).update(hooks)
            try:
                joined.remove()
            finally:
                if outer.is_active:
                    outer.rollback()
                connection.close()


# The app's hooks a test may add to (``@app.before_request`` in a fixture): put back after it.
_HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
          "url_value_preprocessors", "url_default_functions",
          "template_context_processors")


def _scoped(factory, connection):
    from flask_sqlalchemy.session import _app_ctx_id
    from sqlalchemy.orm import scoped_session, sessionmaker

    options = {**factory.kw, "bind": connection, "join_transaction_mode": "create_savepoint"}
    return scoped_session(sessionmaker(class_=_JoinedSession, **options), _app_ctx_id)


def _app_on_own_database(request):
    kind, template = request.getfixturevalue("own_database_template")
    sandbox_server = request.getfixturevalue("sandbox_server")
    tmp_path = request.getfixturevalue("tmp_path")
    if kind == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        uri = f"sqlite:///{path}"
    else:
        uri = template
    app = create_app(_test_config(uri, sandbox_server), instance_path=str(tmp_path / "instance"))
    with app.app_context():
        if kind == "postgresql":
            _empty_postgres()
        _forget_quickbooks_limits()
        from extensions import limiter

        limiter.reset()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def factory(app):
    return Factory(password=PASSWORD)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, user_or_email, password: str = PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def pm(client, auth, people):
    """The project admin of ``people``, logged in."""
    auth.login(people.project_admin)
    return people.project_admin


@pytest.fixture
def people(factory):
    """One project and a person for each role the permission matrix checks."""
    return factory.cast()


def fingerprint() -> dict[str, list[tuple]]:
    """Every row of every table: compare before and after to prove nothing changed."""
    db.session.expire_all()
    result = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        result[table.name] = [tuple(r) for r in rows]
    return result


def error_for(html: str, field: str) -> str:
    """The message shown next to ``field`` (ids may carry a per-form prefix), unescaped."""
    import re
    from html import unescape

    match = re.search(rf'id="(?:[\w-]+-)?{re.escape(field)}-error">([^<]*)</p>', html)
    assert match, f"no message next to {field}"
    return unescape(match.group(1))


def at_once(app, count: int, action) -> list:
    """Run ``action(index)`` in ``count`` threads released together, each in its own app
    context (its own connection and transaction). Returns what each returned or raised."""
    import threading

    db.session.remove()
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(index: int) -> None:
        with app.app_context():
            try:
                prepared = action(index)  # loads its records, returns the call to race
                barrier.wait(timeout=10)
                outcomes[index] = prepared()
            except BaseException as error:  # returned to the test
                outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


# ---- seeding once per module -------------------------------------------------------------------
# A module whose every test starts from the same records seeds them once (``seed_once``) and
# each test goes back to them (``start_from``) instead of building them again: the seeded rows
# are put into the test's own database (inside its transaction), and the sandbox's state with them.


class Seed:
    """Records seeded once: the rows the seeding left, the QuickBooks sandbox's state, and what
    the seeding function returned (ids, never objects)."""

    def __init__(self, kind: str, rows, sequences, sandbox_state, value) -> None:
        self.kind = kind
        self.rows = rows  # table name -> its rows
        self.sequences = sequences  # PostgreSQL: sequence -> (last_value, is_called)
        self.sandbox_state = sandbox_state  # the sandbox's state file
        self.value = value


def _postgres_sequences(conn) -> dict[str, tuple]:
    """Each sequence's position, as ``setval(sequence, value, is_called)`` takes it."""
    return {name: (value, called) for name, value, called in conn.execute(text(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename),"
        " coalesce(last_value, start_value), last_value IS NOT NULL"
        " FROM pg_sequences WHERE schemaname = current_schema()"))}


def seed_once(database_template, sandbox_server, directory, seed) -> Seed:
    """Run ``seed()`` (it commits, returns ids) on an empty migrated database of its own and a
    reset sandbox, and keep the rows for ``start_from``. (``database_template`` is accepted
    for the callers; the seeding database is the ``own_database`` one.)"""
    kind, template = database_template
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = directory / "seed.db"
        shutil.copy(template, path)
        uri = f"sqlite:///{path}"
    else:
        uri = _postgres_database(template, "_own")
        _migrate_once(uri, directory)
    seeding = create_app(_test_config(uri, sandbox_server),
                         instance_path=str(directory / "instance"))
    rows, sequences = {}, {}
    with seeding.app_context():
        if kind == "postgresql":
            _empty_postgres()
        _forget_quickbooks_limits()
        sandbox_server.sandbox.reset()
        value = seed()
        db.session.remove()
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                rows[table.name] = [dict(r._mapping) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
            if kind == "postgresql":
                sequences = _postgres_sequences(conn)
        db.engine.dispose()
    sandbox_state = directory / "sandbox.json"
    sandbox_server.sandbox.save_state(str(sandbox_state))
    sandbox_server.sandbox.reset()
    return Seed(kind, rows, sequences, sandbox_state, value)


_MIGRATED: set[str] = set()


def _migrate_once(uri: str, directory) -> None:
    if uri not in _MIGRATED:
        _migrate(uri, directory / "migrate-instance")
        _MIGRATED.add(uri)


def start_from(seed: Seed, sandbox_server) -> None:
    """Put the test's database (the ``app`` fixture's) and the sandbox back as ``seed`` left
    them. Call it in the test's app context before touching any record."""
    db.session.remove()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    for table in db.metadata.sorted_tables:
        if seed.rows.get(table.name):
            db.session.execute(table.insert(), seed.rows[table.name])
    if seed.sequences:  # never back: setval is not undone by a rollback
        db.session.execute(text(
            "SELECT setval(s::regclass, greatest(v, nextval(s::regclass)), true)"
            " FROM unnest(CAST(:s AS text[]), CAST(:v AS bigint[])) AS t(s, v)"),
            {"s": list(seed.sequences), "v": [v for v, _ in seed.sequences.values()]})
    db.session.commit()
    db.session.remove()
    sandbox_server.sandbox.load_state(str(seed.sandbox_state))


@pytest.fixture(scope="module")
def matrix_seeds(database_template, sandbox_server, tmp_path_factory):
    """The permission matrix's records, seeded once per module (see ``tests/test_permissions``:
    ``seed_matrix`` and ``matrix_start``)."""
    from tests.test_permissions import seed_matrix

    seeds = seed_matrix(database_template, sandbox_server, tmp_path_factory.mktemp("matrix"))
    yield seeds
    sandbox_server.sandbox.reset()
