from flask import Blueprint

bp = Blueprint("commitments", __name__)

from blueprints.commitments import change_orders, erp_panel, routes  # noqa: E402,F401
