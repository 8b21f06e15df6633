"""Sessions that end, passwords nobody else knows, and a login that cannot be hammered."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from extensions import db
from models import ErpPermission
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def each_request_reads_its_own_session(app):
    """The tests' app context outlives requests, and Flask-Login caches the user on ``g``:
    forget it, so each request (from several test clients here) loads its session's user."""
    from flask import g

    @app.before_request
    def forget_cached_user():
        g.pop("_login_user", None)


@pytest.fixture
def admin(factory):
    return factory.user(name="Ada Admin", is_company_admin=True, erp=ErpPermission.ADMIN,
                        can_push=True)


def _logged_in_client(app, user):
    other = app.test_client()
    assert other.post("/auth/login", data={"email": user.email,
                                           "password": PASSWORD}).status_code == 302
    assert other.get("/").status_code == 200
    return other


def _link(response) -> str:
    html = response.get_data(as_text=True)
    match = re.search(r'value="https?://[^/"]+(/auth/reset/[^"]+)"', html)
    assert match, "no password link shown"
    return match.group(1)


def _still_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200


# ---- sessions end ------------------------------------------------------------------------------

def test_a_session_cookie_captured_before_logout_no_longer_works(app, client, auth, factory):
    user = factory.user()
    auth.login(user)
    captured = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", captured)
    response = thief.get("/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_logout_ends_the_users_sessions_on_every_device(app, client, auth, factory):
    user = factory.user()
    phone = _logged_in_client(app, user)
    auth.login(user)
    auth.logout()
    assert not _still_in(phone)


def test_a_new_password_ends_every_existing_session(app, client, auth, factory, admin):
    user = factory.user()
    phone = _logged_in_client(app, user)
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    assert _still_in(phone)  # a link alone changes nothing yet
    auth.logout()
    assert client.post(link, data={"password": "brand-new-pass",
                                   "confirm": "brand-new-pass"}).status_code == 303
    assert not _still_in(phone)
    assert auth.login(user, "brand-new-pass").status_code == 302


def test_deactivation_by_an_admin_ends_the_users_sessions(app, client, auth, factory, admin):
    user = factory.user()
    phone = _logged_in_client(app, user)
    auth.login(admin)
    client.post(f"/admin/users/{user.id}/deactivate")
    client.post(f"/admin/users/{user.id}/reactivate")
    assert not _still_in(phone)  # reactivating does not bring the old session back


def test_a_session_from_before_session_tokens_is_logged_out(app, client, factory):
    user = factory.user()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # the id alone, as sessions used to hold
        session["_fresh"] = True
    assert not _still_in(client)


# ---- separation of duties ----------------------------------------------------------------------

def test_an_admin_cannot_set_another_users_password(client, auth, factory, admin):
    approver = factory.user(erp=ErpPermission.STANDARD, can_push=True)
    auth.login(admin)
    page = client.get(f"/admin/users/{approver.id}").get_data(as_text=True)
    assert 'type="password"' not in page
    client.post(f"/admin/users/{approver.id}", data={
        "email": approver.email, "name": approver.name, "erp_permission": "standard",
        "can_push_to_accounting": "y", "active": "y", "password": "admin-knows-it"})
    auth.logout()
    assert auth.login(approver, "admin-knows-it").status_code == 422
    assert auth.login(approver, PASSWORD).status_code == 302


def test_an_admin_without_can_push_cannot_get_an_approvers_password_link(client, auth,
                                                                            factory):
    """The attack: reset the approver's password, log in as them, Accept."""
    plain_admin = factory.user(is_company_admin=True)
    approver = factory.user(erp=ErpPermission.STANDARD, can_push=True)
    auth.login(plain_admin)
    response = client.post(f"/admin/users/{approver.id}/reset-link")
    assert response.status_code == 403
    assert "/auth/reset/" not in response.get_data(as_text=True)
    assert "Only an admin who holds Can Push to Accounting" in response.get_data(as_text=True)
    db.session.refresh(approver)
    assert approver.reset_token_hash is None


def test_a_link_made_before_can_push_was_granted_stops_working(client, auth, factory, admin):
    plain_admin = factory.user(is_company_admin=True)
    user = factory.user(erp=ErpPermission.STANDARD)
    auth.login(plain_admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    auth.logout()
    auth.login(admin)
    client.post(f"/admin/users/{user.id}", data={
        "email": user.email, "name": user.name, "erp_permission": "standard",
        "can_push_to_accounting": "y", "active": "y"})
    auth.logout()
    assert client.get(link).status_code == 404


def test_a_password_link_works_once(client, auth, factory, admin):
    user = factory.user()
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    auth.logout()
    data = {"password": "first-new-pass", "confirm": "first-new-pass"}
    assert client.post(link, data=data).status_code == 303
    again = client.post(link, data={"password": "second-pass!", "confirm": "second-pass!"})
    assert again.status_code == 404
    assert b"expired or was already used" in again.data
    assert auth.login(user, "first-new-pass").status_code == 302


def test_a_newer_link_replaces_the_older_one_and_links_expire(client, auth, factory, admin):
    from models.types import utcnow

    user = factory.user()
    auth.login(admin)
    first = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    second = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    auth.logout()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    db.session.refresh(user)
    user.reset_token_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(second).status_code == 404


def test_the_link_is_stored_only_as_a_hash(client, auth, factory, admin):
    user = factory.user()
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    db.session.refresh(user)
    token = link.rsplit("/", 1)[1]
    assert user.reset_token_hash and token not in user.reset_token_hash


def test_a_too_short_password_is_explained_and_the_link_still_works(client, auth, factory,
                                                                     admin):
    user = factory.user()
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    auth.logout()
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 422 and b"Use at least 8 characters." in response.data
    assert client.get(link).status_code == 200


# ---- login throttling --------------------------------------------------------------------------

def test_wrong_passwords_for_one_account_are_throttled(client, auth, factory):
    user = factory.user()
    answers = [auth.login(user, f"guess-{n}").status_code for n in range(8)]
    assert answers[:5] == [422] * 5
    assert answers[5:] == [429] * 3
    refused = auth.login(user)  # even the right password waits now
    assert refused.status_code == 429
    assert b"Too many" in refused.data
    assert auth.login(factory.user()).status_code == 302  # another account is not locked out


def test_wrong_passwords_are_counted_over_any_sixty_seconds(client, auth, factory,
                                                            monkeypatch):
    """"5 per minute" holds for every 60 seconds: five guesses at the end of one minute and
    five more at the start of the next are not ten allowed."""
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    user = factory.user()
    assert auth.login(user, "guess-0").status_code == 422
    clock[0] += 50
    assert [auth.login(user, f"guess-{n}").status_code for n in (1, 2, 3, 4)] == [422] * 4
    clock[0] += 15  # the first guess is 65 s old: four of the last 60 s are counted
    assert auth.login(user, "guess-5").status_code == 422
    assert auth.login(user, "guess-6").status_code == 429


def test_many_accounts_tried_from_one_address_are_throttled(app, client, auth, factory):
    app.config["LOGIN_LIMIT_ADDRESS"] = "3 per minute"
    answers = [auth.login(f"someone{n}@example.com", "guess").status_code for n in range(5)]
    assert answers == [422, 422, 422, 429, 429]


def test_successful_logins_are_not_counted(client, auth, factory):
    user = factory.user()
    for _ in range(8):
        assert auth.login(user).status_code == 302
        auth.logout()


def _median_login_time(auth, email: str) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        auth.login(email, "not-the-password")
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def test_an_unknown_email_takes_as_long_as_a_wrong_password(app, client, auth, factory):
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:300000"
    user = factory.user()
    user.set_password(PASSWORD)
    db.session.commit()
    auth.login("warm-up@example.com", "x")
    known = _median_login_time(auth, user.email)
    unknown = _median_login_time(auth, "nobody-here@example.com")
    assert unknown > known * 0.5, (known, unknown)


# ---- a stranger cannot lock a real user out ------------------------------------------------------

def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _try(client, email, password, address):
    return client.post("/auth/login", data={"email": email, "password": password},
                       **_from(address))


def test_wrong_passwords_from_other_addresses_do_not_hold_the_right_one(app, factory):
    user = factory.user()
    stranger = app.test_client()
    for n in range(5):
        assert _try(stranger, user.email, f"guess-{n}", f"198.51.100.{n + 1}").status_code == 422
    assert _try(app.test_client(), user.email, PASSWORD, "198.51.100.77").status_code == 302


def test_guessing_spread_over_addresses_holds_new_devices_but_not_a_known_one(app, factory):
    user = factory.user()
    known = app.test_client()
    assert _try(known, user.email, PASSWORD, "198.51.100.200").status_code == 302
    known.post("/auth/logout")
    app.config["LOGIN_LIMIT_ACCOUNT_ANY"] = "5 per minute"
    stranger = app.test_client()
    for n in range(6):
        _try(stranger, user.email, f"guess-{n}", f"203.0.113.{n + 1}")
    held = _try(app.test_client(), user.email, PASSWORD, "203.0.113.99")
    assert held.status_code == 429  # a new device waits while the guessing goes on
    # The user's own browser is not held, from any address.
    assert _try(known, user.email, PASSWORD, "203.0.113.100").status_code == 302


def test_failed_logins_with_unknown_emails_behind_one_address_lock_nobody_out(app, factory):
    """Everyone behind one proxy shares an address: strangers' failures there do not hold a
    user's known browser."""
    user = factory.user()
    browser = app.test_client()
    assert _try(browser, user.email, PASSWORD, "127.0.0.1").status_code == 302
    browser.post("/auth/logout")
    stranger = app.test_client()
    answers = [_try(stranger, f"random{n}@example.com", "guess", "127.0.0.1").status_code
               for n in range(22)]
    assert answers[-1] == 429
    assert _try(browser, user.email, PASSWORD, "127.0.0.1").status_code == 302


def test_a_forged_device_cookie_counts_for_nothing(app, factory):
    user = factory.user()
    app.config["LOGIN_LIMIT_ACCOUNT_ANY"] = "3 per minute"
    for n in range(4):
        _try(app.test_client(), user.email, "guess", f"203.0.113.{n + 1}")
    forged = app.test_client()
    forged.set_cookie("changeorder_device", f'{{"d":"x","u":[{user.id}]}}',
                      path="/auth/login")
    assert _try(forged, user.email, PASSWORD, "203.0.113.50").status_code == 429


def test_trusted_proxies_give_each_client_its_own_address(app, factory):
    from app import _trust_proxies

    user = factory.user()
    client = app.test_client()

    def through_proxy(password, client_address):
        return client.post("/auth/login", data={"email": user.email, "password": password},
                           headers={"X-Forwarded-For": client_address})

    for n in range(5):
        through_proxy(f"guess-{n}", "198.51.100.1")
    assert through_proxy(PASSWORD, "198.51.100.2").status_code == 429  # one address: the proxy's
    app.config["TRUSTED_PROXIES"] = 1
    _trust_proxies(app)
    from extensions import limiter

    limiter.reset()
    for n in range(5):
        through_proxy(f"guess-{n}", "198.51.100.1")
    assert through_proxy(PASSWORD, "198.51.100.1").status_code == 429
    assert through_proxy(PASSWORD, "198.51.100.2").status_code == 302


def test_the_password_link_comes_from_public_url_never_the_request_host(app, client, auth,
                                                                       factory, admin):
    app.config["PUBLIC_URL"] = "https://desk.example.test"
    user = factory.user()
    evil = {"base_url": "http://evil.example.com",
            "headers": {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"}}
    client.post("/auth/login", data={"email": admin.email, "password": PASSWORD}, **evil)
    response = client.post(f"/admin/users/{user.id}/reset-link", **evil)
    html = response.get_data(as_text=True)
    assert 'value="https://desk.example.test/auth/reset/' in html
    assert "evil.example.com" not in html


def test_granting_can_push_leaves_nobody_else_knowing_the_password(app, client, auth, factory,
                                                                  admin):
    """The residue: an admin without Can Push creates a user, opens the link and sets the
    password; an admin with Can Push then grants it. The first admin must not get in."""
    plain_admin = factory.user(is_company_admin=True)
    auth.login(plain_admin)
    client.post("/admin/users", data={"email": "casey@example.com", "name": "Casey",
                                      "erp_permission": "standard", "active": "y"})
    from models import User

    casey = db.session.scalar(db.select(User).where(User.email == "casey@example.com"))
    link = _link(client.post(f"/admin/users/{casey.id}/reset-link"))
    auth.logout()
    assert client.post(link, data={"password": "plain-admin-knows",
                                   "confirm": "plain-admin-knows"}).status_code == 303
    session_of_the_plain_admin = app.test_client()
    assert _log_in(session_of_the_plain_admin, casey.email, "plain-admin-knows") == 302

    granter = app.test_client()
    _log_in(granter, admin.email, PASSWORD)
    saved = granter.post(f"/admin/users/{casey.id}", follow_redirects=True, data={
        "email": casey.email, "name": casey.name, "erp_permission": "standard",
        "can_push_to_accounting": "y", "active": "y"})
    assert "voids their password" in saved.get_data(as_text=True)
    # The password someone else set no longer works, and its session has ended.
    assert _log_in(app.test_client(), casey.email, "plain-admin-knows") == 422
    assert session_of_the_plain_admin.get("/erp/").status_code in (302, 401)
    # A fresh link, made by the admin who holds Can Push, lets Casey set their own.
    fresh = _link(granter.post(f"/admin/users/{casey.id}/reset-link"))
    casey_browser = app.test_client()
    assert casey_browser.post(fresh, data={"password": "only-casey-knows",
                                           "confirm": "only-casey-knows"}).status_code == 303
    assert _log_in(app.test_client(), casey.email, "only-casey-knows") == 302


def _log_in(client, email, password) -> int:
    return client.post("/auth/login", data={"email": email, "password": password}).status_code


def test_deactivation_kills_an_outstanding_password_link(client, auth, factory, admin):
    user = factory.user()
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    client.post(f"/admin/users/{user.id}/deactivate")
    client.post(f"/admin/users/{user.id}/reactivate")
    auth.logout()
    assert client.get(link).status_code == 404
    assert client.post(link, data={"password": "a-new-password",
                                   "confirm": "a-new-password"}).status_code == 404


def test_deactivation_through_the_user_form_kills_the_link_too(client, auth, factory, admin):
    user = factory.user()
    auth.login(admin)
    link = _link(client.post(f"/admin/users/{user.id}/reset-link"))
    data = {"email": user.email, "name": user.name, "erp_permission": "none"}
    client.post(f"/admin/users/{user.id}", data=data)  # active unticked
    client.post(f"/admin/users/{user.id}", data={**data, "active": "y"})
    auth.logout()
    assert client.get(link).status_code == 404
