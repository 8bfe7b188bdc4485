"""A product's requirements held against the travelers put on one of its slots.

The one place the services read what :func:`bookingcore.domain.requirements.check`
needs (the travelers' certificates, in one read per booking) and act on its answer:
refuse, or, for staff who change every booking and asked to, book anyway and
leave an audited note on the booking saying what was waived.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.catalog import Product
from bookingcore.domain.certificates import Certificate
from bookingcore.domain.customers import Traveler
from bookingcore.domain.policy import Permission, Principal
from bookingcore.domain.requirements import TravelerInfo, check
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore.errors import FieldError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction

__all__ = [
    "check_requirements",
    "note_waived",
    "requirement_problems",
    "settle_requirements",
]

_MAX_NOTE = 5000


def requirement_problems(
    ctx: ServiceContext,
    uow: UnitOfWork,
    product: Product | None,
    travelers: Sequence[Traveler],
    *,
    starts_at: datetime,
) -> list[FieldError]:
    """Every way ``travelers`` fall short of ``product``'s requirements on a slot
    starting at ``starts_at``; nothing is read when the product has none, the
    certificates in one read when it names some.

    A certificate belongs to the person who holds it, whoever books them: one
    issued to a traveler counts for that traveler; one issued to a customer
    naming no traveler counts for that customer's own traveler who is them (the
    one with their name), whoever's booking it is (a family member may book
    another member's traveler). Nothing here is returned to the booker but the
    problems, which name no certificate's number or dates.

    .. versionchanged:: 0.4 a customer's own certificate counts for their
       traveler on another family member's booking; ``customer_id`` is gone (the
       travelers' owners are what count).
    """
    rules = None if product is None else product.requirements
    if rules is None or not travelers:
        return []
    found: Sequence[Certificate] = ()
    own_names: dict[CustomerId, str] = {}
    if rules.certificates:
        owners = {t.customer_id for t in travelers}
        found = uow.certificates.held_by(owners, {t.id for t in travelers}, set(rules.certificates))
        untied = {c.customer_id for c in found if c.traveler_id is None}
        if untied:
            for holder in uow.customers.get_many(list(untied)).values():
                if holder.name:
                    own_names[holder.id] = holder.name.strip().casefold()
    zone = ctx.settings.zone

    def counts(certificate: Certificate, traveler: Traveler) -> bool:
        if certificate.traveler_id is not None:
            return certificate.traveler_id == traveler.id
        # Issued to a customer: it counts for their own traveler who is them.
        own_name = own_names.get(certificate.customer_id)
        return (
            certificate.customer_id == traveler.customer_id
            and own_name is not None
            and traveler.name.strip().casefold() == own_name
        )

    infos = [TravelerInfo.of(t, [c for c in found if counts(c, t)], zone=zone) for t in travelers]
    return check(rules, infos, starts_at, zone=zone)


def check_requirements(
    ctx: ServiceContext,
    uow: UnitOfWork,
    product: Product | None,
    travelers: Sequence[Traveler],
    *,
    starts_at: datetime,
    principal: Principal,
    override: bool,
) -> list[FieldError]:
    """:func:`requirement_problems`, settled (:func:`settle_requirements`): the
    problems waived (to note on the booking), or a refusal."""
    problems = requirement_problems(ctx, uow, product, travelers, starts_at=starts_at)
    settle_requirements(problems, principal=principal, override=override)
    return problems


def settle_requirements(
    problems: Sequence[FieldError],
    *,
    principal: Principal,
    override: bool,
) -> None:
    """Refuse ``problems`` unless ``override`` was asked by staff who change every booking.

    Raises:
        PermissionDeniedError: ``override`` from anyone else (with or without problems).
        ValidationError: ``problems``, when not overridden.
    """
    if override:
        policy.require(
            principal.has(Permission.CHANGE_ALL),
            f"{principal} may not book travelers past a product's requirements",
        )
        return
    if problems:
        raise ValidationError(problems)


def note_waived(
    tx: Transaction,
    principal: Principal,
    booking_id: BookingId,
    problems: Sequence[FieldError],
    *,
    what: str,
) -> None:
    """Leave an audited note on the booking: ``principal`` waived ``problems``."""
    if not problems:
        return
    listed = "; ".join(f"{p.field}: {p.code} ({p.message})" for p in problems)
    text = f"{what} despite the product's requirements: {listed}"
    tx.audit(
        principal,
        entity="booking",
        entity_id=booking_id,
        action=AuditAction.NOTE_ADDED,
        new={"note": text[:_MAX_NOTE]},
        booking_id=booking_id,
    )
