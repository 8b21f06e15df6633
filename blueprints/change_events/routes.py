"""Change Events tool: the list, a change event's page, its header and line items edited in
place, "Create Commitment CO" from selected items, and the tool switch."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from blueprints.change_events import bp
from blueprints.change_events.forms import (
    ChangeEventForm,
    CommitmentCoForm,
    LineItemForm,
    ToolSettingsForm,
)
from blueprints.fields import (
    enum_or_none,
    offer,
    parse_id,
    show_workflow_error,
    submit,
    unique_ids,
)
from blueprints.guards import keep_loaded, load_project
from blueprints.line_editor import LineKind
from blueprints.rendering import history_page, is_htmx, paged_at, render, render_partial
from extensions import db
from models import (
    ChangeEvent,
    ChangeEventLine,
    ChangeEventScope,
    ChangeEventStatus,
    ChangeEventType,
    Commitment,
    Project,
    ProjectRole,
)
from workflow.change_events import (
    COMMITMENT_CHOICES,
    ChangeEventInput,
    LineItemInput,
    add_line_item,
    ccos_from,
    commitment_choices,
    create_change_event,
    create_commitment_co,
    delete_line_item,
    filtered_change_events,
    history_for,
    live_cco_lines,
    set_tool_enabled,
    totals,
    totals_by_change_event,
    update_change_event,
    update_line_item,
    vendors_of,
)
from workflow.errors import WorkflowError
from workflow.permissions import has_project_role

TOOL = "change_events"


# ---- loading -----------------------------------------------------------------------------------

def load_tool_project(project_id: int, needed: ProjectRole = ProjectRole.READ_ONLY) -> Project:
    """The project, if the user holds ``needed`` on it and the tool is on (404 when off)."""
    project = load_project(project_id, needed)
    if not project.change_events_enabled:
        abort(404)
    return project


def load_change_event(project_id: int, ce_id: int,
                      needed: ProjectRole = ProjectRole.READ_ONLY, page: bool = False
                      ) -> ChangeEvent:
    """The change event, if the user holds ``needed`` on its project; ``page``: with everything
    its page shows (workflow/pages.py), read once."""
    from workflow.pages import page_by_id

    project = load_tool_project(project_id, needed)
    ce = page_by_id(ChangeEvent, ce_id) if page else db.session.get(ChangeEvent, ce_id)
    if ce is None or ce.project_id != project.id:
        abort(404)
    keep_loaded(ce, "project", project)
    return ce


def _can_edit(project: Project) -> bool:
    return has_project_role(current_user, project, ProjectRole.STANDARD)


def _can_admin(project: Project) -> bool:
    return has_project_role(current_user, project, ProjectRole.ADMIN)


# ---- forms -------------------------------------------------------------------------------------

def _ce_form(ce: ChangeEvent | None = None) -> ChangeEventForm:
    form = unique_ids(ChangeEventForm(obj=ce) if ce else ChangeEventForm(), "ce")
    if ce and not form.is_submitted():
        form.status.data = ce.status.value
        form.scope.data = ce.scope.value
        form.type.data = ce.type.value
    return form


def _ce_input(form: ChangeEventForm) -> ChangeEventInput:
    return ChangeEventInput(title=form.title.data or "",
                            status=ChangeEventStatus(form.status.data),
                            scope=ChangeEventScope(form.scope.data),
                            type=ChangeEventType(form.type.data),
                            change_reason=form.change_reason.data or "",
                            description=form.description.data or "")


def _commitment_choices(project: Project, blank: str, **which) -> list[SelectChoice]:
    """A commitment select's options (workflow.change_events.commitment_choices), with a word
    when the project has more than it lists."""
    commitments, more = commitment_choices(project, **which)
    choices = [SelectChoice("", blank)] + [
        SelectChoice(c.id, f"{c.number} {c.title} ({c.vendor.name})") for c in commitments]
    if more:
        choices.append(SelectChoice("", f"First {COMMITMENT_CHOICES} by number; choose the "
                                        "item's vendor for its own", render_kw={"disabled": True}))
    return choices


def _cco_form(project: Project, default_commitment: int | None = None,
              vendor_ids=None) -> CommitmentCoForm:
    form = unique_ids(CommitmentCoForm(), "ce-cco")
    chosen = form.commitment_id.data if form.is_submitted() else default_commitment
    form.commitment_id.choices = _commitment_choices(
        project, "Choose an Approved commitment…", approved_only=True, vendor_ids=vendor_ids,
        chosen=parse_id(str(chosen)) if chosen else None)
    if not form.is_submitted() and default_commitment:
        form.commitment_id.data = default_commitment
    return form


def _settings_form(project: Project) -> ToolSettingsForm:
    form = unique_ids(ToolSettingsForm(), "ce-settings")
    if not form.is_submitted():
        form.change_events_enabled.data = project.change_events_enabled
    return form


def _tool_off(project: Project):
    """The tool is off: a page that says so (404), with the switch for a project admin."""
    return render_template("change_events/off.html", project=project,
                           can_admin=_can_admin(project), settings_form=_settings_form(project),
                           tool=TOOL), 404


# ---- list --------------------------------------------------------------------------------------

@bp.get("/")
@login_required
def index(project_id: int):
    project = load_project(project_id)
    if not project.change_events_enabled:
        return _tool_off(project)
    from workflow.change_events import list_totals
    from workflow.pages import keyset

    filters = {k: request.args.get(k, "") for k in ("status", "scope", "vendor")}
    chosen = dict(status=enum_or_none(ChangeEventStatus, filters["status"]),
                  scope=enum_or_none(ChangeEventScope, filters["scope"]),
                  # an id that names no record matches nothing
                  vendor_id=(parse_id(filters["vendor"]) or 0) if filters["vendor"] else None)
    query = filtered_change_events(project, **chosen)
    page = keyset(query, (ChangeEvent.number, ChangeEvent.id), lambda ce: (ce.number, ce.id),
                  after=request.args.get("after"), before=request.args.get("before"))
    by_id = totals_by_change_event([ce.id for ce in page.rows])
    count, grand = list_totals(project, **chosen)
    vendors = vendors_of(project, parse_id(filters["vendor"]))
    return render("change_events/index.html", "change_events/_list.html", project=project,
                  events=page.rows, listing=page, count=count, totals=by_id, grand=grand,
                  filters=filters, vendors=vendors, statuses=list(ChangeEventStatus),
                  scopes=list(ChangeEventScope), can_edit=_can_edit(project),
                  can_admin=_can_admin(project), settings_form=_settings_form(project),
                  tool=TOOL)


# ---- the tool switch ---------------------------------------------------------------------------

@bp.post("/settings")
@login_required
def settings(project_id: int):
    project = load_project(project_id, ProjectRole.ADMIN)
    form = _settings_form(project)
    if form.validate_on_submit():
        set_tool_enabled(current_user, project, bool(form.change_events_enabled.data))
    if project.change_events_enabled:
        return redirect(url_for("change_events.index", project_id=project.id), 303)
    return redirect(url_for("commitments.index", project_id=project.id), 303)


# ---- create ------------------------------------------------------------------------------------

@bp.get("/new")
@login_required
def new(project_id: int):
    project = load_tool_project(project_id, ProjectRole.STANDARD)
    return render_template("change_events/new.html", project=project, form=_ce_form(),
                           tool=TOOL)


@bp.post("/")
@login_required
def create(project_id: int):
    project = load_tool_project(project_id, ProjectRole.STANDARD)
    form = _ce_form()
    outcome = submit(form, lambda: create_change_event(current_user, project, _ce_input(form)))
    if outcome.ok:
        return redirect(url_for("change_events.show", project_id=project.id,
                                ce_id=outcome.value.id), 303)
    return render_template("change_events/new.html", project=project, form=form,
                           tool=TOOL), outcome.status


# ---- one change event --------------------------------------------------------------------------

def _page_context(ce: ChangeEvent, loaded: bool = False, **extra) -> dict:
    """``loaded``: the change event was read for its page (``load_change_event(page=True)``)."""
    from workflow.pages import change_event_page

    if not loaded:
        ce = change_event_page(ce)
    project = ce.project
    default_commitment = next((i.commitment_id for i in ce.lines if i.commitment_id), None)
    context = {
        **LINE_ITEMS.row_context(ce),
        "live": live_cco_lines([i.id for i in ce.lines]),
        "new_line_form": LINE_ITEMS.form(ce, blank=True),
        "cco_form": _cco_form(project, default_commitment,
                              {i.vendor_id for i in ce.lines if i.vendor_id}),
        "ccos": ccos_from(current_user, ce), "tool": TOOL,
        **history_page(lambda before, limit: history_for(ce, current_user, before, limit)),
    }
    context.update(extra)
    return context


@bp.get("/<int:ce_id>")
@login_required
def show(project_id: int, ce_id: int):
    ce = load_change_event(project_id, ce_id, page=True)
    return render_template("change_events/show.html", **_page_context(ce, loaded=True))


@bp.get("/<int:ce_id>/header")
@login_required
def header(project_id: int, ce_id: int):
    ce = load_change_event(project_id, ce_id)
    if request.args.get("edit"):
        load_tool_project(project_id, ProjectRole.STANDARD)
        return _header_form(ce, _ce_form(ce))
    if not is_htmx():
        return redirect(url_for("change_events.show", project_id=project_id, ce_id=ce_id))
    return render_partial("change_events/_header.html", **_page_context(ce))


def _header_form(ce, form, status=200):
    return render("change_events/edit.html", "change_events/_header_form.html", status=status,
                  project=ce.project, ce=ce, form=form, tool=TOOL)


@bp.post("/<int:ce_id>")
@login_required
def update(project_id: int, ce_id: int):
    ce = load_change_event(project_id, ce_id, ProjectRole.STANDARD)
    form = _ce_form(ce)
    outcome = submit(form, lambda: update_change_event(current_user, ce, _ce_input(form),
                                                       form.version.data), refresh=ce)
    if outcome.ok:
        if not is_htmx():
            return redirect(url_for("change_events.show", project_id=project_id, ce_id=ce.id),
                            303)
        return render_partial("change_events/_header.html", **_page_context(ce))
    return _header_form(ce, form, outcome.status)


# ---- line items --------------------------------------------------------------------------------

class LineItems(LineKind):
    """The line items of a change event, edited in place."""

    rule = "/<int:ce_id>/lines"
    endpoints = {"add": "add_line", "row": "line_row", "update": "update_line",
                 "delete": "delete_line", "show": "show"}
    line_model, parent_key, form_class = ChangeEventLine, "change_event_id", LineItemForm
    form_prefix, row_prefix, new_form_id = "ce-line", "ce-line", "ce-line-new"
    table_id, table_class, anchor, columns = "ce-lines-table", "ce-lines", "#lines", 10
    cells, fields = "change_events/_line_cells.html", "change_events/_line_fields.html"
    totals, page, tool = "change_events/_totals.html", "change_events/line_edit.html", TOOL
    noun, new_hint = "line item", "change_events/_line_new_hint.html"
    add, update = staticmethod(add_line_item), staticmethod(update_line_item)
    delete = staticmethod(delete_line_item)

    line_options = (joinedload(ChangeEventLine.cost_code), joinedload(ChangeEventLine.category),
                    joinedload(ChangeEventLine.vendor), joinedload(ChangeEventLine.commitment))

    def load_parent(self, args, needed):
        return load_change_event(args["project_id"], args["ce_id"], needed)

    def url_args(self, ce):
        return {"project_id": ce.project_id, "ce_id": ce.id}

    def fill_choices(self, form, ce, line):
        self.code_and_category_choices(form, line)
        offer(form.vendor_id, "vendor", blank="—", keep_id=line.vendor_id if line else None)
        form.commitment_id.choices = _commitment_choices(
            ce.project, "—", vendor_ids={line.vendor_id} if line and line.vendor_id else None,
            chosen=line.commitment_id if line else None)

    def to_input(self, form):
        return LineItemInput(cost_code_id=form.cost_code_id.data,
                             category_id=form.category_id.data,
                             description=form.description.data or "",
                             cost_rom=form.cost_rom.data, latest_cost=form.latest_cost.data,
                             vendor_id=form.vendor_id.data,
                             commitment_id=form.commitment_id.data)

    def context(self, ce, line):
        can_edit = _can_edit(ce.project)
        return {"project": ce.project, "ce": ce, "totals": totals(ce), "can_edit": can_edit,
                "can_edit_lines": can_edit,
                "live": live_cco_lines([line.id]) if line is not None else {}}


LINE_ITEMS = LineItems(bp)


# ---- "Create Commitment CO" --------------------------------------------------------------------

def _selection_context(project: Project, form: CommitmentCoForm) -> dict:
    """A page of the line items a Commitment CO can be made from (keyset, 50 at a time),
    filtered by vendor or commitment, with the filters' bounded choices."""
    from workflow.change_events import selectable_items
    from workflow.pages import keyset

    filters = {k: request.args.get(k, "") for k in ("vendor", "commitment")}
    # an id that names no record matches nothing
    vendor_id = (parse_id(filters["vendor"]) or 0) if filters["vendor"] else None
    commitment_id = (parse_id(filters["commitment"]) or 0) if filters["commitment"] else None
    query = selectable_items(project, vendor_id=vendor_id, commitment_id=commitment_id).options(
        joinedload(ChangeEventLine.change_event), joinedload(ChangeEventLine.cost_code),
        joinedload(ChangeEventLine.category), joinedload(ChangeEventLine.vendor),
        joinedload(ChangeEventLine.commitment))
    page = keyset(query, (ChangeEvent.number, ChangeEventLine.line_number, ChangeEventLine.id),
                  lambda line: (line.change_event.number, line.line_number, line.id),
                  after=request.args.get("after"), before=request.args.get("before"))
    commitments, more_commitments = commitment_choices(
        project, vendor_ids={vendor_id} if vendor_id else None, chosen=commitment_id)
    return {
        "project": project, "items": page.rows, "listing": page,
        "live": live_cco_lines([i.id for i in page.rows]),
        "filters": filters, "cco_form": form, "selected": set(form.line_ids.data or []),
        "vendors": vendors_of(project, vendor_id), "commitments": commitments,
        "more_commitments": more_commitments, "tool": TOOL,
    }


@bp.get("/commitment-co")
@login_required
def commitment_co(project_id: int):
    project = load_tool_project(project_id, ProjectRole.STANDARD)
    commitment = request.args.get("commitment", "")
    form = _cco_form(project, parse_id(commitment))
    return render("change_events/commitment_co.html", "change_events/_selection_items.html",
                  **_selection_context(project, form))


@bp.post("/commitment-co")
@login_required
def create_cco(project_id: int):
    project = load_tool_project(project_id, ProjectRole.STANDARD)
    form = _cco_form(project)
    status = 422
    if form.validate_on_submit():
        commitment = db.session.get(Commitment, form.commitment_id.data)
        if commitment is None or commitment.project_id != project.id:
            form.commitment_id.errors = ["Choose a commitment of this project."]
        else:
            try:
                cco = create_commitment_co(current_user, commitment, form.line_ids.data or [])
            except WorkflowError as error:
                db.session.rollback()
                status = show_workflow_error(form, error)
            else:
                return redirect(url_for("commitments.show_cco", project_id=project.id,
                                        commitment_id=commitment.id, cco_id=cco.id), 303)
    from_ce = request.form.get("change_event_id", "")
    if parse_id(from_ce) is not None:  # asked from a change event's page: answer there
        ce = load_change_event(project_id, parse_id(from_ce))
        return render_template("change_events/show.html",
                               **_page_context(ce, cco_form=form,
                                               selected=set(form.line_ids.data or []))), status
    paged_at("change_events.commitment_co", project_id=project.id)
    return render_template("change_events/commitment_co.html",
                           **_selection_context(project, form)), status
