"""Write a config directory the way the kubelet updates a ConfigMap or Secret volume.

The kubelet's atomic writer puts the new payload in a fresh timestamped directory
(``..2026_11_24_05_00_00.123456789``), points a ``..data_tmp`` symlink at it, renames
``..data_tmp`` over ``..data`` (the one atomic step), makes sure each key has a
user-visible symlink ``KEY -> ..data/KEY``, removes keys that are gone, and deletes the
old timestamped directory. Readers never see a half-written payload.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ConfigMapVolume"]


class ConfigMapVolume:
    """A directory updated only through :meth:`update`, as a kubelet would."""

    def __init__(self, root: Path, data: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._serial = 0
        if data is not None:
            self.update(data)

    def _new_payload_dir(self) -> Path:
        self._serial += 1
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
        return self.root / f"..{stamp}.{time.time_ns() % 10**9:09d}{self._serial:04d}"

    def update(self, data: Mapping[str, str]) -> None:
        payload = self._new_payload_dir()
        payload.mkdir()
        for key, value in data.items():
            (payload / key).write_text(value)
        data_link = self.root / "..data"
        old = os.readlink(data_link) if data_link.is_symlink() else None
        tmp_link = self.root / "..data_tmp"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(payload.name, tmp_link)
        os.rename(tmp_link, data_link)  # the atomic swap
        for key in data:
            user_link = self.root / key
            if not user_link.is_symlink():
                os.symlink(f"..data/{key}", user_link)
        for entry in os.listdir(self.root):
            if not entry.startswith(".") and entry not in data:
                (self.root / entry).unlink()
        if old is not None:
            shutil.rmtree(self.root / old, ignore_errors=True)
