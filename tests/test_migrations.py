"""Upgrades keep data and read old rows the way the new code means them."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from extensions import db


def test_a_connection_disconnected_before_0005_reads_as_not_connected(tmp_path):
    from quickbooks_online.connection import get_connection, needs_reconnect

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.db",
                      "REDIS_URL": None, "QBO_BUILTIN_SANDBOX": False},
                     instance_path=str(tmp_path))
    with app.app_context():
        upgrade(revision="0004")
        # What Disconnect left before 0005: the realm and connected_at kept, no tokens.
        db.session.execute(text(
            "INSERT INTO qbo_connections (realm_id, company_name, connected_at, "
            "token_generation, ap_account_id) VALUES "
            "('9341453050298165', 'Riverside Builders LLC', '2026-11-20 10:00:00', 3, '33')"))
        db.session.commit()
        upgrade()
        connection = get_connection()
        assert connection.connected_at is None
        assert not needs_reconnect(connection)  # "Not connected", not "Reconnect needed"
        assert (connection.realm_id, connection.company_name, connection.ap_account_id) == (
            "9341453050298165", "Riverside Builders LLC", "33")  # nothing else lost
        db.session.remove()
        db.engine.dispose()


def test_users_from_before_0007_get_a_session_token_each(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.db",
                      "REDIS_URL": None, "QBO_BUILTIN_SANDBOX": False},
                     instance_path=str(tmp_path))
    with app.app_context():
        upgrade(revision="0005")
        for n in (1, 2):
            db.session.execute(text(
                "INSERT INTO users (email, name, password_hash, active, is_company_admin, "
                "erp_permission, can_push_to_accounting, created_at) VALUES "
                "(:email, :name, 'x', 1, 0, 'none', 0, '2026-11-20 10:00:00')"),
                {"email": f"u{n}@example.com", "name": f"U{n}"})
        db.session.commit()
        upgrade()
        tokens = db.session.execute(text("SELECT session_token FROM users")).scalars().all()
        assert len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)
        db.session.remove()
        db.engine.dispose()
