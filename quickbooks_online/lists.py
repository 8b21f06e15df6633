"""Importing QuickBooks' Vendors, Customers (jobs), Items and Accounts, to pick in mappings."""

from __future__ import annotations

from quickbooks.objects.account import Account
from quickbooks.objects.customer import Customer
from quickbooks.objects.item import Item
from quickbooks.objects.vendor import Vendor as QboVendor
from sqlalchemy import select, tuple_

from extensions import db
from models import QboRecord
from models.types import utcnow
from quickbooks_online.connection import call, require_connection
from quickbooks_online.mapping import SALES_ONLY

PAGE = 1000  # QuickBooks' MAXRESULTS ceiling


def _all(entity_class, qb) -> list:
    """Every record of one entity, page by page."""
    found, start = [], 1
    while True:
        statement = f"select * from {entity_class.qbo_object_name} "  # noqa: S608 (constants)
        page = entity_class.query(f"{statement}STARTPOSITION {start} MAXRESULTS {PAGE}", qb=qb)
        found.extend(page)
        if len(page) < PAGE:
            return found
        start += PAGE


def _detail(entity: str, record) -> tuple[str, str]:
    if entity == "Customer":
        name = getattr(record, "FullyQualifiedName", None) or record.DisplayName
        return name, "Job" if getattr(record, "Job", False) else "Customer"
    if entity == "Vendor":
        return record.DisplayName, ""
    if entity == "Item":
        name = getattr(record, "FullyQualifiedName", None) or record.Name
        if not getattr(getattr(record, "ExpenseAccountRef", None), "value", None):
            return name, f"{SALES_ONLY}: {record.Type or 'Item'}"  # QuickBooks cannot buy it
        return name, record.Type or ""
    return getattr(record, "FullyQualifiedName", None) or record.Name, record.AccountType or ""


ENTITIES = (("Vendor", QboVendor), ("Customer", Customer), ("Item", Item),
            ("Account", Account))


def import_lists() -> dict[str, int]:
    """Replace the imported lists with what QuickBooks holds now; returns counts per entity."""
    connection = require_connection()
    counts = {}
    for entity, entity_class in ENTITIES:
        records = call(lambda qb, cls=entity_class: _all(cls, qb))
        store_records(connection.realm_id, entity, records)
        counts[entity] = len(records)
    db.session.commit()
    return counts


def store_records(realm_id: str, entity: str, records: list) -> None:
    """Upsert python-quickbooks objects as QboRecords; those no longer listed turn inactive."""
    existing = {r.qbo_id: r for r in db.session.scalars(select(QboRecord).where(
        QboRecord.realm_id == realm_id, QboRecord.entity == entity))}
    for record in records:
        name, detail = _detail(entity, record)
        row = existing.pop(str(record.Id), None) or QboRecord(
            realm_id=realm_id, entity=entity, qbo_id=str(record.Id))
        row.name, row.detail = name, detail
        row.active = bool(getattr(record, "Active", True))
        row.imported_at = utcnow()
        db.session.add(row)
    for gone in existing.values():  # deleted in QuickBooks: keep the row, but inactive
        gone.active = False


def records(entity: str, *, detail: str | None = None,
            purchasable: bool = False) -> list[QboRecord]:
    """Imported records of one entity; ``purchasable`` leaves out items QuickBooks only sells."""
    connection = require_connection()
    query = select(QboRecord).where(QboRecord.realm_id == connection.realm_id,
                                    QboRecord.entity == entity, QboRecord.active.is_(True))
    if detail is not None:
        query = query.where(QboRecord.detail == detail)
    if purchasable:
        query = query.where(~QboRecord.detail.startswith(SALES_ONLY))
    return list(db.session.scalars(query.order_by(QboRecord.name)))


def names_for(pairs: set[tuple[str, str | None]]) -> dict[tuple[str, str], str]:
    """(entity, QuickBooks id) → name for just these records of the connected company, in one
    statement (however long the company's lists are)."""
    from models import QboConnection

    wanted = sorted((entity, qbo_id) for entity, qbo_id in pairs if qbo_id)
    if not wanted:
        return {}
    realm = (select(QboConnection.realm_id).order_by(QboConnection.id).limit(1)
             .scalar_subquery())
    rows = db.session.execute(select(QboRecord.entity, QboRecord.qbo_id, QboRecord.name).where(
        QboRecord.realm_id == realm, tuple_(QboRecord.entity, QboRecord.qbo_id).in_(wanted)))
    return {(entity, qbo_id): name for entity, qbo_id, name in rows}
