"""Sending one email: by SMTP when MAIL_SERVER is set, else only to the log (the demo).

Either way the email is kept in ``sent_emails``, which the outbox page (/mail/outbox) shows.
Called from RQ jobs only (jobs/notifications.py), never while a page is being served.
"""

from __future__ import annotations

import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from extensions import db
from models import SentEmail, User
from models.types import utcnow
from workflow.settings import config as settings

log = logging.getLogger(__name__)


def transport() -> str:
    return "smtp" if settings().get("MAIL_SERVER") else "log"


# Line feed, carriage return, Unicode's other line breaks and every control character: none
# may reach a header, where a line break would end it (and Python refuses to write it).
_NOT_IN_A_HEADER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_value(text: str | None) -> str:
    """``text`` safe as one header line: each run of line breaks or controls is one space.
    The forms refuse them in names, titles and numbers; this holds for older data too."""
    return " ".join(_NOT_IN_A_HEADER.sub(" ", text or "").split())


def build_message(to: User, subject: str, body: str) -> EmailMessage:
    config = settings()
    message = EmailMessage()
    message["From"] = header_value(config["MAIL_FROM"])
    message["To"] = formataddr((header_value(to.name), header_value(to.email)))
    message["Subject"] = header_value(subject)
    message["Message-ID"] = make_msgid(domain="changeorder.local")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _smtp_send(message: EmailMessage) -> None:
    config = settings()
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"],
                      timeout=config.get("MAIL_TIMEOUT", 20)) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def send(to: User, kind: str, subject: str, body: str) -> SentEmail:
    """Send one email to ``to`` and keep it in the outbox table (added to the session; the
    caller commits). An SMTP error propagates, so the caller can try again later."""
    how = transport()
    message = build_message(to, subject, body)
    if how == "smtp":
        _smtp_send(message)
        log.info("mailed %s to %s: %s", kind, to.email, subject)
    else:
        log.info("email (no MAIL_SERVER set, not sent) to %s\nSubject: %s\n\n%s",
                 to.email, subject, body)
    record = SentEmail(user_id=to.id, kind=kind, recipient=to.email,
                       subject=header_value(subject)[:300],
                       body=body, transport=how, sent_at=utcnow())
    db.session.add(record)
    return record
