"""Change data capture: ``GET /v3/company/{realm}/cdc?entities=PurchaseOrder&changedSince=…``.

As Intuit documents it
(https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/change-data-capture):
the full payload of every object of the listed entities changed at or after ``changedSince``
(an ISO 8601 date-time, or a date), changes of the last 30 days only (an older
``changedSince`` is refused: "Operation cdc with changedSince date … which is older than fixed
days is not supported."), at most 1,000 objects in one answer (all entities together), and a
removed object as ``{"domain": "QBO", "status": "Deleted", "Id": …, "MetaData":
{"LastUpdatedTime": …}}``. The answer::

    {"CDCResponse": [{"QueryResponse": [
        {"PurchaseOrder": [...], "startPosition": 1, "maxResults": 2, "totalCount": 2}]}],
     "time": "…"}

Objects come oldest change first. When more than 1,000 changed, Intuit does not say which
1,000 the answer holds; the sandbox answers the 1,000 *newest*, the choice least kind to a
client that would read again from the last ``LastUpdatedTime`` it got: only a client that
treats a full answer as "some changes are missing" (and reads everything) sees them all.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

from . import faults

LOOK_BACK_DAYS = 30
MAX_OBJECTS = 1000


def parse_time(text: str, default_tz: timezone) -> datetime:
    """An ISO date-time (``Z`` or an offset; no offset: the company's zone) or a date."""
    value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value


def answer(realm, args: dict[str, str], *, now: float, company_tz: timezone,
           entity_names: dict[str, str], stamp: str) -> dict:
    names = [part.strip() for part in (args.get("entities") or "").split(",") if part.strip()]
    if not names:
        raise faults.required_param("entities")
    since_text = args.get("changedSince") or ""
    if not since_text:
        raise faults.required_param("changedSince")
    try:
        since = parse_time(since_text, company_tz)
    except ValueError:
        raise faults.invalid_property(
            "changedSince", f"{since_text!r} is not a date-time (ISO 8601).") from None
    current = datetime.fromtimestamp(now, UTC)
    if since < current - timedelta(days=LOOK_BACK_DAYS):
        raise faults.QBOFault(
            "500", "Unsupported Operation",
            f"Operation cdc with changedSince date {since_text} which is older than fixed "
            f"days is not supported.")
    entities = []
    for name in names:
        entity = entity_names.get(name.lower())
        if entity is None:
            raise faults.unsupported_operation(f"cdc for entity {name}")
        if entity not in entities:
            entities.append(entity)
    changed: list[tuple[datetime, str, dict]] = []
    for entity in entities:
        for obj in realm.entities[entity].values():
            updated = parse_time(obj["MetaData"]["LastUpdatedTime"], company_tz)
            if updated >= since:
                changed.append((updated, entity, obj))
        for obj_id, when in realm.deleted_at.get(entity, {}).items():
            updated = parse_time(when, company_tz)
            if updated >= since:
                changed.append((updated, entity, {"domain": "QBO", "status": "Deleted",
                                                  "Id": obj_id,
                                                  "MetaData": {"LastUpdatedTime": when}}))
    changed.sort(key=lambda row: (row[0], int(row[2]["Id"]) if row[2]["Id"].isdigit() else 0))
    changed = changed[-MAX_OBJECTS:]  # more changed than one answer holds: the newest
    responses = []
    for entity in entities:
        objs = [copy.deepcopy(obj) for _, name, obj in changed if name == entity]
        block: dict = {"startPosition": 1, "maxResults": len(objs), "totalCount": len(objs)}
        if objs:
            block = {entity: objs, **block}
        responses.append(block)
    return {"CDCResponse": [{"QueryResponse": responses}], "time": stamp}
