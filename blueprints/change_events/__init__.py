from flask import Blueprint

bp = Blueprint("change_events", __name__)

from blueprints.change_events import routes  # noqa: E402,F401
