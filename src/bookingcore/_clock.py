"""The operating system's clock: the default :class:`~bookingcore.ports.Clock`.

Standard library only, so it lives in the core and :class:`~bookingcore.BookingCore`
uses it when no clock is given.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """The operating system's clock, in UTC; the default clock of :class:`~bookingcore.BookingCore`.

    Tests pass :class:`bookingcore.testing.FixedClock` instead.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1
       Moved from ``bookingcore_adapters.system``; import it from ``bookingcore``.
    """

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)
