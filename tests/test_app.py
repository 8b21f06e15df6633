"""The application shell: configuration, error pages, migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import config
from app import create_app
from extensions import db


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = create_app(instance_path=str(instance)).config["SECRET_KEY"]
    second = create_app(instance_path=str(instance)).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (instance / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_configured_secret_key_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert create_app(instance_path=str(tmp_path)).config["SECRET_KEY"] == "from-the-environment"


def test_embedded_default_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    uri = create_app(instance_path=str(tmp_path)).config["SQLALCHEMY_DATABASE_URI"]
    assert uri == f"sqlite:///{tmp_path}/changeorder.db"


@pytest.mark.parametrize("given", ["postgres://u@h/db", "postgresql://u@h/db"])
def test_database_url_uses_the_installed_driver(monkeypatch, given):
    monkeypatch.setenv("DATABASE_URL", given)
    assert config.database_url("/x") == "postgresql+psycopg://u@h/db"


def test_404_is_a_page_for_browsers_and_a_partial_for_htmx(client, auth, factory):
    auth.login(factory.user(is_company_admin=True))
    page = client.get("/projects/999/commitments/")
    assert page.status_code == 404
    assert "<html" in page.get_data(as_text=True)
    assert "That page or record does not exist." in page.get_data(as_text=True)
    partial = client.get("/projects/999/commitments/", headers={"HX-Request": "true"})
    assert partial.status_code == 404
    assert "<html" not in partial.get_data(as_text=True)
    assert partial.headers["HX-Retarget"] == "#alerts"


def test_403_partial_for_htmx(client, auth, factory):
    auth.login(factory.user())
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert "<html" not in response.get_data(as_text=True)
    assert "permission" in response.get_data(as_text=True)


def test_500_is_logged_and_answered_without_details(app, client, auth, factory, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = client.get("/boom", headers={"HX-Request": "true"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body
    assert "Something went wrong" in body and "<html" not in body
    assert response.headers["HX-Retarget"] == "#alerts"
    assert "secret internal detail" in caplog.text


def test_migrations_match_the_models(app):
    """The committed migrations build exactly the schema the models describe."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_htmx_is_served_locally_with_a_cdn_integrity_hash(tmp_path, monkeypatch):
    import base64
    import hashlib
    from pathlib import Path

    from blueprints.rendering import HTMX_INTEGRITY, HTMX_LOCAL

    local = Path(__file__).parent.parent / "static" / HTMX_LOCAL
    digest = base64.b64encode(hashlib.sha384(local.read_bytes()).digest()).decode()
    assert f"sha384-{digest}" == HTMX_INTEGRITY  # the fallback is the very file the CDN serves

    monkeypatch.setenv("HTMX_CDN", "1")
    app = create_app({"TESTING": True}, instance_path=str(tmp_path))
    html = app.test_client().get("/auth/login").get_data(as_text=True)
    assert HTMX_INTEGRITY in html and "/static/vendor/htmx-4.0.1.min.js" in html


def test_pages_refuse_framing_and_sniffing(client):
    response = client.get("/auth/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_answer_varies_on_hx_request(client, auth, factory):
    """Redirects, 401s and pages alike: a cache must not give htmx's answer to a browser."""
    anonymous_page = client.get("/projects/1/commitments/")
    assert anonymous_page.status_code == 302
    anonymous_htmx = client.get("/projects/1/commitments/", headers={"HX-Request": "true"})
    assert anonymous_htmx.status_code == 401
    auth.login(factory.user(is_company_admin=True))
    project = factory.project()
    home = client.get(f"/projects/{project.id}/")
    assert home.status_code == 302
    for response in (anonymous_page, anonymous_htmx, home, client.get("/auth/login")):
        assert "HX-Request" in response.headers.get("Vary", ""), response.status_code


def navigation(page) -> list[tuple[str, bool, str]]:
    """The links of the Tools navigation in order: the address, whether it is marked as the
    current page, and what it says (its HTML, whitespace collapsed)."""
    import re

    html = page.get_data(as_text=True)
    nav = re.search(r'<nav class="tools" aria-label="Tools">(.*?)</nav>', html, re.S).group(1)
    return [(href, bool(current), " ".join(inside.split())) for href, current, inside in
            re.findall(r'<a href="([^"]*)"\s*(aria-current="page")?\s*>(.*?)</a>', nav, re.S)]


def test_the_navigation_lists_each_tool_a_person_may_use_in_order(client, auth, factory):
    from models import ErpPermission, ErpStatus, ProjectRole

    admin = factory.user(is_company_admin=True, erp=ErpPermission.ADMIN, can_push=True)
    project = factory.project()
    factory.member(project, admin, ProjectRole.ADMIN)
    rejected = factory.commitment(project, number="SC-1")
    waiting = factory.commitment(project, number="SC-2")
    rejected.erp_status, waiting.erp_status = ErpStatus.REJECTED, ErpStatus.READY_TO_EXPORT
    db.session.commit()
    auth.login(admin)
    returned = ("/#returned", False, 'Returned <span class="badge badge-warn" '
                                     'title="1 returned by accounting">1</span>')
    erp = 'ERP Integrations <span id="erp-waiting" class="badge" title="1 waiting for you">1</span>'
    commitments = f"/projects/{project.id}/commitments/"
    assert navigation(client.get(commitments)) == [
        (commitments, True, "Commitments"),
        (f"/projects/{project.id}/change-events/", False, "Change Events"),
        returned, ("/erp/", False, erp), ("/admin/", False, "Admin")]
    assert navigation(client.get("/erp/")) == [
        ("/", False, "Projects"), returned, ("/erp/", True, erp), ("/admin/", False, "Admin")]

    project.change_events_enabled = False
    db.session.commit()
    assert navigation(client.get(commitments))[:2] == [(commitments, True, "Commitments"),
                                                       returned]

    reader = factory.user()
    factory.member(project, reader, ProjectRole.READ_ONLY)
    auth.logout()
    auth.login(reader)
    assert navigation(client.get("/")) == [("/", True, "Projects")]


def test_every_own_url_is_derived_from_public_url(tmp_path, monkeypatch):
    for name in ("QBO_CLIENT_ID", "QBO_SANDBOX_URL", "QBO_REDIRECT_URI", "QBO_ENVIRONMENT",
                 "QBO_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBLIC_URL", "https://desk.example.com/")
    settings = config.load(str(tmp_path))
    assert settings["PUBLIC_URL"] == "https://desk.example.com"
    assert settings["QBO_REDIRECT_URI"] == "https://desk.example.com/erp/settings/callback"
    assert settings["QBO_API_URL"] == "https://desk.example.com/qbo-sandbox/v3"
    assert settings["QBO_ENVIRONMENT"] == (
        "https://desk.example.com/qbo-sandbox/.well-known/openid_configuration")
    # Set apart, they win.
    monkeypatch.setenv("QBO_SANDBOX_URL", "http://127.0.0.1:8000/qbo-sandbox")
    monkeypatch.setenv("QBO_REDIRECT_URI", "https://other.example.com/erp/settings/callback")
    settings = config.load(str(tmp_path))
    assert settings["QBO_API_URL"] == "http://127.0.0.1:8000/qbo-sandbox/v3"
    assert settings["QBO_REDIRECT_URI"] == "https://other.example.com/erp/settings/callback"


def test_without_public_url_the_app_is_where_make_run_serves_it(tmp_path, monkeypatch):
    """`FLASK_RUN_PORT=8000 make run` (no PUBLIC_URL): the built-in sandbox, its OAuth
    callback and the links in emails are on port 8000, where the app is, not on 5000."""
    for name in ("PUBLIC_URL", "QBO_CLIENT_ID", "QBO_SANDBOX_URL", "QBO_REDIRECT_URI",
                 "QBO_ENVIRONMENT", "QBO_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")  # noqa: S104 (served on every address)
    monkeypatch.setenv("FLASK_RUN_PORT", "8000")
    settings = config.load(str(tmp_path))
    assert settings["QBO_API_URL"] == "http://127.0.0.1:8000/qbo-sandbox/v3"
    assert settings["QBO_REDIRECT_URI"] == "http://127.0.0.1:8000/erp/settings/callback"
    assert settings["DEFAULT_PUBLIC_URL"] == "http://127.0.0.1:8000"
    monkeypatch.delenv("FLASK_RUN_PORT")
    assert config.load(str(tmp_path))["QBO_API_URL"] == "http://127.0.0.1:5000/qbo-sandbox/v3"


def test_the_procfile_binds_as_the_readme_says():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    web = next(line for line in (root / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    readme = (root / "README.md").read_text()
    bind = web.split("--bind ", 1)[1].split()[0]
    assert bind.startswith("127.0.0.1:")
    assert f"--bind {bind.replace('${PORT:-8000}', '8000')}" in readme
