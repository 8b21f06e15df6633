"""No input answers 500: huge numbers, control characters, odd Unicode, stale buttons."""

from __future__ import annotations

from html import unescape

import pytest
from flask import g

from extensions import db
from models import Commitment, ErpStatus
from tests import test_permissions as matrix
from tests.conftest import fingerprint
from workflow import erp

HTMX = {"HX-Request": "true"}
HUGE = "1" * 40
NUL = "before\x00after"


# ---- numbers too big for any record --------------------------------------------------------------

def test_a_40_digit_number_in_a_filter_is_no_match(client, auth, people, factory):
    factory.commitment(people.project, number="SC-77")
    auth.login(people.company_admin)
    p = people.project.id
    for url in (f"/projects/{p}/commitments/?vendor={HUGE}",
                f"/projects/{p}/change-events/?vendor={HUGE}",
                f"/projects/{p}/change-events/commitment-co?vendor={HUGE}&commitment={HUGE}",
                f"/projects/{p}/commitments/?vendor=%C2%B2",  # "²" is a digit to Python
                f"/projects/{p}/commitments/?vendor=-1"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/projects/{p}/commitments/?vendor={HUGE}").get_data(as_text=True)
    assert "No commitments match." in page and "SC-77" not in page.split("<tbody>")[1]


@pytest.mark.parametrize("url", [
    f"/projects/{HUGE}/commitments/",
    "/projects/{p}/commitments/" + HUGE,
    "/projects/{p}/commitments/{c}/change-orders/" + HUGE,
    "/projects/{p}/change-events/" + HUGE,
    f"/erp/commitments/{HUGE}/card",
    f"/admin/users/{HUGE}",
])
def test_a_40_digit_id_in_a_url_is_not_found(client, auth, people, factory, url):
    commitment = factory.commitment(people.project)
    auth.login(people.company_admin)
    response = client.get(url.format(p=people.project.id, c=commitment.id))
    assert response.status_code == 404
    assert b"That page or record does not exist." in response.data


def _allowed_role(route) -> str:
    return next(r for r in ("project_admin", "company_admin", "standard", "outsider")
                if r in route.allowed)


def _routes_with_data():
    return [r for r in matrix.STATE_CHANGING_ROUTES if r.data]


# ---- every field of every form -----------------------------------------------------------------
# The rules live in the forms' shared parts (blueprints/fields.py): ``Form.validate`` refuses
# control characters in any field, ``parse_id`` / ``id_int`` / ``VersionField`` refuse what
# cannot be an id, ``MoneyField`` what cannot be an amount. Every form of the app is a ``Form``;
# then each field of each state-changing route's form gets one request with each bad value.

def test_every_form_of_the_app_is_a_form_with_the_shared_rules():
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import blueprints
    from blueprints.fields import Form

    for module in pkgutil.walk_packages(blueprints.__path__, "blueprints."):
        importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    forms = [f for f in subclasses(FlaskForm) if f.__module__.startswith("blueprints.")]
    assert len(forms) > 10
    assert [f.__name__ for f in forms if not issubclass(f, Form)] == []


@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "2147483648", "1e400", "\u00b2", "0x10",
                                   "7\x00", " 7"])
def test_what_cannot_be_an_id_names_no_record(value):
    """The id and version parsers every form and filter uses: no error, no record."""
    from blueprints.fields import VersionField, id_int, optional_int, parse_id

    assert parse_id(value) is None
    for coerce in (id_int, optional_int):
        with pytest.raises(ValueError):
            coerce(value)
    from wtforms.form import BaseForm

    version = BaseForm({"version": VersionField()})["version"]
    version.process_formdata([value])
    assert version.data is None or value == "2147483648"  # a version, never a record's id
    assert parse_id("2147483647") == 2147483647 and optional_int("") is None


def _holds_nul(rows_by_table) -> bool:
    return any("\x00" in value for rows in rows_by_table.values() for row in rows
               for value in row if isinstance(value, str))


def test_no_form_field_answers_500(client, auth, matrix_seeds, sandbox_server):
    """Every field of every form of ``STATE_CHANGING_ROUTES``, one at a time: a 40-digit number,
    then text with a NUL (refused with nothing changed, or — a reason the workflow cleans — done
    without the NUL). Each request runs in a SAVEPOINT rolled back
    after it (and the sandbox goes back too), so each meets the seeded records."""
    asked, saved = [], []
    for needs_qbo in (False, True):
        seed = matrix_seeds[needs_qbo]
        people, ids = matrix.matrix_start(seed, sandbox_server)
        emails = {role: people.by_role(role).email for role in matrix.CAST_ROLES}
        for route in _routes_with_data():
            if route.needs_qbo != needs_qbo:
                continue
            g.pop("_login_user", None)  # the requests share the test's app context
            db.session.remove()
            connection = db.session.get_bind()
            as_role = connection.begin_nested()
            assert auth.login(emails[_allowed_role(route)]).status_code == 302
            db.session.remove()
            before = fingerprint()
            data = {k.format(**ids): v.format(**ids) for k, v in route.data.items()}
            url = route.url.format(**ids)
            for name in data:
                for bad in (HUGE, NUL):
                    db.session.remove()
                    one_request = connection.begin_nested()
                    try:
                        response = client.post(url, data={**data, name: bad}, headers=HTMX)
                        assert response.status_code < 500, (url, name, bad, response.data[:300])
                        if bad == NUL:
                            after = fingerprint()
                            if _holds_nul(after) or (response.status_code >= 400
                                                     and after != before):
                                saved.append((url, name, response.status_code))
                        asked.append((route.url, name, bad))
                    finally:
                        db.session.remove()
                        one_request.rollback()
                        g.pop("_login_user", None)
                        sandbox_server.sandbox.load_state(str(seed.sandbox_state))
            db.session.remove()
            as_role.rollback()
    assert saved == [], "text with a NUL was saved, or a refused request changed something"
    assert len(asked) == 2 * sum(len(r.data) for r in _routes_with_data())


def test_a_nul_byte_is_refused_next_to_its_field(client, auth, people, factory):
    from tests.conftest import error_for

    auth.login(people.company_admin)
    before = fingerprint()
    response = client.post("/admin/vendors", data={"name": "Acme\x00 Supply"}, headers=HTMX)
    assert response.status_code == 422
    assert "Remove the invisible control character" in error_for(
        response.get_data(as_text=True), "name")
    assert fingerprint() == before


def test_a_nul_byte_in_a_filter_or_the_login_is_no_500(client, auth, people, factory):
    assert client.post("/auth/login", data={"email": "a\x00@example.com",
                                            "password": "x\x00"}).status_code == 422
    auth.login(people.company_admin)
    p = people.project.id
    for url in (f"/projects/{p}/commitments/?vendor=1%00&status=%00",
                f"/projects/{p}/change-events/?vendor=%00&scope=%00",
                "/erp/?tab=%00", "/auth/login?next=/%00"):
        assert client.get(url).status_code < 500, url


# ---- the reject reason -------------------------------------------------------------------------

@pytest.mark.parametrize("reason", [
    "\u202eredro esahcrup gnorw",  # a right-to-left override
    "Wrong vendor \U0001F6A7\U0001F477\u200d\u2640\ufe0f",  # emoji with a joiner
    "Tabs\tand\nnew lines are fine",
])
def test_any_reasonable_text_is_a_reject_reason(client, auth, people, approver, erp_commitment,
                                                 reason):
    erp.send_to_erp(people.project_admin, erp_commitment)
    auth.login(approver)
    response = client.post(f"/erp/commitments/{erp_commitment.id}/reject", headers=HTMX,
                           data={"comment": reason})
    assert response.status_code == 200
    db.session.expire_all()
    saved = db.session.get(Commitment, erp_commitment.id)
    # Bidirectional overrides are dropped (they would make the reason read otherwise than it
    # is written); everything else is kept as typed.
    assert saved.erp_status == ErpStatus.REJECTED
    assert saved.erp_rejection_reason == reason.replace("\u202e", "")


def test_a_lone_surrogate_in_a_reject_reason_is_no_500(client, auth, people, approver,
                                                       erp_commitment):
    """A lone surrogate cannot be UTF-8; a browser or script sends its bytes anyway."""
    erp.send_to_erp(people.project_admin, erp_commitment)
    auth.login(approver)
    response = client.post(f"/erp/commitments/{erp_commitment.id}/reject", headers={
        **HTMX, "Content-Type": "application/x-www-form-urlencoded"},
        data=b"comment=Bad%ED%A0%80line")
    assert response.status_code in (200, 422)
    response = client.post(f"/erp/commitments/{erp_commitment.id}/reject", headers={
        **HTMX, "Content-Type": "application/x-www-form-urlencoded"},
        data="comment=Bad\udc80line".encode("utf-8", "surrogateescape"))
    assert response.status_code in (200, 409, 422)


# ---- stale buttons -----------------------------------------------------------------------------

def test_reject_on_a_card_another_approver_accepted_says_who_and_when(
        client, auth, people, approver, erp_commitment, factory):
    from models import ErpPermission

    other = factory.user(name="Olga Other", erp=ErpPermission.STANDARD, can_push=True)
    erp.send_to_erp(people.project_admin, erp_commitment)
    auth.login(approver)
    client.get("/erp/")  # the card is on the approver's phone…
    erp.accept(other, db.session.get(Commitment, erp_commitment.id))  # …when Olga accepts
    response = client.post(f"/erp/commitments/{erp_commitment.id}/reject", headers=HTMX,
                           data={"comment": "Wrong amounts"})
    assert response.status_code == 409
    text = unescape(response.get_data(as_text=True))
    assert "Already handled: SC-1042 is now" in text and "accepted by Olga Other at" in text
    assert " UTC" in text


def test_reject_on_a_card_the_pm_retrieved_says_who_and_when(client, auth, people, approver,
                                                             erp_commitment):
    erp.send_to_erp(people.project_admin, erp_commitment)
    erp.retrieve_from_erp(people.project_admin, db.session.get(Commitment, erp_commitment.id))
    auth.login(approver)
    before = fingerprint()
    response = client.post(f"/erp/commitments/{erp_commitment.id}/reject", headers=HTMX,
                           data={"comment": "Wrong amounts"})
    assert response.status_code == 409
    text = unescape(response.get_data(as_text=True))
    assert f"retrieved by {people.project_admin.name} at" in text and "Not Sent" in text
    assert fingerprint() == before
    plain = client.post(f"/erp/commitments/{erp_commitment.id}/reject",
                        data={"comment": "Wrong amounts"})  # without htmx: back to the inbox
    assert plain.status_code == 303
    assert b"retrieved by" in client.get(plain.headers["Location"]).data


# ---- one-line fields, look-alike numbers, dates --------------------------------------------------

@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\u2028", "\u0085"])
def test_a_line_break_in_a_name_is_refused_next_to_it(client, auth, people, factory, line_break):
    from tests.conftest import error_for

    user = factory.user(name="Avery Approver")
    auth.login(people.company_admin)
    response = client.post(f"/admin/users/{user.id}", headers=HTMX, data={
        "email": user.email, "name": f"Avery{line_break}Approver2", "erp_permission": "none",
        "active": "y"})
    assert response.status_code == 422
    assert "Keep this on one line" in error_for(response.get_data(as_text=True), "name")
    db.session.refresh(user)
    assert user.name == "Avery Approver"


def test_a_line_break_in_a_title_or_number_is_refused_next_to_it(client, auth, people, factory):
    from tests.conftest import error_for

    vendor = factory.vendor()
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/"
    base = {"type": "subcontract", "number": "SC-9", "title": "Fine", "vendor_id": vendor.id,
            "status": "draft"}
    for name in ("title", "number"):
        response = client.post(url, headers=HTMX, data={**base, name: "SC-9\r\nBcc: x@y.z"})
        assert response.status_code == 422
        assert "Keep this on one line" in error_for(response.get_data(as_text=True), name)
    commitment = factory.commitment(people.project)
    response = client.post(
        f"/projects/{people.project.id}/commitments/{commitment.id}/change-orders",
        headers=HTMX, data={"title": "Extra\nwork", "status": "draft"})
    assert response.status_code == 422
    assert "Keep this on one line" in error_for(response.get_data(as_text=True), "title")
    # A text area keeps its lines.
    ok = client.post(url, data={**base, "description": "Line one\r\nLine two"})
    assert ok.status_code in (302, 303)


@pytest.mark.parametrize("look_alike", ["SC\u20111042", "SC-\u200b1042",
                                        "\uff33\uff23-1042", "SC\u2013\u20601042"])
def test_a_look_alike_commitment_number_is_the_same_number(client, auth, people, factory,
                                                           look_alike):
    from tests.conftest import error_for

    factory.commitment(people.project, number="SC-1042")
    auth.login(people.project_admin)
    response = client.post(f"/projects/{people.project.id}/commitments/", headers=HTMX, data={
        "type": "subcontract", "number": look_alike, "title": "Twin",
        "vendor_id": factory.vendor().id, "status": "draft"})
    assert response.status_code == 422
    assert "SC-1042 is already used on this project." in error_for(
        response.get_data(as_text=True), "number")
    assert db.session.query(Commitment).filter_by(title="Twin").count() == 0


def test_a_new_number_is_stored_in_its_plain_form(client, auth, people, factory):
    auth.login(people.project_admin)
    client.post(f"/projects/{people.project.id}/commitments/", data={
        "type": "subcontract", "number": "\uff30\uff2f\u20112001\u200b", "title": "Plain",
        "vendor_id": factory.vendor().id, "status": "draft"})
    assert db.session.query(Commitment).filter_by(title="Plain").one().number == "PO-2001"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
def test_a_due_date_out_of_range_is_refused_and_the_range_is_shown(client, auth, people,
                                                                   factory, day):
    from models import ChangeOrder
    from tests.conftest import error_for

    commitment = factory.commitment(people.project)
    auth.login(people.project_admin)
    url = f"/projects/{people.project.id}/commitments/{commitment.id}/change-orders"
    form = client.get(url + "/new").get_data(as_text=True)
    assert "A date from 2000-01-01 to 2099-12-31." in form
    response = client.post(url, headers=HTMX, data={"title": "Dated", "status": "draft",
                                                    "due_date": day})
    assert response.status_code == 422
    assert "A date from 2000-01-01 to 2099-12-31." in error_for(
        response.get_data(as_text=True), "due_date")
    assert db.session.query(ChangeOrder).filter_by(title="Dated").count() == 0
    ok = client.post(url, data={"title": "Dated", "status": "draft", "due_date": "2099-12-31"})
    assert ok.status_code in (302, 303)
