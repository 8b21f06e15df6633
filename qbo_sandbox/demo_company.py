"""Seed data of the sandbox's demo company, in one place so the app team can align with it.

Every realm the sandbox creates (``Sandbox.add_company``) starts from these lists; the
default realm is ``DEMO_REALM_ID``. Ids are fixed, so fixtures and demo data may refer to them.
No purchase orders exist at start; new purchase orders get Ids from ``FIRST_PURCHASE_ORDER_ID``.
"""

from __future__ import annotations

DEMO_REALM_ID = "9341453050298165"
DEMO_COMPANY_NAME = "Riverside Builders LLC (Sandbox)"

# The OAuth client every sandbox knows. Any loopback redirect URI (127.0.0.1, localhost, ::1,
# any port and path, http or https) is accepted for it.
DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"

FIRST_PURCHASE_ORDER_ID = 101

COMPANY_INFO = {
    "CompanyName": DEMO_COMPANY_NAME,
    "LegalName": "Riverside Builders LLC",
    "CompanyAddr": {
        "Id": "1",
        "Line1": "410 Riverside Drive",
        "City": "Portland",
        "CountrySubDivisionCode": "OR",
        "PostalCode": "97201",
    },
    "Country": "US",
    "Email": {"Address": "accounting@riverside-builders.example"},
    "FiscalYearStartMonth": "January",
    "SupportedLanguages": "en",
    "CompanyStartDate": "2015-01-01",
}

# AccountType / AccountSubType / Classification as QuickBooks Online names them.
ACCOUNTS = [
    {"Id": "33", "Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable",
     "AccountSubType": "AccountsPayable", "Classification": "Liability"},
    {"Id": "80", "Name": "Job Materials", "AccountType": "Cost of Goods Sold",
     "AccountSubType": "SuppliesMaterialsCogs", "Classification": "Expense"},
    {"Id": "81", "Name": "Subcontractors", "AccountType": "Cost of Goods Sold",
     "AccountSubType": "OtherCostsOfServiceCos", "Classification": "Expense"},
    {"Id": "82", "Name": "Equipment Rental", "AccountType": "Expense",
     "AccountSubType": "EquipmentRental", "Classification": "Expense"},
    {"Id": "83", "Name": "Job Labor", "AccountType": "Cost of Goods Sold",
     "AccountSubType": "CostOfLaborCos", "Classification": "Expense"},
    {"Id": "90", "Name": "Construction Income", "AccountType": "Income",
     "AccountSubType": "ServiceFeeIncome", "Classification": "Revenue"},
]

# The A/P account used when a PurchaseOrder is sent without APAccountRef.
DEFAULT_AP_ACCOUNT_ID = "33"

VENDORS = [
    {"Id": "56", "DisplayName": "Summit Concrete Co."},
    {"Id": "57", "DisplayName": "Apex Electrical Services"},
    {"Id": "58", "DisplayName": "Ironline Steel Erectors"},
    {"Id": "59", "DisplayName": "BuildRight Supply Co."},
]

# Jobs are sub-customers: Job true, ParentRef, FullyQualifiedName "Parent:Child".
CUSTOMERS = [
    {"Id": "1", "DisplayName": "Riverside Holdings"},
    {"Id": "2", "DisplayName": "Riverside Medical Office Building", "ParentId": "1"},
    {"Id": "3", "DisplayName": "Harbor Point Partners"},
    {"Id": "4", "DisplayName": "Harbor Point Parking Structure", "ParentId": "3"},
]

# ExpenseAccountId / IncomeAccountId refer to ACCOUNTS above. An item used for costs (on a
# purchase order) needs an expense account; "Design Services" is sales-only (income account,
# no expense account), so QuickBooks refuses it on a purchase order line (fault 6000).
ITEMS = [
    {"Id": "11", "Name": "Concrete - Subcontract", "Type": "Service", "ExpenseAccountId": "81"},
    {"Id": "12", "Name": "Concrete - Material", "Type": "NonInventory", "ExpenseAccountId": "80"},
    {"Id": "13", "Name": "Structural Steel - Subcontract", "Type": "Service",
     "ExpenseAccountId": "81"},
    {"Id": "14", "Name": "Electrical - Subcontract", "Type": "Service", "ExpenseAccountId": "81"},
    {"Id": "15", "Name": "Electrical - Material", "Type": "NonInventory",
     "ExpenseAccountId": "80"},
    {"Id": "16", "Name": "Drywall - Subcontract", "Type": "Service", "ExpenseAccountId": "81"},
    {"Id": "17", "Name": "General Conditions - Labor", "Type": "Service",
     "ExpenseAccountId": "83"},
    {"Id": "18", "Name": "Equipment Rental", "Type": "Service", "ExpenseAccountId": "82"},
    {"Id": "19", "Name": "Design Services", "Type": "Service", "IncomeAccountId": "90"},
]

# Employees share one name space with vendors and customers (fault 6240 on a clash).
EMPLOYEES = [
    {"Id": "71", "GivenName": "Dana", "FamilyName": "Whitfield"},
    {"Id": "72", "GivenName": "Marco", "FamilyName": "Alvarez"},
]

CLASSES = [
    {"Id": "5000000000000000001", "Name": "Field"},
    {"Id": "5000000000000000002", "Name": "Office"},
]

# Books that existed before the app (``seed_existing_books``): purchase orders a bookkeeper
# entered in QuickBooks. SC-1044 is the demo's commitment of the same number (to link); PO-2050
# and PO-2051 are for the Riverside job and have no commitment (to import; PO-2051's
# "Subcontractors" line maps to no cost code, so the import asks for one); HP-310 is the other
# job's. Lines: (description, amount, "Item" or "Account", its Id); every line is for the PO's job.
EXISTING_PURCHASE_ORDERS = [
    {"DocNumber": "SC-1044", "VendorId": "58", "CustomerId": "2", "TxnDate": "2026-03-14",
     "Memo": "Per signed subcontract of 14 March", "PrivateNote": "Entered by Dana.",
     "Lines": [("Structural steel erection", "145000.00", "Item", "13"),
               ("Miscellaneous metals", "23500.00", "Item", "13"),
               ("Crane mobilization", "4800.00", "Item", "18")]},
    {"DocNumber": "PO-2050", "VendorId": "59", "CustomerId": "2", "TxnDate": "2026-04-02",
     "Memo": "Ready-mix for the podium slab",
     "Lines": [("Ready-mix concrete", "18400.00", "Item", "12"),
               ("Concrete pump rental", "2150.00", "Item", "18")]},
    {"DocNumber": "PO-2051", "VendorId": "57", "CustomerId": "2", "TxnDate": "2026-04-09",
     "Memo": "Site lighting materials",
     "Lines": [("Conduit and wire", "12600.00", "Item", "15"),
               ("Trenching by others", "3900.00", "Account", "81")]},
    {"DocNumber": "HP-310", "VendorId": "56", "CustomerId": "4", "TxnDate": "2026-04-11",
     "Memo": "Parking structure ramps",
     "Lines": [("Ramp slabs", "64000.00", "Item", "11")]},
]
