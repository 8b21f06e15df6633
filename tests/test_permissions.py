"""Who may see each page and who may press each button.

Every state-changing route is listed in ``STATE_CHANGING_ROUTES`` with the roles allowed to use
it; ``test_every_state_changing_route_is_in_the_matrix`` makes new routes join the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import fingerprint

ROLES = ("anonymous", "outsider", "read_only", "standard", "project_admin", "company_admin")
AUTHENTICATED = ROLES[1:]


@dataclass(frozen=True)
class Route:
    rule: str
    url: str  # with {project}, {user}, {vendor} … filled from the cast
    allowed: tuple[str, ...]
    data: dict = field(default_factory=dict)


C = "/projects/<int:project_id>/commitments"
CCO = f"{C}/<int:commitment_id>/change-orders/<int:cco_id>"
EDITORS = ("standard", "project_admin", "company_admin")
MEMBERS = ("read_only", "standard", "project_admin", "company_admin")

STATE_CHANGING_ROUTES = [
    Route("/auth/logout", "/auth/logout", AUTHENTICATED),
    Route("/admin/users", "/admin/users", ("company_admin",),
          {"email": "new@example.com", "name": "New Person", "password": "long-enough-pw",
           "erp_permission": "none"}),
    Route("/admin/users/<int:user_id>", "/admin/users/{standard}", ("company_admin",),
          {"email": "renamed@example.com", "name": "Renamed", "erp_permission": "read_only",
           "active": "y"}),
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
    Route(f"{C}/", "/projects/{project}/commitments/", EDITORS,
          {"type": "subcontract", "number": "SC-NEW", "title": "New", "vendor_id": "{vendor}",
           "status": "draft"}),
    Route(f"{C}/<int:commitment_id>", "/projects/{project}/commitments/{commitment}", EDITORS,
          {"type": "subcontract", "number": "SC-RENAMED", "title": "Renamed",
           "vendor_id": "{vendor}", "status": "approved"}),
    Route(f"{C}/<int:commitment_id>/sov", "/projects/{project}/commitments/{commitment}/sov",
          EDITORS, {"description": "Added", "cost_code_id": "{cost_code}",
                    "category_id": "{category}", "amount": "10.00"}),
    Route(f"{C}/<int:commitment_id>/sov/<int:line_id>",
          "/projects/{project}/commitments/{commitment}/sov/{sov}", EDITORS,
          {"description": "Edited", "cost_code_id": "{cost_code}", "category_id": "{category}",
           "amount": "12.00"}),
    Route(f"{C}/<int:commitment_id>/sov/<int:line_id>/delete",
          "/projects/{project}/commitments/{commitment}/sov/{spare_sov}/delete", EDITORS),
    Route(f"{C}/<int:commitment_id>/change-orders",
          "/projects/{project}/commitments/{commitment}/change-orders", EDITORS,
          {"title": "New CCO", "status": "draft"}),
    Route(f"{CCO}", "/projects/{project}/commitments/{commitment}/change-orders/{cco}", EDITORS,
          {"title": "Renamed CCO", "status": "pending_in_review",
           "designated_reviewer_id": "{project_admin}"}),
    Route(f"{CCO}/lines", "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines",
          EDITORS, {"sov_line_id": "{sov}", "description": "More", "amount": "5.00"}),
    Route(f"{CCO}/lines/<int:line_id>",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines/{cco_line}",
          EDITORS, {"sov_line_id": "{sov}", "description": "Changed", "amount": "7.00"}),
    Route(f"{CCO}/lines/<int:line_id>/delete",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/lines/{cco_line}"
          "/delete", EDITORS),
    # Only the designated reviewer (here the project admin) approves or rejects.
    Route(f"{CCO}/review",
          "/projects/{project}/commitments/{commitment}/change-orders/{cco}/review",
          ("project_admin",), {"decision": "approve", "comment": "OK"}),
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
    ("/erp/", ("company_admin",)),
    ("/admin/", ("company_admin",)),
    ("/admin/users", ("company_admin",)),
    ("/admin/users/{standard}", ("company_admin",)),
    ("/admin/vendors", ("company_admin",)),
    ("/admin/projects", ("company_admin",)),
    ("/admin/cost-codes", ("company_admin",)),
    ("/admin/categories", ("company_admin",)),
    ("/admin/vendors/{vendor}?edit=1", ("company_admin",)),
    ("/admin/projects/{project}/members", ("company_admin",)),
]


def _ids(people, factory) -> dict[str, int]:
    inactive = factory.user(name="Inactive", active=False)
    vendor = factory.vendor()
    commitment = factory.commitment(people.project, vendor=vendor, sov=("1000.00", "500.00"))
    sov, spare_sov = commitment.sov_lines
    cco = factory.change_order(commitment, status="pending_in_review",
                               reviewer=people.project_admin, lines=((sov, "100.00"),))
    return {
        "project": people.project.id,
        "standard": people.standard.id,
        "project_admin": people.project_admin.id,
        "outsider": people.outsider.id,
        "inactive": inactive.id,
        "vendor": vendor.id,
        "cost_code": sov.cost_code_id,
        "category": sov.category_id,
        "commitment": commitment.id,
        "sov": sov.id,
        "spare_sov": spare_sov.id,
        "cco": cco.id,
        "cco_line": cco.lines[0].id,
    }


def _login(client, auth, people, role):
    user = people.by_role(role)
    if user is not None:
        assert auth.login(user).status_code == 302


def _refused(response, role) -> bool:
    if role == "anonymous":
        return response.status_code == 302 and "/auth/login" in response.headers["Location"]
    return response.status_code == 403


def test_every_state_changing_route_is_in_the_matrix(app):
    listed = {route.rule for route in STATE_CHANGING_ROUTES} | {"/auth/login"}
    unsafe = {
        rule.rule for rule in app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert unsafe <= listed, f"add to the permission matrix: {sorted(unsafe - listed)}"


@pytest.mark.parametrize("route", STATE_CHANGING_ROUTES, ids=lambda r: r.url)
@pytest.mark.parametrize("role", ROLES)
def test_state_changing_route_permissions(client, auth, people, factory, route, role):
    ids = _ids(people, factory)
    _login(client, auth, people, role)
    data = {k: v.format(**ids) for k, v in route.data.items()}
    before = fingerprint()
    response = client.post(route.url.format(**ids), data=data)
    if role in route.allowed:
        assert not _refused(response, role), response.status_code
        assert response.status_code < 400, response.data[:400]
        if route.rule != "/auth/logout":
            assert fingerprint() != before, "an allowed action changed nothing"
    else:
        assert _refused(response, role), (response.status_code, response.data[:200])
        assert fingerprint() == before, "a refused action changed the database"


@pytest.mark.parametrize("page,allowed", PAGES, ids=[p for p, _ in PAGES])
@pytest.mark.parametrize("role", ROLES)
def test_page_visibility(client, auth, people, factory, page, allowed, role):
    ids = _ids(people, factory)
    _login(client, auth, people, role)
    response = client.get(page.format(**ids))
    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:  # a project's home forwards to its first tool
            assert "/auth/login" not in response.headers["Location"]
    else:
        assert _refused(response, role), response.status_code


def test_navigation_shows_only_the_tools_a_user_may_open(client, auth, people):
    auth.login(people.standard)
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert "Commitments" in page and "Change Events" in page
    assert ">ERP Integrations<" not in page and ">Admin<" not in page
    auth.logout()
    auth.login(people.company_admin)
    page = client.get(f"/projects/{people.project.id}/commitments/").get_data(as_text=True)
    assert ">ERP Integrations<" in page and ">Admin<" in page


def test_project_picker_lists_only_member_projects(client, auth, people, factory):
    other = factory.project(name="Another Team Job")
    auth.login(people.read_only)
    page = client.get("/").get_data(as_text=True)
    assert people.project.name in page
    assert other.name not in page
    auth.logout()
    auth.login(people.company_admin)
    assert other.name in client.get("/").get_data(as_text=True)
