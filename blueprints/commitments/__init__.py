from flask import Blueprint

bp = Blueprint("commitments", __name__)

from blueprints.commitments import change_orders, routes  # noqa: E402,F401
