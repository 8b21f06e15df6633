"""The chaos soak (benchmarks/soak.py, README: Soak) for two minutes: gunicorn, a real rq
worker with its scheduler, PostgreSQL, a Redis server and the QuickBooks sandbox of its own,
under killed work horses and workers, Redis restarts and QuickBooks faults; then every record
settles within 60 s, with one PurchaseOrder per commitment equal to its revised SOV and every
owed email written. Any breach fails the test, with the soak's table.

It runs as a process of its own, on a database of its own (DATABASE_URL's name + ``_soak``,
and the pytest-xdist worker's name), a Redis server and ports of its own: nothing it uses is
shared with another test. Without PostgreSQL or redis-server it is skipped, and in CI fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import require

pytestmark = [pytest.mark.process, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
MINUTES = 2


def _postgres() -> tuple[str, str]:
    """(the server's maintenance database URL, the soak's database name)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgresql://127.0.0.1:5432/test"
    url = make_url(url.replace("postgres://", "postgresql://", 1))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = f"{url.database}_soak" + (f"_{worker}" if worker else "")
    server = url.set(drivername="postgresql", database="postgres")
    return server.render_as_string(hide_password=False), name


def _drop(server: str, name: str) -> bool:
    """Drop ``name`` if it is left from an interrupted run; False: no PostgreSQL there."""
    import psycopg

    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:
        return False
    return True


def test_a_two_minute_soak_has_no_breach():
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server, name = _postgres()
    require(_drop(server, name), f"no PostgreSQL at {server}")
    soak = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "--minutes", str(MINUTES),
         "--postgres", server, "--database", name],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = soak.communicate(timeout=MINUTES * 60 + 600)
    except subprocess.TimeoutExpired:
        soak.send_signal(signal.SIGINT)  # the soak stops its processes and drops its database
        out, err = soak.communicate(timeout=120)
    print(out)
    assert soak.returncode == 0, f"{out}\n{err[-3000:]}"
    assert out.rstrip().endswith("PASS")
