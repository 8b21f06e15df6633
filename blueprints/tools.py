"""The tool registry: each tool's package adds itself here (in its ``__init__``), and the
navigation (templates/base.html) lists what is registered, in ``order``, to whoever may use it.

Adding a tool is one package: its blueprint, its templates and one ``register_tool`` call
(docs/architecture.md, "Adding a tool").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for

# Where a tool's link is shown: on a project's pages (its URL takes the project's id), on the
# other pages, or on every page.
IN_PROJECT, OUTSIDE_PROJECTS, EVERYWHERE = "in project", "outside projects", "everywhere"


def _always(_user, _project) -> bool:
    return True


@dataclass(frozen=True)
class Tool:
    name: str  # what a page passes as ``tool`` to mark its link as the current page
    endpoint: str
    label: str
    order: int
    visible: Callable  # (user, project or None) → whether the link is shown
    where: str = EVERYWHERE
    anchor: str = ""  # a fragment of the page to link to
    count: Callable | None = None  # (user) → the number of the link's badge
    badge: str | None = None  # the template of the badge put after the label (gets ``count``)
    hidden_without_count: bool = False  # no link at all while the count is 0


@dataclass(frozen=True)
class NavLink:
    name: str
    label: str
    url: str
    badge: str | None
    count: int | None


_registry: dict[str, Tool] = {}


def register_tool(name: str, endpoint: str, label: str, order: int,
                  visible: Callable = _always, **options) -> Tool:
    """Add a tool to the navigation (again: the same name replaces it, as when a second app
    is made in the same process)."""
    tool = Tool(name, endpoint, label, order, visible, **options)
    if tool.where not in (IN_PROJECT, OUTSIDE_PROJECTS, EVERYWHERE):
        raise ValueError(f"unknown place for a tool: {tool.where!r}")
    _registry[name] = tool
    return tool


def registered_tools() -> list[Tool]:
    return sorted(_registry.values(), key=lambda tool: (tool.order, tool.name))


def navigation(user, project=None) -> list[NavLink]:
    """The links of the navigation for ``user`` on a page of ``project`` (or of none)."""
    links = []
    for tool in registered_tools():
        if (tool.where == IN_PROJECT and project is None) or (
                tool.where == OUTSIDE_PROJECTS and project is not None):
            continue
        if not tool.visible(user, project):
            continue
        count = tool.count(user) if tool.count else None
        if tool.hidden_without_count and not count:
            continue
        url = url_for(tool.endpoint, **({"project_id": project.id}
                                        if tool.where == IN_PROJECT else {}))
        links.append(NavLink(tool.name, tool.label, url + (f"#{tool.anchor}" if tool.anchor
                                                           else ""), tool.badge, count))
    return links
