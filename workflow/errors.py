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
