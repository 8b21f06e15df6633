"""The ERP kinds, listed in one place: importing this package registers each of them (and,
through them, their QuickBooks exporters). ``create_app`` imports it at start.

Adding a kind (docs/architecture.md, "Adding an ERP kind"): one module here, named below."""

from workflow.erp_kinds import change_order, commitment  # noqa: F401 (each registers its kind)
