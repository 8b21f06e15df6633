"""Admin forms: users, reference data, members. Bad input is explained and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from models import ErpPermission, ProjectMembership, ProjectRole, User, Vendor
from tests.conftest import error_for, fingerprint

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(client, auth, factory):
    user = factory.user(name="Ada Admin", is_company_admin=True, erp=ErpPermission.ADMIN,
                        can_push=True)
    auth.login(user)
    return user


def _user_data(**overrides) -> dict:
    data = {"email": "casey@example.com", "name": "Casey Field",
            "erp_permission": "standard", "active": "y"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_creates_a_user_who_sets_their_own_password_and_logs_in(client, admin, auth):
    import re

    response = client.post("/admin/users", data=_user_data(can_push_to_accounting="y"))
    assert response.status_code == 200
    user = db.session.scalar(select(User).where(User.email == "casey@example.com"))
    assert user.erp_permission == ErpPermission.STANDARD
    assert user.can_push_to_accounting
    link = re.search(r'value="(http://[^"]+/auth/reset/[^"]+)"', response.get_data(as_text=True))
    assert link, "the admin is shown a one-time password link to pass on"
    auth.logout()
    path = "/auth/reset/" + link.group(1).split("/auth/reset/", 1)[1]
    assert client.post(path, data={"password": "a-good-password",
                                   "confirm": "a-good-password"}).status_code == 303
    assert auth.login("casey@example.com", "a-good-password").status_code == 302


def test_user_form_sent_by_htmx_goes_to_the_users_page(client, admin, factory):
    """htmx does not act on a 303 it followed (it would swap the users page's form partial
    into the form): it is told to load the users page instead."""
    other = factory.user(name="Old Name")
    saved = client.post(f"/admin/users/{other.id}", headers=HTMX, data=_user_data(
        email=other.email, name="New Name", password=None))
    assert saved.status_code == 200 and saved.headers["HX-Redirect"] == "/admin/users"
    assert "HX-Request" in saved.headers["Vary"]
    page = client.get(saved.headers["HX-Redirect"]).get_data(as_text=True)
    assert "Saved New Name." in page


@pytest.mark.parametrize("overrides,field,message", [
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ({"email": ""}, "email", "Enter an email."),
    ({"name": ""}, "name", "Enter a name."),
    ({"name": "x" * 10_000}, "name", "120 characters"),
    ({"erp_permission": "superuser"}, "erp_permission", "Not a valid choice"),
])
def test_bad_user_input_is_explained_next_to_the_field(client, admin, overrides, field, message):
    before = fingerprint()
    response = client.post("/admin/users", data=_user_data(**overrides), headers=HTMX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    assert fingerprint() == before
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in html  # the form partial alone, for htmx


def test_duplicate_email_is_refused(client, admin, factory):
    factory.user(email="taken@example.com")
    before = fingerprint()
    response = client.post("/admin/users", data=_user_data(email="TAKEN@example.com"))
    assert response.status_code == 422
    assert b"Another user already has this email." in response.data
    assert fingerprint() == before


def test_script_in_a_name_is_shown_escaped(client, admin):
    client.post("/admin/users", data=_user_data(name="<script>alert(1)</script>"))
    page = client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_only_a_holder_of_can_push_may_grant_it(client, auth, factory):
    admin = factory.user(is_company_admin=True, erp=ErpPermission.ADMIN, can_push=False)
    target = factory.user(erp=ErpPermission.STANDARD)
    auth.login(admin)
    before = fingerprint()
    response = client.post(f"/admin/users/{target.id}", data=_user_data(
        email=target.email, name=target.name, password=None, can_push_to_accounting="y"))
    assert response.status_code == 422
    assert b"Only an admin who holds Can Push to Accounting can grant or remove it." \
        in response.data
    assert fingerprint() == before
    # Creating a user with the privilege is refused the same way.
    response = client.post("/admin/users", data=_user_data(can_push_to_accounting="y"))
    assert response.status_code == 422
    assert fingerprint() == before


def test_a_holder_of_can_push_grants_and_withdraws_it(client, admin, factory):
    target = factory.user(erp=ErpPermission.STANDARD)
    data = _user_data(email=target.email, name=target.name, password=None,
                      erp_permission="standard")
    client.post(f"/admin/users/{target.id}", data={**data, "can_push_to_accounting": "y"})
    db.session.refresh(target)
    assert target.can_push_to_accounting
    client.post(f"/admin/users/{target.id}", data=data)
    db.session.refresh(target)
    assert not target.can_push_to_accounting


def test_admin_without_can_push_may_still_edit_other_fields(client, auth, factory):
    admin = factory.user(is_company_admin=True, can_push=False)
    target = factory.user(can_push=True)
    auth.login(admin)
    response = client.post(f"/admin/users/{target.id}", data=_user_data(
        email=target.email, name="New Name", password=None, erp_permission="read_only",
        can_push_to_accounting="y"))
    assert response.status_code == 303
    db.session.refresh(target)
    assert target.name == "New Name"
    assert target.can_push_to_accounting  # untouched


def test_edit_keeps_the_password_when_left_empty(client, admin, auth, factory):
    target = factory.user()
    client.post(f"/admin/users/{target.id}", data=_user_data(
        email=target.email, name="Kept", password=""))
    auth.logout()
    from tests.conftest import PASSWORD

    assert auth.login(target, PASSWORD).status_code == 302


def test_admin_cannot_lock_themselves_out(client, admin):
    before = fingerprint()
    response = client.post(f"/admin/users/{admin.id}", data=_user_data(
        email=admin.email, name=admin.name, password=None, erp_permission="admin",
        can_push_to_accounting="y", active=None))
    assert response.status_code == 422
    assert b"You cannot deactivate yourself." in response.data
    assert b"You cannot remove your own admin rights." in response.data
    response = client.post(f"/admin/users/{admin.id}/deactivate", follow_redirects=True)
    assert b"You cannot deactivate yourself." in response.data
    assert fingerprint() == before


def test_deactivate_and_reactivate(client, admin, factory):
    target = factory.user()
    client.post(f"/admin/users/{target.id}/deactivate")
    db.session.refresh(target)
    assert not target.active
    client.post(f"/admin/users/{target.id}/reactivate")
    db.session.refresh(target)
    assert target.active


@pytest.mark.parametrize("slug,data,shown", [
    ("vendors", {"name": "Northwind Glazing"}, "Northwind Glazing"),
    ("cost-codes", {"code": "08-410", "description": "Storefronts"}, "Storefronts"),
    ("categories", {"name": "Permits"}, "Permits"),
    ("projects", {"number": "2025-001", "name": "Library Annex"}, "Library Annex"),
])
def test_admin_adds_reference_data(client, admin, slug, data, shown):
    response = client.post(f"/admin/{slug}", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert shown in response.get_data(as_text=True)


def test_default_categories_exist_on_a_fresh_database(client, admin):
    page = client.get("/admin/categories").get_data(as_text=True)
    for name in ("Labor", "Material", "Equipment", "Subcontract", "Other"):
        assert f">{name}<" in page


@pytest.mark.parametrize("slug,data,field,message", [
    ("vendors", {"name": ""}, "name", "Enter a name."),
    ("vendors", {"name": "v" * 201}, "name", "200 characters"),
    ("cost-codes", {"code": "", "description": "x"}, "code", "Enter a code."),
    ("cost-codes", {"code": "01-100", "description": ""}, "description", "Enter a description."),
    ("projects", {"number": "", "name": "x"}, "number", "Enter a project number."),
])
def test_bad_reference_input_is_explained(client, admin, slug, data, field, message):
    before = fingerprint()
    response = client.post(f"/admin/{slug}", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    assert fingerprint() == before


def test_duplicate_reference_names_are_refused_case_insensitively(client, admin, factory):
    factory.vendor("Summit Concrete Co.")
    before = fingerprint()
    response = client.post("/admin/vendors", data={"name": "summit concrete co."})
    assert response.status_code == 422
    assert b"Another vendor already has this name." in response.data
    assert fingerprint() == before


def test_inline_edit_returns_partials_and_a_full_page_without_htmx(client, admin, factory):
    vendor = factory.vendor("Old Name")
    edit = client.get(f"/admin/vendors/{vendor.id}?edit=1", headers=HTMX)
    assert edit.status_code == 200
    assert "HX-Request" in edit.headers["Vary"]
    assert "<html" not in edit.get_data(as_text=True)
    assert 'name="name"' in edit.get_data(as_text=True)
    full = client.get(f"/admin/vendors/{vendor.id}?edit=1")
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]

    saved = client.post(f"/admin/vendors/{vendor.id}", data={"name": "New Name", "active": "y"},
                        headers=HTMX)
    assert saved.status_code == 200
    row = saved.get_data(as_text=True)
    assert row.lstrip().startswith("<tr") and "New Name" in row
    assert db.session.get(Vendor, vendor.id).name == "New Name"

    bad = client.post(f"/admin/vendors/{vendor.id}", data={"name": "", "active": "y"},
                      headers=HTMX)
    assert bad.status_code == 422
    assert "Enter a name." in bad.get_data(as_text=True)
    assert db.session.get(Vendor, vendor.id).name == "New Name"


def test_unknown_reference_kind_is_404(client, admin):
    assert client.get("/admin/widgets").status_code == 404


def test_members_are_added_changed_and_removed(client, admin, factory):
    project = factory.project()
    person = factory.user(name="Morgan Member")
    url = f"/admin/projects/{project.id}/members"
    response = client.post(url, data={"user_id": person.id, "role": "standard"}, headers=HTMX)
    assert response.status_code == 200
    assert "Morgan Member" in response.get_data(as_text=True)
    client.post(url, data={"user_id": person.id, "role": "admin"})
    membership = db.session.scalar(select(ProjectMembership))
    assert membership.role == ProjectRole.ADMIN
    client.post(f"{url}/{person.id}/remove")
    assert db.session.scalar(select(ProjectMembership)) is None


def test_member_with_an_unknown_role_or_person_is_refused(client, admin, factory):
    project = factory.project()
    person = factory.user()
    before = fingerprint()
    url = f"/admin/projects/{project.id}/members"
    bad_role = client.post(url, data={"user_id": person.id, "role": "owner"})
    bad_user = client.post(url, data={"user_id": 999_999, "role": "standard"})
    assert bad_role.status_code == 422 and b"Not a valid choice" in bad_role.data
    assert bad_user.status_code == 422
    assert fingerprint() == before


def test_removing_a_non_member_says_so(client, admin, factory):
    project = factory.project()
    person = factory.user(name="Not Here")
    response = client.post(f"/admin/projects/{project.id}/members/{person.id}/remove")
    assert response.status_code == 422
    assert b"Not Here is not a member of this project." in response.data
