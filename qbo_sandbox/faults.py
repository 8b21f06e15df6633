"""Faults in the shapes QuickBooks Online returns them.

Validation and service faults use the capitalised envelope
``{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type"}, "time"}`` with
``code`` always a string; python-quickbooks turns them into exceptions by ``int(code)``:

====================  ======  ==========================================================
code                  status  python-quickbooks 0.9.12 raises (``error_code`` is an int)
====================  ======  ==========================================================
2010 2020 2050 2170   400     ValidationException
2500 4000 4001        400     ValidationException
3001 (throttle)       429     ValidationException (2000-4999 range)
500 (unsupported op)  400     UnsupportedException
610                   400     ObjectNotFoundException
5010 6140 6240        400     QuickbooksException (no range matches)
6000 (business rule)  400     QuickbooksException (no range matches)
10000 (server error)  500     SevereException
====================  ======  ==========================================================

Authentication failures are different: HTTP 401 with Intuit's lowercase envelope
(``{"fault": {"error": [...], "type": "AUTHENTICATION"}}``). python-quickbooks checks the
status before parsing and raises ``AuthorizationException(error_code=401, detail=<body text>)``;
the ``3200`` is only in ``detail``.
"""

from __future__ import annotations


class QBOFault(Exception):
    """A fault the API answers with instead of a result."""

    def __init__(
        self,
        code: str | int,
        message: str,
        detail: str = "",
        element: str = "",
        *,
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def body(self, time_str: str) -> dict:
        return {
            "Fault": {
                "Error": [
                    {
                        "Message": self.message,
                        "Detail": self.detail,
                        "code": self.code,
                        "element": self.element,
                    }
                ],
                "type": self.fault_type,
            },
            "time": time_str,
        }


def required_param(element: str) -> QBOFault:
    return QBOFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element,
    )


def invalid_property(element: str, detail: str) -> QBOFault:
    return QBOFault(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{element} specified is unsupported or invalid. {detail}".strip(),
        element,
    )


def unrecognized_field(name: str, schema_class: str) -> QBOFault:
    """An unknown property: Intuit's JSON binding refuses it (the detail is Jackson's)."""
    return QBOFault(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:Unrecognized field \"{name}\" (class "
        f"com.intuit.schema.finance.v3.{schema_class}), not marked as ignorable specified is "
        "unsupported or invalid",
        name,
    )


def business_validation(detail: str, element: str = "", code: str = "6000") -> QBOFault:
    """A 6000-range business rule: the request is well formed but QuickBooks refuses it."""
    return QBOFault(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def string_length(element: str, maximum: int, supplied: int) -> QBOFault:
    return QBOFault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        "String length specified does not match the supported length. "
        f"Min:0 Max:{maximum} supported. Supplied length:{supplied}",
        element,
    )


def invalid_enumeration(element: str, value: object) -> QBOFault:
    return QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element)


def object_not_found(detail: str, element: str = "") -> QBOFault:
    return QBOFault("610", "Object Not Found", f"Object Not Found : {detail}", element)


INACTIVE_DETAIL = (
    "Something you're trying to use has been made inactive. Check the fields with accounts."
)


def invalid_reference(element: str, detail: str) -> QBOFault:
    return QBOFault("2500", "Invalid Reference Id", f"Invalid Reference Id : {detail}", element)


def stale_object() -> QBOFault:
    return QBOFault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and QuickBooks User were working on this at the same time. "
        "QuickBooks User finished before you did, so your work was not saved.",
    )


def duplicate_doc_number(doc_number: str, txn_id: str) -> QBOFault:
    return QBOFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number "
        f"has already been used. DocNumber={doc_number} is assigned to TxnType=PurchaseOrder "
        f"with TxnId={txn_id}",
    )


def duplicate_name(kind: str) -> QBOFault:
    return QBOFault(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. "
        "Please use a different name.",
    )


def unsupported_operation(operation: str) -> QBOFault:
    return QBOFault(
        "500", "Unsupported Operation", f"Operation {operation} is not supported."
    )


def query_parse_error(detail: str) -> QBOFault:
    return QBOFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QBOFault:
    return QBOFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def throttled() -> QBOFault:
    return QBOFault(
        "3001",
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        status=429,
        fault_type="SERVICE",
    )


def server_error() -> QBOFault:
    return QBOFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your "
        "data. Please wait a few minutes and try again. If the problem persists, contact "
        "customer support.",
        status=500,
        fault_type="SystemFault",
    )


def authorization_failed_body(detail: str, time_ms: int) -> dict:
    """Intuit's 403 for a token used on a company it was not issued for (3100): the same
    lowercase gateway envelope as the 401 (as Intuit's gateway answers it)."""
    body = authentication_failed_body(detail, time_ms)
    body["fault"] = {
        "error": [
            {
                "message": "message=ApplicationAuthorizationFailed; errorCode=003100; "
                           "statusCode=403",
                "detail": detail,
                "code": "3100",
                "element": None,
            }
        ],
        "type": "SERVICE",
    }
    return body


def authentication_failed_body(detail: str, time_ms: int) -> dict:
    """Intuit's 401 body: lowercase keys, ``time`` in epoch milliseconds."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": time_ms,
        "status": None,
        "cdcresponse": [],
    }
