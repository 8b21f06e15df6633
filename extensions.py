"""Flask extensions, created once at import and bound to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so Alembic can alter and drop them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
# Storage from RATELIMIT_STORAGE_URI (config.py: Redis when REDIS_URL is set, else memory).
limiter = Limiter(key_func=get_remote_address, key_prefix="changeorder", headers_enabled=True)


def enable_sqlite_foreign_keys(engine) -> None:
    """SQLite ignores foreign keys unless asked, per connection."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


IDLE_BEFORE_PING = 10.0  # seconds a pooled connection may sit unused before it is checked


def ping_when_idle(engine) -> None:
    """A pooled connection that sat unused for IDLE_BEFORE_PING seconds is checked with a
    ping before a request gets it (a dead one is replaced: the database restarted, a proxy
    dropped it); one just returned by another request is handed over as it is. The pool's own
    ``pool_pre_ping`` would ping on every checkout, one more round trip per request."""
    import time

    from sqlalchemy import event, exc

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle = time.monotonic() - record.info.get("checked_in", 0.0)
        if idle < IDLE_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the pool discards it and connects anew
            raise exc.DisconnectionError() from error
        if not alive:
            raise exc.DisconnectionError()
