"""The framework's floor: a minimal Flask page of 25 cards, no database, no login.

``benchmarks/floor.py`` serves it with gunicorn exactly as it serves the app, so the app's
pages can be given as a ratio of what Flask, Jinja and the WSGI server cost by themselves.
"""

from __future__ import annotations

from flask import Flask, render_template
from jinja2 import DictLoader

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floor</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{{ title }}</h1>
{% for card in cards %}
<article class="card" id="card-{{ card.id }}">
  <h2><a href="/cards/{{ card.id }}">{{ card.number }} {{ card.title }}</a></h2>
  <p>{{ card.vendor }} · {{ card.status }}</p>
  <p class="amount">{{ "{:,.2f}".format(card.amount) }}</p>
</article>
{% endfor %}
</main></body></html>
"""

CARDS = [{"id": n, "number": f"SC-{n:03d}", "title": f"Card {n}", "vendor": "Summit Concrete",
          "status": "Ready to export", "amount": 1234.5 * n} for n in range(1, 26)]

app = Flask(__name__)
app.jinja_loader = DictLoader({"floor.html": PAGE})


@app.get("/")
def floor():
    return render_template("floor.html", title="25 cards", cards=CARDS)


def stack():
    """The stack's floor: the same page behind what every page of the app needs at least — a
    signed session cookie, Flask-Login loading the user through Flask-SQLAlchemy (one
    statement, PostgreSQL at DATABASE_URL: the benchmark's scratch database) — and nothing
    else. ``GET /login/<user id>`` logs in. A page's ratio to this one is what the page itself
    costs beyond being a logged-in page of this stack (benchmarks/floor.py)."""
    import os

    from flask_login import LoginManager, current_user, login_required, login_user
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy import Column, Integer, String

    from config import database_url

    site = Flask(__name__)
    site.jinja_loader = DictLoader({"floor.html": PAGE})
    site.config.update(SECRET_KEY=os.environ.get("SECRET_KEY", "stack-floor"),
                       SQLALCHEMY_DATABASE_URI=database_url(site.instance_path))
    db = SQLAlchemy(site)

    class Person(db.Model):  # the app's users table, two of its columns
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)
        name = Column(String)

        is_authenticated = is_active = True
        is_anonymous = False

        def get_id(self) -> str:
            return str(self.id)

    logins = LoginManager(site)
    logins.user_loader(lambda user_id: db.session.get(Person, int(user_id)))

    @site.get("/login/<int:user_id>")
    def enter(user_id: int):
        login_user(db.session.get(Person, user_id))
        return "logged in"

    @site.get("/")
    @login_required
    def floor():
        return render_template("floor.html", title=f"25 cards for {current_user.name}",
                               cards=CARDS)

    return site
