"""Exceptions the workflow raises; routes turn them into 403s and messages next to fields."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: something the user asked for cannot be done."""


class PermissionDenied(WorkflowError):
    """The acting user may not do this."""

    def __init__(self, message: str = "You do not have permission to do that.") -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(WorkflowError):
    """Input that breaks a rule; ``errors`` maps a field name to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class StaleEdit(WorkflowError):
    """Someone saved this record after the user opened it; their save was refused."""

    def __init__(self, record, changed: dict[str, tuple[str, str]] | None = None,
                 message: str | None = None, deleting: bool = False) -> None:
        who = record.updated_by.name if getattr(record, "updated_by", None) else "Someone"
        when = record.updated_at.strftime("%Y-%m-%d %H:%M UTC") if record.updated_at else ""
        if deleting:
            default = (f"{who} changed this at {when}, after you opened it, so it was not "
                       "deleted. Check it and delete it again if you still mean to.")
        else:
            default = (f"{who} changed this at {when}, after you opened it. Your changes were "
                       "not saved; they are still in the form. Check them and save again.")
        self.message = message or default
        super().__init__(self.message)
        self.record = record
        self.changed = changed or {}


class Gone(WorkflowError):
    """The record was deleted by someone else while the user was working on it."""

    def __init__(self, message: str = "Someone deleted this while you were working on it. "
                                      "Reload the page to see what is there now.") -> None:
        super().__init__(message)
        self.message = message


class Locked(WorkflowError):
    """The record cannot change in its current state (e.g. it is with accounting)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyHandled(WorkflowError):
    """Someone else moved the record first (two approvers pressing at once)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
