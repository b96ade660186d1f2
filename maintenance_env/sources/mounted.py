"""The mounted config: a directory of one file per variable (a ConfigMap volume), or a
dotenv file, noticed changed by a few ``os.stat`` calls and re-read only then.

Only regular files are read, and only small ones: a FIFO, a socket, a device
(``/dev/zero``), a directory where a file is expected or a file larger than
:data:`MAX_FILE_BYTES` "cannot be read", so that reading never blocks a worker or fills
its memory. In the directory form only files named after a known variable are stat-ed
and read, however many other files the directory holds.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

from maintenance_env.sources.base import Snapshot
from maintenance_env.sources.dotenv import KEY_RE, read_dotenv, summarise
from maintenance_env.variables import PREFIX, VARIABLES, Origin

__all__ = ["MAX_FILE_BYTES", "MountedConfig", "NotReadable", "read_mounted", "read_regular_file"]

Signature = tuple[Any, ...]

#: The largest file the mounted config reads, in bytes (64 KiB), for the dotenv file and for
#: each file of the directory form. A maintenance config is a few hundred bytes; anything
#: larger is a mistake (a log, an image, ``/dev/zero``) and counts as "cannot be read".
MAX_FILE_BYTES = 64 * 1024

#: ``os.open`` flags for reading: never wait for a writer (a FIFO), never become the
#: controlling terminal, never leak the descriptor into a child.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotReadable(Exception):
    """A path that is not a regular file of at most :data:`MAX_FILE_BYTES` bytes; the
    message says what it is instead ("it is not a regular file (a FIFO)")."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _check_regular(st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise NotReadable(f"it is not a regular file ({_kind(st.st_mode)})")
    if st.st_size > limit:
        raise NotReadable(f"it is larger than {limit} bytes (the limit for a config file)")


def read_regular_file(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit``.

    The path is stat-ed before it is opened (so a device or a FIFO is never opened), opened
    with ``O_NONBLOCK`` and checked again with ``os.fstat`` (so a FIFO renamed in between
    cannot block), and at most ``limit + 1`` bytes are read (so a file growing meanwhile
    cannot exhaust memory). Raises :class:`NotReadable` for anything but a regular file of
    at most ``limit`` bytes, and ``OSError`` when it cannot be opened or read.
    """
    _check_regular(os.stat(path), limit)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        _check_regular(os.fstat(fd), limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise NotReadable(f"it is larger than {limit} bytes (the limit for a config file)")
    return b"".join(chunks)


def _fingerprint(st: os.stat_result) -> Signature:
    return (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _describe(exc: OSError) -> str:
    reason = exc.strerror or exc.__class__.__name__
    return f"cannot be read: {reason}"


def _read_file(path: str) -> str | bytes:
    """One file of the directory form: its text, surrounding whitespace trimmed, or its
    bytes when they are not UTF-8 (the parsers then reject it as "not text", naming the
    variable). Raises :class:`NotReadable` or ``OSError``."""
    data = read_regular_file(path)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return data


def _directory_entries(path: str) -> tuple[list[str], list[str]]:
    """The names in the directory that are known variables, and the other ``MAINTENANCE_MODE*``
    names (the kubelet's ``..data`` and anything else is not ours)."""
    known: list[str] = []
    unknown: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            name = entry.name
            if name in VARIABLES:
                known.append(name)
            elif name.upper().startswith(PREFIX) and KEY_RE.match(name):
                unknown.append(name)  # a typo, or the wrong case: names are upper case
    return sorted(known), sorted(unknown)


def _unknown_note(names: list[str], what: str) -> tuple[str, ...]:
    """One line for every unknown ``MAINTENANCE_MODE_*`` name, however many there are."""
    if not names:
        return ()
    if len(names) == 1:
        return (f"the {what} {names[0]} is not a known variable; ignored",)
    return (f"{len(names)} {what}s are not known variables: {summarise(names)}; ignored",)


#: The kubelet's link to the current payload of a ConfigMap or Secret volume.
_DATA_LINK = "..data"


def _read_directory(path: str) -> tuple[dict[str, str | bytes], tuple[str, ...]] | None:
    """Every known variable's file, all from one payload, and notes on what was skipped.

    The kubelet may swap ``..data`` between two files: following each ``KEY -> ..data/KEY``
    link on its own could mix two payloads. So ``..data`` is resolved once, every key that
    links through it is read from that payload, and the read is repeated if ``..data`` was
    swapped meanwhile (the old payload is deleted only after the swap).

    A file that is not a regular file, is too large or is a symlink loop is skipped (that
    variable is unset here) with a note; failing to read a file (permissions) raises.
    """
    for _attempt in range(5):  # a swap per attempt is already far more than a kubelet does
        link = os.path.join(path, _DATA_LINK)
        try:
            payload: str | None = os.readlink(link)
        except OSError:  # not a kubelet volume: plain files
            payload = None
        values: dict[str, str | bytes] = {}
        skipped: list[str] = []
        known, unknown = _directory_entries(path)
        for name in known:
            full = os.path.join(path, name)
            try:
                if (
                    payload is not None
                    and os.path.islink(full)
                    and os.readlink(full) == os.path.join(_DATA_LINK, name)
                ):
                    full = os.path.join(path, payload, name)
                values[name] = _read_file(full)
            except FileNotFoundError:
                continue  # gone meanwhile, or a dangling link: unset here
            except NotReadable as exc:
                skipped.append(f"{name} ({exc})")
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                skipped.append(f"{name} (a symbolic link loop)")
        try:
            if payload is None or os.readlink(link) == payload:
                notes = _unknown_note(unknown, "file")
                if skipped:
                    notes += (f"cannot read {summarise(skipped)}; ignored",)
                return values, notes
        except OSError:
            continue  # ..data vanished mid-read: the volume is changing, try again
    return None  # never settled: the caller must not use a possible mix


def _read_dotenv_file(path: str) -> Snapshot:
    try:
        text = read_regular_file(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        return Snapshot({}, "cannot be read: it is not UTF-8 text", "file")
    dotenv = read_dotenv(text)
    values: dict[str, str | bytes] = {}
    unknown: list[str] = []
    for key, value in dotenv.values.items():
        if key in VARIABLES:
            values[key] = value
        elif key.upper().startswith(PREFIX):
            unknown.append(key)  # a typo, or the wrong case: names are upper case
    notes = dotenv.notes(PREFIX) + _unknown_note(sorted(unknown), "key")
    return Snapshot(values, None, "file", notes=notes)


def read_mounted(path: str) -> Snapshot:
    """Read the mounted config at ``path`` now, whatever its form; never raises."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            found = _read_directory(path)
            if found is None:
                return Snapshot({}, None, "directory", settled=False)
            return Snapshot(found[0], None, "directory", notes=found[1])
        return _read_dotenv_file(path)
    except NotReadable as exc:
        return Snapshot({}, f"cannot be read: {exc}", "missing")
    except FileNotFoundError:
        return Snapshot({}, "does not exist", "missing")
    except OSError as exc:
        return Snapshot({}, _describe(exc), "missing")


class MountedConfig:
    """The mounted config at one path, re-read only when ``os.stat`` says it changed.

    A change is seen by stat-ing the path and, for a directory, each file in it named after
    a known variable (symlinks followed; the directory is listed again only when it changed
    itself): the kubelet's ``..data`` swap changes the directory and the inode behind every
    file, a rename changes the inode, an edit in place changes size or mtime. So a poll costs
    at most one ``os.stat`` per variable, however many files the directory holds.
    Not thread-safe by itself: :class:`maintenance_env.live.Runtime` polls it under a lock.
    """

    origin = Origin.CONFIG

    def __init__(self, path: str) -> None:
        self.path = path
        self.label = f"the mounted config {path}"
        self._signature: Signature | None = None
        self._files: tuple[str, ...] = ()

    def _signature_now(self) -> Signature:
        try:
            top = os.stat(self.path)
        except OSError as exc:
            return ("error", exc.__class__.__name__, exc.errno)
        if not stat.S_ISDIR(top.st_mode):
            return ("file", _fingerprint(top))
        previous = self._signature
        if previous is None or previous[0] != "dir" or previous[1] != _fingerprint(top):
            # The directory itself changed (entries added, removed, renamed): list it again.
            try:
                self._files = tuple(_directory_entries(self.path)[0])
            except OSError as exc:
                return ("error", exc.__class__.__name__, exc.errno)
        files = []
        for name in self._files:
            try:
                files.append((name, _fingerprint(os.stat(os.path.join(self.path, name)))))
            except OSError as exc:
                files.append((name, ("error", exc.errno)))
        return ("dir", _fingerprint(top), tuple(files))

    def after_fork(self) -> None:
        """Nothing to drop: the child re-checks the files on its next poll as it would."""

    def poll(self) -> Snapshot | None:
        """A new snapshot if the config changed since the last poll, else ``None``."""
        signature = self._signature_now()
        if signature == self._signature:
            return None
        self._signature = signature
        snapshot = read_mounted(self.path)
        if not snapshot.settled:
            self._signature = None  # read it again at the next poll; keep the state meanwhile
            return None
        return snapshot
