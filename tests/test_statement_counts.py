"""Flat cost as data grows: the SQL statements a page runs do not grow with its rows or lines
(and stay ≤ 10 for a list), and the lists that grow are paged (docs/architecture.md)."""

from __future__ import annotations

import contextlib
import re

import pytest
from sqlalchemy import event

from extensions import db
from models import ErpPermission, ProjectRole
from tests.conftest import app_statement
from workflow import history
from workflow.pages import PAGE_SIZE

LIST_LIMIT = 10


@contextlib.contextmanager
def counting():
    seen: list[str] = []

    def before(_conn, _cursor, statement, _parameters, _context, _executemany):
        if app_statement(statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def statements(client, url: str, htmx: bool = False) -> int:
    db.session.expire_all()
    with counting() as seen:
        response = client.get(url, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == 200, url
    return len(seen)


def build(factory, project, n: int, prefix: str):
    """A commitment with ``n`` SOV lines (each its own cost code) and a CCO changing each, a
    change event with ``n`` items, ``n`` more commitments and change events, and history."""
    commitment = factory.commitment(project, number=f"{prefix}-000", sov=())
    for _ in range(n):
        factory.sov_line(commitment, amount="10.00")
    cco = factory.change_order(commitment, lines=tuple(
        (line, "5.00") for line in commitment.sov_lines), private=True)
    ce = factory.change_event(project)
    for _ in range(n):
        factory.change_event_line(ce, commitment=commitment)
    people = [factory.user() for _ in range(3)]
    for i in range(n):
        factory.commitment(project, number=f"{prefix}-{i + 1:03d}")
        factory.change_event(project)
        for subject in (commitment, cco, ce):
            history.record(people[i % 3], subject, "changed", field="Title", old="a", new="b")
    db.session.commit()
    return commitment, cco, ce


LISTS = {"projects list", "commitments list", "commitments list partial",
         "commitments list page 2", "change events list", "change events list partial"}


def urls(project, commitment, cco, ce) -> dict[str, tuple[str, bool]]:
    """name → (url, htmx)."""
    p = f"/projects/{project.id}"
    return {
        "projects list": ("/", False),
        "commitments list": (f"{p}/commitments/", False),
        "commitments list partial": (f"{p}/commitments/?status=approved", True),
        "commitments list page 2": (f"{p}/commitments/?after=", False),
        "commitment page": (f"{p}/commitments/{commitment.id}", False),
        "commitment header partial": (f"{p}/commitments/{commitment.id}/header", True),
        "commitment ERP panel partial": (f"{p}/commitments/{commitment.id}/erp", True),
        "CCO page": (f"{p}/commitments/{commitment.id}/change-orders/{cco.id}", False),
        "CCO ERP panel partial": (f"{p}/commitments/{commitment.id}/change-orders/{cco.id}/erp",
                                  True),
        "change events list": (f"{p}/change-events/", False),
        "change events list partial": (f"{p}/change-events/?scope=tbd", True),
        "change event page": (f"{p}/change-events/{ce.id}", False),
        "change event header partial": (f"{p}/change-events/{ce.id}/header", True),
        "history, older page": (f"{p}/commitments/{commitment.id}?history_before=999999",
                                False),
        "ERP settings": ("/erp/settings", False),
    }


def next_link(html: str) -> str | None:
    match = re.search(r'<a class="button" rel="next" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def counts(client, project, records) -> dict[str, int]:
    found = {}
    for name, (url, htmx) in urls(project, *records).items():
        if url.endswith("?after="):  # the second page of the list
            url = next_link(client.get(url[:-len("?after=")]).get_data(as_text=True))
            if url is None:  # a small list has one page: read its first again
                url = f"/projects/{project.id}/commitments/"
        found[name] = statements(client, url, htmx)
    return found


@pytest.mark.scale  # many records: left out by make test-quick
@pytest.mark.parametrize("viewer", ["project admin", "company admin"])
def test_statements_per_page_do_not_grow_with_rows_or_lines(factory, client, auth, viewer):
    project = factory.project()
    user = factory.user(erp=ErpPermission.ADMIN, can_push=True,
                        is_company_admin=viewer == "company admin")
    if viewer == "project admin":
        factory.member(project, user, ProjectRole.ADMIN)
    auth.login(user)
    small = counts(client, project, build(factory, project, 5, "A"))
    large = counts(client, project, build(factory, project, PAGE_SIZE + 10, "B"))
    assert large == small
    assert {name: n for name, n in large.items() if name in LISTS and n > LIST_LIMIT} == {}


def numbers(html: str, prefix: str) -> list[str]:
    return re.findall(rf'data-label="#"><a href="[^"]+">({prefix}[^<]*)</a>', html)


def test_the_commitments_list_pages_by_number_and_keeps_its_filters(factory, client, auth,
                                                                    people):
    project = people.project
    vendor, other = factory.vendor("Acme"), factory.vendor("Other")
    for i in range(PAGE_SIZE + 5):
        factory.commitment(project, vendor=vendor, number=f"SC-{i:03d}")
        factory.commitment(project, vendor=other, number=f"PO-{i:03d}")
    auth.login(people.read_only)

    first = client.get(f"/projects/{project.id}/commitments/?vendor={vendor.id}")
    html = first.get_data(as_text=True)
    assert numbers(html, "") == [f"SC-{i:03d}" for i in range(PAGE_SIZE)]
    assert f"Total ({PAGE_SIZE + 5})" in html  # the footer counts every match, not the page
    assert 'rel="prev"' not in html
    second_url = next_link(html)
    assert f"vendor={vendor.id}" in second_url  # the filter is kept

    second = client.get(second_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert numbers(second, "") == [f"SC-{i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert next_link(second) is None  # the last page has no Next
    assert f"Total ({PAGE_SIZE + 5})" in second

    back = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    again = client.get(back).get_data(as_text=True)
    assert numbers(again, "") == [f"SC-{i:03d}" for i in range(PAGE_SIZE)]


def test_the_change_events_list_pages_and_totals_every_match(factory, client, auth, people):
    project = people.project
    for _ in range(PAGE_SIZE + 2):
        ce = factory.change_event(project, status="open")
        factory.change_event_line(ce, cost_rom="10.00")
    factory.change_event(project, status="closed")
    auth.login(people.read_only)

    html = client.get(f"/projects/{project.id}/change-events/?status=open").get_data(
        as_text=True)
    assert len(numbers(html, "")) == PAGE_SIZE
    assert f"Total ({PAGE_SIZE + 2})" in html
    assert f"{(PAGE_SIZE + 2) * 10:,}.00" in html  # the ROM of every match, not of the page
    second = client.get(next_link(html)).get_data(as_text=True)
    assert numbers(second, "") == [f"{PAGE_SIZE + 1:03d}", f"{PAGE_SIZE + 2:03d}"]
    assert next_link(second) is None


def test_a_mangled_cursor_shows_the_first_page(factory, client, auth, people):
    factory.commitment(people.project, number="SC-1")
    auth.login(people.read_only)
    html = client.get(f"/projects/{people.project.id}/commitments/?after=%%%&before=e30"
                      ).get_data(as_text=True)
    assert numbers(html, "") == ["SC-1"]


def test_the_change_history_shows_older_changes_a_page_at_a_time(factory, client, auth,
                                                                 people):
    commitment = factory.commitment(people.project)
    for i in range(60):
        history.record(people.standard, commitment, "changed", field="Title",
                       old=f"title {i}", new=f"title {i + 1}")
    db.session.commit()
    auth.login(people.read_only)
    url = f"/projects/{people.project.id}/commitments/{commitment.id}"

    def shown(html):  # the new value of each change listed, newest first
        return re.findall(r'data-label="To">title (\d+)<', html)

    html = client.get(url).get_data(as_text=True)
    assert shown(html) == [str(i) for i in range(60, 10, -1)]
    older = re.search(r'href="([^"]+)">Older changes', html).group(1).replace("&amp;", "&")
    rest = client.get(older).get_data(as_text=True)
    assert shown(rest) == [str(i) for i in range(10, 0, -1)]
    assert "Older changes" not in rest and "Newest changes" in rest


# An inline line save (tests/test_line_editor.py builds each kind) reads what it renders once:
# nothing is read again after its commit (the session keeps what the save read, and the lists'
# totals it wrote), and it runs at most SAVE_LIMIT statements, the same for 5 lines as for 20:
# the user, the project with the role, the parent (under its lock) with its lines, the write
# with its history in one INSERT and the lists' kept totals in two, then the ERP panel's checks
# (docs/performance.md, "Saves that do not reload").
SAVE_LIMIT = 12


@pytest.mark.parametrize("kind", ["sov", "cco", "ce"])
def test_an_inline_save_reads_what_it_renders_once(client, auth, factory, people, kind):
    from models import Project
    from tests.test_line_editor import HTMX, KINDS, _statements

    auth.login(people.project_admin)
    found = {}
    for lines in (5, 20):
        project = db.session.get(Project, people.project.id)
        url, data, totals_id, total = KINDS[kind](factory, project, lines)
        db.session.expire_all()
        seen, response = _statements(lambda: client.post(url, data=data, headers=HTMX))  # noqa: B023
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html
        assert totals_id in html and total in html
        by_id = [s for s in seen if re.match(
            r"SELECT users\.id\b.* FROM users WHERE users\.id = ", " ".join(s.split()))]
        assert len(by_id) == 1  # the logged-in user, read once: not again after the commit
        table = {"sov": "sov_lines", "cco": "change_order_lines", "ce": "change_event_lines"}[kind]
        line_by_id = re.compile(rf"SELECT {table}\.id\b.* FROM {table} WHERE {table}\.id = ")  # noqa: S608 (a pattern)
        reads_of_line = [s for s in seen if line_by_id.match(" ".join(s.split()))]
        assert len(reads_of_line) <= 1  # the line saved, read once
        assert len(seen) <= SAVE_LIMIT, "\n".join(seen)
        found[lines] = len(seen)
    assert found[20] == found[5]  # not one more for more lines
