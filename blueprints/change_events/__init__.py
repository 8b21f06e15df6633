from flask import Blueprint

from blueprints.tools import IN_PROJECT, register_tool

bp = Blueprint("change_events", __name__)
register_tool("change_events", "change_events.index", "Change Events", 20,
              visible=lambda _user, project: project.change_events_enabled, where=IN_PROJECT)

from blueprints.change_events import routes  # noqa: E402,F401
