"""Cursors: where a linked page starts, carried by the ``next``, ``prev`` and ``last`` links.

A cursor is the sort key of the row its page starts after (or, going back, ends before), or the
mark of the list's end (``last``), with the page it is for and the order it belongs to, in
JSON, base64url, and signed (HMAC-SHA256 with a key derived from ``SECRET_KEY``): an edited
cursor is not one of ours, whatever it says. A cursor only finds faster the page its ``page``
names; one that is not for this order and this page is ignored, and the page is found by its
number.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from app.models.order import Order, jsonable
from app.sealing import signature, signed

PURPOSE = "list cursors"
MEMBERS = {"o", "p", "k", "b", "l"}


@dataclass(frozen=True)
class Cursor:
    """Where a linked page starts: after (or with ``before``, before) a row's sort key, or at
    the end of the list (``last``)."""

    order: str
    page: int
    keys: list | None = None
    before: bool = False
    last: bool = False

    def encode(self) -> str:
        data: dict = {"o": self.order, "p": self.page}
        if self.last:
            data["l"] = 1
        else:
            data["k"] = [jsonable(value) for value in self.keys]
            if self.before:
                data["b"] = 1
        text = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{text}.{signature(text, PURPOSE)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def read_signed(text: str | None) -> dict | None:
    """The members of a cursor we signed (None for anything else)."""
    if not text or text.count(".") != 1:
        return None
    body, tag = text.split(".")
    if not signed(body, tag, PURPOSE):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) and not set(data) - MEMBERS else None


def is_for_page(text: str | None, page: int) -> bool:
    """Whether ``text`` is a cursor of ours for ``page`` (of some list)."""
    data = read_signed(text)
    return data is not None and type(data.get("p")) is int and data["p"] == page


def decode(text: str | None, order: Order, page: int) -> Cursor | None:
    """The cursor a link carries, if it is one of ``order``'s for ``page`` (else None)."""
    data = read_signed(text)
    if data is None or not is_for_page(text, page) or data.get("o") != order.fingerprint:
        return None
    keys, last = data.get("k"), data.get("l")
    if (last == 1) == isinstance(keys, list) or data.get("b", 1) != 1 or last not in (None, 1):
        return None
    if keys is not None:
        keys = order.key_values(keys)
        if keys is None:
            return None
    return Cursor(order.fingerprint, page, keys, before="b" in data, last=last == 1)
