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
    from blueprints.guards import register_role_cache
    from workflow.money import format_money

    register_role_cache(app)
    app.add_template_filter(format_money, "money")
    app.add_template_filter(capped_count, "capped")
    app.add_template_global(page_url)  # for macros imported without the context

    @app.context_processor
    def inject_helpers():
        from blueprints.tools import navigation
        from workflow.change_orders import can_view

        return {
            "perm": permissions,
            "can_view_cco": lambda cco: can_view(current_user, cco),
            "htmx_script": htmx_script,
            "nav_projects": nav_projects,
            "picker_limit": permissions.PICKER_LIMIT,
            "erp_waiting": lambda user: nav_counts(user)[0],
            "notices_for": notices_for,
            "nav_links": navigation,
        }


def page_url(**cursor) -> str:
    """This page's URL with its filters and a new cursor (``after`` or ``before``) in place of
    the old one. A list shown in answer to a post pages through the list's own page instead
    (``paged_at``)."""
    from flask import url_for

    endpoint, view_args = per_request(
        "paged_at", lambda: (request.endpoint, request.view_args or {}))
    args = {k: v for k, v in request.args.items() if k not in ("after", "before")}
    args.update({k: v for k, v in cursor.items() if v})
    return url_for(endpoint, **view_args, **args)


def paged_at(endpoint: str, **view_args) -> None:
    """The page (a GET endpoint and its arguments) whose Previous / Next the list this request
    shows links to: a list re-rendered after a post pages on its own page, not on the post's."""
    per_request("paged_at", value=(endpoint, view_args))


HISTORY_PAGE = 50


def history_page(read) -> dict:
    """The Change History of a record's page, newest first, one page of it: ``read(before,
    limit)`` reads it; ``?history_before=<id>`` shows the older ones."""
    from flask import url_for

    from blueprints.fields import parse_id

    before = parse_id(request.args.get("history_before", ""))
    events = read(before, HISTORY_PAGE + 1)
    args = {k: v for k, v in request.args.items() if k != "history_before"}
    here = dict(request.view_args or {}, **args)
    older = None
    if len(events) > HISTORY_PAGE:
        events = events[:HISTORY_PAGE]
        older = url_for(request.endpoint, **here, history_before=events[-1].id,
                        _anchor="history")
    newest = url_for(request.endpoint, **here, _anchor="history") if before else None
    return {"history": events, "history_older": older, "history_newest": newest}


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


def capped_count(number: int) -> str:
    """A count read up to COUNT_CAP rows: "99+" at the cap (counts cost the same at any size)."""
    from workflow.inbox import COUNT_CAP

    return f"{COUNT_CAP - 1}+" if number >= COUNT_CAP else str(number)


def per_request(key: str, compute=None, *, value=None):
    """A value read once per request: ``compute()`` the first time, kept in the request's own
    environ (``g`` can outlive a request when an app context is already pushed). A page that
    has read it already stores it with ``value=``."""
    from flask import request

    cache = request.environ.setdefault("changeorder.per_request", {})
    if value is not None:
        cache[key] = value
    elif key not in cache:
        cache[key] = compute()
    return cache[key]


def nav_projects():
    """The projects in the navigation's picker, read once per request."""
    return per_request("nav_projects",
                       lambda: permissions.picker_projects(current_user))


def nav_counts(user) -> tuple[int, int]:
    """The navigation's (waiting, returned), read once per request."""
    from workflow.erp import nav_counts as read
    from workflow.inbox import COUNT_CAP

    return per_request("nav_counts", lambda: read(user, COUNT_CAP))


def notices_for(user):
    from workflow.notices import unseen

    return unseen(user)


def current_user_or_none():
    return current_user if current_user.is_authenticated else None
