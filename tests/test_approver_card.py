"""The approver's card through HTTP: its own page (what emails link to), "Accept selected"
naming only what the viewer may see (the card's own rule), what the card says once rejected
or synced, an Exporting card's backoff, and the links next to a disabled Send to ERP."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from extensions import db
from models import ChangeOrderLine, Commitment, ErpStatus
from tests import qbo_helpers
from tests.erp_fixtures import send_and_accept
from workflow import erp

HTMX = {"HX-Request": "true"}


def _card(html: str, kind: str, ident: int) -> str:
    return html.split(f'id="erp-{kind}-{ident}"', 1)[1].split("</article>", 1)[0]


# ---- the card's own page ----------------------------------------------------------------------

def test_a_card_has_a_page_of_its_own_whatever_inbox_page_it_is_on(client, auth, approver,
                                                                   people, factory, connected,
                                                                   monkeypatch):
    from workflow import inbox

    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    made = []
    for number in ("SC-71", "SC-72", "SC-73"):
        record = factory.commitment(people.project, number=number, sov=("100.00",))
        qbo_helpers.map_for(record)
        erp.send_to_erp(people.project_admin, record)
        made.append(record)
    auth.login(approver)
    assert f"erp-commitments-{made[2].id}" not in client.get("/erp/").get_data(as_text=True)
    page = client.get(f"/erp/commitments/{made[2].id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="erp-commitments-{made[2].id}"' in html and "Accept $100.00" in html
    assert 'href="/erp/?tab=ready_to_export">← ERP Integrations: Ready to Export' in html
    # without JavaScript, Accept opens the card's page with its confirmation open
    opened = client.get(f"/erp/commitments/{made[2].id}?open=accept").get_data(as_text=True)
    assert re.search(r'<div class="confirm-panel" id="confirm-commitments-\d+">', opened)
    rejecting = client.get(f"/erp/commitments/{made[2].id}?open=reject").get_data(as_text=True)
    assert re.search(r'<div class="reject-panel" id="reject-commitments-\d+">', rejecting)


def test_the_card_page_sends_a_project_manager_to_the_record_and_hides_it_from_others(
        client, auth, people, factory, connected, approver):
    record = factory.commitment(people.project, number="SC-81", sov=("100.00",))
    qbo_helpers.map_for(record)
    erp.send_to_erp(people.project_admin, record)
    auth.login(people.project_admin)  # no ERP Integrations: to the commitment's own page
    response = client.get(f"/erp/commitments/{record.id}")
    assert response.status_code == 303
    assert response.location == (f"/projects/{people.project.id}/commitments/{record.id}#erp")
    auth.logout()
    auth.login(people.outsider)
    assert client.get(f"/erp/commitments/{record.id}").status_code == 404
    auth.logout()
    never_sent = factory.commitment(factory.project(name="Elsewhere"), number="SC-82",
                                    sov=("300000.00",))
    auth.login(approver)  # on no project: a record never sent is not theirs to read
    assert client.get(f"/erp/commitments/{never_sent.id}").status_code == 404


def test_a_reject_without_javascript_lands_on_the_card_page(client, auth, approver, people,
                                                            factory, connected):
    record = factory.commitment(people.project, number="SC-83", sov=("100.00",))
    qbo_helpers.map_for(record)
    erp.send_to_erp(people.project_admin, record)
    auth.login(approver)
    empty = client.post(f"/erp/commitments/{record.id}/reject", data={"comment": ""})
    html = empty.get_data(as_text=True)
    assert empty.status_code == 422 and "Say why, so the project manager can correct it." in html
    assert re.search(r'<div class="reject-panel" id="reject-commitments-\d+">', html)  # open
    done = client.post(f"/erp/commitments/{record.id}/reject", data={"comment": "No quote"})
    assert done.status_code == 303 and done.location == f"/erp/commitments/{record.id}"


# ---- "Accept selected" says nothing about what the viewer may not see ---------------------------

@pytest.fixture
def hidden_records(factory, people):
    """Records an approver on no project may not see: a commitment never sent (in a project
    they are not on), a Draft CCO, and a private CCO sent to accounting."""
    elsewhere = factory.project(name="Elsewhere")
    secret = factory.commitment(elsewhere, number="SC-1043", title="Tower crane",
                                sov=("300000.00",))
    draft = factory.change_order(secret, lines=((secret.sov_lines[0], "4321.00"),),
                                 title="Secret draft")
    private = factory.change_order(secret, status="approved", private=True,
                                   lines=((secret.sov_lines[0], "8765.00"),),
                                   title="Private settlement")
    private.erp_status = ErpStatus.READY_TO_EXPORT
    db.session.commit()
    return secret, draft, private


@pytest.mark.parametrize("which", [0, 1, 2])
def test_accept_selected_names_nothing_the_viewer_may_not_see(client, auth, approver,
                                                              hidden_records, which):
    subject = hidden_records[which]
    kind = "commitments" if isinstance(subject, Commitment) else "change-orders"
    before = subject.erp_status
    auth.login(approver)
    assert client.get(f"/erp/{kind}/{subject.id}/card", headers=HTMX).status_code == 404
    picked = {"selected": f"{kind}:{subject.id}"}
    for response in (client.get("/erp/accept-selected", query_string=picked),
                     client.post("/erp/accept-selected", data=picked),
                     client.post("/erp/accept-selected", data={**picked, "confirm": "yes"}),
                     client.get("/erp/accepted", query_string=picked)):
        html = response.get_data(as_text=True)
        for secret in ("SC-1043", "Tower crane", "300,000.00", "4,321.00", "8,765.00",
                       "Secret draft", "Private settlement", "PurchaseOrder"):
            assert secret not in html, (response.request.path, secret)
    db.session.expire_all()
    assert db.session.get(type(subject), subject.id).erp_status == before


def test_accept_selected_and_the_card_share_one_rule(app):
    """One function decides, for the card and for "Accept selected" alike."""
    import inspect

    from blueprints.erp import routes

    assert "inbox.may_see" in inspect.getsource(routes._subject)
    assert "may_see" in inspect.getsource(routes.inbox.parse_selected)


# ---- what a card says -------------------------------------------------------------------------

def test_a_rejected_card_does_not_say_resent_until_it_is(client, auth, approver, people,
                                                         factory, connected):
    record = factory.commitment(people.project, number="SC-91", sov=("100.00",))
    qbo_helpers.map_for(record)
    erp.send_to_erp(people.project_admin, record)
    erp.reject(approver, record, "Wrong cost code")
    auth.login(approver)
    card = _card(client.get("/erp/?tab=rejected").get_data(as_text=True), "commitments",
                 record.id)
    assert "Rejected: <bdi>Wrong cost code</bdi>" in card
    assert "resent" not in card and "Rejected before" not in card
    erp.send_to_erp(people.project_admin, db.session.get(Commitment, record.id))
    card = _card(client.get("/erp/").get_data(as_text=True), "commitments", record.id)
    assert "resent after 1 rejection" in card and "Rejected before" in card


def test_a_synced_cco_card_shows_what_it_applied(client, auth, approver, people, factory,
                                                 erp_commitment):
    synced = send_and_accept(erp_commitment, people, approver)  # lines 185,000.00 / 96,500.50
    cco = factory.change_order(synced, status="approved",
                               lines=((synced.sov_lines[1], "749.50"),))
    erp.send_to_erp(people.project_admin, cco)
    erp.accept(approver, cco)
    qbo_helpers.run_jobs()
    auth.login(approver)
    html = client.get(f"/erp/change-orders/{cco.id}").get_data(as_text=True)
    assert "Synced" in html
    rows = re.findall(r'data-label="(Before|Now)">([^<]+)</td><td class="num" '
                      r'data-label="Change">([^<]+)</td><td class="num" '
                      r'data-label="After">([^<]+)</td>', html)
    assert rows == [("Before", "$96,500.50", "$749.50", "$97,250.00")]


def test_an_exporting_card_asks_again_later_and_later(client, auth, approver, people, factory):
    record = factory.commitment(people.project, number="SC-95", sov=("100.00",))
    record.erp_status = ErpStatus.EXPORTING
    db.session.commit()
    auth.login(approver)
    html = client.get("/erp/?tab=exporting").get_data(as_text=True)
    card = html.split(f'id="erp-commitments-{record.id}"', 1)[1].split(">", 1)[0]
    assert f'hx-get="/erp/commitments/{record.id}/card?wait=2"' in card
    assert 'hx-trigger="erp-poll"' in card and 'data-poll-after="1"' in card  # not "load"
    for asked, after, next_wait in (("2", "2", "4"), ("16", "16", "30"), ("30", "30", "30"),
                                    ("9999", "30", "30")):
        html = client.get(f"/erp/commitments/{record.id}/card?wait={asked}",
                          headers=HTMX).get_data(as_text=True)
        assert f'data-poll-after="{after}"' in html and f"wait={next_wait}\"" in html


# ---- the links next to a disabled Send to ERP ---------------------------------------------------

def _panel(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return html.split('id="erp"', 1)[1].split("</section>", 1)[0]


def test_each_blocker_links_to_where_it_is_fixed(client, auth, people, factory, connected,
                                                 erp_commitment):
    from models import CostCode
    from models.limits import DOC_NUMBER_LIMIT, MAX_DOC_PREFIX

    line = erp_commitment.sov_lines[1]
    line.amount = Decimal("-5.00")
    other_code = CostCode(code="09-900", description="Paint")
    db.session.add(other_code)
    db.session.flush()
    erp_commitment.sov_lines[0].cost_code = other_code  # not mapped
    # DocNumber too long: the longest prefix the column holds before a 14-character number
    people.project.qbo_doc_prefix = "P" * MAX_DOC_PREFIX
    erp_commitment.number = "SC-1042-EXTRA1"
    assert len(erp_commitment.doc_number) > DOC_NUMBER_LIMIT
    db.session.commit()
    category = erp_commitment.sov_lines[0].category_id
    url = f"/projects/{people.project.id}/commitments/{erp_commitment.id}"
    auth.login(people.project_admin)  # the PM: the line is theirs to fix, the rest is not
    panel = _panel(client, url)
    assert f'<a href="{url}#sov-line-{line.id}">Fix it' in panel
    assert "(an ERP admin can fix this)" in panel and "(a company admin can fix this)" in panel
    assert "/erp/settings" not in panel and "/admin/" not in panel
    auth.logout()
    auth.login(people.company_admin)
    panel = _panel(client, url)
    assert (f'<a href="/erp/settings?map={other_code.id}-{category}#map-{other_code.id}-'
            f'{category}-target">Fix it') in panel
    assert (f'<a href="/admin/projects/{people.project.id}?edit=1#qbo_doc_prefix">Fix it'
            in panel)
    settings = client.get(f"/erp/settings?map={other_code.id}-{category}").get_data(as_text=True)
    assert f'id="map-{other_code.id}-{category}-target"' in settings
    prefix = client.get(f"/admin/projects/{people.project.id}?edit=1").get_data(as_text=True)
    assert 'id="qbo_doc_prefix"' in prefix


def test_a_cco_that_takes_a_line_below_zero_links_to_its_line(client, auth, people, factory,
                                                             approver, erp_commitment):
    synced = send_and_accept(erp_commitment, people, approver)
    cco = factory.change_order(synced, status="approved",
                               lines=((synced.sov_lines[1], "-100000.00"),))
    new_line = ChangeOrderLine(change_order=cco, cost_code_id=synced.sov_lines[0].cost_code_id,
                               category_id=synced.sov_lines[0].category_id,
                               description="Credit", amount=Decimal("-10.00"))
    db.session.add(new_line)
    db.session.commit()
    url = f"/projects/{people.project.id}/commitments/{synced.id}/change-orders/{cco.id}"
    auth.login(people.project_admin)
    panel = _panel(client, url)
    assert "would go below zero" in panel and "is negative" in panel
    assert f'<a href="{url}#cco-line-{cco.lines[0].id}">Fix it' in panel
    assert f'<a href="{url}#cco-line-{new_line.id}">Fix it' in panel
    page = client.get(url).get_data(as_text=True)
    assert f'id="cco-line-{cco.lines[0].id}"' in page and f'id="cco-line-{new_line.id}"' in page
