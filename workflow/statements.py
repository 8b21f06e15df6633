"""Statements built once and reused with bound parameters.

Building a SQLAlchemy expression (a few selects, an EXISTS, a CASE) and computing its cache
key costs more Python time than running the statement it compiles to, so a statement a page
runs on every request is built once per *shape* (what changes its SQL: which filters are on,
whether the viewer is a company admin) and run with the values (ids) bound. SQLAlchemy's
compiled cache then finds its SQL at once. docs/performance.md says where this was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import bindparam

from workflow import kinds

_BUILT: dict[Hashable, Any] = {}


def built_once(key: Hashable, build: Callable[[], Any]):
    """The statement of this ``key`` (its shape), built by ``build()`` the first time. Keys are
    few (a handful of shapes per statement), so the cache stays small. The registered ERP kinds
    are part of every shape: statements over "every kind" are built again when one is added."""
    key = (tuple(kinds.KINDS), key)
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build()
    return statement


class AnyUser:
    """A user of a kind, standing in for any one of them in a statement built once: its id is
    the bound parameter ``name`` (pass the real user's id when running the statement). Only
    what the SQL builders read is here: the id, whether they are logged in, company admin."""

    is_authenticated = True

    def __init__(self, is_company_admin: bool, name: str = "viewer_id") -> None:
        self.id = bindparam(name)
        self.is_company_admin = bool(is_company_admin)
