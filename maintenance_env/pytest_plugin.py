"""The pytest plugin (registered through the ``pytest11`` entry point): one fixture,
``maintenance_override``, which puts :class:`maintenance_env.testing.override` in force
until the end of the test::

    def test_checkout_is_closed(client, maintenance_override):
        maintenance_override(active=True, message="Back at noon")
        assert client.post("/checkout/").status_code == 503

Nothing is imported from the package (nor from Django) until the fixture is used, so the
plugin costs nothing in projects that do not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from maintenance_env.testing import override

__all__ = ["maintenance_override"]


@pytest.fixture
def maintenance_override() -> Iterator[Callable[..., override]]:
    """``maintenance_override(active=..., **values)``: an override in force until the test
    ends (calls stack: a later call wins variable by variable). Returns the override."""
    from maintenance_env.testing import override

    entered: list[override] = []

    def apply(active: bool | None = None, **values: object) -> override:
        entered.append(override(active, **values).__enter__())
        return entered[-1]

    yield apply
    for item in reversed(entered):
        item.__exit__(None, None, None)
