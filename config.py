"""Settings from the environment, with embedded defaults that need nothing installed.

With nothing configured the app keeps its data in SQLite under ``instance/``, runs jobs inline
and talks to the built-in QuickBooks sandbox. Each environment variable below switches one part
to its production counterpart; the README's configuration table lists them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(instance_path: str) -> str:
    """DATABASE_URL with the driver this project installs (psycopg 3), else SQLite."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "changeorder.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_key(instance_path: str) -> str:
    """SECRET_KEY, or one generated on first start and kept in instance/ so sessions survive."""
    configured = os.environ.get("SECRET_KEY", "").strip()
    if configured:
        return configured
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with owner-only permissions; never overwrite a key another process just wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def token_key(instance_path: str) -> str:
    """QBO_TOKEN_KEY (a Fernet key), or one generated once into instance/ like the secret key."""
    configured = os.environ.get("QBO_TOKEN_KEY", "").strip()
    if configured:
        return configured
    path = Path(instance_path) / "qbo_token_key"
    if path.exists():
        return path.read_text().strip()
    from cryptography.fernet import Fernet

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


INTUIT_API = {"sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
              "production": "https://quickbooks.api.intuit.com/v3"}


def default_public_url() -> str:
    """Where `make run` (flask run) serves the app when PUBLIC_URL is unset: FLASK_RUN_HOST and
    FLASK_RUN_PORT, as the Makefile exports them (so `FLASK_RUN_PORT=8000 make run` reaches its
    built-in sandbox on 8000 too)."""
    host = os.environ.get("FLASK_RUN_HOST", "").strip()
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (every address: this machine's is loopback)
        host = "127.0.0.1"
    port = os.environ.get("FLASK_RUN_PORT", "").strip() or "5000"
    return f"http://{host}:{port}"


def public_url() -> str | None:
    """PUBLIC_URL: where people reach the app. Every link the app writes starts with it, and
    the built-in sandbox's address and the OAuth redirect URI are derived from it."""
    return os.environ.get("PUBLIC_URL", "").strip().rstrip("/") or None


def quickbooks(instance_path: str) -> dict:
    """Where QuickBooks is. Unset: the built-in sandbox, served by this app under /qbo-sandbox.

    QBO_ENVIRONMENT is what intuit-oauth takes: ``sandbox``, ``production`` or a discovery URL
    (any compatible server); QBO_API_URL is python-quickbooks' base (``…/v3``).
    """
    client_id = os.environ.get("QBO_CLIENT_ID", "").strip()
    builtin = not client_id
    base = public_url() or default_public_url()
    sandbox_url = (os.environ.get("QBO_SANDBOX_URL", "").strip()
                   or base + "/qbo-sandbox").rstrip("/")
    environment = os.environ.get("QBO_ENVIRONMENT", "").strip() or (
        sandbox_url + "/.well-known/openid_configuration" if builtin else "sandbox")
    api_url = os.environ.get("QBO_API_URL", "").strip() or (
        sandbox_url + "/v3" if builtin else INTUIT_API.get(environment, ""))
    return {
        "QBO_BUILTIN_SANDBOX": builtin and _flag("QBO_BUILTIN_SANDBOX", True),
        "QBO_SANDBOX_STATE": str(Path(instance_path) / "qbo-sandbox.json"),
        "QBO_CLIENT_ID": client_id or "sandbox-client-id",
        "QBO_CLIENT_SECRET": os.environ.get("QBO_CLIENT_SECRET", "").strip()
        or ("sandbox-client-secret" if builtin else ""),
        "QBO_REDIRECT_URI": os.environ.get("QBO_REDIRECT_URI", "").strip()
        or base + "/erp/settings/callback",
        "QBO_ENVIRONMENT": environment,
        "QBO_API_URL": api_url,
        "QBO_MINOR_VERSION": int(os.environ.get("QBO_MINOR_VERSION", "75")),
        "QBO_TIMEOUT": float(os.environ.get("QBO_TIMEOUT", "30")),
        "QBO_TOKEN_KEY": token_key(instance_path),
        # Below Intuit's 10 at once and 500 a minute per company, leaving room for other apps.
        "QBO_MAX_CONCURRENT": int(os.environ.get("QBO_MAX_CONCURRENT", "8")),
        "QBO_MAX_PER_MINUTE": int(os.environ.get("QBO_MAX_PER_MINUTE", "450")),
        # Seconds between tries of an export that QuickBooks throttled or could not answer.
        "EXPORT_RETRY_INTERVALS": [int(s) for s in os.environ.get(
            "EXPORT_RETRY_INTERVALS", "5,15,60,180,600").split(",") if s.strip()],
        # An export job that runs longer than this is stopped and ends "Failed to Export".
        "EXPORT_JOB_TIMEOUT": int(os.environ.get("EXPORT_JOB_TIMEOUT", "300")),
        "EXPORT_INLINE_PAUSES": [float(s) for s in os.environ.get(
            "EXPORT_INLINE_PAUSES", "0.2,1").split(",") if s.strip()],
        # Minutes between the worker's change data capture polls of the company (0: never).
        "QBO_CDC_INTERVAL_MINUTES": float(os.environ.get("QBO_CDC_INTERVAL_MINUTES", "5")),
        # The verifier token Intuit shows for the app's webhook (unset: webhooks refused).
        "QBO_WEBHOOK_VERIFIER_TOKEN": os.environ.get("QBO_WEBHOOK_VERIFIER_TOKEN", "").strip()
        or None,
    }


def mail() -> dict:
    """SMTP for email notifications. Unset MAIL_SERVER: mail is only written to the log and
    kept in the outbox table (the /mail/outbox page), as in the demo."""
    use_tls = _flag("MAIL_USE_TLS", True)
    return {
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "").strip() or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "") or (587 if use_tls else 25)),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", "").strip() or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", "") or None,
        "MAIL_USE_TLS": use_tls,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "").strip()
        or "ChangeOrder Desk <changeorder@localhost>",
        "MAIL_TIMEOUT": float(os.environ.get("MAIL_TIMEOUT", "20")),
        # Where people reach the app: every link in an email starts with it.
        "PUBLIC_URL": public_url(),
        "DEFAULT_PUBLIC_URL": default_public_url(),  # links' start while PUBLIC_URL is unset
        # Sends to ERP within this many seconds of the first go to each approver in one email.
        "NOTIFY_COALESCE_SECONDS": int(os.environ.get("NOTIFY_COALESCE_SECONDS", "120")),
    }


def load(instance_path: str) -> dict:
    """Every setting the app reads, as a dict for ``app.config.update``."""
    return {
        "SECRET_KEY": secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # No ping on every checkout: extensions.ping_when_idle pings a connection that sat
        # unused for a while (one round trip a request saved under load).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip() or None,
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "changeorder"),
        # htmx comes from a CDN with an integrity hash; the vendored copy in static/ is the
        # fallback. HTMX_CDN=0 serves only the local copy (offline installs).
        "HTMX_CDN": _flag("HTMX_CDN", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead: a long site visit is fine
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Failed logins allowed per account and per address (Flask-Limiter syntax); counted in
        # Redis when REDIS_URL is set, so every web process shares the count.
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", "").strip() or "memory://",
        # "5 per minute" means any 60 seconds: a fixed window (counted from its first guess)
        # let five guesses through at its end and five more as the next one began.
        "RATELIMIT_STRATEGY": "moving-window",
        "LOGIN_LIMIT_ACCOUNT": os.environ.get("LOGIN_LIMIT_ACCOUNT", "5 per minute;20 per hour"),
        "LOGIN_LIMIT_ADDRESS": os.environ.get("LOGIN_LIMIT_ADDRESS",
                                              "20 per minute;100 per hour"),
        # Failed logins per account from every address together (a known device is not held).
        "LOGIN_LIMIT_ACCOUNT_ANY": os.environ.get("LOGIN_LIMIT_ACCOUNT_ANY",
                                                  "30 per minute;100 per hour"),
        # How many proxies in front of the app set X-Forwarded-For / -Proto (Werkzeug's
        # ProxyFix); 0: none trusted, the address is the connection's.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0") or 0),
        **quickbooks(instance_path),
        **mail(),
    }
