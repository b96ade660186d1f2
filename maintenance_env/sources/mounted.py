"""The mounted config: a directory of one file per variable (a ConfigMap volume), or a
dotenv file, noticed changed by a few ``os.stat`` calls and re-read only then."""

from __future__ import annotations

import os
import stat
from typing import Any

from maintenance_env.sources.base import Snapshot
from maintenance_env.sources.dotenv import KEY_RE, parse_dotenv
from maintenance_env.variables import PREFIX, Origin

__all__ = ["MountedConfig", "read_mounted"]

Signature = tuple[Any, ...]


def _fingerprint(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _describe(exc: OSError) -> str:
    reason = exc.strerror or exc.__class__.__name__
    return f"cannot be read: {reason}"


def _read_file(path: str) -> str | bytes:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        # Kept as bytes: the parsers reject it as "not text" and name the variable.
        return data


def _directory_entries(path: str) -> list[str]:
    """Names in the directory that hold our variables (the kubelet's ``..data`` skipped)."""
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if e.name.startswith(PREFIX) and KEY_RE.match(e.name))


#: The kubelet's link to the current payload of a ConfigMap or Secret volume.
_DATA_LINK = "..data"


def _read_directory(path: str) -> dict[str, str | bytes] | None:
    """Every variable's file, all from one payload.

    The kubelet may swap ``..data`` between two files: following each ``KEY -> ..data/KEY``
    link on its own could mix two payloads. So ``..data`` is resolved once, every key that
    links through it is read from that payload, and the read is repeated if ``..data`` was
    swapped meanwhile (the old payload is deleted only after the swap).
    """
    link = os.path.join(path, _DATA_LINK)
    values: dict[str, str | bytes] = {}
    for _attempt in range(5):  # a swap per attempt is already far more than a kubelet does
        try:
            payload: str | None = os.readlink(link)
        except OSError:  # not a kubelet volume: plain files
            payload = None
        values = {}
        try:
            for name in _directory_entries(path):
                full = os.path.join(path, name)
                if (
                    payload is not None
                    and os.path.islink(full)
                    and os.readlink(full) == os.path.join(_DATA_LINK, name)
                ):
                    full = os.path.join(path, payload, name)
                if os.path.isfile(full):
                    values[name] = _read_file(full)
        except FileNotFoundError:
            if payload is None:
                raise
        try:
            if payload is None or os.readlink(link) == payload:
                return values
        except OSError:
            continue  # ..data vanished mid-read: the volume is changing, try again
    return None  # never settled: the caller must not use a possible mix


def read_mounted(path: str) -> Snapshot:
    """Read the mounted config at ``path`` now, whatever its form."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            values = _read_directory(path)
            if values is None:
                return Snapshot({}, None, "directory", settled=False)
            return Snapshot(values, None, "directory")
        raw = _read_file(path)
        if isinstance(raw, bytes):
            return Snapshot({}, "cannot be read: it is not UTF-8 text", "file")
        dotenv = parse_dotenv(raw)
        return Snapshot({k: v for k, v in dotenv.items() if k.startswith(PREFIX)}, None, "file")
    except FileNotFoundError:
        return Snapshot({}, "does not exist", "missing")
    except OSError as exc:
        return Snapshot({}, _describe(exc), "missing")


class MountedConfig:
    """The mounted config at one path, re-read only when ``os.stat`` says it changed.

    A change is seen by stat-ing the path and, for a directory, each of our files in it
    (symlinks followed): the kubelet's ``..data`` swap changes the directory and the inode
    behind every file, a rename changes the inode, an edit in place changes size or mtime.
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
                self._files = tuple(_directory_entries(self.path))
            except OSError as exc:
                return ("error", exc.__class__.__name__, exc.errno)
        files = []
        for name in self._files:
            try:
                files.append((name, _fingerprint(os.stat(os.path.join(self.path, name)))))
            except OSError as exc:
                files.append((name, ("error", exc.errno)))
        return ("dir", _fingerprint(top), tuple(files))

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
        if snapshot.error is None and snapshot.kind == "directory":
            # A file may have changed again between stat and read: the next poll sees it.
            self._files = tuple(snapshot.values)
        return snapshot
