"""The inline line editor, written once: the add / row / save / delete routes of the lines of a
parent record — SOV lines of a commitment, CCO lines, change event line items.

A kind of line is a ``LineKind`` subclass in its tool's blueprint: its URL and endpoint names,
its form and choices, the templates of its cells, fields and totals, how its parent is loaded
with the role needed, and its three workflow calls. The templates are ``templates/lines/``.

An htmx save answers with the row (or the new-line form) and the parent's totals swapped out of
band, rendered from a row context — the line, its parent and the totals, a fixed handful of
queries whatever the number of lines — never the whole page's context.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, ClassVar

from flask import abort, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import inspect

from blueprints.fields import (
    check_choice,
    offer,
    posted_version,
    record_choices,
    show_workflow_error,
    submit,
    unique_ids,
)
from blueprints.rendering import is_htmx, render, render_partial, row_deleted
from extensions import db
from models import ProjectRole
from workflow.errors import Gone, WorkflowError

ROW = "lines/_row.html"
ROW_FORM = "lines/_row_form.html"
NEW = "lines/_new.html"
ADDED = "lines/_added.html"
DELETED = "lines/_deleted.html"


@contextmanager
def keep_after_commit():
    """Within this block a commit leaves what the session read as it was, instead of expiring
    it: what a save read (the user, the parent under its lock, the line, what it names) is what
    it just wrote, so the answer renders without reading it all again. A refused save rolls
    back, which expires everything as before."""
    from models.list_totals import keep_shares

    session = db.session()
    session.expire_on_commit = False
    try:
        with keep_shares():  # and the totals it wrote: the answer's totals, not read again
            yield
    finally:
        session.expire_on_commit = True


class LineKind:
    """One kind of line; ``register`` adds its four routes to a blueprint."""

    # The URL of the lines below the parent, e.g. "/<int:commitment_id>/sov".
    rule: ClassVar[str]
    # Endpoint names (without the blueprint's) of "add", "row", "update", "delete", and "show",
    # the parent's page.
    endpoints: ClassVar[dict[str, str]]
    line_model: ClassVar[type]
    line_options: ClassVar[tuple] = ()  # what a row shows of its line, read with it
    parent_key: ClassVar[str]  # the line's column naming its parent
    form_class: ClassVar[type]
    form_prefix: ClassVar[str]  # field ids: "<prefix>-<line id>-<field>", "<prefix>-new-<field>"
    row_prefix: ClassVar[str]  # row ids: "<prefix>-<line id>"
    new_form_id: ClassVar[str]
    table_id: ClassVar[str]  # the table new rows are appended to
    table_class: ClassVar[str]
    anchor: ClassVar[str]  # where on the parent's page a browser without htmx lands
    columns: ClassVar[int]
    noun: ClassVar[str] = "line"  # "Add a line", "Add line"
    numbered: ClassVar[bool] = True  # lines show their number ("Save line 3")
    # Templates: the row's cells, the form's fields, the parent's totals, the full page of a row
    # or new-line form (without htmx), and an optional hint under the new-line form.
    cells: ClassVar[str]
    fields: ClassVar[str]
    totals: ClassVar[str]
    page: ClassVar[str]
    new_hint: ClassVar[str | None] = None
    tool: ClassVar[str]
    # The workflow calls, as staticmethods: add(actor, parent, data),
    # update(actor, line, data, version), delete(actor, line, version).
    add: ClassVar[Callable]
    update: ClassVar[Callable]
    delete: ClassVar[Callable]

    def __init__(self, blueprint) -> None:
        self.blueprint = blueprint.name
        self.register(blueprint)

    # ---- what a kind says about itself -------------------------------------------------------

    def load_parent(self, args: dict, needed: ProjectRole):
        """The parent named by the URL's ``args``, if the user holds ``needed`` (else 403/404)."""
        raise NotImplementedError

    def url_args(self, parent) -> dict:
        raise NotImplementedError

    def fill_choices(self, form, parent, line) -> None:
        """Give the form's select fields their choices."""

    @staticmethod
    def code_and_category_choices(form, line, blank: str = "Choose…") -> None:
        """The cost code and category selects every kind of line has: the active records, and
        the line's own even if it was deactivated since."""
        from models import Category

        offer(form.cost_code_id, "cost_code", blank=blank,
              keep_id=line.cost_code_id if line else None)
        form.category_id.choices = record_choices(
            Category, Category.name, blank=blank, keep_id=line.category_id if line else None)

    def check_choices(self, form, parent, line) -> None:
        """For a save (``form(saving=True)``): check what the selects chose without reading
        their choices — the saved row shows none; a refused save fills them to show the form
        again. By default the cost code and category every kind of line has."""
        from models import Category, CostCode

        check_choice(form.cost_code_id, CostCode, line.cost_code_id if line else None)
        check_choice(form.category_id, Category, line.category_id if line else None)

    def load_for_save(self, args: dict):
        """The parent of a line about to be saved (its role checked): a kind whose workflow
        locks the parent may take the lock here and read, under it, what the save and its
        answer need, in one statement."""
        return self.load_parent(args, ProjectRole.STANDARD)

    def to_input(self, form):
        raise NotImplementedError

    def context(self, parent, line) -> dict:
        """The parent's names, the totals and the permission flags the row and totals show;
        ``can_edit_lines`` offers the Edit link."""
        raise NotImplementedError

    def saved_context(self, parent) -> dict:
        """What else a save's answer swaps out of band besides the totals (the parent's ERP
        panel and status, which a change of lines may change)."""
        return {}

    def opened(self, form, parent, line) -> int:
        """A row's form is opened for editing: the status to answer with."""
        return 200

    # ---- shared -------------------------------------------------------------------------------

    def url(self, action: str, parent, line=None, **extra) -> str:
        if line is not None:
            extra["line_id"] = line.id
        return url_for(f"{self.blueprint}.{self.endpoints[action]}", **self.url_args(parent),
                       **extra)

    def form(self, parent, line=None, blank: bool = False, saving: bool = False):
        """The form for a line (edit), the posted new line, or a blank new line (``blank``).
        ``saving``: the posted edit of a row, its choices checked (``check_choices``), not
        filled; ``form_response`` fills them if the form is shown again."""
        form = self.form_class(formdata=None) if blank else self.form_class(obj=line)
        unique_ids(form, f"{self.form_prefix}-{line.id}" if line else f"{self.form_prefix}-new")
        if saving:
            self.check_choices(form, parent, line)
        else:
            self.fill_choices(form, parent, line)
        return form

    def row_context(self, parent, line=None, **extra) -> dict:
        return {"line_kind": self, "parent": parent, "line": line, "tool": self.tool,
                **self.context(parent, line), **extra}

    def load_line(self, parent, line_id: int):
        """The line (404 unless it is the parent's), with what its row shows
        (``line_options``); none read when the parent's load read it already."""
        line = db.session.get(self.line_model, line_id, options=self.line_options)
        if line is None or getattr(line, self.parent_key) != parent.id:
            abort(404)
        return line

    def respond(self, parent, partial: str, status: int = 200, line=None, **extra):
        """For htmx, ``partial`` (a row, the new-line form) with the totals out of band; without
        htmx, back to the parent's page, or the form on a page of its own when refused.
        A parent the commit expired is read again in one statement; one a save kept
        (``keep_after_commit``) was read under its lock in the transaction just committed."""
        if inspect(parent).expired:
            db.session.refresh(parent)
        if not is_htmx():
            if status >= 400:
                return render(self.page, status=status, body_partial=partial,
                              **self.row_context(parent, line, **extra))
            return redirect(self.url("show", parent) + self.anchor, 303)
        return render_partial(partial, status=status, oob_totals=True,
                              **self.row_context(parent, line, **self.saved_context(parent),
                                                 **extra))

    def form_response(self, parent, line, form, status: int = 200):
        if any(getattr(field, "choices", True) is None for field in form):
            self.fill_choices(form, parent, line)  # a refused save shows its form again
        return render(self.page, ROW_FORM, status=status, body_partial=ROW_FORM,
                      **self.row_context(parent, line, form=form))

    # ---- routes -------------------------------------------------------------------------------

    def register(self, bp) -> None:
        line = f"{self.rule}/<int:line_id>"
        for rule, action, view, methods in (
            (self.rule, "add", self.add_view, ["POST"]),
            (line, "row", self.row_view, ["GET"]),
            (line, "update", self.update_view, ["POST"]),
            (f"{line}/delete", "delete", self.delete_view, ["POST"]),
        ):
            bp.add_url_rule(rule, endpoint=self.endpoints[action],
                            view_func=login_required(view), methods=methods)

    def add_view(self, **args: Any):
        parent = self.load_parent(args, ProjectRole.STANDARD)
        form = self.form(parent)
        outcome = submit(form, lambda: self.add(current_user, parent, self.to_input(form)))
        if outcome.ok:
            return self.respond(parent, ADDED, line=outcome.value,
                                new_line_form=self.form(parent, blank=True))
        return self.respond(parent, NEW, status=outcome.status, new_line_form=form, form=form)

    def row_view(self, line_id: int, **args: Any):
        parent = self.load_parent(args, ProjectRole.READ_ONLY)
        line = self.load_line(parent, line_id)
        if request.args.get("edit"):
            self.load_parent(args, ProjectRole.STANDARD)
            form = self.form(parent, line)
            return self.form_response(parent, line, form, self.opened(form, parent, line))
        if not is_htmx():
            return redirect(self.url("show", parent) + self.anchor)
        return render_partial(ROW, **self.row_context(parent, line))

    def update_view(self, line_id: int, **args: Any):
        with keep_after_commit():
            parent = self.load_for_save(args)
            line = self.load_line(parent, line_id)
            form = self.form(parent, line, saving=True)
            outcome = submit(form, lambda: self.update(current_user, line, self.to_input(form),
                                                       form.version.data), refresh=line)
            if outcome.ok:
                return self.respond(parent, ROW, line=line)
            return self.form_response(parent, line, form, outcome.status)

    def delete_view(self, line_id: int, **args: Any):
        parent = self.load_parent(args, ProjectRole.STANDARD)
        line = self.load_line(parent, line_id)
        form = self.form(parent, line)  # the row's edit form, posted with the version it showed
        try:
            self.delete(current_user, line, posted_version())
        except Gone:  # someone deleted it first: what the user asked for is done
            db.session.rollback()
        except WorkflowError as error:
            db.session.rollback()
            db.session.refresh(line)
            return self.form_response(parent, line, form, show_workflow_error(form, error))
        return row_deleted(self.respond(parent, DELETED))
