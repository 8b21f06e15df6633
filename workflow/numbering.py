"""Numbers handed out in order (001, 002 …) from a counter column on the parent row."""

from __future__ import annotations

from sqlalchemy import select, update

from extensions import db


def next_number(parent, counter: str, numbered, parent_key) -> str:
    """Bump ``parent.<counter>`` and return the next free number as three digits.

    The atomic UPDATE … RETURNING locks the parent row, serialising concurrent creators, so two
    at once never get the same number. The counter alone is not trusted: rows put in some other
    way (an import, a hand-made fix) may already hold higher numbers, so the number is one more
    than the larger of the counter and the highest existing ``numbered`` value among the
    parent's children (``parent_key == parent.id``), and the counter catches up."""
    model = type(parent)
    column = getattr(model, counter)
    number = db.session.execute(
        update(model).where(model.id == parent.id)
        .values({column: column + 1})
        .returning(column)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    taken = db.session.scalars(select(numbered).where(parent_key == parent.id))
    highest = max((int(n) for n in taken if n.isascii() and n.isdigit()), default=0)
    if highest >= number:
        number = highest + 1
        db.session.execute(
            update(model).where(model.id == parent.id).values({column: number})
            .execution_options(synchronize_session=False))
    return f"{number:03d}"
