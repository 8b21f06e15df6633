"""The kinds of record that have a Change History (history_events.subject_type) and that a
history event may refer to (history_events.ref_type): each model registers itself with
``@history_subject``, so the history needs no list of them (workflow/history.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class HistorySubject:
    kind: str  # stored in history_events.subject_type / ref_type
    model: type
    project_id: Callable  # (record) → the id of the project its events belong to
    name: Callable  # (record) → how the history names it ("CCO #001 of SC-1042")


_by_model: dict[type, HistorySubject] = {}
_by_kind: dict[str, HistorySubject] = {}


def history_subject(kind: str, project_id: Callable, name: Callable = lambda record: record.number):
    """Class decorator: records of this model have a Change History, as ``kind``."""
    def register(model: type) -> type:
        subject = HistorySubject(kind, model, project_id, name)
        _by_model[model] = _by_kind[kind] = subject
        return model
    return register


def subject_of(record) -> HistorySubject:
    for model in type(record).__mro__:
        if model in _by_model:
            return _by_model[model]
    raise TypeError(f"no history for {type(record).__name__}")


def subject_kind(kind: str) -> HistorySubject | None:
    return _by_kind.get(kind)
