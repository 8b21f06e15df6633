"""The logged-in user's own settings (which emails they get) and the mail outbox page."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import select

from blueprints.account import bp
from blueprints.guards import company_admin_required
from extensions import db
from models import NotificationKind, SentEmail
from workflow import notifications

OUTBOX_SHOWN = 200
_URL = re.compile(r"https?://[^\s<>\"']+")


def linked(body: str) -> Markup:
    """An email's text with the app's own links clickable. A link is made relative to this
    site, so it opens here whatever ``PUBLIC_URL`` says; any other address stays text (a
    title or reason may hold one)."""
    own = notifications.public_url()
    parts, last = [], 0
    for found in _URL.finditer(body):
        url = found.group(0).rstrip(".,;:)")
        path = url[len(own):]
        if not url.startswith(own + "/") or path.startswith("//") or "\\" in path:
            continue  # "//host" (or "/\host", as browsers read it) is another site
        parts += [escape(body[last:found.start()]),
                  Markup('<a href="{}">{}</a>').format(path, url)]
        last = found.start() + len(url)
    parts.append(escape(body[last:]))
    return Markup("").join(parts)


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notifications_settings():
    """Email notifications: each kind that can reach this user, on or off (their own only)."""
    shown = notifications.relevant_kinds(current_user)
    if request.method == "POST":
        wanted = set(request.form.getlist("kind"))
        enabled = {kind for kind in shown if kind.value in wanted}
        notifications.set_preferences(current_user, enabled, shown)
        flash("Email notifications saved.", "success")
        return redirect(url_for("account.notifications_settings"), 303)
    return render_template("account/notifications.html", kinds=shown,
                           preferences=notifications.preferences(current_user),
                           Kind=NotificationKind)


@bp.get("/mail/outbox")
@company_admin_required
def outbox():
    """Every email the app sent (by SMTP or, with no MAIL_SERVER, to the log), newest first."""
    from workflow.mail import transport

    emails = list(db.session.scalars(select(SentEmail).order_by(SentEmail.id.desc())
                                     .limit(OUTBOX_SHOWN)))
    return render_template("account/outbox.html", emails=emails, transport=transport(),
                           shown=OUTBOX_SHOWN, linked=linked)
