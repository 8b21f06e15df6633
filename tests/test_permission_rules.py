"""Who may do what, checked where the rules live: every workflow action, called as every
role of the cast, is refused (``PermissionDenied``) exactly for the roles the table says.

Each call runs in a SAVEPOINT rolled back after it, so every role meets the same records.
Anything but ``PermissionDenied`` (success, a validation error, a locked record, QuickBooks not
connected) means the permission check let the role through. The HTTP side — that each route
asks the workflow and answers a refusal with the 403 page — is ``tests/test_permissions.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from extensions import db
from models import (
    Category,
    ChangeEvent,
    ChangeEventLine,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentType,
    CostCode,
    ErpPermission,
    ErpStatus,
    Project,
    ProjectRole,
    SovLine,
    User,
    Vendor,
)
from tests.test_permissions import (
    CAST_ROLES,
    EDITORS,
    ERP,
    PROJECT_ADMINS,
    _ids,
)
from workflow import (
    change_events,
    change_orders,
    commitments,
    erp,
    erp_settings,
    notifications,
    people,
    reference,
)
from workflow.errors import AlreadyHandled, Locked, PermissionDenied

ADMIN = ("company_admin",)
ANYONE = CAST_ROLES  # every logged-in role


def _get(model, key):
    return lambda ids: db.session.get(model, ids[key])


project, vendor, commitment = _get(Project, "project"), _get(Vendor, "vendor"), _get(
    Commitment, "commitment")
ready, failed, synced = _get(Commitment, "ready"), _get(Commitment, "failed"), _get(
    Commitment, "synced")
cco, ready_cco, failed_cco, approved_cco = (_get(ChangeOrder, k) for k in (
    "cco", "ready_cco", "failed_cco", "approved_cco"))
sov, spare_sov, cco_line = _get(SovLine, "sov"), _get(SovLine, "spare_sov"), _get(
    ChangeOrderLine, "cco_line")
ce, ce_line, spare_ce_line = _get(ChangeEvent, "change_event"), _get(
    ChangeEventLine, "ce_line"), _get(ChangeEventLine, "spare_ce_line")


def _sov(ids, description="Added"):
    return commitments.SovInput(description=description, cost_code_id=ids["cost_code"],
                                category_id=ids["category"], amount=Decimal("10.00"))


def _item(ids, description="Added"):
    return change_events.LineItemInput(cost_code_id=ids["cost_code"],
                                       category_id=ids["category"], description=description,
                                       cost_rom=Decimal("10.00"))


def _commitment(ids, number):
    return commitments.CommitmentInput(type=CommitmentType.SUBCONTRACT, number=number,
                                       title=number, vendor_id=ids["vendor"])


# (action, the roles it allows, the call as ``user`` on the records of ``ids``)
ACTIONS = [
    ("people.create_user", ADMIN, lambda u, i: people.create_user(
        u, people.UserSettings(email="new@example.com", name="New Person"))),
    ("people.update_user", ADMIN, lambda u, i: people.update_user(
        u, db.session.get(User, i["standard"]), people.UserSettings(
            email="renamed@example.com", name="Renamed",
            erp_permission=ErpPermission.READ_ONLY))),
    ("people.issue_reset_link", ADMIN, lambda u, i: people.issue_reset_link(
        u, db.session.get(User, i["standard"]))),
    ("people.set_user_active (deactivate)", ADMIN, lambda u, i: people.set_user_active(
        u, db.session.get(User, i["standard"]), False)),
    ("people.set_user_active (reactivate)", ADMIN, lambda u, i: people.set_user_active(
        u, db.session.get(User, i["inactive"]), True)),
    ("reference.save_reference (new vendor)", ADMIN, lambda u, i: reference.save_reference(
        u, Vendor, None, {"name": "Fresh Vendor"})),
    ("reference.save_reference (vendor)", ADMIN, lambda u, i: reference.save_reference(
        u, Vendor, vendor(i), {"name": "Renamed Vendor", "active": True})),
    ("reference.set_member", ADMIN, lambda u, i: reference.set_member(
        u, project(i), db.session.get(User, i["outsider"]), ProjectRole.STANDARD)),
    ("reference.remove_member", ADMIN, lambda u, i: reference.remove_member(
        u, project(i), db.session.get(User, i["standard"]))),
    ("commitments.create_commitment", EDITORS, lambda u, i: commitments.create_commitment(
        u, project(i), _commitment(i, "SC-NEW"))),
    ("commitments.update_commitment", EDITORS, lambda u, i: commitments.update_commitment(
        u, commitment(i), _commitment(i, "SC-RENAMED"), i["commitment_version"])),
    ("commitments.add_sov_line", EDITORS, lambda u, i: commitments.add_sov_line(
        u, commitment(i), _sov(i))),
    ("commitments.update_sov_line", EDITORS, lambda u, i: commitments.update_sov_line(
        u, sov(i), _sov(i, "Edited"), i["sov_version"])),
    ("commitments.delete_sov_line", EDITORS, lambda u, i: commitments.delete_sov_line(
        u, spare_sov(i), i["spare_sov_version"])),
    ("change_orders.create_change_order", EDITORS,
     lambda u, i: change_orders.create_change_order(
         u, commitment(i), change_orders.ChangeOrderInput(title="New CCO"))),
    ("change_orders.update_change_order", EDITORS,
     lambda u, i: change_orders.update_change_order(
         u, cco(i), change_orders.ChangeOrderInput(
             title="Renamed CCO", status=ChangeOrderStatus.PENDING_IN_REVIEW,
             designated_reviewer_id=i["project_admin"]), i["cco_version"])),
    ("change_orders.add_line", EDITORS, lambda u, i: change_orders.add_line(
        u, cco(i), change_orders.LineInput(sov_line_id=i["sov"], description="More",
                                           amount=Decimal("5.00")))),
    ("change_orders.update_line", EDITORS, lambda u, i: change_orders.update_line(
        u, cco_line(i), change_orders.LineInput(sov_line_id=i["sov"], description="Changed",
                                                amount=Decimal("7.00")),
        i["cco_line_version"])),
    ("change_orders.delete_line", EDITORS, lambda u, i: change_orders.delete_line(
        u, cco_line(i), i["cco_line_version"])),
    # Only the designated reviewer (the project admin) approves or rejects.
    ("change_orders.review", ("project_admin",), lambda u, i: change_orders.review(
        u, cco(i), approve=True, comment="OK", version=i["cco_version"])),
    ("erp.send_to_erp (commitment)", PROJECT_ADMINS, lambda u, i: erp.send_to_erp(
        u, commitment(i))),
    ("erp.retrieve_from_erp (commitment)", PROJECT_ADMINS, lambda u, i: erp.retrieve_from_erp(
        u, ready(i))),
    ("erp.send_to_erp (CCO)", PROJECT_ADMINS, lambda u, i: erp.send_to_erp(
        u, approved_cco(i))),
    ("erp.retrieve_from_erp (CCO)", PROJECT_ADMINS, lambda u, i: erp.retrieve_from_erp(
        u, ready_cco(i))),
    ("erp.accept (commitment)", ERP, lambda u, i: erp.accept(u, ready(i))),
    ("erp.accept (CCO)", ERP, lambda u, i: erp.accept(u, ready_cco(i))),
    ("erp.reject (commitment)", ERP, lambda u, i: erp.reject(u, ready(i), "Wrong cost code")),
    ("erp.reject (CCO)", ERP, lambda u, i: erp.reject(u, ready_cco(i), "Wrong cost code")),
    ("erp.retry_export (commitment)", ERP, lambda u, i: erp.retry_export(u, failed(i))),
    ("erp.retry_export (CCO)", ERP, lambda u, i: erp.retry_export(u, failed_cco(i))),
    ("erp_settings.authorization_url", ERP, lambda u, i: erp_settings.authorization_url(
        u, "state")),
    ("erp_settings.disconnect", ERP, lambda u, i: erp_settings.disconnect(u)),
    ("erp_settings.import_lists", ERP, lambda u, i: erp_settings.import_lists(u)),
    ("erp_settings.set_ap_account", ERP, lambda u, i: erp_settings.set_ap_account(u, None)),
    ("erp_settings.link (project)", ERP, lambda u, i: erp_settings.link(u, project(i), "4")),
    ("erp_settings.link (vendor)", ERP, lambda u, i: erp_settings.link(u, vendor(i), "57")),
    ("erp_settings.map_cost", ERP, lambda u, i: erp_settings.map_cost(
        u, db.session.get(CostCode, i["cost_code"]), db.session.get(Category, i["category"]),
        None)),
    ("erp_settings.map_costs", ERP, lambda u, i: erp_settings.map_costs(u, {})),
    ("change_events.set_tool_enabled", PROJECT_ADMINS,
     lambda u, i: change_events.set_tool_enabled(u, project(i), False)),
    ("change_events.create_change_event", EDITORS,
     lambda u, i: change_events.create_change_event(
         u, project(i), change_events.ChangeEventInput(title="New CE"))),
    ("change_events.update_change_event", EDITORS,
     lambda u, i: change_events.update_change_event(
         u, ce(i), change_events.ChangeEventInput(title="Renamed CE"),
         i["change_event_version"])),
    ("change_events.add_line_item", EDITORS, lambda u, i: change_events.add_line_item(
        u, ce(i), _item(i))),
    ("change_events.update_line_item", EDITORS, lambda u, i: change_events.update_line_item(
        u, ce_line(i), _item(i, "Edited"), i["ce_line_version"])),
    ("change_events.delete_line_item", EDITORS, lambda u, i: change_events.delete_line_item(
        u, spare_ce_line(i), i["spare_ce_line_version"])),
    ("change_events.create_commitment_co", EDITORS,
     lambda u, i: change_events.create_commitment_co(u, commitment(i), [i["ce_line"]])),
    ("notifications.set_preferences", ANYONE, lambda u, i: notifications.set_preferences(
        u, set())),
]


def _permitted(call, user_id: int, ids: dict) -> bool:
    """Call the action as the user in a SAVEPOINT rolled back afterwards: False when the
    workflow refused it (PermissionDenied), True for anything else."""
    db.session.remove()
    connection = db.session.get_bind()  # the test's connection, no session transaction yet
    savepoint = connection.begin_nested()
    try:
        call(db.session.get(User, user_id), ids)
    except PermissionDenied:
        return False
    except Exception:  # past the permission check: refused for another reason
        return True
    finally:
        db.session.remove()
        savepoint.rollback()
    return True


@pytest.mark.parametrize("role", CAST_ROLES)
def test_every_action_allows_exactly_its_roles(app, factory, role):
    cast = factory.cast()
    ids = _ids(cast, factory)
    user_id = cast.by_role(role).id
    db.session.commit()
    wrong = [f"{name}: {'allowed' if allowed else 'refused'}"
             for name, roles, call in ACTIONS
             if (allowed := _permitted(call, user_id, ids)) != (role in roles)]
    assert wrong == [], f"{role}: the workflow decides otherwise than the table"


def test_the_table_names_every_workflow_action():
    """A new workflow function taking an ``actor`` joins the table (or says why not). Not
    here: ``history`` (it writes what the actions did) and ``notices.dismiss`` (only the
    notice's own user, in its WHERE clause: ``tests/test_notifications.py``)."""
    import importlib
    import inspect

    listed = {name.split(" ")[0] for name, _, _ in ACTIONS}
    found = set()
    for module_name in ("change_events", "change_orders", "commitments", "erp", "erp_settings",
                        "people", "notifications", "reference"):
        module = importlib.import_module(f"workflow.{module_name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(function).parameters)
            if (function.__module__ == module.__name__ and not name.startswith("_")
                    and params[:1] == ["actor"]):
                found.add(f"{module_name}.{name}")
    assert found - listed <= UNLISTED, sorted(found - listed - UNLISTED)


# Functions taking an actor that are not a permission rule of their own.
UNLISTED = {
    "erp_settings.require_erp_admin",  # the rule itself, used by every settings action
    "erp_settings.connect",  # the OAuth callback: the route checks the signed state first
    "change_orders.unvoid_conflict",  # a question, not an action
}


# ---- the ERP state rules, as a table -----------------------------------------------------------
# What each ERP status lets happen to a CCO (docs/lifecycle.md), asked of the workflow by someone
# who holds every right (the company admin: project admin, approver and ERP admin): a state rule
# refuses with AlreadyHandled or Locked; anything else means the rule let it through.

S = ErpStatus
STATE_ACTIONS = [
    ("can_edit", {S.NOT_SENT, S.REJECTED},
     lambda u, c, i: change_orders.can_edit(u, c) or _refuse()),
    ("update_change_order", {S.NOT_SENT, S.REJECTED},
     lambda u, c, i: change_orders.update_change_order(
         u, c, change_orders.ChangeOrderInput(title="Renamed", status=ChangeOrderStatus.APPROVED,
                                              executed=True), c.version)),
    ("add_line", {S.NOT_SENT, S.REJECTED}, lambda u, c, i: change_orders.add_line(
        u, c, change_orders.LineInput(sov_line_id=i["sov"], description="More",
                                      amount=Decimal("5.00")))),
    # (Sending is then stopped by what is not mapped yet: Locked, after the state rule.)
    ("send_to_erp", {S.NOT_SENT, S.REJECTED}, lambda u, c, i: erp.send_to_erp(u, c)),
    ("retrieve_from_erp", {S.READY_TO_EXPORT}, lambda u, c, i: erp.retrieve_from_erp(u, c)),
    ("accept", {S.READY_TO_EXPORT}, lambda u, c, i: erp.accept(u, c)),
    ("reject", {S.READY_TO_EXPORT, S.FAILED_TO_EXPORT},
     lambda u, c, i: erp.reject(u, c, "Wrong cost code")),
    ("retry_export", {S.FAILED_TO_EXPORT}, lambda u, c, i: erp.retry_export(u, c)),
]


def _refuse():
    raise Locked("the predicate says no")


def _goes_through(name: str, call, user_id: int, cco_id: int, ids: dict) -> bool:
    refusals = (AlreadyHandled, PermissionDenied) if name == "send_to_erp" else (
        AlreadyHandled, Locked, PermissionDenied)
    db.session.remove()
    savepoint = db.session.get_bind().begin_nested()
    try:
        call(db.session.get(User, user_id), db.session.get(ChangeOrder, cco_id), ids)
    except refusals:
        return False
    except Exception:  # past the state rule (QuickBooks not connected, a blocker...)
        return True
    finally:
        db.session.remove()
        savepoint.rollback()
    return True


@pytest.mark.parametrize("status", list(ErpStatus), ids=lambda s: s.value)
def test_each_erp_status_allows_exactly_its_actions(app, factory, status):
    cast = factory.cast()
    ids = _ids(cast, factory)
    cco = db.session.get(ChangeOrder, ids["approved_cco"])
    cco.erp_status = status
    db.session.commit()
    wrong = [f"{name}: {'goes through' if done else 'refused'}"
             for name, statuses, call in STATE_ACTIONS
             if (done := _goes_through(name, call, cast.company_admin.id, cco.id, ids))
             != (status in statuses)]
    assert wrong == [], f"a {status.label} CCO: the workflow decides otherwise than the table"
