"""``flask backup`` / ``flask restore``: an archive restored on a fresh database and instance
folder gives back every record, the logins, and a QuickBooks connection whose tokens decrypt.

Both database kinds are tested in every run: SQLite files in the test's folder, and PostgreSQL
scratch databases created and dropped by the test (skipped when PostgreSQL is not there).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from app import create_app
from extensions import db
from models import Commitment, ErpPermission, ErpStatus, User
from quickbooks_online import purchase_orders
from quickbooks_online.connection import get_connection
from tests import qbo_helpers
from tests.conftest import PASSWORD, _test_config, fingerprint, require
from tests.erp_fixtures import send_and_accept
from tests.factories import Factory

POSTGRES = os.environ.get("BACKUP_TEST_POSTGRES", "postgresql+psycopg://127.0.0.1:5432")
# Scratch databases named after this process: two xdist workers (or two developers' runs on
# one server) never drop each other's.
SCRATCH = (f"test_backup_src_{os.getpid()}", f"test_restore_{os.getpid()}")

# These tests build apps of their own (source, target, restored) on other databases. In a
# rolled-back test ``db.session`` is the session app's session on the test's connection, for
# every app: the restored app would read the session's database instead of the restored one.
pytestmark = pytest.mark.own_database(
    "it builds apps on databases of their own, whose db.session must be their own")


def _admin_engine():
    return create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")


def _recreate(name: str) -> str:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{POSTGRES}/{name}"


def _drop(name: str) -> None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    """(source URI, empty target URI) of one kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    try:
        engine = _admin_engine()
        with engine.connect():
            pass
        engine.dispose()
    except Exception:
        require(False, f"no PostgreSQL at {POSTGRES}")
    try:
        yield _recreate(SCRATCH[0]), _recreate(SCRATCH[1])
    finally:
        for name in SCRATCH:
            _drop(name)


def _app(uri: str, instance, sandbox_server, *, keys: bool = True):
    """An app on ``uri``; without ``keys`` it reads (or makes) its keys in ``instance``."""
    config = _test_config(uri, sandbox_server)
    if not keys:
        del config["SECRET_KEY"], config["QBO_TOKEN_KEY"]
    config["REDIS_URL"] = None  # jobs inline: the archive is what is tested here
    return create_app(config, instance_path=str(instance))


def _close():
    db.session.remove()
    db.engine.dispose()


def _totals() -> dict:
    from models import SovLine

    return {"users": db.session.scalar(select(func.count(User.id))),
            "sov": db.session.scalar(select(func.sum(SovLine.amount)))}


@pytest.fixture
def backed_up(databases, tmp_path, sandbox_server, sandbox):
    """A source installation with people, a Synced commitment and a QuickBooks connection,
    backed up with ``flask backup``: (archive, what it held, the source's users' emails)."""
    source_uri, _ = databases
    source = _app(source_uri, tmp_path / "source-instance", sandbox_server)
    archive = tmp_path / "backups" / "changeorder.tar.gz"
    with source.app_context():
        upgrade()
        factory = Factory(password=PASSWORD)
        people = factory.cast()
        qbo_helpers.connect(people.company_admin)
        approver = factory.user(name="Alex Approver", erp=ErpPermission.STANDARD, can_push=True)
        commitment = factory.commitment(people.project, vendor=factory.vendor(
            "Summit Concrete Co."), number="SC-1042", sov=("185000.00", "96500.50"))
        qbo_helpers.map_for(commitment)
        record = send_and_accept(commitment, people, approver)
        assert record.erp_status == ErpStatus.SYNCED
        held = {"rows": fingerprint(), "totals": _totals(), "po": record.qbo_purchase_order_id,
                "admin": people.company_admin.email, "commitment": record.id}
        result = source.test_cli_runner().invoke(args=["backup", str(archive)])
        assert result.exit_code == 0, result.output
        _close()
    assert "keep it as secret" in result.output
    return archive, held


def test_a_backup_restores_on_a_fresh_database_and_instance_folder(
        backed_up, databases, tmp_path, sandbox_server, client):
    archive, held = backed_up
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    assert {"keys/secret_key", "keys/qbo_token_key", manifest["database"]["file"]} <= names
    assert manifest["version"] and manifest["migration_head"] and manifest["created_at"]
    assert set(manifest["checksums"]) == names - {"manifest.json"}

    _, target_uri = databases
    fresh = tmp_path / "fresh-instance"
    target = _app(target_uri, fresh, sandbox_server, keys=False)
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["restore", str(archive)])
        _close()
    assert result.exit_code == 0, result.output
    assert oct((fresh / "qbo_token_key").stat().st_mode & 0o777) == "0o600"

    restored = _app(target_uri, fresh, sandbox_server, keys=False)  # a restart reads the keys
    with restored.app_context():
        assert fingerprint() == held["rows"]
        assert _totals() == held["totals"] and held["totals"]["sov"] == Decimal("281500.50")
        # The QuickBooks tokens decrypt with the restored key, and the sandbox answers them.
        assert get_connection().is_connected
        po = purchase_orders.read(held["po"])
        assert Decimal(str(po["TotalAmt"])) == Decimal("281500.50")
        web = restored.test_client()
        login = web.post("/auth/login", data={"email": held["admin"], "password": PASSWORD})
        assert login.status_code == 302
        page = web.get(f"/projects/{db.session.get(Commitment, held['commitment']).project_id}"
                       f"/commitments/{held['commitment']}")
        assert page.status_code == 200 and "SC-1042" in page.get_data(as_text=True)
        assert web.get("/readyz").status_code == 200
        _close()


def test_restore_refuses_a_database_that_is_not_empty(backed_up, databases, tmp_path,
                                                      sandbox_server):
    archive, _ = backed_up
    source_uri, _ = databases
    again = _app(source_uri, tmp_path / "source-instance", sandbox_server)
    with again.app_context():
        before = fingerprint()
        result = again.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 1
        assert "restore only into a new, empty database" in result.output
        assert fingerprint() == before
        _close()


def test_restore_refuses_an_archive_of_a_newer_release(backed_up, databases, tmp_path,
                                                       sandbox_server):
    archive, _ = backed_up
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(newer, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migration_head"], manifest["version"] = "0099_future", "9.0.0"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    _, target_uri = databases
    target = _app(target_uri, tmp_path / "fresh", sandbox_server, keys=False)
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["restore", str(newer)])
        assert result.exit_code == 1
        assert "newer release" in result.output and "9.0.0" in result.output
        from sqlalchemy import inspect

        assert inspect(db.engine).get_table_names() == []
        _close()


def test_restore_refuses_a_damaged_archive(backed_up, databases, tmp_path, sandbox_server):
    archive, _ = backed_up
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == "keys/qbo_token_key":
                data = b"x" + data[1:]
            out.addfile(member, io.BytesIO(data))
    _, target_uri = databases
    target = _app(target_uri, tmp_path / "fresh", sandbox_server, keys=False)
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["restore", str(damaged)])
        _close()
    assert result.exit_code == 1 and "checksum mismatch" in result.output
