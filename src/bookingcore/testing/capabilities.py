"""What a storage backend can do, declared once, so the contract suite knows what applies.

The storage contract (:mod:`bookingcore.testing.contracts`) holds every adapter to
the same rules. A few tests need something that a backend may truly lack: a
second process to lock against, data that outlives the store object, several
threads. An adapter's test class declares what its backend can do with an
:class:`AdapterCapabilities`, and the tests that need a capability it lacks are
skipped, each saying which capability is missing::

    class TestMyStorage(StorageContract):
        capabilities = AdapterCapabilities(persistent=True)

        @pytest.fixture
        def uow_factory(self): ...

A capability is for what the backend *cannot* do, never for a rule the adapter
breaks: a lost update, a duplicate let through or a wrong order is a bug, and
no capability switches those tests off.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["AdapterCapabilities", "required_capabilities", "requires"]

F = TypeVar("F", bound=Callable[..., Any])

_REQUIRED = "__bookingcore_requires__"  # where requires() notes the names on a test


@attrs.frozen(kw_only=True)
class AdapterCapabilities:
    """What a storage adapter's backend can do; each contract test that needs more is skipped.

    The defaults describe the least a storage backend must offer: units of work
    that several threads may use (waiting for each other if need be) and that
    may overlap in one thread. Everything else is off until declared.

    Attributes:
        concurrent_units_of_work: several threads may run units of work at the
            same time; ``get_for_update`` makes them wait for each other. Off
            only for a backend bound to one thread (an in-memory SQLite
            connection, for one).
        interleaved_units_of_work: a second unit of work may begin, change and
            commit while a first one, in the same thread, is still open. The
            stale-version tests need it: without overlapping transactions no
            update can be lost. Off only for a backend that runs one unit of
            work at a time and refuses (rather than waits for) a second.
        persistent: what one store object committed is read back by a new
            store object over the same storage (a file, a database). Tests
            using it also need the ``reopened_uow_factory`` fixture.
        row_locks_across_processes: ``get_for_update`` keeps out units of
            work running in other operating-system processes over the same
            storage, not only other threads. Tests using it also need the
            ``store_opener`` fixture.

    .. versionadded:: 0.1
    """

    concurrent_units_of_work: bool = True
    interleaved_units_of_work: bool = True
    persistent: bool = False
    row_locks_across_processes: bool = False

    def lacks(self, *names: str) -> list[str]:
        """The capabilities among ``names`` this backend does not have, in the order given.

        Raises:
            AttributeError: a name is not a capability (a typo in a test).
        """
        known = {field.name for field in attrs.fields(AdapterCapabilities)}
        for name in names:
            if name not in known:
                msg = f"{name!r} is not an adapter capability; known: {sorted(known)}"
                raise AttributeError(msg)
        return [name for name in names if not getattr(self, name)]


def requires(*names: str) -> Callable[[F], F]:
    """Mark a contract test as needing the capabilities ``names``.

    The contract base class skips the test, naming what is missing, when the
    adapter's :class:`AdapterCapabilities` lacks any of them::

        @requires("persistent")
        def test_committed_data_outlives_the_store(self, ...): ...

    .. versionadded:: 0.1
    """
    AdapterCapabilities().lacks(*names)  # refuse unknown names when the suite is imported

    def mark(test: F) -> F:
        setattr(test, _REQUIRED, (*required_capabilities(test), *names))
        return test

    return mark


def required_capabilities(test: Callable[..., Any]) -> tuple[str, ...]:
    """The capabilities :func:`requires` marked ``test`` with (none when unmarked).

    .. versionadded:: 0.1
    """
    names: tuple[str, ...] = getattr(test, _REQUIRED, ())
    return names
