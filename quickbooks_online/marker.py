"""Our marker block in a PurchaseOrder's PrivateNote: which commitment, which CCOs are in it.

The block is our own last paragraph of PrivateNote, for example::

    [ChangeOrder Desk: commitment 2; CCO 001, 004]

It is written and parsed here only, token by token: "commitment 2" never matches
"commitment 20", and a note a QuickBooks user typed stays theirs, word for word. See
docs/quickbooks.md ("The marker block").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NOTE_LIMIT = 4000  # QuickBooks' PrivateNote holds at most 4,000 characters
_BLOCK = re.compile(r"\[ChangeOrder Desk: (?P<body>[^\[\]\n]*)\]")
_COMMITMENT = re.compile(r"commitment (?P<id>[1-9][0-9]*)")
# A CCO's token is its number, or "004r1" once it was unlinked and sent again (the "r" count
# says which sending: docs/quickbooks.md, "Unlink").
_CCO_NUMBER = r"[0-9]{3,}(?:r[1-9][0-9]*)?"
_CCOS = re.compile(rf"CCO (?P<numbers>{_CCO_NUMBER}(?:, {_CCO_NUMBER})*)")
# The first release wrote "ChangeOrder Desk commitment 12: <title>" as the whole note.
_LEGACY = re.compile(r"ChangeOrder Desk commitment (?P<id>[1-9][0-9]*)(?::.*)?")


@dataclass(frozen=True)
class Marker:
    commitment_id: int
    change_orders: tuple[str, ...] = field(default=())

    def names(self, commitment_id: int) -> bool:
        return self.commitment_id == commitment_id

    def has_change_order(self, number: str) -> bool:
        return number in self.change_orders

    def with_change_order(self, number: str) -> Marker:
        if number in self.change_orders:
            return self
        return Marker(self.commitment_id, (*self.change_orders, number))

    def without_change_order(self, number: str) -> Marker:
        """This block with every token of CCO ``number`` (any sending of it) left out."""
        kept = tuple(t for t in self.change_orders if t.split("r")[0] != number)
        return Marker(self.commitment_id, kept)

    def render(self) -> str:
        body = f"commitment {self.commitment_id}"
        if self.change_orders:
            body += "; CCO " + ", ".join(self.change_orders)
        return f"[ChangeOrder Desk: {body}]"


def change_order_token(number: str, sendings_unlinked: int) -> str:
    """The marker token of a CCO: its number, with "r<n>" after its n-th unlink."""
    return number if not sendings_unlinked else f"{number}r{sendings_unlinked}"


def _parse_body(body: str) -> Marker | None:
    tokens = body.split("; ")
    commitment = _COMMITMENT.fullmatch(tokens[0])
    if commitment is None or len(tokens) > 2:
        return None
    numbers: tuple[str, ...] = ()
    if len(tokens) == 2:
        ccos = _CCOS.fullmatch(tokens[1])
        if ccos is None:
            return None
        numbers = tuple(ccos.group("numbers").split(", "))
    return Marker(int(commitment.group("id")), numbers)


def split_note(note: str | None) -> tuple[str, Marker | None]:
    """(the QuickBooks user's own text, our marker or None).

    The marker is the last paragraph that is exactly a well-formed block; any other text,
    a look-alike included, belongs to the user and is returned unchanged."""
    paragraphs = (note or "").split("\n")
    for index in range(len(paragraphs) - 1, -1, -1):
        match = _BLOCK.fullmatch(paragraphs[index].strip())
        marker = _parse_body(match.group("body")) if match else None
        if marker is not None:
            rest = paragraphs[:index] + paragraphs[index + 1:]
            return "\n".join(rest).strip("\n").rstrip(), marker
    if paragraphs:
        legacy = _LEGACY.fullmatch(paragraphs[0].strip())
        if legacy is not None:
            return "\n".join(paragraphs[1:]).strip("\n").rstrip(), Marker(int(legacy.group("id")))
    return note or "", None


class NoteTooLong(ValueError):
    """The user's text and our block do not fit in PrivateNote together: ``excess``
    characters too many. Their text is never cut to make room."""

    def __init__(self, excess: int) -> None:
        super().__init__(f"PrivateNote would be {excess} characters over {NOTE_LIMIT}")
        self.excess = excess


def join_note(user_text: str, marker: Marker) -> str:
    """PrivateNote: the user's text kept word for word, our block as the last paragraph.
    NoteTooLong if that would exceed QuickBooks' 4,000 characters."""
    block = marker.render()
    text = (user_text or "").rstrip()
    note = f"{text}\n\n{block}" if text else block
    if len(note) > NOTE_LIMIT:
        raise NoteTooLong(len(note) - NOTE_LIMIT)
    return note
