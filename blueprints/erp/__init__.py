from flask import Blueprint

from blueprints.rendering import nav_counts
from blueprints.tools import register_tool
from workflow.permissions import can_view_erp

bp = Blueprint("erp", __name__)
register_tool("erp", "erp.index", "ERP Integrations", 40,
              visible=lambda user, _project: can_view_erp(user),
              count=lambda user: nav_counts(user)[0],
              badge="_erp_badge.html")

from blueprints.erp import books, quickbooks_changes, routes, settings  # noqa: E402,F401
