"""Reading the audit trail of any entity.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import BookingId
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.services._context import ServiceContext

__all__ = ["AUDITED_ENTITIES", "AuditService"]

#: The entities whose changes leave audit entries.
AUDITED_ENTITIES = frozenset(
    {"booking", "customer", "traveler", "partner", "staff", "import", "session", "certificate"}
    # Money: payments and refunds, invoices and credit notes, partners' commissions.
    | {"payment", "invoice", "commission"}
    # The travel operating system (0.3): reference data, leads, quotations, items.
    | {"location", "supplier", "product", "lead", "quotation", "booking item"}
    # Slots opened (0.4).
    | {"slot"}
    # Group bookings and waiting lists.
    | {"booking group", "waitlist entry"}
    # Slots closed, reopened and cancelled (0.4).
    | {"slot"}
    # Vouchers: made, changed, used (0.4).
    | {"voucher"}
    # Customers' push devices: registered, moved, deactivated, unregistered (0.4).
    | {"push device"}
    # Family accounts: families and the invitations to join them (0.4).
    | {"family", "family invitation"}
    # Share links to bookings' trip views: made, revoked (0.4).
    | {"share link"}
    # Partner webhooks re-sent by staff (0.4).
    | {"webhook_delivery"}
    # Trips: made, bookings put on and taken off (0.4).
    | {"trip"}
    # Bookings' itineraries: planned, replanned, days set and removed (0.4).
    | {"itinerary"}
)


class AuditService:
    """Answers "who changed what, when, from what to what, and why".

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def trail(self, entity: str, entity_id: UUID, *, principal: Principal) -> Sequence[AuditEntry]:
        """Every audit entry of one entity, oldest first.

        Staff with ``view_audit`` read any trail; an advisor reads the trail of
        a booking assigned to them.

        Raises:
            ValidationError: on field ``entity`` for an entity that is not audited.
            NotFoundError: a booking trail of a booking ``principal`` may not see.
            PermissionDeniedError: ``principal`` may not read this trail.
        """
        if entity not in AUDITED_ENTITIES:
            known = ", ".join(sorted(AUDITED_ENTITIES))
            raise ValidationError.single("entity", f"one of: {known}", "invalid_choice")
        with self._ctx.uow_factory() as uow:
            booking = None
            if entity == "booking":
                booking = uow.bookings.get(BookingId(entity_id))
                if booking is None or not policy.can_view_booking(principal, booking):
                    raise NotFoundError("booking", entity_id)
            policy.require(
                policy.can_view_audit(principal, booking),
                f"{principal} may not read the audit trail of {entity} {entity_id}",
            )
            return uow.audit.list_for(entity, entity_id)
