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
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(config.load(app.instance_path))
    if test_config:
        app.config.update(test_config)

    _init_extensions(app)
    _bound_url_ids(app)
    _register_blueprints(app)

    from blueprints.errors import register_error_handlers
    from cli import register_commands
    from jobs.queue import init_queue

    register_error_handlers(app)
    register_commands(app)
    init_queue(app)
    _security_headers(app)
    if app.config["QBO_BUILTIN_SANDBOX"] and not app.testing:
        from quickbooks_online.builtin import mount_sandbox

        mount_sandbox(app)
    _configure_logging(app)
    return app


def _init_extensions(app: Flask) -> None:
    import models  # noqa: F401  (registers every model on the metadata)
    from extensions import enable_sqlite_foreign_keys

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        enable_sqlite_foreign_keys(db.engine)


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
    from blueprints.admin import bp as admin_bp
    from blueprints.auth import bp as auth_bp
    from blueprints.change_events import bp as change_events_bp
    from blueprints.commitments import bp as commitments_bp
    from blueprints.erp import bp as erp_bp
    from blueprints.projects import bp as projects_bp
    from blueprints.rendering import register_template_helpers

    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(projects_bp)
    app.register_blueprint(commitments_bp, url_prefix="/projects/<int:project_id>/commitments")
    app.register_blueprint(
        change_events_bp, url_prefix="/projects/<int:project_id>/change-events"
    )
    app.register_blueprint(erp_bp, url_prefix="/erp")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    register_template_helpers(app)


def _security_headers(app: Flask) -> None:
    @app.after_request
    def add_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Most URLs answer an htmx request differently (a partial, a 401 with HX-Redirect
        # instead of a redirect to the login page), so every response varies on it; a cache
        # must never hand a partial to a browser or a page to htmx.
        response.vary.add("HX-Request")
        return response


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
