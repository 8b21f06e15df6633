"""Numbers handed out in order (001, 002 …) from a counter column on the parent row."""

from __future__ import annotations

from sqlalchemy import update

from extensions import db


def next_number(parent, counter: str) -> str:
    """Bump ``parent.<counter>`` and return it as three digits. The atomic UPDATE … RETURNING
    serialises concurrent creators, so two at once never get the same number."""
    model = type(parent)
    column = getattr(model, counter)
    number = db.session.execute(
        update(model).where(model.id == parent.id)
        .values({column: column + 1})
        .returning(column)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return f"{number:03d}"
