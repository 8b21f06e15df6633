"""The app's settings as the workflow reads them (MAIL_SERVER, PUBLIC_URL, ...), without
importing Flask: the app factory installs where they come from (``create_app``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

_source: Callable[[], Mapping] | None = None


def install(source: Callable[[], Mapping]) -> None:
    global _source
    _source = source


def config() -> Mapping:
    if _source is None:
        raise RuntimeError("no settings installed: create_app() installs them")
    return _source()
