"""The subset of Intuit's query language the sandbox understands.

``SELECT * | COUNT(*) | field, ... FROM Entity
[WHERE cond AND cond ...] [ORDERBY|ORDER BY field [ASC|DESC], ...]
[STARTPOSITION n] [MAXRESULTS n]``

Conditions: only Intuit's operators -- ``field = value``, ``<``, ``<=``, ``>``, ``>=``,
``field IN (v1, v2)``, ``field LIKE '%text%'`` (``%`` wildcard, case-insensitive); ``!=`` /
``<>`` are a parse error (4000); a filter on a property Intuit does not let you filter
(``FILTERABLE``: e.g. ``PrivateNote``, ``Memo``, ``Line``) is 4001 "Invalid query",
``QueryValidationError: property 'Memo' is not queryable``. Values are quoted strings
(``\\'`` escapes a quote, as python-quickbooks writes them), numbers or ``true``/``false``.
Fields may be dotted (``MetaData.LastUpdatedTime``); a reference field (``VendorRef``)
compares its ``value``. Keywords and field names are case-insensitive. ``OR`` is not
supported (as on QuickBooks Online). ``MAXRESULTS`` defaults to 100 and may not exceed 1000
(4001); ``STARTPOSITION`` is 1-based. Name lists (Vendor, Customer, Item, Account, Class) return
only active records unless the query filters on ``Active``, as QuickBooks Online does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from . import faults

MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100

_META = {"Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"}
# The properties Intuit's API reference marks "filterable", per entity.
FILTERABLE = {
    "PurchaseOrder": _META | {"DocNumber", "TxnDate", "TotalAmt", "VendorRef", "POStatus",
                              "APAccountRef", "DueDate"},
    "Vendor": _META | {"DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName",
                       "PrintOnCheckName", "Active", "Balance", "PrimaryEmailAddr",
                       "PrimaryPhone"},
    "Customer": _META | {"DisplayName", "GivenName", "MiddleName", "FamilyName", "CompanyName",
                         "FullyQualifiedName", "PrintOnCheckName", "Active", "Balance",
                         "BalanceWithJobs", "Job", "ParentRef", "PrimaryEmailAddr",
                         "PrimaryPhone"},
    "Employee": _META | {"DisplayName", "GivenName", "MiddleName", "FamilyName",
                         "PrintOnCheckName", "Active", "EmployeeNumber", "PrimaryEmailAddr",
                         "PrimaryPhone"},
    "Item": _META | {"Name", "FullyQualifiedName", "Active", "Type", "Sku", "ParentRef",
                     "SubItem", "UnitPrice", "PurchaseCost", "QtyOnHand"},
    "Account": _META | {"Name", "FullyQualifiedName", "Active", "AccountType",
                        "AccountSubType", "Classification", "CurrentBalance",
                        "CurrentBalanceWithSubAccounts", "SubAccount", "ParentRef", "AcctNum"},
    "Class": _META | {"Name", "FullyQualifiedName", "Active", "SubClass", "ParentRef"},
    "CompanyInfo": _META | {"CompanyName"},
}

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass
class Condition:
    field: str
    op: str  # "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE"
    value: object  # a literal, or a list of literals for IN


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None: all fields
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise faults.query_parse_error(
                f"Encountered \"{text[pos:].strip()[:20]}\" at line 1, column {pos + 1}."
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, entities: dict[str, str]) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.entities = entities  # lower-case name -> canonical name

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise faults.query_parse_error("Encountered \"<EOF>\" at end of query.")
        self.pos += 1
        return token

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "ident" and token[1].upper() == word

    def expect_keyword(self, word: str) -> None:
        kind, value = self.next()
        if kind != "ident" or value.upper() != word:
            raise faults.query_parse_error(f"Encountered \"{value}\", expected {word}.")

    def expect_punct(self, char: str) -> None:
        kind, value = self.next()
        if kind != "punct" or value != char:
            raise faults.query_parse_error(f"Encountered \"{value}\", expected \"{char}\".")

    def literal(self) -> object:
        kind, value = self.next()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "number":
            return Decimal(value)
        if kind == "ident" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise faults.query_parse_error(f"Encountered \"{value}\", expected a value.")

    def integer(self, keyword: str) -> int:
        kind, value = self.next()
        if kind != "number" or "." in value:
            raise faults.query_parse_error(f"Encountered \"{value}\" after {keyword}.")
        return int(value)

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count = False
        fields: list[str] | None = []
        if self.is_keyword("COUNT"):
            self.next()
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            while True:
                kind, value = self.next()
                if kind == "punct" and value == "*":
                    fields = None
                elif kind == "ident" and value.upper() != "FROM":
                    if fields is not None:
                        fields.append(value)
                else:
                    raise faults.query_parse_error(f"Encountered \"{value}\" in select list.")
                token = self.peek()
                if token == ("punct", ","):
                    self.next()
                    continue
                break
        self.expect_keyword("FROM")
        kind, name = self.next()
        if kind != "ident":
            raise faults.query_parse_error(f"Encountered \"{name}\", expected an entity.")
        entity = self.entities.get(name.lower())
        if entity is None:
            raise faults.query_validation_error(f"Invalid context declaration : {name}")
        query = Query(entity=entity, count=count, fields=fields)
        if self.is_keyword("WHERE"):
            self.next()
            query.conditions.append(self.condition())
            while self.is_keyword("AND"):
                self.next()
                query.conditions.append(self.condition())
            if self.is_keyword("OR"):
                raise faults.query_parse_error("Encountered \" \"OR\" \"OR \"\" (not supported).")
            allowed = {name.lower() for name in FILTERABLE.get(entity, set())}
            for cond in query.conditions:
                if cond.field.lower() not in allowed:
                    raise faults.query_validation_error(
                        f"property '{cond.field}' is not queryable")
        if self.is_keyword("ORDERBY") or (self.is_keyword("ORDER") and self.is_keyword("BY", 1)):
            if self.next()[1].upper() == "ORDER":
                self.next()
            while True:
                kind, name = self.next()
                if kind != "ident":
                    raise faults.query_parse_error(f"Encountered \"{name}\" after ORDERBY.")
                descending = False
                if self.is_keyword("DESC") or self.is_keyword("ASC"):
                    descending = self.next()[1].upper() == "DESC"
                query.order.append((name, descending))
                if self.peek() == ("punct", ","):
                    self.next()
                    continue
                break
        seen: set[str] = set()
        while self.is_keyword("STARTPOSITION") or self.is_keyword("MAXRESULTS"):
            keyword = self.next()[1].upper()
            if keyword in seen:
                raise faults.query_parse_error(f"Encountered \"{keyword}\" twice.")
            seen.add(keyword)
            number = self.integer(keyword)
            if keyword == "STARTPOSITION":
                if number < 1:
                    raise faults.query_validation_error("STARTPOSITION must be at least 1")
                query.start_position = number
            else:
                if number > MAX_RESULTS_LIMIT:
                    raise faults.query_validation_error(
                        f"value {number} is too large. Max allowed value is {MAX_RESULTS_LIMIT}"
                    )
                if number < 1:
                    raise faults.query_validation_error("MAXRESULTS must be at least 1")
                query.max_results = number
        token = self.peek()
        if token is not None:
            raise faults.query_parse_error(f"Encountered \"{token[1]}\" after the query.")
        return query

    def condition(self) -> Condition:
        kind, name = self.next()
        if kind != "ident":
            raise faults.query_parse_error(f"Encountered \"{name}\", expected a property.")
        if self.is_keyword("IN"):
            self.next()
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.next()
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(name, "IN", values)
        if self.is_keyword("LIKE"):
            self.next()
            value = self.literal()
            if not isinstance(value, str):
                raise faults.query_parse_error("LIKE needs a quoted string.")
            return Condition(name, "LIKE", value)
        kind, op = self.next()
        if kind != "op" or op in ("!=", "<>"):
            raise faults.query_parse_error(
                f"Encountered \"{op}\", expected one of =, <, >, <=, >=, IN, LIKE.")
        return Condition(name, op, self.literal())


def parse_query(text: str, entities: dict[str, str]) -> Query:
    if not text or not text.strip():
        raise faults.query_parse_error("Encountered \"<EOF>\": the query is empty.")
    return _Parser(text, entities).parse()


def _lookup(obj: dict, path: str) -> object:
    current: object = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        key = next((k for k in current if k.lower() == part.lower()), None)
        if key is None:
            return None
        current = current[key]
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    return current


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _compare(stored: object, literal: object) -> int | None:
    """-1/0/1 comparing a stored value with a query literal; None if not comparable."""
    if stored is None:
        return None
    if isinstance(stored, bool) or isinstance(literal, bool):
        if isinstance(literal, str):
            literal = literal.lower() == "true"
        if isinstance(stored, str):
            stored = stored.lower() == "true"
        return 0 if stored == literal else 1
    if isinstance(literal, Decimal) or not isinstance(stored, str):
        left, right = _as_number(stored), _as_number(literal)
        if left is not None and right is not None:
            return (left > right) - (left < right)
    left_s, right_s = str(stored), str(literal)
    return (left_s > right_s) - (left_s < right_s)


def _matches(obj: dict, cond: Condition) -> bool:
    stored = _lookup(obj, cond.field)
    if cond.op == "IN":
        return any(_compare(stored, v) == 0 for v in cond.value)  # type: ignore[union-attr]
    if cond.op == "LIKE":
        if stored is None:
            return False
        pattern = "".join(".*" if ch == "%" else re.escape(ch) for ch in str(cond.value))
        return re.fullmatch(pattern, str(stored), re.IGNORECASE | re.DOTALL) is not None
    result = _compare(stored, cond.value)
    if result is None:
        return False
    return {
        "=": result == 0,
        "!=": result != 0,
        "<": result < 0,
        "<=": result <= 0,
        ">": result > 0,
        ">=": result >= 0,
    }[cond.op]


def _sort_key(value: object) -> tuple:
    if value is None:
        return (2, "")
    number = _as_number(value)
    if number is not None and not isinstance(value, bool):
        return (0, number)
    return (1, str(value).lower())


def execute(query: Query, objects: list[dict], *, name_list: bool) -> dict:
    """Run a parsed query over the entity's objects; return the QueryResponse content."""
    conditions = list(query.conditions)
    if name_list and not any(c.field.lower() == "active" for c in conditions):
        conditions.append(Condition("Active", "=", True))
    rows = [obj for obj in objects if all(_matches(obj, c) for c in conditions)]
    if query.count:
        return {"totalCount": len(rows)}
    rows.sort(key=lambda obj: _sort_key(_lookup(obj, "Id")))
    for name, descending in reversed(query.order):
        rows.sort(key=lambda obj, n=name: _sort_key(_lookup(obj, n)), reverse=descending)
    page = rows[query.start_position - 1 : query.start_position - 1 + query.max_results]
    if not page:
        return {}
    if query.fields is not None:
        projected = []
        for obj in page:
            row = {"Id": obj.get("Id")}
            for name in query.fields:
                key = next((k for k in obj if k.lower() == name.lower()), None)
                if key is not None:
                    row[key] = obj[key]
            projected.append(row)
        page = projected
    return {
        query.entity: page,
        "startPosition": query.start_position,
        "maxResults": len(page),
    }
