from flask import Blueprint

from blueprints.tools import register_tool
from workflow.permissions import is_company_admin

bp = Blueprint("admin", __name__)
register_tool("admin", "admin.index", "Admin", 50,
              visible=lambda user, _project: is_company_admin(user))

from blueprints.admin import routes  # noqa: E402,F401
