from flask import Blueprint

bp = Blueprint("erp", __name__)

from blueprints.erp import routes, settings  # noqa: E402,F401
