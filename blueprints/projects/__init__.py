from flask import Blueprint

from blueprints.tools import OUTSIDE_PROJECTS, register_tool
from workflow.erp import returned_count

bp = Blueprint("projects", __name__)
register_tool("projects", "projects.index", "Projects", 10, where=OUTSIDE_PROJECTS)
# Rejected work a project admin may correct and resend, listed on the projects page.
register_tool("returned", "projects.index", "Returned", 30, anchor="returned",
              count=returned_count, badge="projects/_returned_badge.html",
              hidden_without_count=True)

from blueprints.projects import routes  # noqa: E402,F401
