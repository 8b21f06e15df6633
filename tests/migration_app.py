"""The app on a SQLite file of the test's own, for migration tests: each migrates it
(``flask_migrate.upgrade`` / ``downgrade``) and checks that nothing is lost either way."""

from __future__ import annotations

from app import create_app


def migration_app(tmp_path):
    """An app whose database is ``<tmp_path>/old.db`` (not migrated yet), without Redis or the
    built-in sandbox; called again, another app on the same file."""
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.db",
                       "REDIS_URL": None, "QBO_BUILTIN_SANDBOX": False},
                      instance_path=str(tmp_path))
