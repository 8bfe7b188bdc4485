"""Third-party partners: booking platforms and agencies that sell through an API.

A partner sees and changes only the customers and bookings it created and books
only at the locations it is allowed. Its API secret is never stored in clear:
only ``api_secret_hash`` (issue: identity and access) and its last four
characters for display.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from bookingcore.domain.values import EmailAddress, LocationId, PartnerId, PhoneNumber, Versioned

__all__ = ["Partner"]


def _location_set(values: Iterable[LocationId]) -> frozenset[LocationId]:
    return frozenset(values)


@attrs.define(slots=False)
class Partner(Versioned):
    """A third-party channel that creates customers and bookings.

    ``allowed_location_ids`` is explicit: a partner with none may not book anywhere.
    ``commission_rate`` is a percentage (``Decimal("15.00")`` for 15 %).

    .. versionadded:: 0.1
    """

    id: PartnerId
    name: str
    company_name: str
    contact_email: EmailAddress
    api_key: str
    created_at: datetime
    updated_at: datetime
    contact_phone: PhoneNumber | None = None
    api_secret_hash: str | None = None
    api_secret_last4: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    commission_rate: Decimal | None = None
    allowed_location_ids: frozenset[LocationId] = attrs.field(
        converter=_location_set, factory=frozenset
    )
    is_active: bool = True
    settings: dict[str, str] = attrs.Factory(dict)
    version: int = 1

    entity_name = "partner"

    def may_book_at(self, location_id: LocationId) -> bool:
        """True when the partner is active and allowed at ``location_id``."""
        return self.is_active and location_id in self.allowed_location_ids

    def commission_on(self, amount: Decimal) -> Decimal:
        """The commission owed on ``amount`` (zero when no rate is set)."""
        return amount * (self.commission_rate or Decimal(0)) / Decimal(100)
