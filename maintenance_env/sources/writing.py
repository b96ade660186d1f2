"""Writing the mounted config (``maintenance_mode on --write``, ``unset``): atomic, other
lines kept."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from maintenance_env.sources.dotenv import LINE_RE, dotenv_quote

__all__ = ["delete_value", "write_value"]


def _replace_atomically(target: str, content: str) -> None:
    """Write ``content`` to a temporary file beside ``target`` and rename it over it."""
    directory = os.path.dirname(os.path.abspath(target))
    mode = 0o644
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=".maintenance-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _refuse_special(target: str) -> None:
    """Never rename over a device, socket or directory (``/dev/null`` as root, say)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise (
            IsADirectoryError(21, "not a regular file", target)
            if stat.S_ISDIR(mode)
            else OSError(22, "not a regular file", target)
        )


def write_value(path: str, name: str, value: str) -> str:
    """Set ``name`` to ``value`` in the mounted config at ``path``, atomically.

    A directory gets (or has replaced) the file ``name``; a dotenv file has the line for
    ``name`` replaced in place, every other line kept, or a line appended. Returns the file
    written. Raises ``OSError`` when the path cannot be written.
    """
    if os.path.isdir(path):
        target = os.path.join(path, name)
        _refuse_special(target)
        _replace_atomically(target, value + "\n")
        return target
    _refuse_special(path)
    lines: list[str] = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    new_line = f"{name}={dotenv_quote(value)}"
    replaced = False
    kept: list[str] = []
    for line in lines:
        match = LINE_RE.match(line)
        if match and match[1] == name and not line.lstrip().startswith("#"):
            if not replaced:
                prefix = "export " if line.lstrip().startswith("export") else ""
                kept.append(prefix + new_line)
                replaced = True
            continue  # a later duplicate would win on reading: drop it
        kept.append(line)
    if not replaced:
        kept.append(new_line)
    _replace_atomically(path, "\n".join(kept) + "\n")
    return path


def delete_value(path: str, name: str) -> str | None:
    """Remove ``name`` from the mounted config at ``path``, so that lower sources apply.

    A directory has the file ``name`` removed; a dotenv file has every line assigning
    ``name`` removed (atomically, other lines kept). Returns the file changed, or ``None``
    when ``name`` was not there. Raises ``OSError`` when the path cannot be written.
    """
    if os.path.isdir(path):
        target = os.path.join(path, name)
        if not os.path.lexists(target):
            return None
        _refuse_special(target)
        os.unlink(target)
        return target
    _refuse_special(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    kept = [
        line
        for line in lines
        if line.lstrip().startswith("#")
        or not ((match := LINE_RE.match(line)) and match[1] == name)
    ]
    if len(kept) == len(lines):
        return None
    _replace_atomically(path, "\n".join(kept) + "\n" if kept else "")
    return path
