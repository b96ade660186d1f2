"""Values as read back from the shared store, and the ``changed_at`` of a write.

Whatever another writer, a cache's serializer or a hostile value leaves in a key, the
reader gets text, a ``bool``/``int`` as a setting would give, or a :class:`Foreign` that
the parsers refuse naming the variable: never an exception, never a value that breaks the
comparison of two reads.
"""

from __future__ import annotations

import datetime as dt

from maintenance_env.history import MAX_TEXT

__all__ = ["MAX_VALUE_BYTES", "Foreign", "changed_now", "changed_text", "note_text", "store_value"]

#: The largest value the store's reader takes, in bytes of UTF-8 (64 KiB, as the mounted
#: config's files): a larger one is a bad value shown in one short line.
MAX_VALUE_BYTES = 64 * 1024


class Foreign:
    """A value of the store that is not text (a ``Decimal``, a ``dict``, an oversized
    text): refused by the parsers as any bad value, naming the variable. Comparable and
    hashable, so that it never breaks the comparison of two reads (``Decimal('sNaN')``
    raises on ``==``) and later changes are still seen."""

    __slots__ = ("shown",)

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Foreign) and other.shown == self.shown

    def __hash__(self) -> int:
        return hash(self.shown)

    def __repr__(self) -> str:
        return self.shown


def store_value(value: object) -> object:
    """A value as read from the store: text, undecodable bytes (refused as "not text"),
    ``True``/``False``/an ``int`` as a setting would give, or a :class:`Foreign`."""
    if isinstance(value, bytes):
        if len(value) > MAX_VALUE_BYTES:
            return Foreign(f"<{len(value)} bytes: over the {MAX_VALUE_BYTES}-byte bound>")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value  # refused by the parsers as "not text", naming the variable
    if isinstance(value, str):
        if len(value) > MAX_VALUE_BYTES // 4 and len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            return Foreign(f"<{len(value)} characters: over the {MAX_VALUE_BYTES}-byte bound>")
        return value
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63):
        return value
    try:
        shown = repr(value)
    except Exception:
        # Not object.__repr__: its address changes with every read (a value unpickled
        # afresh), and one bad value must be one line, not one per read.
        shown = "(cannot be shown)"
    if len(shown) > 80:
        shown = shown[:80] + "…"
    return Foreign(f"<a {type(value).__name__} in the store, not text: {shown}>")


def changed_text(value: object) -> str | None:
    """The store's ``changed_at`` record when it is short text, else ``None``."""
    return value if isinstance(value, str) and len(value) <= 64 else None


def note_text(value: object) -> str | None:
    """The store's ``changed_by``/``reason`` record when it is text, else ``None``
    (printed through :func:`maintenance_env.printing.printable` wherever it is shown)."""
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def changed_now() -> str:
    """``changed_at`` for a write now: ISO 8601 UTC text in microseconds (so two writes in
    one second are two changes; texts of this one form compare in time order)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")
