"""Exchange rates: what one unit of a currency is worth in another.

.. versionadded:: 0.3
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

__all__ = ["ExchangeRates"]


class ExchangeRates(Protocol):
    """Where the core reads exchange rates (a fixed table, a bank's feed, ...).

    Rates are :class:`~decimal.Decimal`, never floats. The core records the rate
    it used on what it priced, so a rate that changes later changes nothing
    already quoted or booked.

    .. versionadded:: 0.3
    """

    def rate(self, source: str, target: str, *, on: date) -> Decimal:
        """What one unit of ``source`` is worth in ``target`` on the day ``on``.

        ``rate(c, c, on=...)`` is ``1`` for every currency.

        Raises:
            ValidationError: on field ``currency`` when the pair has no rate.
        """
