"""``override``: for tests, values that outrank every source while in force.

An exported ``MAINTENANCE_MODE=on`` in a developer's shell beats
``override_settings(MAINTENANCE_MODE=False)`` (the environment outranks settings), so a
suite can fail on one machine and pass in CI. :class:`override` sits above the shared
store, the mounted config, the environment and settings::

    from maintenance_env import override

    with override(active=True, message="Back at noon"):
        ...

    @override(active=False)
    def test_checkout(client): ...

    @override(read_only=True, active=True)
    class CheckoutTests(TestCase): ...

The override layer is process-global (thread- and task-safe, but not per thread or per
task): it is meant for tests, which run one at a time per process (pytest-xdist runs each
worker in its own process).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import unittest
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

from maintenance_env import runtime
from maintenance_env.config import UNSET
from maintenance_env.parsers import InvalidValue
from maintenance_env.variables import VARIABLES, Variable

__all__ = ["override"]

T = TypeVar("T")

#: Variables by short name (``message``, ``read_only``, ``starts_at`` …, the attribute of
#: :class:`~maintenance_env.variables.Config`) and by full name.
_BY_NAME: dict[str, Variable] = {
    **{var.attr: var for var in VARIABLES.values()},
    **dict(VARIABLES),
}
_WINDOW = ("MAINTENANCE_MODE_STARTS_AT", "MAINTENANCE_MODE_ENDS_AT")


def _layer(active: bool | None, values: dict[str, object]) -> dict[str, object]:
    """The override's values by variable name, each checked by its variable's parser."""
    layer: dict[str, object] = {}
    if active is not None:
        if not isinstance(active, bool):
            raise TypeError(f"override(active={active!r}): expected True, False or None")
        layer["MAINTENANCE_MODE"] = active
        if active:  # active now, whatever window the other sources announce
            layer.update(dict.fromkeys(_WINDOW, UNSET))
    for key, value in values.items():
        var = _BY_NAME.get(key)
        if var is None:
            known = ", ".join(var.attr for var in VARIABLES.values() if var.live)
            raise TypeError(f"override() got an unknown variable {key!r}; expected one of {known}")
        if not var.live:
            raise TypeError(
                f"override() cannot set {var.name}: it is read only when the runtime starts "
                "(use override_settings, or the environment, for it)"
            )
        if var.name == "MAINTENANCE_MODE" and active is not None:
            raise TypeError(f"override() got both active= and {key}=")
        if value is None:
            layer[var.name] = UNSET  # unset, whatever the sources below say
            continue
        try:
            var.parse(var.name, value)
        except InvalidValue as exc:
            if var.secret:
                raise InvalidValue(var.name, value, exc.expected, secret=True) from None
            raise
        if var.name == "MAINTENANCE_MODE_TEMPLATE":
            from maintenance_env.config import _check_template

            reason = _check_template(var.parse(var.name, value))
            if reason is not None:
                raise InvalidValue(var.name, value, f"a template that loads: {reason}")
        layer[var.name] = value
    starts, ends = (layer.get(name) for name in _WINDOW)
    if starts not in (None, UNSET) and ends not in (None, UNSET):
        parse = VARIABLES[_WINDOW[0]].parse
        if parse(_WINDOW[0], starts) >= parse(_WINDOW[1], ends):
            raise InvalidValue(
                _WINDOW[0], starts, f"an instant before MAINTENANCE_MODE_ENDS_AT={ends!r}"
            )
    return layer


class override:
    """Values that outrank every source (the shared store, the mounted config, the
    environment, settings) while in force: a context manager and a decorator.

    ``active=True`` turns maintenance on *now*: ``MAINTENANCE_MODE`` on, and any
    ``STARTS_AT``/``ENDS_AT`` from the sources set aside (pass ``starts_at=`` or
    ``ends_at=`` as well to test a window). ``active=False`` turns it off.
    ``active=None`` (the default) leaves the switch to the sources.

    ``values`` are variables by short name (``message="Back soon"``,
    ``read_only=True``, ``retry_after=60``) or full name (``MAINTENANCE_MODE_MESSAGE=``),
    as Python values or text, each checked by the variable's own parser: a bad value raises
    ``InvalidValue`` (a ``ValueError`` naming the variable and the value) here, an unknown
    name ``TypeError``. ``None`` unsets a variable whatever the sources say. The variables
    read only at start-up (``CONFIG_PATH``, ``RELOAD_INTERVAL``, ``CACHE``) cannot be
    overridden: use ``override_settings`` for them.

    On entry the process's runtime resolves again at once (no reload interval to wait
    for); on exit, also on an exception, the previous values are back exactly. Overrides
    nest (the inner one wins variable by variable) and survive ``override_settings``
    resetting the runtime.

    As a decorator it wraps sync and async functions (one override per call), and
    classes: a ``unittest.TestCase`` (Django's test cases included) gets it around each
    test (``setUp`` to the cleanups; not ``setUpClass``/``setUpTestData``), any other class
    (a pytest test class) on each ``test*`` method.
    """

    def __init__(self, active: bool | None = None, **values: object) -> None:
        self.values: dict[str, object] = _layer(active, values)
        self._tokens: list[object] = []

    def __enter__(self) -> override:
        self._tokens.append(runtime.push_override(self.values))
        return self

    def __exit__(self, *exc_info: object) -> None:
        runtime.pop_override(self._tokens.pop())

    def enable(self) -> None:
        """Put the override in force until :meth:`disable` (as ``__enter__``)."""
        self.__enter__()

    def disable(self) -> None:
        """End the most recent :meth:`enable` of this override (as ``__exit__``)."""
        self.__exit__(None, None, None)

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        """In force for one call of a decorated function, whatever other calls do."""
        token = runtime.push_override(self.values)
        try:
            yield
        finally:
            runtime.pop_override(token)

    def __call__(self, target: T) -> T:
        if isinstance(target, type):
            return self._decorate_class(target)  # type: ignore[return-value]
        if not callable(target):
            raise TypeError(f"override() cannot decorate {target!r}")
        func: Callable[..., Any] = target
        if iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                with self._scope():
                    return await func(*args, **kwargs)

            return async_inner  # type: ignore[return-value]

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self._scope():
                return func(*args, **kwargs)

        return inner  # type: ignore[return-value]

    def _decorate_class(self, cls: type[Any]) -> type[Any]:
        if issubclass(cls, unittest.TestCase):
            original = cls.setUp
            values = self.values

            # Named as unittest names it (the override itself is not used inside).
            def setUp(self: unittest.TestCase) -> None:
                token = runtime.push_override(values)
                self.addCleanup(runtime.pop_override, token)
                original(self)

            cls.setUp = setUp  # type: ignore[method-assign]
            return cls
        for name, member in list(vars(cls).items()):
            if name.startswith("test") and inspect.isfunction(member):
                setattr(cls, name, self(member))
        return cls
