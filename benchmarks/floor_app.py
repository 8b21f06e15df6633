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
