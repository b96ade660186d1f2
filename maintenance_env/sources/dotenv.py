"""The dotenv form of the mounted config: reading ``KEY=VALUE`` lines, and quoting a value
so that it reads back the same."""

from __future__ import annotations

import re

__all__ = ["KEY_RE", "LINE_RE", "dotenv_quote", "parse_dotenv"]

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
LINE_RE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)\Z")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), inner)
        return inner
    # An unquoted value ends where a " #" comment starts, as in shell and docker env files.
    comment = re.search(r"\s#", value)
    return (value[: comment.start()] if comment else value).strip()


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines with ``#`` comments, blank lines, ``export`` and quotes.

    The last assignment of a key wins, as when a shell sources the file.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE_RE.match(line)
        if match:
            values[match[1]] = _unquote(match[2])
    return values


def dotenv_quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.:/+@%,-]*", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
