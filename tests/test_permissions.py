"""Who may see each page and who may press each button, over HTTP.

Every state-changing route is listed in ``STATE_CHANGING_ROUTES`` with the roles allowed to use
it; ``test_every_state_changing_route_is_in_the_matrix`` makes new routes join the matrix.

The rules themselves are checked for every (role x action) where they live, in the workflow
(``tests/test_permission_rules.py``). Here each route and page is asked by the two roles on
either side of its rule: the strongest role it refuses (the 403 page, nothing changed) and the
weakest it allows (the route reaches the workflow and changes something); and every one of them
by an anonymous visitor (sent to log in, nothing changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from extensions import db
from models import (
    CostMapping,
    ErpStatus,
    Export,
    ExportStatus,
    Notice,
    Project,
    QboPurchaseOrderState,
    User,
)
from tests import qbo_helpers
from tests.conftest import PASSWORD, Seed, fingerprint, seed_once, start_from
from tests.factories import Cast, Factory

ROLES = ("anonymous", "outsider", "read_only", "standard", "project_admin", "company_admin")
AUTHENTICATED = ROLES[1:]


@dataclass(frozen=True)
class Route:
    rule: str
    url: str  # with {project}, {user}, {vendor} … filled from the cast
    allowed: tuple[str, ...]
    data: dict = field(default_factory=dict)
    needs_qbo: bool = False  # connect to the sandbox and map the commitments first
    changes_db: bool = True  # False: the allowed answer changes the session only (a redirect)


COMMITMENTS = "/projects/<int:project_id>/commitments"
CCO = f"{COMMITMENTS}/<int:commitment_id>/change-orders/<int:cco_id>"
CE = "/projects/<int:project_id>/change-events"
EDITORS = ("standard", "project_admin", "company_admin")
PROJECT_ADMINS = ("project_admin", "company_admin")
ERP = ("company_admin",)
MEMBERS = ("read_only", "standard", "project_admin", "company_admin")
ERP_SUBJECT = "/erp/<kind>/<int:subject_id>"  # kind: a registered ERP kind's slug

STATE_CHANGING_ROUTES = [
    Route("/auth/logout", "/auth/logout", AUTHENTICATED),
    # The System page's buttons: a company admin's test of QuickBooks (a read) and of email.
    Route("/system/test-quickbooks", "/system/test-quickbooks", ("company_admin",),
          needs_qbo=True, changes_db=False),
    Route("/system/test-email", "/system/test-email", ("company_admin",)),
    Route("/admin/users", "/admin/users", ("company_admin",),
          {"email": "new@example.com", "name": "New Person", "erp_permission": "none"}),
    Route("/admin/users/<int:user_id>", "/admin/users/{standard}", ("company_admin",),
          {"email": "renamed@example.com", "name": "Renamed", "erp_permission": "read_only",
           "active": "y"}),
    Route("/admin/users/<int:user_id>/reset-link", "/admin/users/{standard}/reset-link",
          ("company_admin",)),
    # Anyone holding a password link may use it (logged in or not); it proves the person.
    Route("/auth/reset/<token>", "/auth/reset/{reset_token}", ROLES,
          {"password": "new-password-1", "confirm": "new-password-1"}),
    Route("/admin/users/<int:user_id>/deactivate", "/admin/users/{standard}/deactivate",
          ("company_admin",)),
    Route("/admin/users/<int:user_id>/reactivate", "/admin/users/{inactive}/reactivate",
          ("company_admin",)),
    Route("/admin/<slug>", "/admin/vendors", ("company_admin",), {"name": "Fresh Vendor"}),
    Route("/admin/<slug>/<int:record_id>", "/admin/vendors/{vendor}", ("company_admin",),
          {"name": "Renamed Vendor", "active": "y"}),
    Route("/admin/projects/<int:project_id>/members", "/admin/projects/{project}/members",
          ("company_admin",), {"user_id": "{outsider}", "role": "standard"}),
    Route("/admin/projects/<int:project_id>/members/<int:user_id>/remove",
          "/admin/projects/{project}/members/{standard}/remove", ("company_admin",)),
    # Commitments tool: standard members and up write; read-only members and outsiders do not.
    Route(f"{COMMITMENTS}/", "/projects/{project}/commitments/", EDITORS,
          {"type": "subcontract", "number": "SC-NEW", "title": "New", "vendor_id": "{vendor}",
           "status": "draft"}),
    Route(f"{COMMITMENTS}/<int:commitment_id>", "/projects/{project}/commitments/{commitment}",
          EDITORS,
          {"type": "subcontract", "number": "SC-RENAMED", "title": "Renamed",
           "vendor_id": "{vendor}", "status": "approved", "version": "{commitment_version}"}),
    Route(f"{COMMITMENTS}/<int:commitment_id>/sov",
          "/projects/{project}/commitments/{commitment}/sov", EDITORS,
          {"description": "Added", "cost_code_id": "{cost_code}", "category_id": "{category}",
           "amount": "10.00"}),
    Route(f"{COMMITMENTS}/<int:commitment_id>/sov/<int:line_id>",
          "/projects/{project}/commitments/{commitment}/sov/{sov}", EDITORS,
          {"description": "Edited", "cost_code_id": "{cost_code}", "category_id": "{category}",
           "amount": "12.00", "version": "{sov_version}"}),
    Route(f"{COMMITMENTS}/<int:commitment_id>/sov/<int:line_id>/delete",
          "/projects/{project}/commitments/{commitment}/sov/{spare_sov}/delete", EDITORS,
          {"version": "{spare_sov_version}"}),
    Route(f"{COMMITMENTS}/<int:commitment_id>/change-orders",
          "/projects/{project}/commitments/{commitment}/change-orders", EDITORS,
          {"title": "New CCO", "status": "draft"}),
    Route(f"{CCO}", "/projects/{project}/commitments/{commitment}/change-orders/{cco}", EDITORS,
          {"title": "Renamed CCO", "status": "pending_in_review",
           "designated_reviewer_id": "{project_admin}", "version": "{cco_version}"}),
    Route(f"{CCO}/lines", "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines",
          EDITORS, {"sov_line_id": "{sov}", "description": "More", "amount": "5.00"}),
    Route(f"{CCO}/lines/<int:line_id>",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines/{cco_line}",
          EDITORS, {"sov_line_id": "{sov}", "description": "Changed", "amount": "7.00",
                    "version": "{cco_line_version}"}),
    Route(f"{CCO}/lines/<int:line_id>/delete",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines/{cco_line}"
          "/delete", EDITORS, {"version": "{cco_line_version}"}),
    # ERP: project admins send and retrieve; approvers accept and reject; ERP admins retry
    # and keep the settings (in the cast only the company admin holds ERP rights).
    Route(f"{COMMITMENTS}/<int:commitment_id>/erp/send",
          "/projects/{project}/commitments/{commitment}/erp/send", PROJECT_ADMINS,
          needs_qbo=True),
    Route(f"{COMMITMENTS}/<int:commitment_id>/erp/retrieve",
          "/projects/{project}/commitments/{ready}/erp/retrieve", PROJECT_ADMINS,
          needs_qbo=True),
    Route(f"{CCO}/erp/send",
          "/projects/{project}/commitments/{synced}/change-orders/{approved_cco}/erp/send",
          PROJECT_ADMINS, needs_qbo=True),
    Route(f"{CCO}/erp/retrieve",
          "/projects/{project}/commitments/{synced}/change-orders/{ready_cco}/erp/retrieve",
          PROJECT_ADMINS, needs_qbo=True),
    Route(ERP_SUBJECT + "/send", "/erp/commitments/{commitment}/send", PROJECT_ADMINS,
          needs_qbo=True),
    Route(ERP_SUBJECT + "/retrieve", "/erp/commitments/{ready}/retrieve", PROJECT_ADMINS,
          needs_qbo=True),
    Route(ERP_SUBJECT + "/send", "/erp/change-orders/{approved_cco}/send", PROJECT_ADMINS,
          needs_qbo=True),
    Route(ERP_SUBJECT + "/retrieve", "/erp/change-orders/{ready_cco}/retrieve",
          PROJECT_ADMINS, needs_qbo=True),
    Route(ERP_SUBJECT + "/accept", "/erp/commitments/{ready}/accept", ERP, needs_qbo=True),
    Route(ERP_SUBJECT + "/accept", "/erp/change-orders/{ready_cco}/accept", ERP,
          needs_qbo=True),
    Route(ERP_SUBJECT + "/reject", "/erp/commitments/{ready}/reject", ERP,
          {"comment": "Wrong cost code"}, needs_qbo=True),
    Route(ERP_SUBJECT + "/reject", "/erp/change-orders/{ready_cco}/reject", ERP,
          {"comment": "Wrong cost code"}, needs_qbo=True),
    Route(ERP_SUBJECT + "/retry", "/erp/commitments/{failed}/retry", ERP, needs_qbo=True),
    Route(ERP_SUBJECT + "/retry", "/erp/change-orders/{failed_cco}/retry", ERP,
          needs_qbo=True),
    # What changed in QuickBooks: ERP admins acknowledge it or restore our lines.
    Route(f"{COMMITMENTS}/<int:commitment_id>/erp/quickbooks-changes/acknowledge",
          "/projects/{project}/commitments/{synced}/erp/quickbooks-changes/acknowledge", ERP),
    Route(f"{COMMITMENTS}/<int:commitment_id>/erp/quickbooks-changes/restore",
          "/projects/{project}/commitments/{synced}/erp/quickbooks-changes/restore", ERP),
    Route("/erp/accept-selected", "/erp/accept-selected", ERP,
          {"selected": "commitments:{ready}", "confirm": "yes"}, needs_qbo=True),
    # Starting from real books: ERP admins link and import; ERP admins with Can Push unlink.
    Route("/erp/books/commitments/<int:commitment_id>/link",
          "/erp/books/commitments/{commitment}/link", ERP, {"po": "{po}", "line-{sov}": ""},
          needs_qbo=True),
    Route("/erp/books/commitments/<int:commitment_id>/unlink",
          "/erp/books/commitments/{synced}/unlink", ERP, {"reason": "PO deleted"}),
    Route("/erp/books/change-orders/<int:cco_id>/unlink",
          "/erp/books/change-orders/{synced_cco}/unlink", ERP, {"reason": "Wrong amount"}),
    Route("/erp/books/import", "/erp/books/import", ERP, {"project": "{project}", "po": "{po}"},
          needs_qbo=True),
    # Dismissing a notice: anyone logged in, their own notices only (the cast's notice belongs
    # to someone else, so nothing changes for the others either).
    Route("/notices/<int:notice_id>/dismiss", "/notices/{notice}/dismiss",
          ("read_only", "standard", "project_admin", "company_admin", "outsider"),
          changes_db=False),
    Route("/erp/settings/connect", "/erp/settings/connect", ERP, changes_db=False),
    Route("/erp/settings/disconnect", "/erp/settings/disconnect", ERP, needs_qbo=True),
    Route("/erp/settings/import", "/erp/settings/import", ERP, needs_qbo=True),
    Route("/erp/settings/ap-account", "/erp/settings/ap-account", ERP,
          {"ap_account_id": ""}, needs_qbo=True),
    Route("/erp/settings/projects/<int:project_id>", "/erp/settings/projects/{project}", ERP,
          {"qbo_id": "4"}, needs_qbo=True),
    Route("/erp/settings/vendors/<int:vendor_id>", "/erp/settings/vendors/{vendor}", ERP,
          {"qbo_id": "57"}, needs_qbo=True),
    Route("/erp/settings/cost-mappings", "/erp/settings/cost-mappings", ERP,
          {"cost_code_id": "{cost_code}", "category_id": "{category}", "target": "Item:12"},
          needs_qbo=True),
    Route("/erp/settings/cost-mappings/all", "/erp/settings/cost-mappings/all", ERP,
          {"target-{cost_code}-{category}": ""}, needs_qbo=True),
    # Only the designated reviewer (here the project admin) approves or rejects.
    Route(f"{CCO}/review",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/review",
          ("project_admin",), {"decision": "approve", "comment": "OK",
                               "version": "{cco_version}"}),
    # Change Events tool: standard members and up write; project admins switch it on or off.
    Route(f"{CE}/", "/projects/{project}/change-events/", EDITORS,
          {"title": "New CE", "status": "open", "scope": "tbd", "type": "tbd"}),
    Route(f"{CE}/<int:ce_id>", "/projects/{project}/change-events/{change_event}", EDITORS,
          {"title": "Renamed CE", "status": "pending", "scope": "out_of_scope",
           "type": "owner_change", "change_reason": "Owner Change",
           "version": "{change_event_version}"}),
    Route(f"{CE}/<int:ce_id>/lines", "/projects/{project}/change-events/{change_event}/lines",
          EDITORS, {"description": "Added", "cost_code_id": "{cost_code}",
                    "category_id": "{category}", "cost_rom": "10.00"}),
    Route(f"{CE}/<int:ce_id>/lines/<int:line_id>",
          "/projects/{project}/change-events/{change_event}/lines/{ce_line}", EDITORS,
          {"description": "Edited", "cost_code_id": "{cost_code}", "category_id": "{category}",
           "cost_rom": "12.00", "latest_cost": "15.00", "version": "{ce_line_version}"}),
    Route(f"{CE}/<int:ce_id>/lines/<int:line_id>/delete",
          "/projects/{project}/change-events/{change_event}/lines/{spare_ce_line}/delete",
          EDITORS, {"version": "{spare_ce_line_version}"}),
    Route(f"{CE}/commitment-co", "/projects/{project}/change-events/commitment-co", EDITORS,
          {"commitment_id": "{commitment}", "line_ids": "{ce_line}"}),
    Route(f"{CE}/settings", "/projects/{project}/change-events/settings",
          ("project_admin", "company_admin"), {}),
    # Email notifications: everyone logged in sets their own (nothing checked: all off).
    Route("/account/notifications", "/account/notifications", AUTHENTICATED, {}),
]

PAGES = [
    ("/", AUTHENTICATED),
    ("/projects/{project}/", ("read_only", "standard", "project_admin", "company_admin")),
    ("/projects/{project}/commitments/", MEMBERS),
    ("/projects/{project}/commitments/?type=subcontract&status=approved", MEMBERS),
    ("/projects/{project}/commitments/new", EDITORS),
    ("/projects/{project}/commitments/{commitment}", MEMBERS),
    ("/projects/{project}/commitments/{commitment}/edit", EDITORS),
    ("/projects/{project}/commitments/{commitment}/sov/{sov}?edit=1", EDITORS),
    ("/projects/{project}/commitments/{commitment}/change-orders/new", EDITORS),
    ("/projects/{project}/commitments/{commitment}/change-orders/{cco}", MEMBERS),
    ("/projects/{project}/commitments/{commitment}/change-orders/{cco}/header?edit=1", EDITORS),
    ("/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines/{cco_line}?edit=1",
     EDITORS),
    ("/projects/{project}/change-events/", MEMBERS),
    ("/projects/{project}/change-events/?status=open&scope=tbd&vendor={vendor}", MEMBERS),
    ("/projects/{project}/change-events/new", EDITORS),
    ("/projects/{project}/change-events/{change_event}", MEMBERS),
    ("/projects/{project}/change-events/{change_event}/header?edit=1", EDITORS),
    ("/projects/{project}/change-events/{change_event}/lines/{ce_line}?edit=1", EDITORS),
    ("/projects/{project}/change-events/commitment-co", EDITORS),
    ("/projects/{project}/change-events/commitment-co?vendor={vendor}&commitment={commitment}",
     EDITORS),
    ("/erp/?tab=synced", ERP),
    ("/erp/quickbooks-changes", ERP),
    ("/erp/commitments/{ready}/card", ERP),
    ("/erp/change-orders/{ready_cco}/card", ERP),
    ("/erp/settings", ERP),
    ("/erp/books/import", ERP),
    ("/erp/books/import?project={project}", ERP),
    ("/erp/books/commitments/{commitment}/link", ERP),
    ("/erp/", ("company_admin",)),
    ("/admin/", ("company_admin",)),
    ("/system/", ("company_admin",)),
    ("/admin/users", ("company_admin",)),
    ("/admin/users/{standard}", ("company_admin",)),
    ("/admin/vendors", ("company_admin",)),
    ("/admin/projects", ("company_admin",)),
    ("/admin/cost-codes", ("company_admin",)),
    ("/admin/categories", ("company_admin",)),
    ("/admin/vendors/{vendor}?edit=1", ("company_admin",)),
    ("/admin/projects/{project}/members", ("company_admin",)),
]


def _ids(people, factory, qbo: bool = False, sandbox=None) -> dict[str, int]:
    inactive = factory.user(name="Inactive", active=False)
    vendor = factory.vendor()
    commitment = factory.commitment(people.project, vendor=vendor, sov=("1000.00", "500.00"))
    sov, spare_sov = commitment.sov_lines
    cco = factory.change_order(commitment, status="pending_in_review",
                               reviewer=people.project_admin, lines=((sov, "100.00"),))
    ready = factory.commitment(people.project, vendor=vendor, sov=("750.00",))
    failed = factory.commitment(people.project, vendor=vendor, sov=("250.00",))
    ready.erp_status, failed.erp_status = ErpStatus.READY_TO_EXPORT, ErpStatus.FAILED_TO_EXPORT
    db.session.add(Export(subject_type="commitment", commitment_id=failed.id,
                          idempotency_key=f"matrix-{failed.id}", status=ExportStatus.FAILED))
    synced = factory.commitment(people.project, vendor=vendor, sov=("900.00",))
    synced.erp_status, synced.qbo_purchase_order_id = ErpStatus.SYNCED, "9999"
    approved_cco, ready_cco, failed_cco, synced_cco = (
        factory.change_order(synced, status="approved", lines=((synced.sov_lines[0], amount),))
        for amount in ("10.00", "20.00", "30.00", "40.00"))
    synced_cco.erp_status = ErpStatus.SYNCED
    ready_cco.erp_status, failed_cco.erp_status = (ErpStatus.READY_TO_EXPORT,
                                                   ErpStatus.FAILED_TO_EXPORT)
    db.session.add(Export(subject_type="change_order", commitment_id=synced.id,
                          change_order_id=failed_cco.id, idempotency_key=f"matrix-cco-{failed.id}",
                          status=ExportStatus.FAILED))
    notice = Notice(user_id=inactive.id, message="Accounting rejected CCO #001.")
    db.session.add(notice)
    # QuickBooks' change data capture saw a line added to the synced commitment's PO
    db.session.add(QboPurchaseOrderState(
        commitment_id=synced.id, purchase_order_id="9999", sync_token="7", doc_number=None,
        lines='[{"id": "5", "description": "Freight", "amount": "350.00"}]', differs=True))
    db.session.commit()
    po = "0"
    if qbo:
        qbo_helpers.connect(people.company_admin)
        for record in (commitment, ready, failed, synced):
            qbo_helpers.map_for(record)
        # A purchase order the bookkeeper entered before the app (to link or import).
        po = sandbox.add_purchase_order(qbo_helpers.DEMO_REALM, "56", [{
            "DetailType": "AccountBasedExpenseLineDetail", "Amount": 120.0,
            "Description": "Existing work",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"},
                                              "CustomerRef": {"value": "2"}}}],
            doc_number="EXISTING-1")["Id"]
        db.session.add(CostMapping(cost_code=factory.cost_code(),
                                   category=factory.category("Subcontract"),
                                   qbo_account_id="80", qbo_name="Job Materials"))
        db.session.commit()
    return {
        "po": po,
        "synced_cco": synced_cco.id,
        "synced": synced.id,
        "approved_cco": approved_cco.id,
        "ready_cco": ready_cco.id,
        "failed_cco": failed_cco.id,
        "notice": notice.id,
        "ready": ready.id,
        "failed": failed.id,
        "project": people.project.id,
        "standard": people.standard.id,
        "project_admin": people.project_admin.id,
        "outsider": people.outsider.id,
        "inactive": inactive.id,
        "reset_token": _reset_token(people.outsider),
        "vendor": vendor.id,
        "cost_code": sov.cost_code_id,
        "category": sov.category_id,
        "commitment": commitment.id,
        "sov": sov.id,
        "spare_sov": spare_sov.id,
        "cco": cco.id,
        "cco_line": cco.lines[0].id,
        "commitment_version": commitment.version,
        "sov_version": sov.version,
        "spare_sov_version": spare_sov.version,
        "cco_version": cco.version,
        "cco_line_version": cco.lines[0].version,
        **_change_event_ids(people, factory, commitment),
    }


def _reset_token(user) -> str:
    from datetime import timedelta

    token = user.new_reset_token(timedelta(hours=1))
    db.session.commit()
    return token


def _change_event_ids(people, factory, commitment) -> dict[str, int]:
    """A change event with an item for the commitment's vendor and a spare one to delete."""
    ce = factory.change_event(people.project)
    item = factory.change_event_line(ce, commitment=commitment, cost_rom="250.00")
    spare = factory.change_event_line(ce, cost_rom="50.00")
    return {"change_event": ce.id, "ce_line": item.id, "spare_ce_line": spare.id,
            "change_event_version": ce.version, "ce_line_version": item.version,
            "spare_ce_line_version": spare.version}


CAST_ROLES = ("read_only", "standard", "project_admin", "company_admin", "outsider")


def seed_matrix(database_template, sandbox_server, directory) -> dict[bool, Seed]:
    """The cast and ``_ids``'s records, seeded once without and once with the QuickBooks
    connection (``Route.needs_qbo``); each case goes back to one with ``matrix_start``."""

    def seed(qbo: bool):
        people = Factory(password=PASSWORD).cast()
        ids = _ids(people, Factory(password=PASSWORD), qbo=qbo, sandbox=sandbox_server.sandbox)
        cast = {"project": people.project.id,
                **{role: getattr(people, role).id for role in CAST_ROLES}}
        return cast, ids

    return {qbo: seed_once(database_template, sandbox_server, directory / f"qbo-{qbo}",
                           lambda qbo=qbo: seed(qbo))
            for qbo in (False, True)}


def matrix_start(seed: Seed, sandbox_server) -> tuple[Cast, dict]:
    """Back to the seeded records: the cast (loaded in this test's session) and the ids."""
    start_from(seed, sandbox_server)
    cast, ids = seed.value
    people = Cast(project=db.session.get(Project, cast["project"]),
                  **{role: db.session.get(User, cast[role]) for role in CAST_ROLES})
    return people, dict(ids)


def _login(client, auth, people, role):
    user = people.by_role(role)
    if user is not None:
        assert auth.login(user).status_code == 302


def _refused(response, role) -> bool:
    if role == "anonymous":
        return response.status_code == 302 and "/auth/login" in response.headers["Location"]
    return response.status_code == 403


def test_every_state_changing_route_is_in_the_matrix(app):
    # Intuit's webhook has no user: its intuit-signature is its permission
    # (tests/test_quickbooks_changes.py: unsigned, wrong and stale signatures change nothing).
    listed = {route.rule for route in STATE_CHANGING_ROUTES} | {"/auth/login",
                                                                "/erp/webhooks/quickbooks"}
    unsafe = {
        rule.rule for rule in app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert unsafe <= listed, f"add to the permission matrix: {sorted(unsafe - listed)}"


RANK = {role: rank for rank, role in enumerate(ROLES)}


def sides_of(allowed: tuple[str, ...]) -> list[str]:
    """The strongest logged-in role refused (if any) and the weakest role allowed."""
    refused = [role for role in AUTHENTICATED if role not in allowed]
    sides = [max(refused, key=RANK.get)] if refused else []
    return [*sides, min(allowed, key=RANK.get)]


ROUTE_CASES = [(route, role) for route in STATE_CHANGING_ROUTES for role in sides_of(route.allowed)]
PAGE_CASES = [(page, allowed, role) for page, allowed in PAGES for role in sides_of(allowed)]


@pytest.mark.parametrize("route,role", ROUTE_CASES,
                         ids=[f"{r.url}-{role}" for r, role in ROUTE_CASES])
def test_state_changing_route_permissions(client, auth, matrix_seeds, sandbox_server, route,
                                          role):
    people, ids = matrix_start(matrix_seeds[route.needs_qbo], sandbox_server)
    _login(client, auth, people, role)
    data = {k.format(**ids): v.format(**ids) for k, v in route.data.items()}
    before = fingerprint()
    response = client.post(route.url.format(**ids), data=data)
    if role in route.allowed:
        assert not _refused(response, role), response.status_code
        assert response.status_code < 400, response.data[:400]
        if route.changes_db and route.rule != "/auth/logout":
            assert fingerprint() != before, "an allowed action changed nothing"
    else:
        assert _refused(response, role), (response.status_code, response.data[:200])
        assert fingerprint() == before, "a refused action changed the database"


@pytest.mark.parametrize("page,allowed,role", PAGE_CASES,
                         ids=[f"{p}-{role}" for p, _, role in PAGE_CASES])
def test_page_visibility(client, auth, matrix_seeds, sandbox_server, page, allowed, role):
    people, ids = matrix_start(matrix_seeds[False], sandbox_server)
    _login(client, auth, people, role)
    response = client.get(page.format(**ids))
    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:  # a project's home forwards to its first tool
            assert "/auth/login" not in response.headers["Location"]
    else:
        assert _refused(response, role), response.status_code


def test_an_anonymous_visitor_is_sent_to_log_in_by_every_route_and_page(client, matrix_seeds,
                                                                      sandbox_server):
    """Every state-changing route (but the password link, which proves the person) and every
    page sends an anonymous visitor to log in and changes nothing."""
    for needs_qbo in (False, True):
        _, ids = matrix_start(matrix_seeds[needs_qbo], sandbox_server)
        before = fingerprint()
        for route in STATE_CHANGING_ROUTES:
            if route.needs_qbo != needs_qbo or "anonymous" in route.allowed:
                continue
            data = {k.format(**ids): v.format(**ids) for k, v in route.data.items()}
            response = client.post(route.url.format(**ids), data=data)
            assert _refused(response, "anonymous"), (route.url, response.status_code)
        if not needs_qbo:
            for page, _ in PAGES:
                response = client.get(page.format(**ids))
                assert _refused(response, "anonymous"), (page, response.status_code)
        assert fingerprint() == before, "an anonymous request changed the database"


def test_each_case_starts_from_the_seeded_records(client, auth, matrix_seeds, sandbox_server):
    """What one case changes, in the database or in QuickBooks, is gone for the next."""
    import json

    def quickbooks() -> str:
        return json.dumps(sandbox_server.sandbox.to_json(), sort_keys=True, default=str)

    people, ids = matrix_start(matrix_seeds[True], sandbox_server)
    records, company = fingerprint(), quickbooks()
    _login(client, auth, people, "company_admin")
    assert client.post(f"/erp/commitments/{ids['ready']}/accept").status_code < 400
    assert client.post("/erp/settings/disconnect").status_code < 400
    assert client.post("/admin/vendors", data={"name": "Fresh Vendor"}).status_code < 400
    assert fingerprint() != records and quickbooks() != company
    people, again = matrix_start(matrix_seeds[True], sandbox_server)
    assert again == ids
    assert fingerprint() == records
    assert quickbooks() == company


def test_navigation_shows_only_the_tools_a_user_may_open(client, auth, people):
    auth.login(people.standard)
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert "Commitments" in page and "Change Events" in page
    assert 'href="/erp/"' not in page and ">Admin<" not in page
    auth.logout()
    auth.login(people.company_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert 'href="/erp/"' in page and "ERP Integrations" in page and ">Admin<" in page


def test_project_picker_lists_only_member_projects(client, auth, people, factory):
    other = factory.project(name="Another Team Job")
    auth.login(people.read_only)
    page = client.get("/").get_data(as_text=True)
    assert people.project.name in page
    assert other.name not in page
    auth.logout()
    auth.login(people.company_admin)
    assert other.name in client.get("/").get_data(as_text=True)
