"""Entity rules of the sandbox: validation, normalisation, create / update / delete.

Objects are stored exactly as they are returned (plain JSON dicts). What the sandbox does,
following QuickBooks Online:

* Create is a POST without ``Id`` (``"Id": null`` is accepted). A POST with an ``Id`` is an
  update and must carry the current ``SyncToken`` (stale: fault 5010). ``SyncToken`` is a
  string that increments on every change; ``MetaData.CreateTime`` / ``LastUpdatedTime`` are
  kept. ``Id``, ``SyncToken``, ``MetaData``, ``TotalAmt``, ``FullyQualifiedName``,
  ``domain`` and ``sparse`` sent by a client are ignored (python-quickbooks sends them).
* A property the entity does not have (a misspelt ``PrivateNotes``, a ``Foo`` on a line or in
  a line detail) is refused with 2010 "Unrecognized field", as Intuit's JSON binding does;
  ``KNOWN_FIELDS`` lists what each entity accepts.
* ``"sparse": true`` changes only the fields sent. Without it (a *full* update) the object is
  replaced by what was sent: writable fields left out are cleared and the create defaults
  apply again (PurchaseOrder: ``POStatus`` "Open", ``TxnDate`` today, the A/P account, USD).
* A PurchaseOrder needs at least one line: a create or update without ``Line``, or with
  ``"Line": []`` -- full *or sparse* -- is refused with 2020 (element ``Line``). Beware:
  python-quickbooks' ``to_json()`` sends ``"Line": []`` for a PurchaseOrder whose ``Line``
  was not filled in, even in a sparse update (set ``Line = None`` to leave it out).
* A ``Line`` array that is sent (sparse or full) replaces the whole set: lines left out are
  deleted, a line whose ``Id`` is one of the object's current line Ids is updated in place
  (keeps its Id), any other line gets a new Id. Line Ids are never reused within an object.
  ``LineNum`` is renumbered 1..n in the order sent; ``TotalAmt`` is the sum of ``Amount``.
* Business rules of PurchaseOrder lines (fault 6000): no negative ``Amount``; an item line's
  item must have an ``ExpenseAccountRef`` (a sales-only item cannot be bought); an account
  line may not use an Income account; a ``Billable`` line needs a ``CustomerRef``.
* ``APAccountRef`` may be left out only while the company has a single active Accounts
  Payable account; with two or more it is required (2020).
* References (``VendorRef``, ``ItemRef``, ``CustomerRef``, ``ParentRef`` ...) are checked: an
  Id that does not exist (or is not a number), or that points to an object of the wrong kind
  (``APAccountRef`` to an account that is not Accounts Payable, a line ``AccountRef`` to an
  A/P account) is fault 2500 (Invalid Reference Id); an inactive ("deleted") name-list object
  is fault 610 (Object Not Found). Their ``name`` is filled in from the referenced object.
* PurchaseOrder ``DocNumber``: at most 21 characters (fault 2050), unique per realm among
  purchase orders while the company's duplicate-number check is on (default; fault 6140),
  unless the request carries ``include=allowduplicatedocnum``. A PurchaseOrder created
  without ``DocNumber`` while the company's "custom transaction numbers" setting is off (the
  default, as in a new QuickBooks company) gets the next number: the highest number given so
  far + 1 (1001 for the first), never the same twice. With the setting on it has none.
* Name lists (Vendor, Customer, Employee, Item, Account, Class) cannot be deleted, only made
  inactive (``Active: false``); names are unique per list, and a Vendor, Customer or Employee
  ``DisplayName`` is unique across those three lists (fault 6240). A Customer with a
  ``ParentRef`` is a job: ``Job`` true, ``Level`` parent + 1,
  ``FullyQualifiedName`` "Parent:Child".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING

from . import faults

if TYPE_CHECKING:
    from .state import Realm

NAME_LISTS = ("Vendor", "Customer", "Employee", "Item", "Account", "Class")
PEOPLE = ("Vendor", "Customer", "Employee")  # one DisplayName space
ENTITY_NAMES = (*NAME_LISTS, "CompanyInfo", "PurchaseOrder")
URL_NAMES = {name.lower(): name for name in ENTITY_NAMES}

SYSTEM_FIELDS = {"Id", "SyncToken", "MetaData", "domain", "sparse"}
READ_ONLY = {
    "PurchaseOrder": {"TotalAmt"},
    "Vendor": {"Balance"},
    "Customer": {"FullyQualifiedName", "Level", "Balance", "BalanceWithJobs"},
    "Item": {"FullyQualifiedName", "Level"},
    "Account": {"FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts"},
    "Class": {"FullyQualifiedName"},
    "Employee": set(),
    "CompanyInfo": set(),
}

_COMMON = {"Id", "SyncToken", "MetaData", "domain", "sparse"}
_ADDRESSES = {"BillAddr", "ShipAddr", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
              "PrimaryEmailAddr", "WebAddr", "OtherContactInfo"}
_PERSON = {"DisplayName", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix",
           "CompanyName", "PrintOnCheckName", "Active", "V4IDPseudonym", "Source"}
# What each entity accepts (Intuit's API reference, minor version 75); anything else is 2010.
KNOWN_FIELDS = {
    "PurchaseOrder": _COMMON | {
        "APAccountRef", "VendorRef", "Line", "CurrencyRef", "GlobalTaxCalculation", "TxnDate",
        "CustomField", "POEmail", "ClassRef", "SalesTermRef", "LinkedTxn", "Memo", "POStatus",
        "TransactionLocationType", "DueDate", "DocNumber", "PrivateNote", "ShipMethodRef",
        "TxnTaxDetail", "ShipTo", "ExchangeRate", "ShipAddr", "VendorAddr", "EmailStatus",
        "TotalAmt", "RecurDataRef", "TaxCodeRef", "DepartmentRef", "HomeTotalAmt"},
    "Vendor": _COMMON | _PERSON | _ADDRESSES | {
        "APAccountRef", "AcctNum", "Balance", "BillRate", "CostRate", "CurrencyRef",
        "TaxIdentifier", "TaxReportingBasis", "TermRef", "Vendor1099", "BusinessNumber",
        "GSTIN", "GSTRegistrationType", "HasTPAR", "T4AEligible", "T5018Eligible",
        "VendorPaymentBankDetail", "OpenBalanceDate"},
    "Customer": _COMMON | _PERSON | _ADDRESSES | {
        "ARAccountRef", "Balance", "BalanceWithJobs", "BillWithParent", "CurrencyRef",
        "DefaultTaxCodeRef", "FullyQualifiedName", "IsProject", "Job", "Level", "Notes",
        "OpenBalanceDate", "ParentRef", "PaymentMethodRef", "PreferredDeliveryMethod",
        "PrimaryTaxIdentifier", "SecondaryTaxIdentifier", "ResaleNum", "SalesTermRef",
        "Taxable", "TaxExemptionReasonId", "CustomerTypeRef", "BusinessNumber", "GSTIN",
        "GSTRegistrationType", "ClientEntityId"},
    "Employee": _COMMON | _PERSON | {
        "PrimaryAddr", "PrimaryEmailAddr", "PrimaryPhone", "Mobile", "EmailAddress",
        "EmployeeNumber", "SSN", "BillableTime", "BillRate", "CostRate", "BirthDate",
        "Gender", "HiredDate", "ReleasedDate", "Organization"},
    "Item": _COMMON | {
        "Name", "Description", "Active", "FullyQualifiedName", "Level", "ParentRef", "SubItem",
        "Type", "Taxable", "SalesTaxIncluded", "UnitPrice", "IncomeAccountRef",
        "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost", "ExpenseAccountRef",
        "AssetAccountRef", "TrackQtyOnHand", "QtyOnHand", "InvStartDate", "Sku",
        "SalesTaxCodeRef", "PurchaseTaxCodeRef", "AbatementRate", "ReverseChargeRate",
        "ServiceType", "ItemCategoryType", "ClassRef", "PrefVendorRef", "ReorderPoint",
        "TaxClassificationRef", "UQCId", "UQCDisplayText", "ItemGroupDetail",
        "ItemAssemblyDetail"},
    "Account": _COMMON | {
        "Name", "AcctNum", "Description", "Active", "SubAccount", "ParentRef",
        "FullyQualifiedName", "AccountType", "AccountSubType", "Classification",
        "CurrentBalance", "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxCodeRef",
        "TxnLocationType", "AccountAlias"},
    "Class": _COMMON | {"Name", "Active", "SubClass", "ParentRef", "FullyQualifiedName"},
    "CompanyInfo": _COMMON | {
        "CompanyName", "LegalName", "CompanyAddr", "LegalAddr", "CustomerCommunicationAddr",
        "CustomerCommunicationEmailAddr", "Email", "PrimaryPhone", "WebAddr", "Country",
        "FiscalYearStartMonth", "SupportedLanguages", "CompanyStartDate", "NameValue",
        "EmployerId", "OtherContactInfo"},
}
KNOWN_LINE_FIELDS = {"Id", "LineNum", "Description", "Amount", "DetailType", "LinkedTxn",
                     "CustomField", "ProjectRef", "ItemBasedExpenseLineDetail",
                     "AccountBasedExpenseLineDetail"}
KNOWN_DETAIL_FIELDS = {
    "ItemBasedExpenseLineDetail": {
        "ItemRef", "ClassRef", "PriceLevelRef", "TaxCodeRef", "CustomerRef", "BillableStatus",
        "Qty", "UnitPrice", "TaxInclusiveAmt", "MarkupInfo"},
    "AccountBasedExpenseLineDetail": {
        "AccountRef", "ClassRef", "TaxCodeRef", "CustomerRef", "BillableStatus", "TaxAmount",
        "TaxInclusiveAmt", "MarkupInfo"},
}
# Intuit's Java class names, as its "Unrecognized field" detail names them.
SCHEMA_CLASSES = {"Line": "Line", "ItemBasedExpenseLineDetail": "ItemBasedExpenseLineDetail",
                  "AccountBasedExpenseLineDetail": "AccountBasedExpenseLineDetail"}


def check_fields(entity: str, body: dict) -> None:
    """2010 for a property ``entity`` does not have (at the top, on lines, in line details)."""
    for key in body:
        if key not in KNOWN_FIELDS[entity]:
            raise faults.unrecognized_field(key, entity)
    if entity != "PurchaseOrder" or not isinstance(body.get("Line"), list):
        return
    for line in body["Line"]:
        if not isinstance(line, dict):
            continue
        for key in line:
            if key not in KNOWN_LINE_FIELDS:
                raise faults.unrecognized_field(key, "Line")
        for detail_type, known in KNOWN_DETAIL_FIELDS.items():
            detail = line.get(detail_type)
            if isinstance(detail, dict):
                for key in detail:
                    if key not in known:
                        raise faults.unrecognized_field(key, detail_type)

PO_LINE_TYPES = {
    "ItemBasedExpenseLineDetail": ("ItemRef", "Item"),
    "AccountBasedExpenseLineDetail": ("AccountRef", "Account"),
}
BILLABLE_STATUSES = {"Billable", "NotBillable", "HasBeenBilled"}
PO_STATUSES = {"Open", "Closed"}
ITEM_TYPES = {"Service", "NonInventory", "Inventory", "Category", "Group"}
ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}
DOC_NUMBER_MAX = 21
PRIVATE_NOTE_MAX = 4000
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CENT = Decimal("0.01")


def strip_none(value: object) -> object:
    """Drop ``None`` values from dicts, recursively (python-quickbooks sends nulls)."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def writable(entity: str, obj: dict) -> dict:
    """The fields of ``obj`` a client may write."""
    skip = SYSTEM_FIELDS | READ_ONLY.get(entity, set())
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in skip}


def display_name(entity: str, obj: dict) -> str:
    if entity in ("Vendor",):
        return obj.get("DisplayName", "")
    if entity == "CompanyInfo":
        return obj.get("CompanyName", "")
    return obj.get("FullyQualifiedName") or obj.get("DisplayName") or obj.get("Name", "")


def money(value: object, element: str) -> Decimal:
    if isinstance(value, bool) or value is None or value == "":
        raise faults.invalid_property(element, "A number is required.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise faults.invalid_property(element, f"{value!r} is not a number.") from None
    if not number.is_finite():
        raise faults.invalid_property(element, f"{value!r} is not a number.")
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def _number(value: object, element: str) -> float | int:
    if isinstance(value, bool):
        raise faults.invalid_property(element, "A number is required.")
    if isinstance(value, (int, float)):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise faults.invalid_property(element, f"{value!r} is not a number.") from None
    return int(number) if number == number.to_integral_value() else float(number)


def resolve_ref(
    realm: Realm,
    target: str,
    ref: object,
    element: str,
    *,
    required: bool = False,
    check: Callable[[dict], str | None] | None = None,
) -> dict | None:
    """Validate a reference to a ``target`` object; return it with its ``name`` filled in."""
    if ref is None or ref == {}:
        if required:
            raise faults.required_param(element)
        return None
    if isinstance(ref, (str, int)) and not isinstance(ref, bool):
        ref = {"value": str(ref)}
    if not isinstance(ref, dict):
        raise faults.invalid_property(element, "A reference object is required.")
    raw = ref.get("value")
    value = "" if raw is None else str(raw).strip()
    if value == "":
        if required:
            raise faults.required_param(element)
        return None
    if not value.isdigit():
        raise faults.invalid_reference(element, f"{element} id {value} is not a valid id")
    obj = realm.entities[target].get(value)
    if obj is None:
        raise faults.invalid_reference(
            element, f"{target} with Id={value} ({element}) does not exist.")
    if obj.get("Active") is False:
        raise faults.object_not_found(faults.INACTIVE_DETAIL + f" ({element}={value})", element)
    if check is not None:
        problem = check(obj)
        if problem:
            raise faults.invalid_reference(element, problem)
    return {"value": value, "name": display_name(target, obj)}


def _text(data: dict, key: str, maximum: int | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if maximum is not None and len(value) > maximum:
        raise faults.string_length(key, maximum, len(value))
    return value


def _is_ap(account: dict) -> bool:
    return account.get("AccountType") == "Accounts Payable"


# --------------------------------------------------------------------------- PurchaseOrder


def _is_income(account: dict) -> bool:
    return ACCOUNT_CLASSIFICATION.get(account.get("AccountType", "")) == "Revenue"


def build_lines(
    realm: Realm, lines: object, current: list[dict], next_line_id: int
) -> tuple[list[dict], int]:
    """Validate purchase-order lines and return them as stored, with the next free line id."""
    if lines is None or lines == []:
        raise faults.required_param("Line")
    if not isinstance(lines, list):
        raise faults.invalid_property("Line", "Line must be an array.")
    known = {str(line.get("Id")) for line in current}
    used: set[str] = set()
    result = []
    for index, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            raise faults.invalid_property("Line", "Each line must be an object.")
        detail_type = raw.get("DetailType")
        if not detail_type:
            raise faults.required_param("Line.DetailType")
        if detail_type not in PO_LINE_TYPES:
            raise faults.invalid_enumeration("Line.DetailType", detail_type)
        detail = raw.get(detail_type)
        if not isinstance(detail, dict) or not detail:
            raise faults.required_param(f"Line.{detail_type}")
        detail = dict(detail)
        ref_field, target = PO_LINE_TYPES[detail_type]
        prefix = f"Line.{detail_type}"
        check = (
            (lambda acct: "an Accounts Payable account cannot be used on an expense line"
             if _is_ap(acct) else None)
            if target == "Account"
            else None
        )
        detail[ref_field] = resolve_ref(
            realm, target, detail.get(ref_field), f"{prefix}.{ref_field}", required=True,
            check=check,
        )
        referenced = realm.entities[target][detail[ref_field]["value"]]
        if target == "Item" and not (referenced.get("ExpenseAccountRef") or {}).get("value"):
            raise faults.business_validation(
                f"Item {referenced.get('Name')} (Id {referenced['Id']}) has no expense "
                "account: only an item with purchasing information (an expense account) can "
                "be used on a purchase order.", f"{prefix}.ItemRef")
        if target == "Account" and _is_income(referenced):
            raise faults.business_validation(
                f"Account {referenced.get('Name')} (Id {referenced['Id']}) is an "
                f"{referenced.get('AccountType')} account: an expense line needs an expense, "
                "cost of goods sold, asset or liability account, not an income account.",
                f"{prefix}.AccountRef")
        for key, ref_target in (("CustomerRef", "Customer"), ("ClassRef", "Class")):
            ref = resolve_ref(realm, ref_target, detail.get(key), f"{prefix}.{key}")
            if ref is None:
                detail.pop(key, None)
            else:
                detail[key] = ref
        status = detail.get("BillableStatus")
        if status is None:
            detail["BillableStatus"] = "NotBillable"
        elif status not in BILLABLE_STATUSES:
            raise faults.invalid_enumeration(f"{prefix}.BillableStatus", status)
        if detail["BillableStatus"] == "Billable" and "CustomerRef" not in detail:
            raise faults.business_validation(
                "A billable expense line needs a customer: set CustomerRef, or make the line "
                "NotBillable.", f"{prefix}.CustomerRef")
        for key in ("Qty", "UnitPrice", "TaxInclusiveAmt"):
            if key in detail:
                detail[key] = _number(detail[key], f"{prefix}.{key}")
        if raw.get("Amount") is None:
            raise faults.required_param("Line.Amount")
        amount = money(raw["Amount"], "Line.Amount")
        if amount < 0:
            raise faults.business_validation(
                f"Line {index}: the amount of a purchase order line cannot be negative "
                f"({amount}).", "Line.Amount")
        description = _text(raw, "Description", PRIVATE_NOTE_MAX)
        line_id = raw.get("Id")
        line_id = None if line_id in (None, "") else str(line_id)
        if line_id is None or line_id not in known or line_id in used:
            line_id = str(next_line_id)
            next_line_id += 1
        used.add(line_id)
        line: dict = {"Id": line_id, "LineNum": index}
        if description is not None:
            line["Description"] = description
        line["Amount"] = float(amount)
        line["DetailType"] = detail_type
        line[detail_type] = detail
        for key, value in raw.items():
            if key not in line and key not in PO_LINE_TYPES and key != "LineNum":
                line[key] = value
        result.append(line)
    return result, next_line_id


def build_purchase_order(
    realm: Realm, data: dict, *, po_id: str, current: dict | None, today: str,
    allow_duplicate_doc_number: bool = False,
) -> tuple[dict, int]:
    """Validate ``data`` (every writable field of the PO) and return the stored object
    (without system fields) and the next free line id."""
    po: dict = {}
    po["VendorRef"] = resolve_ref(realm, "Vendor", data.get("VendorRef"), "VendorRef",
                                  required=True)
    ap = resolve_ref(
        realm, "Account", data.get("APAccountRef"), "APAccountRef",
        check=lambda acct: None if _is_ap(acct) else
        f"Account {acct['Id']} is not an Accounts Payable account",
    )
    if ap is None:
        payables = [a for a in realm.entities["Account"].values()
                    if _is_ap(a) and a.get("Active", True)]
        if len(payables) != 1:  # Intuit: required when the company has several A/P accounts
            raise faults.required_param("APAccountRef")
        ap = {"value": payables[0]["Id"], "name": display_name("Account", payables[0])}
    po["APAccountRef"] = ap
    class_ref = resolve_ref(realm, "Class", data.get("ClassRef"), "ClassRef")
    if class_ref is not None:
        po["ClassRef"] = class_ref
    doc_number = _text(data, "DocNumber", DOC_NUMBER_MAX)
    if (not doc_number and current is None
            and not realm.settings.get("custom_transaction_numbers", False)):
        doc_number = next_po_number(realm)
    if doc_number:
        po["DocNumber"] = doc_number
        if (realm.settings.get("duplicate_doc_number_check", True)
                and not allow_duplicate_doc_number):
            for other in realm.entities["PurchaseOrder"].values():
                if other["Id"] != po_id and other.get("DocNumber") == doc_number:
                    raise faults.duplicate_doc_number(doc_number, other["Id"])
    txn_date = data.get("TxnDate") or today
    if not isinstance(txn_date, str) or not _DATE_RE.match(txn_date):
        raise faults.invalid_property("TxnDate", f"{txn_date!r} is not a date (yyyy-mm-dd).")
    po["TxnDate"] = txn_date
    status = data.get("POStatus") or "Open"
    if status not in PO_STATUSES:
        raise faults.invalid_enumeration("POStatus", status)
    po["POStatus"] = status
    note = _text(data, "PrivateNote", PRIVATE_NOTE_MAX)
    if note is not None:
        po["PrivateNote"] = note
    po["CurrencyRef"] = data.get("CurrencyRef") or {"value": "USD", "name": "United States Dollar"}
    next_line_id = realm.next_line_id.get(po_id, 1)
    current_lines = current.get("Line", []) if current else []
    lines, next_line_id = build_lines(realm, data.get("Line"), current_lines, next_line_id)
    po["Line"] = lines
    po["TotalAmt"] = float(sum((Decimal(str(line["Amount"])) for line in lines), Decimal("0")))
    handled = set(po) | {"Line"}
    extras = {k: v for k, v in data.items() if k not in handled}
    return {**po, **extras}, next_line_id


# ------------------------------------------------------------------------------ name lists


def _unique(realm: Realm, entity: str, key: str, value: str, obj_id: str | None,
            display_name: str | None = None) -> None:
    for other in realm.entities[entity].values():
        if other["Id"] != obj_id and str(other.get(key, "")).lower() == value.lower():
            raise faults.duplicate_name(entity)
    if entity in PEOPLE and display_name:
        # Intuit: DisplayName is unique across all Vendor, Customer and Employee objects
        for kind in PEOPLE:
            if kind == entity:
                continue
            for other in realm.entities[kind].values():
                if str(other.get("DisplayName", "")).lower() == display_name.lower():
                    raise faults.duplicate_name("customer, vendor or employee")


def _active(data: dict) -> bool:
    active = data.get("Active", True)
    if not isinstance(active, bool):
        raise faults.invalid_property("Active", "Active must be true or false.")
    return active


def build_vendor(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("DisplayName") or " ".join(
        p for p in (data.get("GivenName"), data.get("FamilyName")) if p
    ) or data.get("CompanyName")
    if not name:
        raise faults.required_param("DisplayName")
    _unique(realm, "Vendor", "DisplayName", name, obj_id, name)
    return {
        **data,
        "DisplayName": name,
        "PrintOnCheckName": data.get("PrintOnCheckName") or name,
        "Active": _active(data),
        "Balance": (current or {}).get("Balance", 0),
    }


def build_customer(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("DisplayName") or " ".join(
        p for p in (data.get("GivenName"), data.get("FamilyName")) if p
    ) or data.get("CompanyName")
    if not name:
        raise faults.required_param("DisplayName")
    if ":" in name:
        raise faults.invalid_property("DisplayName", "A name cannot contain a colon.")
    out = {**data, "DisplayName": name, "Active": _active(data)}
    parent_ref = resolve_ref(realm, "Customer", data.get("ParentRef"), "ParentRef")
    if parent_ref is not None:
        if parent_ref["value"] == obj_id:
            raise faults.QBOFault("700", "Parent Reference Invalid",
                                  "A customer cannot be its own parent.", "ParentRef")
        parent = realm.entities["Customer"][parent_ref["value"]]
        out["ParentRef"] = {"value": parent_ref["value"]}
        out["Job"] = True
        out["Level"] = parent.get("Level", 0) + 1
        out["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
        out.setdefault("BillWithParent", False)
    else:
        out.pop("ParentRef", None)
        out["Job"] = False
        out["Level"] = 0
        out["FullyQualifiedName"] = name
        out["BillWithParent"] = False
    out["PrintOnCheckName"] = data.get("PrintOnCheckName") or name
    out["Balance"] = (current or {}).get("Balance", 0)
    out["BalanceWithJobs"] = (current or {}).get("BalanceWithJobs", 0)
    _unique(realm, "Customer", "FullyQualifiedName", out["FullyQualifiedName"], obj_id, name)
    return out


def build_employee(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("DisplayName") or " ".join(
        p for p in (data.get("GivenName"), data.get("FamilyName")) if p)
    if not name:
        raise faults.required_param("DisplayName")
    _unique(realm, "Employee", "DisplayName", name, obj_id, name)
    return {**data, "DisplayName": name, "PrintOnCheckName": data.get("PrintOnCheckName") or name,
            "Active": _active(data)}


def build_item(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("Name")
    if not name:
        raise faults.required_param("Name")
    item_type = data.get("Type") or "Service"
    if item_type not in ITEM_TYPES:
        raise faults.invalid_enumeration("Type", item_type)
    _unique(realm, "Item", "Name", name, obj_id)
    out = {**data, "Name": name, "Type": item_type, "Active": _active(data),
           "FullyQualifiedName": name}
    for key in ("ExpenseAccountRef", "IncomeAccountRef", "AssetAccountRef"):
        ref = resolve_ref(realm, "Account", data.get(key), key)
        if ref is None:
            out.pop(key, None)
        else:
            out[key] = ref
    return out


def build_account(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("Name")
    if not name:
        raise faults.required_param("Name")
    account_type = data.get("AccountType")
    if not account_type:
        raise faults.required_param("AccountType")
    if account_type not in ACCOUNT_CLASSIFICATION:
        raise faults.invalid_enumeration("AccountType", account_type)
    _unique(realm, "Account", "Name", name, obj_id)
    return {
        **data,
        "Name": name,
        "AccountType": account_type,
        "Classification": ACCOUNT_CLASSIFICATION[account_type],
        "Active": _active(data),
        "FullyQualifiedName": name,
        "CurrentBalance": (current or {}).get("CurrentBalance", 0),
        "CurrentBalanceWithSubAccounts": (current or {}).get("CurrentBalanceWithSubAccounts", 0),
    }


def build_class(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    name = data.get("Name")
    if not name:
        raise faults.required_param("Name")
    _unique(realm, "Class", "Name", name, obj_id)
    return {**data, "Name": name, "Active": _active(data), "FullyQualifiedName": name,
            "SubClass": False}


def build_company_info(realm: Realm, data: dict, obj_id: str | None, current: dict | None) -> dict:
    if not data.get("CompanyName"):
        raise faults.required_param("CompanyName")
    return dict(data)


NAME_BUILDERS = {
    "Vendor": build_vendor,
    "Customer": build_customer,
    "Employee": build_employee,
    "Item": build_item,
    "Account": build_account,
    "Class": build_class,
    "CompanyInfo": build_company_info,
}


# ---------------------------------------------------------------------------- operations


def _finish(obj: dict, obj_id: str, sync_token: str, create_time: str, now: str) -> dict:
    obj = {k: v for k, v in obj.items() if k not in SYSTEM_FIELDS}
    obj["domain"] = "QBO"
    obj["sparse"] = False
    obj["Id"] = obj_id
    obj["SyncToken"] = sync_token
    obj["MetaData"] = {"CreateTime": create_time, "LastUpdatedTime": now}
    return obj


FIRST_AUTO_PO_NUMBER = 1001


def next_po_number(realm: Realm) -> str:
    """QuickBooks' automatic PurchaseOrder number: the highest one given so far + 1."""
    numbers = [int(po["DocNumber"]) for po in realm.entities["PurchaseOrder"].values()
               if str(po.get("DocNumber", "")).isdigit()]
    last = max([FIRST_AUTO_PO_NUMBER - 1, int(realm.settings.get("last_po_number", 0)),
                *numbers])
    return str(last + 1)


def create(realm: Realm, entity: str, body: dict, *, now: str, today: str,
           allow_duplicate_doc_number: bool = False) -> dict:
    if entity == "CompanyInfo":
        raise faults.unsupported_operation("Create")
    check_fields(entity, body)
    data = writable(entity, strip_none(body))  # type: ignore[arg-type]
    obj_id = realm.peek_id(entity)
    if entity == "PurchaseOrder":
        built, next_line_id = build_purchase_order(
            realm, data, po_id=obj_id, current=None, today=today,
            allow_duplicate_doc_number=allow_duplicate_doc_number,
        )
    else:
        built = NAME_BUILDERS[entity](realm, data, None, None)
    realm.take_id(entity)
    obj = _finish(built, obj_id, "0", now, now)
    realm.entities[entity][obj_id] = obj
    if entity == "PurchaseOrder":
        realm.next_line_id[obj_id] = next_line_id
        if str(obj.get("DocNumber", "")).isdigit():
            realm.settings["last_po_number"] = max(int(obj["DocNumber"]),
                                                   int(realm.settings.get("last_po_number", 0)))
    return obj


def _find_for_write(realm: Realm, entity: str, body: dict) -> dict:
    obj_id = str(body.get("Id"))
    current = realm.entities[entity].get(obj_id)
    if current is None and entity == "CompanyInfo" and obj_id == realm.realm_id:
        current = realm.company_info()
    if current is None:
        if obj_id in realm.deleted.get(entity, set()):
            raise faults.object_not_found("Another user has deleted this transaction.")
        raise faults.object_not_found(f"{entity} with Id={obj_id} does not exist.", "Id")
    token = body.get("SyncToken")
    if token is None or token == "":
        raise faults.required_param("SyncToken")
    if str(token) != current["SyncToken"]:
        raise faults.stale_object()
    return current


def update(realm: Realm, entity: str, body: dict, *, now: str, today: str,
           allow_duplicate_doc_number: bool = False) -> dict:
    check_fields(entity, body)
    current = _find_for_write(realm, entity, body)
    obj_id = current["Id"]
    sent = writable(entity, strip_none(body))  # type: ignore[arg-type]
    sparse = body.get("sparse") is True or str(body.get("sparse")).lower() == "true"
    data = {**writable(entity, current), **sent} if sparse else sent
    if entity == "PurchaseOrder":
        built, next_line_id = build_purchase_order(
            realm, data, po_id=obj_id, current=current, today=today,
            allow_duplicate_doc_number=allow_duplicate_doc_number,
        )
        realm.next_line_id[obj_id] = next_line_id
    else:
        built = NAME_BUILDERS[entity](realm, data, obj_id, current)
    token = str(int(current["SyncToken"]) + 1)
    obj = _finish(built, obj_id, token, current["MetaData"]["CreateTime"], now)
    realm.entities[entity][obj_id] = obj
    if entity == "Customer":
        realm.refresh_customer_names()
    return obj


def delete(realm: Realm, entity: str, body: dict) -> dict:
    if entity != "PurchaseOrder":
        raise faults.unsupported_operation("Delete")
    current = _find_for_write(realm, entity, body)
    obj_id = current["Id"]
    del realm.entities[entity][obj_id]
    realm.deleted.setdefault(entity, set()).add(obj_id)
    return {"status": "Deleted", "domain": "QBO", "Id": obj_id}


def read(realm: Realm, entity: str, obj_id: str) -> dict:
    if entity == "CompanyInfo" and obj_id == realm.realm_id:
        return realm.company_info()
    obj = realm.entities[entity].get(obj_id)
    if obj is None:
        if obj_id in realm.deleted.get(entity, set()):
            raise faults.object_not_found("Another user has deleted this transaction.")
        raise faults.object_not_found(
            "Something you're trying to use has been made inactive. Check the fields with "
            f"accounts. ({entity} with Id={obj_id} does not exist)"
        )
    return obj
