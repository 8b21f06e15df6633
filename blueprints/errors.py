"""Error pages: a whole page for a browser, a small partial for htmx (retargeted to #alerts,
so an error never lands inside the card that asked)."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import StatementError
from werkzeug.exceptions import HTTPException, InternalServerError

from blueprints.rendering import is_htmx
from workflow.errors import PermissionDenied

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Not found", "That page or record does not exist."),
    405: ("Not allowed", "That action is not available here."),
    413: ("Too large", "What you sent is too large."),
    422: ("Not accepted", "Something you sent could not be accepted."),
    429: ("Too many tries", "Too many failed logins. Wait a few minutes, then try again."),
    500: ("Something went wrong", "The error has been logged. Nothing was changed; try again."),
}


NUL_REFUSED = ("Remove the invisible control character (NUL) from what you typed, then try "
               "again.")


def _error_response(status: int, message: str | None = None):
    title, default = MESSAGES.get(status, ("Error", "Something went wrong."))
    context = {"status": status, "title": title, "message": message or default}
    if is_htmx():
        response = render_template("errors/_error.html", **context), status
        headers = {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML", "Vary": "HX-Request"}
        return (*response, headers)
    return render_template("errors/page.html", **context), status, {"Vary": "HX-Request"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PermissionDenied)
    def permission_denied(error: PermissionDenied):
        return _error_response(403, error.message)

    @app.errorhandler(StatementError)
    def refused_by_the_database(error: StatementError):
        """A NUL byte that got past the forms (a hand-made request): a 422, not a 500."""
        if not _is_nul_refusal(error):
            raise error
        from extensions import db

        db.session.rollback()
        return _error_response(422, NUL_REFUSED)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _error_response(400, "Your form expired or was not sent from this site. "
                                    "Reload the page and try again.")

    @app.errorhandler(429)
    def too_many(error: HTTPException):
        body, status, headers = _error_response(429)
        retry = getattr(error, "response", None)
        if retry is not None and retry.headers.get("Retry-After"):
            headers["Retry-After"] = retry.headers["Retry-After"]
        return body, status, headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code in MESSAGES and error.code != 500:
            return _error_response(error.code)
        return error

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        from extensions import db

        db.session.rollback()
        original = getattr(error, "original_exception", None)
        if _is_nul_refusal(original):  # text the database refuses (PostgreSQL: no NUL)
            return _error_response(422, NUL_REFUSED)
        log.error("unhandled error: %s", original or error)
        return _error_response(500)


def _is_nul_refusal(error: BaseException | None) -> bool:
    """PostgreSQL (psycopg) refuses text with a NUL byte before it runs the statement."""
    seen = 0
    while error is not None and seen < 5:
        if "NUL (0x00)" in str(error) or (isinstance(error, ValueError) and "NUL" in str(error)):
            return True
        error, seen = error.__cause__ or getattr(error, "orig", None), seen + 1
    return False
