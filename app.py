"""ChangeOrder Desk: the application factory.

``flask --app app run`` serves it; ``create_app()`` wires settings, extensions, blueprints,
command-line commands and error pages.
"""

from __future__ import annotations

import logging
import os

from flask import Flask

import config
from extensions import csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    # INSTANCE_PATH: where the secret key, token key, SQLite file and sandbox state live.
    instance_path = instance_path or os.environ.get("INSTANCE_PATH") or None
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(config.load(app.instance_path))
    if test_config:
        app.config.update(test_config)

    _init_extensions(app)
    _install_workflow_settings()
    _bound_url_ids(app)
    _register_blueprints(app)

    from blueprints.errors import register_error_handlers
    from cli import register_commands
    from jobs.adapter import init_queue

    register_error_handlers(app)
    register_commands(app)
    init_queue(app)
    _security_headers(app)
    _static_files(app)
    if app.config["QBO_BUILTIN_SANDBOX"] and not app.testing:
        from quickbooks_online.builtin import mount_sandbox

        mount_sandbox(app)
        guard_sandbox_hooks(app)
    _trust_proxies(app)
    _reads_without_a_transaction(app)
    _configure_logging(app)
    return app


def _init_extensions(app: Flask) -> None:
    import models  # noqa: F401  (registers every model on the metadata)
    import workflow.erp_kinds  # noqa: F401  (registers the ERP kinds and their exporters)
    from extensions import enable_sqlite_foreign_keys, ping_when_idle

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        enable_sqlite_foreign_keys(db.engine)
        ping_when_idle(db.engine)


def _install_workflow_settings() -> None:
    """The workflow reads settings (MAIL_SERVER, PUBLIC_URL, ...) without importing Flask."""
    from flask import current_app

    from workflow import settings

    settings.install(lambda: current_app.config)


def _bound_url_ids(app: Flask) -> None:
    """``<int:…>`` in every URL stops at the largest id a record can have: a longer number is
    a 404, never a number the database cannot hold (a 500)."""
    from werkzeug.routing import IntegerConverter

    from blueprints.fields import MAX_ID

    class IdConverter(IntegerConverter):
        def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
            super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    app.url_map.converters["int"] = IdConverter


def _register_blueprints(app: Flask) -> None:
    from blueprints.account import bp as account_bp
    from blueprints.admin import bp as admin_bp
    from blueprints.auth import bp as auth_bp
    from blueprints.change_events import bp as change_events_bp
    from blueprints.commitments import bp as commitments_bp
    from blueprints.erp import bp as erp_bp
    from blueprints.pickers import bp as pickers_bp
    from blueprints.projects import bp as projects_bp
    from blueprints.rendering import register_template_helpers
    from blueprints.system import bp as system_bp

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(projects_bp)
    app.register_blueprint(commitments_bp, url_prefix="/projects/<int:project_id>/commitments")
    app.register_blueprint(
        change_events_bp, url_prefix="/projects/<int:project_id>/change-events"
    )
    app.register_blueprint(erp_bp, url_prefix="/erp")
    app.register_blueprint(pickers_bp, url_prefix="/pick")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(account_bp)
    app.register_blueprint(system_bp)
    register_template_helpers(app)


def content_security_policy() -> str:
    """Scripts from this site and the pinned htmx on the CDN only (by URL and by hash); no
    inline script or style anywhere, no plugins, no framing."""
    from blueprints.rendering import HTMX_CDN_URL, HTMX_INTEGRITY

    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' {HTMX_CDN_URL} '{HTMX_INTEGRITY}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ))


def may_enter_sandbox(user, path: str) -> bool:
    """Who may use the built-in sandbox from another machine: a company admin; its authorize
    page (``/connect/``) also an active ERP admin connecting the app."""
    from workflow.permissions import is_company_admin, is_erp_admin

    return is_company_admin(user) or (path.startswith("/connect/") and is_erp_admin(user)
                                      and user.active)


def _security_headers(app: Flask) -> None:
    policy = content_security_policy()
    from quickbooks_online.builtin import CSP_KEY, MAY_ENTER_KEY

    app.extensions[CSP_KEY] = policy  # the built-in sandbox's door adds to it
    app.extensions[MAY_ENTER_KEY] = may_enter_sandbox


    @app.after_request
    def add_headers(response):
        from flask import request

        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", policy)
        if request.endpoint not in ("static", "favicon"):
            # Pages name people and amounts: no browser history cache or proxy may keep them.
            response.headers["Cache-Control"] = "no-store"
        # Most URLs answer an htmx request differently (a partial, a 401 with HX-Redirect
        # instead of a redirect to the login page), so every response varies on it; a cache
        # must never hand a partial to a browser or a page to htmx.
        response.vary.add("HX-Request")
        return _gzip(request, response)


COMPRESSIBLE = ("text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "application/manifest+json", "image/svg+xml")


def _gzip(request, response):
    """Compress HTML, CSS and JavaScript for browsers that accept gzip (phones on 4G)."""
    import gzip

    if ("gzip" not in request.headers.get("Accept-Encoding", "")
            or response.mimetype not in COMPRESSIBLE or response.status_code != 200
            or "Content-Encoding" in response.headers
            or (response.is_streamed and not response.direct_passthrough)):
        return response
    response.direct_passthrough = False
    body = response.get_data()
    if len(body) < 500:
        return response
    response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def _static_files(app: Flask) -> None:
    """Static URLs carry a hash of the file (``?v=…``), so browsers keep them for a year and
    still fetch a new copy the moment the file changes."""
    import hashlib
    from functools import cache

    from flask import request, send_from_directory

    @cache
    def file_hash(filename: str) -> str | None:
        path = os.path.join(app.static_folder, filename)
        try:
            with open(path, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest()[:12]
        except OSError:
            return None

    @app.url_defaults
    def hashed_static_url(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = file_hash(values["filename"])
            if digest:
                values["v"] = digest

    @app.after_request
    def cache_static(response):
        if request.endpoint == "static" and response.status_code == 200:
            wanted = request.args.get("v")
            if wanted and wanted == file_hash(request.view_args.get("filename", "")):
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    @app.get("/favicon.ico", endpoint="favicon")
    def favicon():
        return send_from_directory(app.static_folder, "favicon.svg", mimetype="image/svg+xml",
                                   max_age=86400)


def guard_sandbox_hooks(app: Flask) -> None:
    """The built-in sandbox's door is part of its mount (quickbooks_online/builtin.py,
    ``SandboxDoor``): its pages and hooks answer only this machine or a logged-in admin."""
    from quickbooks_online.builtin import SandboxDoor

    assert isinstance(app.wsgi_app, SandboxDoor), "mount_sandbox(app) first"


# GET pages that only read (docs/performance.md): on PostgreSQL they run on a connection in
# autocommit, so the request costs no BEGIN and no ROLLBACK round trip. Each statement reads
# committed data either way (READ COMMITTED); nothing here writes.
READ_ONLY_PAGES = frozenset({
    "projects.index", "commitments.index", "commitments.show", "commitments.show_cco",
    "change_events.index", "change_events.show", "erp.index", "erp.changes"})


def _reads_without_a_transaction(app: Flask) -> None:
    from flask import request
    from sqlalchemy.engine import Engine

    from extensions import db

    @app.before_request
    def read_only_connection():
        if request.method != "GET" or request.endpoint not in READ_ONLY_PAGES:
            return
        session = db.session()
        # Only a session of its own on the engine (tests bind theirs to an open transaction).
        if (isinstance(session.get_bind(), Engine) and session.get_bind().dialect.name ==
                "postgresql" and not session.in_transaction()):
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _trust_proxies(app: Flask) -> None:
    """TRUSTED_PROXIES > 0: the client's address and scheme come from that many proxies'
    X-Forwarded-For / X-Forwarded-Proto (the login throttle counts real addresses). Links
    never come from the request's Host: they start with PUBLIC_URL."""
    count = app.config.get("TRUSTED_PROXIES") or 0
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
