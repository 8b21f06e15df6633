"""Typed SQLAlchemy models, one module per aggregate. Importing this package registers them all."""

from models.people import ErpPermission, ProjectMembership, ProjectRole, User
from models.reference import DEFAULT_CATEGORIES, Category, CostCode, Project, Vendor

__all__ = [
    "DEFAULT_CATEGORIES",
    "Category",
    "CostCode",
    "ErpPermission",
    "Project",
    "ProjectMembership",
    "ProjectRole",
    "User",
    "Vendor",
]
