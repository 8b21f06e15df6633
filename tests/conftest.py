"""Fixtures in the style of flaskr: ``app``, ``client``, ``runner``, ``auth`` and factories.

Each test gets an isolated database: on SQLite a copy of a template migrated once per run, on
PostgreSQL (DATABASE_URL) the schema migrated once and every table emptied after each test.
Both go through the Alembic migrations, so the tests also prove them.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, select, text

import config
from app import create_app
from extensions import db
from models import DEFAULT_CATEGORIES, Category
from tests.factories import Factory

pytest_plugins = ["tests.erp_fixtures"]  # connected, erp_commitment, approver

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery"


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


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate one database per run; tests copy (SQLite) or empty (PostgreSQL) it."""
    instance = tmp_path_factory.mktemp("instance")
    if os.environ.get("DATABASE_URL"):
        uri = config.database_url(str(instance))
        app = create_app(_test_config(uri), instance_path=str(instance))
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            upgrade()
            db.engine.dispose()
        return "postgresql", uri
    path = instance / "template.db"
    app = create_app(_test_config(f"sqlite:///{path}"), instance_path=str(instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return "sqlite", path


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


@pytest.fixture
def app(database_template, tmp_path, sandbox_server):
    kind, template = database_template
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

        limiter.reset()  # each test starts with no failed logins counted
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
# each test goes back to them (``start_from``) instead of building them again: on SQLite a copy
# of the seeded file, on PostgreSQL the seeded rows put back, and the sandbox's state with them.


class Seed:
    """Records seeded once: the database as the seeding left it, the QuickBooks sandbox's
    state, and what the seeding function returned (ids, never objects)."""

    def __init__(self, kind: str, path, tables, rows, sequences, sandbox_state, value) -> None:
        self.kind = kind
        self.path = path  # SQLite: the seeded file
        self.tables = tables  # PostgreSQL: every table, parents first
        self.rows = rows  # PostgreSQL: table name -> its rows
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
    """Run ``seed()`` (it commits, returns ids) on an empty migrated database and a reset
    sandbox, and keep the result for ``start_from``."""
    from sqlalchemy import MetaData

    kind, template = database_template
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = directory / "seed.db"
        shutil.copy(template, path)
        uri = f"sqlite:///{path}"
    else:
        path, uri = None, template
    seeding = create_app(_test_config(uri, sandbox_server),
                         instance_path=str(directory / "instance"))
    tables, rows, sequences = [], {}, {}
    with seeding.app_context():
        if kind == "postgresql":
            _empty_postgres()
        _forget_quickbooks_limits()
        sandbox_server.sandbox.reset()
        value = seed()
        db.session.remove()
        if kind == "postgresql":
            metadata = MetaData()
            metadata.reflect(bind=db.engine)
            tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
            with db.engine.connect() as conn:
                for table in tables:
                    rows[table.name] = [dict(r._mapping) for r in conn.execute(
                        select(table).order_by(*table.primary_key.columns))]
                sequences = _postgres_sequences(conn)
        db.engine.dispose()
    sandbox_state = directory / "sandbox.json"
    sandbox_server.sandbox.save_state(str(sandbox_state))
    sandbox_server.sandbox.reset()
    return Seed(kind, path, tables, rows, sequences, sandbox_state, value)


def start_from(seed: Seed, sandbox_server) -> None:
    """Put the test's database (the ``app`` fixture's) and the sandbox back as ``seed`` left
    them. Call it in the test's app context before touching any record."""
    db.session.remove()
    if seed.kind == "sqlite":
        db.engine.dispose()
        shutil.copy(seed.path, db.engine.url.database)
    else:
        with db.engine.begin() as conn:
            for table in reversed(seed.tables):
                conn.execute(table.delete())
            for table in seed.tables:
                if seed.rows[table.name]:
                    conn.execute(table.insert(), seed.rows[table.name])
            if seed.sequences:
                conn.execute(text(
                    "SELECT setval(s::regclass, v, c) FROM unnest(CAST(:s AS text[]),"
                    " CAST(:v AS bigint[]), CAST(:c AS boolean[])) AS t(s, v, c)"),
                    {"s": list(seed.sequences),
                     "v": [value for value, _ in seed.sequences.values()],
                     "c": [called for _, called in seed.sequences.values()]})
    sandbox_server.sandbox.load_state(str(seed.sandbox_state))


@pytest.fixture(scope="module")
def matrix_seeds(database_template, sandbox_server, tmp_path_factory):
    """The permission matrix's records, seeded once per module (see ``tests/test_permissions``:
    ``seed_matrix`` and ``matrix_start``)."""
    from tests.test_permissions import seed_matrix

    seeds = seed_matrix(database_template, sandbox_server, tmp_path_factory.mktemp("matrix"))
    yield seeds
    sandbox_server.sandbox.reset()
