from flask import Blueprint

from blueprints.rendering import nav_counts
from blueprints.tools import OUTSIDE_PROJECTS, register_tool

bp = Blueprint("projects", __name__)
register_tool("projects", "projects.index", "Projects", 10, where=OUTSIDE_PROJECTS)
# Rejected work a project admin may correct and resend, listed on the projects page.
register_tool("returned", "projects.index", "Returned", 30, anchor="returned",
              count=lambda user: nav_counts(user)[1], badge="projects/_returned_badge.html",
              hidden_without_count=True)

from blueprints.projects import routes  # noqa: E402,F401
