from flask import Blueprint

from blueprints.tools import IN_PROJECT, register_tool

bp = Blueprint("commitments", __name__)
register_tool("commitments", "commitments.index", "Commitments", 10, where=IN_PROJECT)

from blueprints.commitments import change_orders, erp_panel, routes  # noqa: E402,F401
