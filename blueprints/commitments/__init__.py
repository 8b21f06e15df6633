from flask import Blueprint

bp = Blueprint("commitments", __name__)

from blueprints.commitments import routes  # noqa: E402,F401
