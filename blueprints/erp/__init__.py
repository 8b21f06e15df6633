from flask import Blueprint

bp = Blueprint("erp", __name__)

from blueprints.erp import routes  # noqa: E402,F401
