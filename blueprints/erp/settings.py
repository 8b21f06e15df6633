"""ERP Integrations → Settings: connect QuickBooks, import its lists, map ours to them.

Every change is one call to workflow/erp_settings.py."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from blueprints.erp import bp
from blueprints.fields import parse_id
from blueprints.rendering import is_htmx, render_partial
from extensions import db
from models import Category, CostCode, Project, Vendor
from quickbooks_online.errors import QboError
from workflow import erp_settings
from workflow.errors import InvalidInput
from workflow.permissions import is_erp_admin

STATE_KEY = "qbo_oauth_state"


def _require_admin() -> None:
    if not is_erp_admin(current_user):
        abort(403)


def _back():
    return redirect(url_for("erp.settings"), 303)


@bp.get("/settings")
@login_required
def settings():
    """The settings page; ``?map=<cost code id>-<category id>`` lists that pair too (a Send
    to ERP blocker links here, to the pair's own field, even when no SOV line uses it)."""
    _require_admin()
    cost_code_id, _, category_id = request.args.get("map", "").partition("-")
    pair = (parse_id(cost_code_id), parse_id(category_id))
    return _settings_page(mapping_choices={pair: None} if all(pair) else None)


def _settings_page(status: int = 200, mapping_errors: dict | None = None,
                   mapping_choices: dict | None = None):
    """The settings page; ``mapping_errors`` puts a message next to a mapping's field, keyed
    by (cost code id, category id), or "new" for the "map another" form."""
    return render_template(
        "erp/settings.html", tool="erp", **erp_settings.settings_overview(mapping_choices or {}),
        mapping_errors=mapping_errors or {}, mapping_choices=mapping_choices or {}), status


@bp.post("/settings/connect")
@login_required
def connect():
    _require_admin()
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = state
    try:
        return redirect(erp_settings.authorization_url(current_user, state), 303)
    except Exception as error:  # the discovery document could not be fetched
        flash(f"QuickBooks could not be reached: {error}", "error")
        return _back()


@bp.get("/settings/callback")
@login_required
def callback():
    _require_admin()
    expected = session.pop(STATE_KEY, None)
    if not expected or request.args.get("state") != expected:
        flash("That QuickBooks answer did not match a connection started here; nothing was "
              "changed. Press Connect to QuickBooks again.", "error")
        return _settings_page(400)
    if request.args.get("error"):
        flash("QuickBooks did not grant access; nothing was changed.", "error")
        return _back()
    code, realm_id = request.args.get("code"), request.args.get("realmId")
    if not code or not realm_id:
        flash("QuickBooks' answer was incomplete; nothing was changed.", "error")
        return _settings_page(400)
    try:
        connected = erp_settings.connect(current_user, code, realm_id)
    except QboError as error:
        flash(error.message, "error")
        return _back()
    connection = connected.connection
    flash(f"Connected to {connection.company_name} (company {connection.realm_id}).", "success")
    if connected.previous_realm:
        flash(f"This is a different QuickBooks company from before (company "
              f"{connected.previous_realm}), "
              "so the links of projects, vendors and cost codes and the AP account were "
              "cleared. Import the lists, then link them again before sending to ERP.",
              "warning")
    if connected.kept_links:
        count = connected.kept_links
        flash(f"{count} commitment{'s are' if count != 1 else ' is'} linked to a "
              f"PurchaseOrder of company {connected.previous_realm}: the link is kept as "
              "history and never read or written here. Unlink "
              f"{'each' if count != 1 else 'it'} (its ERP panel) to send it to this company.",
              "warning")
    return _back()


@bp.post("/settings/disconnect")
@login_required
def disconnect():
    _require_admin()
    if erp_settings.disconnect(current_user):
        flash("Disconnected from QuickBooks; the access was revoked.", "success")
    return _back()


@bp.post("/settings/import")
@login_required
def import_lists():
    _require_admin()
    try:
        counts = erp_settings.import_lists(current_user)
    except QboError as error:
        flash(f"Import failed: {error.message}", "error")
        return _back()
    flash("Imported from QuickBooks: " + ", ".join(f"{n} {k.lower()}s" for k, n in
                                                    counts.items()) + ".", "success")
    return _back()


def _apply(change, *args) -> None:
    try:
        change(current_user, *args)
    except InvalidInput as error:
        db.session.rollback()
        flash(" ".join(error.errors.values()), "error")
    except QboError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash("Saved.", "success")


@bp.post("/settings/ap-account")
@login_required
def ap_account():
    _require_admin()
    _apply(erp_settings.set_ap_account, request.form.get("ap_account_id") or None)
    return _back()


@bp.post("/settings/projects/<int:project_id>")
@login_required
def link_project(project_id: int):
    return _link(Project, project_id)


@bp.post("/settings/vendors/<int:vendor_id>")
@login_required
def link_vendor(vendor_id: int):
    return _link(Vendor, vendor_id)


def _link(model, record_id: int):
    _require_admin()
    _apply(erp_settings.link, db.get_or_404(model, record_id), request.form.get("qbo_id") or None)
    return _back()


@bp.post("/settings/cost-mappings")
@login_required
def map_cost():
    _require_admin()
    cost_code = db.session.get(CostCode, parse_id(request.form.get("cost_code_id")) or 0)
    category = db.session.get(Category, parse_id(request.form.get("category_id")) or 0)
    if cost_code is None or category is None:
        flash("Choose a cost code and a category.", "error")
        return _back()
    key = "new" if request.form.get("form") == "new" else (cost_code.id, category.id)
    try:
        erp_settings.map_cost(current_user, cost_code, category,
                              request.form.get("target") or None)
    except (InvalidInput, QboError) as error:
        db.session.rollback()
        message = (" ".join(error.errors.values()) if isinstance(error, InvalidInput)
                   else error.message)
        if is_htmx() and key != "new":
            return _mapping_row(cost_code, category, 422, error=message)
        return _settings_page(422, {key: message})
    if is_htmx() and key != "new":
        return _mapping_row(cost_code, category, saved=True)
    flash("Saved.", "success")
    return _back()


@bp.post("/settings/cost-mappings/all")
@login_required
def map_costs():
    """Every row of the mappings list saved at once; all or nothing, errors by their field."""
    _require_admin()
    choices: dict[tuple[int, int], str] = {}
    for name, value in request.form.items():
        if name.startswith("target-"):
            parts = name.split("-")
            ids = [parse_id(p) for p in parts[1:]]
            if len(ids) == 2 and all(ids):
                choices[(ids[0], ids[1])] = value
    try:
        saved = erp_settings.map_costs(current_user, choices)
    except InvalidInput as error:
        db.session.rollback()
        return _settings_page(422, error.errors, choices)
    flash(f"Saved {saved} mapping{'s' if saved != 1 else ''}.", "success")
    return _back()


def _mapping_row(cost_code: CostCode, category: Category, status: int = 200, **extra):
    """One mapping's form again (htmx): with the message next to its field, or "Saved"."""
    return render_partial("erp/_mapping_form.html", status=status, cost_code=cost_code,
                          category=category, mapping=erp_settings.cost_mapping(cost_code, category),
                          lists=erp_settings.imported_lists(),
                          expense_types=erp_settings.EXPENSE_ACCOUNT_TYPES, **extra)
