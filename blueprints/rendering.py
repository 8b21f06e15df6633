"""Page-or-partial rendering for htmx, and the helpers every template may call."""

from __future__ import annotations

from flask import Flask, current_app, make_response, render_template, request
from flask_login import current_user
from markupsafe import Markup

from workflow import permissions

HTMX_VERSION = "4.0.1"
HTMX_CDN_URL = f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
HTMX_INTEGRITY = "sha384-Qp9rdC8H7EqOoX+nR0P3RPG2Noji+qdwJlGpfzwQJsfOpp3sGwIdSP9xO3+UlEhn"
HTMX_LOCAL = f"vendor/htmx-{HTMX_VERSION}.min.js"


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render(page: str, partial: str | None = None, status: int = 200, **context):
    """The partial alone for an htmx request, else the whole page (which includes it)."""
    template = partial if (partial and is_htmx()) else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_after_post(url: str):
    """After a successful post: a 303 for a browser; for htmx a 200 with ``HX-Redirect`` (htmx
    ignores headers on a 3xx and would swap the page it followed into the form)."""
    from flask import redirect

    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
    else:
        response = redirect(url, 303)
    response.vary.add("HX-Request")
    return response


def row_deleted(response):
    """The row is gone: htmx 4 does not swap an empty answer (only out-of-band totals) into its
    target, so tell it to remove the row."""
    if is_htmx() and response.status_code == 200:
        response.headers["HX-Reswap"] = "delete"
    return response


def render_partial(partial: str, status: int = 200, **context):
    response = make_response(render_template(partial, **context), status)
    response.vary.add("HX-Request")
    return response


def field_errors(form, errors: dict[str, str]) -> None:
    """Put workflow errors next to the matching form fields (or on the form as a whole)."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            form.form_errors.append(message)


def register_template_helpers(app: Flask) -> None:
    from workflow.money import format_money

    app.add_template_filter(format_money, "money")

    @app.context_processor
    def inject_helpers():
        from blueprints.tools import navigation
        from workflow.change_orders import can_view
        from workflow.erp import waiting_on

        return {
            "perm": permissions,
            "can_view_cco": lambda cco: can_view(current_user, cco),
            "htmx_script": htmx_script,
            "erp_waiting": waiting_on,
            "notices_for": notices_for,
            "nav_links": navigation,
        }


def htmx_script() -> Markup:
    """htmx from the CDN with its integrity hash, falling back to the vendored copy."""
    from flask import url_for

    local = url_for("static", filename=HTMX_LOCAL)
    if not current_app.config["HTMX_CDN"]:
        return Markup('<script src="{}"></script>').format(local)
    fallback = url_for("static", filename="js/htmx-fallback.js")
    return Markup(
        '<script src="{cdn}" integrity="{sri}" crossorigin="anonymous"></script>\n'
        '<script src="{fallback}" data-src="{local}"></script>'
    ).format(cdn=HTMX_CDN_URL, sri=HTMX_INTEGRITY, fallback=fallback, local=local)


def notices_for(user):
    from workflow.notices import unseen

    return unseen(user)


def current_user_or_none():
    return current_user if current_user.is_authenticated else None
