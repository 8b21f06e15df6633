"""Exporters: one per kind of record we send to QuickBooks, registered in one place.

An exporter takes an ``Export`` (what was accepted, with its idempotency key and attempt
count) and returns an ``ExportResult`` (what QuickBooks now holds). It is safe to run any number
of times: each run reads QuickBooks first and writes only what is not there yet
(docs/quickbooks.md, "Exactly once"). An exporter module registers itself when its ERP kind
(``workflow/erp_kinds/``, loaded at start) imports it; docs/architecture.md, "Adding an ERP
kind".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from models import Export


@dataclass(frozen=True)
class ExportResult:
    """What QuickBooks holds after an export: the record written (``entity`` ``qbo_id``)."""

    qbo_id: str
    sync_token: str
    total: Decimal | None
    # Our line (SovLine.id for a commitment, ChangeOrderLine.id for a CCO) → QuickBooks line Id
    line_ids: dict[int, str] = field(default_factory=dict)
    entity: str = "PurchaseOrder"
    realm_id: str | None = None  # the company it is in (``push`` sets it)
    # A CCO's update: the SyncToken of the PurchaseOrder it was computed from and added to
    # (None: nothing written). Drift asks whether that version held what we hold.
    written_over: str | None = None


Exporter = Callable[[Export], ExportResult]
EXPORTERS: dict[str, Exporter] = {}


def register(subject_type: str):
    def decorator(function: Exporter) -> Exporter:
        EXPORTERS[subject_type] = function
        return function
    return decorator


def push(export: Export) -> ExportResult:
    """Run the exporter registered for the export's subject, pinned to the company connected
    as it starts: every call goes there or is not made (a switch of company meanwhile is
    refused, quickbooks_online/connection.py:company_pinned). The result names that company."""
    from quickbooks_online.company import connected_realm
    from quickbooks_online.connection import company_pinned

    realm = connected_realm()
    with company_pinned(realm):
        result = EXPORTERS[export.subject_type](export)
    return replace(result, realm_id=realm)


def request_id(key: str, *parts: object) -> str:
    """A QuickBooks ``requestid`` derived from the Export's key (≤ 50 characters, Intuit's
    limit). The attempt is part of it: Intuit answers a repeated requestid with its first
    response, which may be the very fault a retry is meant to get past; every attempt reads
    QuickBooks before it writes, so a new requestid can never apply a change twice."""
    candidate = "-".join([key, *(str(p) for p in parts)])
    if len(candidate) <= 50:
        return candidate
    return "cod-" + hashlib.sha256(candidate.encode()).hexdigest()[:46]


def result_of(po: dict, line_ids: dict[int, str]) -> ExportResult:
    total = po.get("TotalAmt")
    return ExportResult(str(po["Id"]), str(po["SyncToken"]),
                        Decimal(str(total)).quantize(Decimal("0.01")) if total is not None
                        else None, line_ids)


def sent_line_ids(sent: list[dict], answer: dict, wanted: list[tuple[int, int]]
                  ) -> dict[int, str]:
    """QuickBooks' Id of each line we sent, by position: ``wanted`` pairs our line's id with
    its index in ``sent``. QuickBooks keeps the order of the Line array it is sent."""
    lines = answer.get("Line") or []
    if len(lines) != len(sent):
        return {}
    return {ours: str(lines[index]["Id"]) for ours, index in wanted if lines[index].get("Id")}
