"""Text from the store, the environment or a user, made safe to print on one line.

A bottom layer (the standard library only): the command, the logs, the webhook and the
admin all print values that come from outside the process through :func:`printable`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: object) -> str:
    """``text`` safe to print on one line of a terminal, a log or a chat message: every
    control or format character (Unicode categories Cc, Cf, Zl, Zp: C0, C1, DEL, bidi
    overrides, zero-width) is written as its ``\\xNN``/``\\uNNNN`` escape, and a backslash
    as ``\\\\`` so that an escape cannot be forged. Any other value is turned into text
    first (``str``). Never raises."""
    out: list[str] = []
    for char in str(text):
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
