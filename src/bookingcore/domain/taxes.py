"""Tax rates shown on invoices, where a business configures them.

Prices in bookingcore *include* tax: a slot's price per traveler is what the
customer pays, and a payment is taken for the booking's total. Configuring a
rate changes no amount anyone pays; it makes each invoice show, per line, the
amount before tax, the discount before tax, the rate and the tax the price
holds (``price x rate / (100 + rate)``, rounded half up to the currency's minor
unit, so JPY shows whole yen and KWD three decimals), and lines whose totals
add up exactly to what was paid.

Rates are percentages as :class:`~decimal.Decimal` (``Decimal("18")`` for 18 %
GST): one ``default`` for every location, and ``by_location`` (location codes,
case-insensitive) for locations taxed otherwise; ``Decimal("0")`` at a
location exempts it from the default. Without either, invoices show no tax.
Wire them with ``Settings(taxes=TaxRates(...))``::

    Settings(taxes=TaxRates(default=Decimal("18"), by_location={"GOA-DIVE": Decimal("5")}))

The rate is read when an invoice is issued and kept on its lines, so a later
change of rates never changes an issued invoice.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import attrs

from bookingcore.errors import ValidationError

__all__ = ["TaxRates"]


def _rate(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError.single(field, "must be a Decimal percentage", "invalid_type")
    if not 0 <= value <= 100:
        raise ValidationError.single(field, "must be from 0 to 100", "out_of_range")
    return value


def _default(value: object) -> Decimal | None:
    return None if value is None else _rate(value, "taxes.default")


def _by_location(value: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for code, rate in dict(value).items():
        raw: object = code
        if not isinstance(raw, str) or not raw.strip():
            msg = "location codes are non-empty text"
            raise ValidationError.single("taxes.by_location", msg, "invalid_type")
        key = raw.strip().upper()
        rates[key] = _rate(rate, f"taxes.by_location.{key}")
    return MappingProxyType(rates)


@attrs.frozen
class TaxRates:
    """The tax rates invoices show: a default and per-location rates, prices including tax.

    Args:
        default: the rate at every location not in ``by_location``; ``None``
            (the default) shows no tax there.
        by_location: rates by location code.

    Raises:
        ValidationError: on ``taxes.default`` or ``taxes.by_location.<code>``
            for a rate that is not a Decimal from 0 to 100.

    .. versionadded:: 0.2
    """

    default: Decimal | None = attrs.field(default=None, converter=_default)
    by_location: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_by_location)

    def rate_for(self, location_code: str | None) -> Decimal | None:
        """The rate at the location with ``location_code`` (the default for an unknown one)."""
        if location_code is not None:
            found = self.by_location.get(location_code.strip().upper())
            if found is not None:
                return found
        return self.default
