"""A fixed table of exchange rates: the :class:`~bookingcore.ports.ExchangeRates` adapter
for development, tests and businesses that set their own rates.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from bookingcore.domain.values import Money
from bookingcore.errors import ValidationError

__all__ = ["FixedExchangeRates"]


class FixedExchangeRates:
    """Rates from a table ``{("EUR", "INR"): Decimal("90.50"), ...}``, the same every day.

    A pair missing from the table is read the other way round when its
    inverse is there (``1 / rate``, to 10 significant places after the
    point); a currency converts to itself at ``1``.

    Raises:
        ValidationError: on field ``rates`` for a float, a rate that is not
            positive, or an unknown currency code.

    .. versionadded:: 0.3
    """

    def __init__(self, rates: Mapping[tuple[str, str], Decimal | int | str]) -> None:
        self._rates: dict[tuple[str, str], Decimal] = {}
        for (source, target), value in rates.items():
            if isinstance(value, float | bool):
                msg = f"the rate {source}->{target} must be a Decimal or text, never a float"
                raise ValidationError.single("rates", msg, "invalid")
            rate = Decimal(value)
            if not rate.is_finite() or rate <= 0:
                msg = f"the rate {source}->{target} must be positive"
                raise ValidationError.single("rates", msg, "out_of_range")
            pair = (Money.zero(source).currency, Money.zero(target).currency)
            self._rates[pair] = rate

    def rate(self, source: str, target: str, *, on: date) -> Decimal:
        """What one unit of ``source`` is worth in ``target`` (``on`` is ignored).

        Raises:
            ValidationError: on field ``currency`` when neither the pair nor its inverse is known.
        """
        del on
        if source == target:
            return Decimal(1)
        direct = self._rates.get((source, target))
        if direct is not None:
            return direct
        inverse = self._rates.get((target, source))
        if inverse is not None:
            return (Decimal(1) / inverse).quantize(Decimal("1e-10"))
        msg = f"no exchange rate from {source} to {target}"
        raise ValidationError.single("currency", msg, "no_rate")
