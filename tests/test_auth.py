"""Logging in and out."""

from tests.conftest import PASSWORD


def test_login_page_renders(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert b"Log in to ChangeOrder Desk" in response.data


def test_login_succeeds_and_lands_on_projects(client, auth, factory):
    user = factory.user(name="Jo Builder")
    response = auth.login(user)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert b"Your projects" in page.data
    assert b"Jo Builder" in page.data  # the log-out button names who is logged in


def test_email_is_case_insensitive(client, auth, factory):
    factory.user(email="mixed@example.com")
    assert auth.login("  MIXED@Example.com ").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(client, auth, factory):
    user = factory.user()
    wrong_password = auth.login(user, "not-the-password")
    unknown_email = auth.login("nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 422
        assert b"That email and password do not match an active account." in response.data
    assert client.get("/").status_code == 302  # still not logged in


def test_deactivated_user_cannot_log_in(client, auth, factory):
    user = factory.user(active=False)
    response = auth.login(user)
    assert response.status_code == 422
    assert client.get("/").status_code == 302


def test_deactivation_ends_an_existing_session(client, auth, factory, app):
    from extensions import db

    user = factory.user()
    auth.login(user)
    assert client.get("/").status_code == 200
    user.active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_logout_is_post_only(client, auth, factory):
    auth.login(factory.user())
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/").status_code == 200  # a GET did not log out
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_next_parameter_is_followed_only_within_the_site(client, factory):
    user = factory.user(is_company_admin=True)
    local = client.post("/auth/login?next=/admin/users",
                        data={"email": user.email, "password": PASSWORD})
    assert local.headers["Location"] == "/admin/users"
    client.post("/auth/logout")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(f"/auth/login?next={evil}",
                               data={"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == "/", evil
        client.post("/auth/logout")


def test_anonymous_is_sent_to_login_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/admin/users")


def test_anonymous_htmx_request_gets_401_and_a_redirect_header(client):
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login")


def test_empty_login_form_says_what_is_missing(client):
    response = client.post("/auth/login", data={"email": "", "password": ""})
    assert response.status_code == 422
    assert b"Enter your email." in response.data
    assert b"Enter your password." in response.data
