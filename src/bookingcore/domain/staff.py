"""The business's own people: admins, staff, editors, advisors and supplier users.

A :class:`StaffMember` is who a staff :class:`~bookingcore.domain.policy.Principal`
stands for. Advisors cover a territory (``location_ids``), which the
``dealer_based`` assignment strategy (for car dealerships) reads. Passwords are never
stored: only ``password_hash`` from the host's secret hasher.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from bookingcore.domain.policy import Principal, StaffRole
from bookingcore.domain.values import EmailAddress, LocationId, StaffId, SupplierId, Versioned

__all__ = ["StaffMember"]


def _locations(values: Iterable[LocationId]) -> frozenset[LocationId]:
    return frozenset(values)


@attrs.define(slots=False)
class StaffMember(Versioned):
    """A person who works for the business, known by a unique email.

    .. versionadded:: 0.1
    """

    id: StaffId
    email: EmailAddress
    name: str
    role: StaffRole
    created_at: datetime
    updated_at: datetime
    location_ids: frozenset[LocationId] = attrs.field(converter=_locations, factory=frozenset)
    supplier_id: SupplierId | None = None
    password_hash: str | None = None
    is_active: bool = True
    version: int = 1

    entity_name = "staff member"

    @property
    def principal(self) -> Principal:
        """The principal this person acts as."""
        return Principal.staff(self.id, self.role, supplier_id=self.supplier_id)

    def covers(self, location_id: LocationId) -> bool:
        """True when ``location_id`` is in this person's territory."""
        return location_id in self.location_ids
