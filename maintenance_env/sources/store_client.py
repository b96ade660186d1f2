"""One-shot calls to the shared store, each under the package's own deadline: one read,
a write of values, the history, the fleet's reports.

:class:`StoreClient` is what a management command or the admin needs, with no thread;
:class:`~maintenance_env.sources.store.SharedStore` adds the per-process reader on top.
Every error comes out as :class:`~maintenance_env.cache_url.StoreError`, naming the store
with its credentials masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.cache.backends.base import BaseCache

from maintenance_env import fleet, history, reports
from maintenance_env.cache_build import build_cache
from maintenance_env.cache_url import (
    BY_KEY,
    CHANGED_KEY,
    REASON_KEY,
    StoreError,
    describe_error,
    describe_setting,
    key,
)
from maintenance_env.cache_url import setting_secrets as _setting_secrets
from maintenance_env.sources.deadline import Deadline, DeadlineExceeded
from maintenance_env.sources.store_values import changed_now, changed_text, note_text, store_value

__all__ = ["READ_DEADLINE", "WRITE_DEADLINE", "StoreClient"]

T = TypeVar("T")

#: Seconds the package waits for a read of the store before it counts as failed: the
#: first read before a process answers, the system check's, and the refresher's.
READ_DEADLINE = 1.0
#: Seconds ``maintenance_mode … --write`` waits for the store to take the values.
WRITE_DEADLINE = 5.0


class StoreClient:
    """The store named by ``setting`` (an alias of ``caches``, default ``CACHES``, or a
    cache URL), for the variables ``names``."""

    def __init__(
        self, setting: str, names: Iterable[str], *, caches: Mapping[str, Any] | None = None
    ) -> None:
        self.setting = setting
        #: How logs and ``status`` name the store, credentials masked.
        self.where = describe_setting(setting, caches)
        self.label = f"the shared store {self.where}"
        #: What error texts are scrubbed of (a client may quote part of a URL).
        self.secrets = _setting_secrets(setting, caches)
        self._names = tuple(names)
        self._caches = caches
        self._deadline = Deadline("maintenance_env store call")
        self._forget_reads()

    def _forget_reads(self) -> None:
        """As if no read had been made."""
        #: Whether a read in this process found any key of the package (for a lost store).
        self._found_keys = False
        #: When ``maintenance_mode`` last wrote the store, as last read (ISO 8601 text),
        #: and who and why, as that write recorded them.
        self.changed_at: str | None = None
        self.changed_by: str | None = None
        self.reason: str | None = None
        #: What the last read found of the fleet's keys (:meth:`fleet.Reporter.keys_to_read`).
        self._fleet_found: dict[str, Any] = {}
        #: The ``changed_at`` of this process's last write (``maintenance_mode --write``).
        self.written_at: str | None = None
        #: Whether the store lost every key after a read that found some (until written).
        self.lost = False

    def read_once(self, cache: BaseCache, extra: Iterable[str] = ()) -> dict[str, object]:
        """Every variable present in the store, read in one ``get_many`` (may raise), with
        :data:`CHANGED_KEY`, :data:`BY_KEY` and :data:`REASON_KEY` (kept as
        :attr:`changed_at`, :attr:`changed_by` and :attr:`reason`, not as values) and the
        ``extra`` keys of the fleet report (kept for it). Sets :attr:`lost` when none of
        the keys is there after a read that found some."""
        extra = list(extra)
        names = [key(name) for name in self._names]
        found = cache.get_many([*names, CHANGED_KEY, BY_KEY, REASON_KEY, *extra])
        self._fleet_found = {k: found.pop(k) for k in extra if k in found}
        if found:
            self._found_keys, self.lost = True, False
        elif self._found_keys and not self.lost:
            self.lost = True
        changed = found.get(CHANGED_KEY)
        self.changed_at = changed_text(changed)
        self.changed_by = note_text(found.get(BY_KEY))
        self.reason = note_text(found.get(REASON_KEY))
        values: dict[str, object] = {}
        for name in self._names:
            value = found.get(key(name))
            if value is not None:
                values[name] = store_value(value)
        return values

    def _call(self, function: Callable[[], T], seconds: float, what: str) -> T:
        """``function()`` under the package's own deadline, as a :class:`StoreError`."""
        try:
            return self._deadline.call(function, seconds, f"the store {what}")
        except DeadlineExceeded as exc:
            raise StoreError(str(exc)) from None

    # --- writing (``maintenance_mode on|off --write``) -----------------------------------

    def record(self, change: history.Change) -> None:
        """Prepend ``change`` to the fleet's history (the last 50 changes, for
        ``maintenance_mode history``), under the package's deadline. Raises
        :class:`StoreError` when the store does not take it."""

        self._with_cache(
            lambda cache: history.record_change(cache, change),
            "(recording the change)",
            failed="failed while recording",
        )

    def history(self) -> list[history.Change]:
        """The fleet's last changes, newest first, read under the package's deadline.
        Raises :class:`StoreError` when the store cannot be read."""
        return self._with_cache(history.history, "(reading the history)")

    def live_reports(self) -> list[reports.Report]:
        """The fleet's live process reports, read under the package's deadline. Raises
        :class:`StoreError` when the store cannot be read."""
        return self._with_cache(fleet.live_reports, "(reading the reports)")

    def _with_cache(
        self, function: Callable[[BaseCache], T], what: str, *, failed: str = "cannot be read"
    ) -> T:
        """``function(cache)`` on a cache of its own (closed after), under the package's
        deadline (:data:`WRITE_DEADLINE`); any failure as :class:`StoreError` saying the
        store ``failed`` (credentials masked). ``what`` names the call in a timeout."""

        def run() -> T:
            cache = build_cache(self.setting, self._caches)
            try:
                return function(cache)
            finally:
                cache.close()

        try:
            return self._call(run, WRITE_DEADLINE, what)
        except StoreError:
            raise
        except Exception as exc:
            reason = describe_error(exc, self.secrets)
            raise StoreError(f"{self.label} {failed} ({reason})") from None

    def write(
        self, values: Mapping[str, str | None], *, cache: BaseCache | None = None
    ) -> dict[str, str]:
        """Set each variable to its text, with no expiry; ``None`` deletes the key so that
        lower sources apply again. Returns each variable's key as stored (after the cache's
        ``KEY_PREFIX`` and ``VERSION``). All values go in one ``set_many`` (a transaction
        with Django's ``RedisCache``), so the fleet reads all of them or none.

        The store is read first, so that one that cannot be reached fails before anything
        is sent. Raises :class:`StoreError` when the store cannot be reached or refuses,
        naming it with its credentials masked."""
        given = cache

        def send() -> dict[str, str]:
            cache = given
            try:
                cache = cache or build_cache(self.setting, self._caches)
                self.read_once(cache)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} cannot be reached ({reason}): nothing written"
                ) from None
            try:
                to_set = {key(n): v for n, v in values.items() if v is not None}
                to_delete = [key(n) for n, v in values.items() if v is None]
                # When, for `status` in any process: in the same set_many as the values.
                to_set[CHANGED_KEY] = self.written_at = changed_now()
                if to_set:
                    failed = cache.set_many(to_set, timeout=None)
                    if failed:
                        raise StoreError(
                            f"{self.label} did not keep {', '.join(sorted(failed))}: write again"
                        )
                if to_delete:
                    cache.delete_many(to_delete)
            except StoreError:
                raise
            except Exception as exc:
                reason = describe_error(exc, self.secrets)
                raise StoreError(
                    f"{self.label} failed while writing ({reason}): the write may or may not have "
                    "been applied; run `maintenance_mode status` to see"
                ) from None
            return {name: cache.make_key(key(name)) for name in values}

        try:
            return self._deadline.call(send, WRITE_DEADLINE, "the store (writing)")
        except DeadlineExceeded as exc:
            raise StoreError(
                f"{exc}: the write may or may not have been applied; run "
                "`maintenance_mode status` to see"
            ) from None
