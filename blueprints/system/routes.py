"""Is it running: ``/healthz`` and ``/readyz`` for an uptime monitor (no login, no secrets),
and the System page for company admins with its two test buttons."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from blueprints.guards import company_admin_required
from blueprints.system import bp
from jobs import health
from quickbooks_online.errors import QboError
from workflow import system


@bp.get("/healthz")
def healthz():
    """The process answers (touches nothing else: a liveness probe)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Database, migrations, Redis and a worker, as ``jobs/health.py`` checks them."""
    ready, checks = health.readiness()
    return jsonify(status="ok" if ready else "fail", checks=checks), 200 if ready else 503


@bp.get("/system/")
@company_admin_required
def page():
    ready, checks = health.readiness()
    return render_template("system/index.html", tool="admin", ready=ready, checks=checks,
                           overview=system.overview(current_user),
                           queue=health.queue_overview(), version=health.app_version(),
                           head=health.migration_head(), revision=health.database_revision())


@bp.post("/system/test-quickbooks")
@company_admin_required
def test_quickbooks():
    try:
        name = system.test_quickbooks(current_user)
    except QboError as error:
        flash(f"QuickBooks test failed: {error.message}", "error")
    else:
        flash(f"QuickBooks answered: connected to {name}.", "success")
    return redirect(url_for("system.page"), 303)


@bp.post("/system/test-email")
@company_admin_required
def test_email():
    try:
        email = system.send_test_email(current_user)
    except OSError as error:  # smtplib's errors are OSErrors
        flash(f"The test email could not be sent: {error}", "error")
    else:
        how = ("sent by SMTP" if email.transport == "smtp"
               else "written to the log (no MAIL_SERVER is set)")
        flash(f"Test email to {email.recipient} {how}.", "success")
    return redirect(url_for("system.page"), 303)
