"""The kinds of record ERP Integrations sends to QuickBooks, registered once.

Each kind is one class (``ErpKind``) carrying everything the ERP workflow, the inbox, the
notifications and the card pages ask of a record: its model, its name in the database
(``Export.subject_type``, history, notices), its URL slug (``/erp/<slug>/<id>``), its words,
what stops it from being sent, what accepting it must check, who may see it, where its page is
and which QuickBooks record it writes. The concrete kinds live in ``workflow/erp_kinds/``
(listed in its ``__init__``, loaded by ``create_app``); this module imports only the models,
so anything may consult the registry without an import cycle (docs/architecture.md, "Adding
an ERP kind").
"""

from __future__ import annotations

from typing import ClassVar

KINDS: dict[str, ErpKind] = {}  # by name, in the order registered


class ErpKind:
    """One kind of record sent to QuickBooks. Subclass it and decorate with ``@register``."""

    name: ClassVar[str]  # "change_order": Export.subject_type, history and notice subject type
    slug: ClassVar[str]  # "change-orders": /erp/<slug>/<id>, the cards' "slug:id" values
    model: ClassVar[type]  # the SQLAlchemy model (its ERP columns: models.erp.ErpColumns)
    rank: ClassVar[int]  # the inbox's order among records that entered a status at one time
    key_prefix: ClassVar[str]  # the Export's idempotency key: cod-<prefix>-<id>-…
    reopens_when_rejected: ClassVar[bool] = False  # handed back by a job (erp_reopen_pending)
    checked_on_accept: ClassVar[bool] = False  # Accept locks it and asks ``accept_blocker``

    # ---- words and places -------------------------------------------------------------
    noun: ClassVar[str] = "record"  # "change order": "This change order changed since …"

    def title(self, record) -> str:
        """"CCO #3 of SC-1001", "SC-1001": how messages name the record."""
        return record.number

    def short_name(self, record) -> str:
        """"CCO #3", "SC-1001": how its card names it."""
        return record.number

    def heading(self, record) -> str:
        """Its card's heading: "CCO #3", "Subcontract SC-1001"."""
        return self.short_name(record)

    # Its card: whether it changes a QuickBooks record that exists ("changes PurchaseOrder
    # …") or makes a new one, and whether it shows who approved what ("Approved by …").
    changes_existing: ClassVar[bool] = False
    shows_approval: ClassVar[bool] = False

    def amount(self, record):
        """The amount notifications name."""
        raise NotImplementedError

    def commitment_of(self, record):
        """The commitment the record belongs to: its vendor, project and PurchaseOrder are
        what the card, the counts' filters and the messages name."""
        raise NotImplementedError

    def target_key(self, record) -> str:
        """The QuickBooks record it writes, as the export lock's key: two exports with one
        target run one after the other."""
        return f"purchase-order:{self.commitment_of(record).id}"

    def page_path(self, record) -> str:
        """The record's own page, from the site's root."""
        raise NotImplementedError

    # ---- rules ------------------------------------------------------------------------
    def send_blockers(self, record) -> list:
        """Why it cannot be sent to QuickBooks now (quickbooks_online.mapping.Blocker)."""
        return []

    def accept_blocker(self, record) -> str | None:
        """Why Accept must wait although it is Ready to Export (None: it may be accepted)."""
        return None

    def restore_pending(self, record) -> bool:
        """It is Ready to Export (or Failed to Export) only for a "Restore ours" of what is
        already in QuickBooks: Retrieve and Reject withdraw that request and it stays Synced,
        never editable (docs/quickbooks.md, "Seeing QuickBooks")."""
        return False

    def locks_before_send(self, record) -> list:
        """Records whose write lock Send to ERP takes before the record's own."""
        return []

    def may_read(self, user, record) -> bool:
        """May ``user`` open the record's own page."""
        raise NotImplementedError

    def hidden_from(self, viewer, record) -> bool:
        """Whether an ERP viewer must not see this record's card (a private CCO)."""
        return False

    def visible_sql(self, viewer):
        """SQL: the records of this kind ``viewer`` may see in ERP Integrations (None: all)."""
        return None

    def with_commitment(self, query):
        """``query`` over this kind's model, joined to Commitment (project, vendor filters)."""
        return query

    def export_columns(self, record) -> dict:
        """Columns of its ``Export`` beyond (kind, record id, target) that its exporter reads."""
        return {}

    def record_synced(self, record, result) -> None:
        """Keep what QuickBooks now holds (``ExportResult``) beyond the lines' Ids, in the
        export's transaction."""

    def lines(self, record) -> dict:
        """Our lines an export maps to QuickBooks line Ids, by id."""
        return {}

    # ---- the approver's card ----------------------------------------------------------
    def card_load_options(self) -> tuple:
        """What a page of cards reads with the records (joinedload options)."""
        return ()

    def card_mappings(self, record) -> dict:
        """The mappings its preview needs, read with the page: (cost code, category) → mapping."""
        return {}

    def card_total(self, record, ledger):
        raise NotImplementedError

    def preview(self, record, cards):
        """What QuickBooks will receive (quickbooks_online.plans.Plan), or None."""
        return None


def register(kind_class: type[ErpKind]) -> type[ErpKind]:
    """Class decorator: records of ``kind_class.model`` go to QuickBooks as this kind."""
    KINDS[kind_class.name] = kind_class()
    return kind_class


def unregister(name: str) -> None:
    KINDS.pop(name, None)


def of(record) -> ErpKind:
    """The kind of ``record``."""
    for kind in KINDS.values():
        if isinstance(record, kind.model):
            return kind
    raise TypeError(f"{type(record).__name__} is not an ERP kind")


def named(name: str) -> ErpKind | None:
    return KINDS.get(name)


def by_slug(slug: str) -> ErpKind | None:
    return next((kind for kind in KINDS.values() if kind.slug == slug), None)


def all_kinds() -> list[ErpKind]:
    return sorted(KINDS.values(), key=lambda kind: kind.rank)
