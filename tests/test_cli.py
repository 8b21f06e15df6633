"""`flask users create-admin` and `flask seed-demo`."""

from __future__ import annotations

from sqlalchemy import func, select

from extensions import db
from models import ErpPermission, Project, ProjectMembership, ProjectRole, User, Vendor
from tests.conftest import fingerprint


def test_create_admin_gives_every_permission_and_can_log_in(runner, auth):
    result = runner.invoke(args=["users", "create-admin", "--email", "Boss@Example.com",
                                 "--name", "The Boss", "--password", "first-login-pw"])
    assert result.exit_code == 0, result.output
    assert "Created company admin The Boss <boss@example.com>." in result.output
    user = db.session.scalar(select(User))
    assert user.is_company_admin and user.can_push_to_accounting
    assert user.erp_permission == ErpPermission.ADMIN
    assert auth.login("boss@example.com", "first-login-pw").status_code == 302


def test_create_admin_prompts_for_a_hidden_password(runner):
    result = runner.invoke(args=["users", "create-admin", "--email", "p@example.com",
                                 "--name", "Prompted"], input="secret-pw-1\nsecret-pw-1\n")
    assert result.exit_code == 0, result.output
    assert "secret-pw-1" not in result.output


def test_create_admin_refuses_bad_input_and_changes_nothing(runner, factory):
    factory.user(email="taken@example.com")
    before = fingerprint()
    duplicate = runner.invoke(args=["users", "create-admin", "--email", "taken@example.com",
                                    "--name", "X", "--password", "long-enough"])
    short = runner.invoke(args=["users", "create-admin", "--email", "new@example.com",
                                "--name", "X", "--password", "short"])
    assert duplicate.exit_code == 1 and "Another user already has this email." in duplicate.output
    assert short.exit_code == 1 and "Use at least 8 characters." in short.output
    assert fingerprint() == before


def test_seed_demo_prints_logins_that_work(runner, client, auth):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    logins = [line.split() for line in result.output.splitlines() if "password:" in line]
    emails = {parts[-3]: parts[-1] for parts in logins}
    assert set(emails) == {"admin@example.com", "pm@example.com", "approver@example.com",
                           "super@example.com", "viewer@example.com"}
    for email, password in emails.items():
        assert auth.login(email, password).status_code == 302, email
        auth.logout()


def test_seed_demo_roles_match_the_design(runner):
    runner.invoke(args=["seed-demo"])
    by_email = {u.email: u for u in db.session.scalars(select(User))}
    approver = by_email["approver@example.com"]
    assert approver.erp_permission == ErpPermission.STANDARD and approver.can_push_to_accounting
    assert by_email["admin@example.com"].is_company_admin
    pm_roles = {m.role for m in by_email["pm@example.com"].memberships}
    assert pm_roles == {ProjectRole.ADMIN}
    viewer_roles = {m.role for m in by_email["viewer@example.com"].memberships}
    assert viewer_roles == {ProjectRole.READ_ONLY}


def test_seed_demo_twice_does_no_harm(runner):
    runner.invoke(args=["seed-demo"])
    pm = db.session.scalar(select(User).where(User.email == "pm@example.com"))
    pm.name = "Renamed By Admin"
    db.session.commit()
    before = fingerprint()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert fingerprint() == before  # nothing duplicated, nothing overwritten
    assert db.session.scalar(select(func.count()).select_from(Vendor)) == 4
    assert db.session.scalar(select(func.count()).select_from(Project)) == 2
    assert db.session.scalar(select(func.count()).select_from(ProjectMembership)) == 8
