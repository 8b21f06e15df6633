"""``/healthz`` and ``/readyz``: what an uptime monitor polls (no login, JSON, 200 or 503)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text

from app import create_app
from extensions import db
from tests.conftest import _test_config
from tests.qbo_helpers import start_worker


def _ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response.mimetype == "application/json"
    return response.status_code, response.get_json()


def test_healthz_answers_without_a_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_without_a_login_and_tells_no_secrets(app, client):
    status, body = _ready(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "redis", "worker"}
    text_ = json.dumps(body)
    for secret in (app.config["SECRET_KEY"], app.config["QBO_TOKEN_KEY"],
                   app.config["SQLALCHEMY_DATABASE_URI"], app.config["QBO_CLIENT_SECRET"]):
        assert secret not in text_


@pytest.mark.own_database("it asks a second app, on an unreachable database, through "
                           "db.session: in a rolled-back test that is the session app's")
@pytest.mark.parametrize("wrong", ["postgresql+psycopg://127.0.0.1:1/changeorder",
                                   "sqlite:////nonexistent-folder/changeorder.db"])
def test_readyz_is_503_while_the_database_is_unreachable_and_200_again(app, client, tmp_path,
                                                                       wrong):
    elsewhere = create_app(_test_config(wrong), instance_path=str(tmp_path / "elsewhere"))
    with elsewhere.app_context():
        status, body = _ready(elsewhere.test_client())
        db.session.remove()
        db.engine.dispose()
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert "127.0.0.1:1" not in json.dumps(body)
    assert _ready(client)[0] == 200  # the app whose database answers


def test_readyz_is_503_while_migrations_are_behind(app, client):
    head = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    db.session.commit()
    try:
        status, body = _ready(client)
        assert status == 503
        assert body["checks"]["migrations"]["ok"] is False
        assert "flask db upgrade" in body["checks"]["migrations"]["detail"]
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        db.session.commit()
    assert _ready(client)[0] == 200


def test_readyz_is_503_while_redis_is_down_and_200_when_it_is_back(app, client, own_redis):
    assert _ready(client)[0] == 200
    own_redis.stop()
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["detail"]
    own_redis.start()
    assert _ready(client)[0] == 200


def test_readyz_is_503_while_jobs_wait_with_no_worker_and_200_once_one_beats(app, client,
                                                                            own_redis,
                                                                            tmp_path):
    from jobs.queue import get_queue

    status, body = _ready(client)
    assert status == 200 and "nothing is waiting" in body["checks"]["worker"]["detail"]
    get_queue().enqueue("jobs.notifications.mail_due")
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["worker"]["ok"] is False
    worker = start_worker(app, own_redis.url, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 30
        while (status := _ready(client)[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert status == 200, (tmp_path / "worker.log").read_text()[-2000:]
        assert "alive" in _ready(client)[1]["checks"]["worker"]["detail"]
    finally:
        worker.kill()
        worker.wait(timeout=10)
