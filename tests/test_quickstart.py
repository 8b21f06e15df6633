"""The quick start's path: the built-in sandbox served by the app itself, connected by
`flask seed-demo`, and a demo commitment exported through it — as `make run` shows it."""

from __future__ import annotations

import socket
import threading

import requests
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from models import Commitment, ErpStatus


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_commitment_exports_through_the_built_in_sandbox(tmp_path, monkeypatch):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    for name in ("QBO_CLIENT_ID", "QBO_ENVIRONMENT", "QBO_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QBO_SANDBOX_URL", f"{base}/qbo-sandbox")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/demo.db",
                      "REDIS_URL": None, "WTF_CSRF_ENABLED": False, "HTMX_CDN": False},
                     instance_path=str(tmp_path))
    assert app.config["QBO_BUILTIN_SANDBOX"]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with app.app_context():
            upgrade()
            seeded = app.test_cli_runner().invoke(args=["seed-demo"])
            assert "connected to the built-in sandbox (Riverside Builders LLC (Sandbox))" \
                in seeded.output
            client = app.test_client()
            password = "changeorder-demo"
            client.post("/auth/login", data={"email": "pm@example.com", "password": password})
            commitment = db.session.query(Commitment).filter_by(number="SC-1042").one()
            sent = client.post(f"/projects/{commitment.project_id}/commitments/"
                               f"{commitment.id}/erp/send")
            assert sent.status_code == 303
            client.post("/auth/logout")
            client.post("/auth/login", data={"email": "approver@example.com",
                                             "password": password})
            accepted = client.post(f"/erp/commitments/{commitment.id}/accept",
                                   headers={"HX-Request": "true"})
            assert "Synced" in accepted.get_data(as_text=True)
            db.session.expire_all()
            synced = db.session.get(Commitment, commitment.id)
            assert synced.erp_status == ErpStatus.SYNCED
            page = requests.get(f"{base}/qbo-sandbox/", timeout=5).text
            assert "SC-1042" in page and "Foundations and footings" in page
            db.session.remove()
            db.engine.dispose()
    finally:
        server.shutdown()
        thread.join(5)
