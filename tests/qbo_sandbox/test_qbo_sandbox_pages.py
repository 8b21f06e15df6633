"""The sandbox's read-only page lists any number of records a page at a time: each list of
each company turns its own pages with Previous / Next links that keep the other lists where
they are."""

from __future__ import annotations

import re

import pytest

from qbo_sandbox import DEMO_REALM_ID, Sandbox, create_sandbox_app
from qbo_sandbox.app import PAGE_SIZE


def add(sandbox: Sandbox, entity: str, n: int, realm_id: str = DEMO_REALM_ID) -> list[str]:
    """``n`` more active records of ``entity``, as if created through the API; their names."""
    realm = sandbox.realm(realm_id)
    names = []
    with sandbox.lock:
        for i in range(n):
            obj_id = realm.take_id(entity)
            name = f"Extra {entity} {i:03d}"
            field = "DisplayName" if entity == "Vendor" else "Name"
            realm.entities[entity][obj_id] = {"Id": obj_id, field: name, "Active": True,
                                              "AccountType": "Expense", "SyncToken": "0"}
            names.append(name)
    return names


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def get(sandbox):
    client = create_sandbox_app(sandbox).test_client()

    def get(query: str = "") -> str:
        response = client.get("/" + query)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    return get


def section(html: str, title: str, realm_id: str = DEMO_REALM_ID) -> str:
    """The part of the page from the realm's heading ``title`` to the next heading."""
    realm = html.split(f"(realm {realm_id})", 1)[1]
    return re.split(r"<h[23]>", realm.split(f"<h3>{title}</h3>", 1)[1], maxsplit=1)[0]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def vendor_names(html: str) -> list[str]:
    return re.findall(r"<td>([^<]+)</td><td>(?:True|False)</td>", section(html, "Vendors"))


def test_a_long_vendor_list_pages_by_id(sandbox, get):
    seeded = [v["DisplayName"] for v in sandbox.list_objects(DEMO_REALM_ID, "Vendor")]
    everyone = seeded + add(sandbox, "Vendor", PAGE_SIZE + 3)

    first = get()
    assert vendor_names(first) == everyone[:PAGE_SIZE]
    assert link(section(first, "Vendors"), "prev") is None
    second_url = link(section(first, "Vendors"), "next")
    assert second_url == f"?vendors-{DEMO_REALM_ID}=2"

    last = get(second_url)
    assert vendor_names(last) == everyone[PAGE_SIZE:]
    assert link(section(last, "Vendors"), "next") is None  # the last page has no Next
    back = link(section(last, "Vendors"), "prev")
    assert vendor_names(get(back)) == everyone[:PAGE_SIZE]


def test_short_lists_have_no_pager(get):
    html = get()
    assert 'class="pager"' not in html
    assert "No purchase orders." in html


def test_each_list_keeps_its_page_when_another_turns(sandbox, get):
    add(sandbox, "Vendor", PAGE_SIZE)
    accounts = [a["Name"] for a in sandbox.list_objects(DEMO_REALM_ID, "Account")]
    accounts += add(sandbox, "Account", PAGE_SIZE)
    vendors_page_2 = get(f"?vendors-{DEMO_REALM_ID}=2")
    accounts_next = link(section(vendors_page_2, "Accounts"), "next")
    assert f"vendors-{DEMO_REALM_ID}=2" in accounts_next  # the vendors stay on page 2

    both = get(accounts_next)
    assert vendor_names(both) == vendor_names(vendors_page_2)
    shown = re.findall(r"<td>([^<]+)</td><td>[^<]*</td><td>(?:True|False)</td>",
                       section(both, "Accounts"))
    assert shown == accounts[PAGE_SIZE:]


def test_each_company_turns_its_own_pages(sandbox, get):
    sandbox.add_company("1111", "Second Co")
    add(sandbox, "Vendor", PAGE_SIZE, realm_id="1111")
    html = get("?vendors-1111=2")
    assert "Extra Vendor 049" in section(html, "Vendors", "1111")
    assert "Extra Vendor" not in section(html, "Vendors")  # the demo company's first page
    assert link(section(html, "Vendors", "1111"), "next") is None


@pytest.mark.parametrize("number", ["0", "-3", "two", "99"])
def test_a_page_number_out_of_range_shows_the_first_or_last_page(sandbox, get, number):
    add(sandbox, "Vendor", PAGE_SIZE)
    everyone = [v["DisplayName"] for v in sandbox.list_objects(DEMO_REALM_ID, "Vendor")]
    html = get(f"?vendors-{DEMO_REALM_ID}={number}")
    expected = everyone[PAGE_SIZE:] if number == "99" else everyone[:PAGE_SIZE]
    assert vendor_names(html) == expected


def test_every_list_scrolls_in_its_own_box_on_a_phone(sandbox, get):
    add(sandbox, "Vendor", PAGE_SIZE)
    html = get()
    assert html.count("<table") - html.count('<table class="lines"') == html.count(
        '<div class="scroll"><table')
    assert re.search(r"\.pager a\{[^}]*min-height:44px", html)  # tap targets of 44 px
