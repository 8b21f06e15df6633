"""Command-line commands: ``flask users create-admin``, ``flask seed-demo``,
``flask erp digest``, ``flask backup`` and ``flask restore`` (cli/backup.py)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from models import ErpPermission
from workflow.errors import InvalidInput
from workflow.people import UserSettings, create_user

users_cli = AppGroup("users", help="Manage users.")
erp_cli = AppGroup("erp", help="ERP Integrations.")


@users_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create a company admin who holds every permission (the first login)."""
    settings = UserSettings(
        email=email, name=name, password=password, is_company_admin=True,
        erp_permission=ErpPermission.ADMIN, can_push_to_accounting=True,
    )
    try:
        user = create_user(None, settings)
    except InvalidInput as error:
        for field, message in error.errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Created company admin {user.name} <{user.email}>.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo company (safe to run again: existing records are kept)."""
    from demo import seed_demo, seed_quickbooks

    logins = seed_demo()
    company = seed_quickbooks()
    base = _public_url()
    if company:
        from demo.quickbooks import seed_erp_round_trip

        seed_erp_round_trip()
        click.echo(f"QuickBooks: connected to the built-in sandbox ({company}); what arrives "
                   f"there is shown at {base}/qbo-sandbox/")
    else:
        click.echo("QuickBooks: not connected; an ERP admin connects it in ERP Integrations → "
                   "Settings.")
    click.echo(f"Demo data ready. Log in at {base}/ with:")
    for login in logins:
        click.echo(f"  {login.role:<34} {login.email:<24} password: {login.password}")


@erp_cli.command("digest")
def digest_command() -> None:
    """Mail each approver what waits for them (Ready to Export; Failed to Export for ERP
    admins), for a daily cron. The emails are sent by RQ jobs (at once without REDIS_URL)."""
    from jobs.adapter import queue_digest
    from jobs.queue import is_inline
    from workflow.notifications import digest_recipients

    recipients = digest_recipients()
    queued = sum(queue_digest(user.id) for user in recipients)
    how = "sent" if is_inline() else "queued"
    click.echo(f"Digest: {queued} of {len(recipients)} approver(s) {how} (an approver with "
               "nothing waiting gets no email).")


def _public_url() -> str:
    """Where the app is served: PUBLIC_URL, else the built-in sandbox's configured address
    (it lives at <app>/qbo-sandbox), else FLASK_RUN_HOST / FLASK_RUN_PORT, else Flask's
    default."""
    import os

    from flask import current_app

    if current_app.config.get("PUBLIC_URL"):
        return current_app.config["PUBLIC_URL"]
    sandbox_url = os.environ.get("QBO_SANDBOX_URL", "")
    if sandbox_url.rstrip("/").endswith("/qbo-sandbox"):
        return sandbox_url.rstrip("/")[: -len("/qbo-sandbox")]
    from config import default_public_url

    return default_public_url()


def register_commands(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(erp_cli)
    app.cli.add_command(seed_demo_command)
    from cli.backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
