"""Is it running: ``/healthz`` and ``/readyz`` for an uptime monitor (no login, no secrets)."""

from __future__ import annotations

from flask import jsonify

from blueprints.system import bp
from jobs import health


@bp.get("/healthz")
def healthz():
    """The process answers (touches nothing else: a liveness probe)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Database, migrations, Redis and a worker, as ``jobs/health.py`` checks them."""
    ready, checks = health.readiness()
    return jsonify(status="ok" if ready else "fail", checks=checks), 200 if ready else 503
