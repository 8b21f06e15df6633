"""Flat cost as data grows, for the projects list and the admin lists: pages of PAGE_SIZE
with Previous / Next as real links (htmx swaps the list in place), and the SQL statements a
page runs do not grow with its rows and stay ≤ 10 (docs/architecture.md)."""

from __future__ import annotations

import re

import pytest

from extensions import db
from models import Category, ProjectRole
from tests.test_statement_counts import LIST_LIMIT, next_link, statements
from workflow.pages import PAGE_SIZE

HTMX = {"HX-Request": "true"}


def prev_link(html: str) -> str | None:
    match = re.search(r'<a class="button" rel="prev" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def project_numbers(html: str) -> list[str]:
    return re.findall(r"<strong>([^<]+)</strong>", html.split('id="project-list"', 1)[1])


def user_names(html: str) -> list[str]:
    return re.findall(r'data-label="Name"><a href="/admin/users/\d+">([^<]+)</a>', html)


def cells(html: str, label: str) -> list[str]:
    return re.findall(rf'<td data-label="{label}">([^<]+)</td>', html)


def member_names(html: str) -> list[str]:
    return re.findall(r'data-label="Person">([^<]+) <small>', html)


# ---- the projects list -----------------------------------------------------------------------

def test_a_company_admin_pages_through_every_project_by_number(factory, client, auth):
    for i in range(PAGE_SIZE + 5):
        factory.project(number=f"J-{i:03d}")
    auth.login(factory.user(is_company_admin=True))

    html = client.get("/").get_data(as_text=True)
    assert project_numbers(html) == [f"J-{i:03d}" for i in range(PAGE_SIZE)]
    assert prev_link(html) is None
    # the navigation's project picker still offers every project
    assert html.count('<option value="/projects/') == PAGE_SIZE + 5

    second = client.get(next_link(html), headers=HTMX)
    part = second.get_data(as_text=True)
    assert "<html" not in part and "HX-Request" in second.headers["Vary"]  # the list alone
    assert project_numbers(part) == [f"J-{i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert next_link(part) is None  # the last page has no Next

    full = client.get(next_link(html)).get_data(as_text=True)  # without htmx: the whole page
    assert "<html" in full and "Your projects" in full
    assert project_numbers(full) == project_numbers(part)
    again = client.get(prev_link(full)).get_data(as_text=True)
    assert project_numbers(again) == [f"J-{i:03d}" for i in range(PAGE_SIZE)]


def test_a_member_pages_only_through_their_own_projects(factory, client, auth):
    user = factory.user()
    mine = [factory.project(number=f"M-{i:03d}") for i in range(PAGE_SIZE + 1)]
    for project in mine:
        factory.member(project, user, ProjectRole.READ_ONLY)
    factory.project(number="M-0005-not-mine")
    auth.login(user)

    html = client.get("/").get_data(as_text=True)
    assert project_numbers(html) == [p.number for p in mine[:PAGE_SIZE]]
    last = client.get(next_link(html)).get_data(as_text=True)
    assert project_numbers(last) == [mine[-1].number]
    assert next_link(last) is None


# ---- admin lists ---------------------------------------------------------------------------------

@pytest.fixture
def admin(client, auth, factory):
    user = factory.user(name="Ada Admin", is_company_admin=True)
    auth.login(user)
    return user


def test_the_users_list_pages_by_name(factory, client, admin):
    for i in range(PAGE_SIZE + 5):
        factory.user(name=f"Person {i:03d}", active=i != PAGE_SIZE + 4)

    html = client.get("/admin/users").get_data(as_text=True)
    names = ["Ada Admin", *(f"Person {i:03d}" for i in range(PAGE_SIZE + 5))]
    assert user_names(html) == names[:PAGE_SIZE]
    assert "New user" in html and prev_link(html) is None

    part = client.get(next_link(html), headers=HTMX).get_data(as_text=True)
    assert "<html" not in part and 'id="user-form"' not in part  # the list, not the form
    assert user_names(part) == names[PAGE_SIZE:]
    assert "Reactivate" in part  # the row's actions come along
    assert next_link(part) is None
    assert user_names(client.get(prev_link(part)).get_data(as_text=True)) == names[:PAGE_SIZE]


@pytest.mark.parametrize("slug,label", [("vendors", "Name"), ("cost-codes", "Code"),
                                        ("projects", "Number")])
def test_a_reference_list_pages_and_keeps_its_inline_edit(factory, client, admin, slug, label):
    make = {"vendors": lambda i: factory.vendor(f"Supplier {i:03d}"),
            "cost-codes": lambda i: factory.cost_code(f"{i:03d}-500"),
            "projects": lambda i: factory.project(number=f"R-{i:03d}")}[slug]
    values = [getattr(make(i), {"Name": "name", "Code": "code", "Number": "number"}[label])
              for i in range(PAGE_SIZE + 3)]

    html = client.get(f"/admin/{slug}").get_data(as_text=True)
    assert cells(html, label) == values[:PAGE_SIZE]
    part = client.get(next_link(html), headers=HTMX).get_data(as_text=True)
    assert "<html" not in part
    assert cells(part, label) == values[PAGE_SIZE:]
    assert part.count(">Edit</a>") == 3 and next_link(part) is None


def test_the_categories_list_pages_after_the_default_ones(client, admin):
    db.session.add_all(Category(name=f"Zone {i:03d}") for i in range(PAGE_SIZE))
    db.session.commit()
    html = client.get("/admin/categories").get_data(as_text=True)
    assert len(cells(html, "Name")) == PAGE_SIZE
    last = client.get(next_link(html)).get_data(as_text=True)
    assert cells(last, "Name") == [f"Zone {i:03d}" for i in range(PAGE_SIZE - 5, PAGE_SIZE)]
    assert next_link(last) is None


def test_the_members_list_pages_and_stays_on_its_own_page_after_a_change(factory, client,
                                                                         admin):
    project = factory.project()
    people = [factory.user(name=f"Member {i:03d}") for i in range(PAGE_SIZE + 2)]
    for person in people:
        factory.member(project, person, ProjectRole.STANDARD)
    url = f"/admin/projects/{project.id}/members"

    html = client.get(url).get_data(as_text=True)
    assert member_names(html) == [p.name for p in people[:PAGE_SIZE]]
    part = client.get(next_link(html), headers=HTMX).get_data(as_text=True)
    assert "<html" not in part and '<section id="members"' in part
    assert member_names(part) == [p.name for p in people[PAGE_SIZE:]]
    assert next_link(part) is None

    # Removing someone answers with the list again; its Next still opens the members page.
    removed = client.post(f"{url}/{people[0].id}/remove", headers=HTMX).get_data(as_text=True)
    assert member_names(removed) == [p.name for p in people[1:PAGE_SIZE + 1]]
    assert next_link(removed).startswith(f"{url}?after=")
    rest = client.get(next_link(removed)).get_data(as_text=True)
    assert member_names(rest) == [people[-1].name]


# ---- statements per page -------------------------------------------------------------------

def _add_projects(factory, start, n, _project):
    for i in range(start, start + n):
        factory.project(number=f"S-{i:03d}")


def _add_users(factory, start, n, _project):
    for i in range(start, start + n):
        factory.user(name=f"Person {i:03d}")


def _add_vendors(factory, start, n, _project):
    for i in range(start, start + n):
        factory.vendor(f"Supplier {i:03d}")


def _add_cost_codes(factory, start, n, _project):
    for i in range(start, start + n):
        factory.cost_code(f"{i:03d}-500")


def _add_categories(_factory, start, n, _project):
    db.session.add_all(Category(name=f"Zone {i:03d}") for i in range(start, start + n))
    db.session.commit()


def _add_members(factory, start, n, project):
    for i in range(start, start + n):
        factory.member(project, factory.user(name=f"Member {i:03d}"), ProjectRole.STANDARD)


LISTS = {
    "projects list": ("/", _add_projects),
    "users": ("/admin/users", _add_users),
    "vendors": ("/admin/vendors", _add_vendors),
    "cost codes": ("/admin/cost-codes", _add_cost_codes),
    "categories": ("/admin/categories", _add_categories),
    "admin projects": ("/admin/projects", _add_projects),
    "members": ("/admin/projects/{project}/members", _add_members),
}


@pytest.mark.scale  # many records: left out by make test-quick
@pytest.mark.parametrize("name", LISTS)
def test_statements_per_list_page_do_not_grow_with_rows(factory, client, admin, name):
    url, add = LISTS[name]
    project = factory.project(number="A-000")
    url = url.format(project=project.id)

    def count() -> dict[str, int]:
        first = client.get(url).get_data(as_text=True)
        second = next_link(first) or url  # a small list has one page: read its first again
        return {"first page": statements(client, url),
                "next page": statements(client, second),
                "next page, htmx": statements(client, second, htmx=True)}

    add(factory, 0, 5, project)
    small = count()
    add(factory, 5, PAGE_SIZE + 5, project)
    assert next_link(client.get(url).get_data(as_text=True)) is not None
    large = count()
    assert large == small
    assert max(large.values()) <= LIST_LIMIT


# ---- the Commitment CO selection page ---------------------------------------------------------

@pytest.mark.scale  # many records: left out by make test-quick
def test_the_commitment_co_selection_pages_its_items_and_keeps_the_filter(factory, client,
                                                                          auth, people):
    """Line items of every change event of the project, 50 at a time, filtered by vendor,
    with the same statements for 3 items as for 120."""
    project = people.project
    project.change_events_enabled = True
    db.session.commit()
    auth.login(people.standard)
    acme, other = factory.vendor("Acme Glass"), factory.vendor("Other Co")
    url = f"/projects/{project.id}/change-events/commitment-co?vendor={acme.id}"

    def add_items(n):
        for i in range(n):
            ce = factory.change_event(project, title=f"Event {i}")
            factory.change_event_line(ce, vendor=acme, description=f"Acme item {i}",
                                      cost_rom="10.00")
            factory.change_event_line(ce, vendor=other, description=f"Other item {i}")

    add_items(3)
    few = statements(client, url)
    add_items(PAGE_SIZE + 7)
    many = statements(client, url)
    assert few == many <= LIST_LIMIT + 3  # the page's own reads, then the item page's

    first = client.get(url).get_data(as_text=True)
    assert first.count('name="line_ids"') == PAGE_SIZE
    assert "Other item" not in first  # the vendor filter holds
    after = next_link(first)
    assert after and f"vendor={acme.id}" in after
    second = client.get(after, headers=HTMX).get_data(as_text=True)
    assert "<html" not in second and 'id="lines"' in second  # swapped in place with htmx
    assert second.count('name="line_ids"') == PAGE_SIZE + 10 - PAGE_SIZE
    assert prev_link(second)
