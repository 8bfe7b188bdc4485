"""Vouchers (promo codes): staff make and change them; bookings use them.

::

    summer = core.vouchers.create(
        code="summer10", percent_off="10", max_uses=100, principal=staff,
        idempotency_key="voucher-summer10",
    )
    core.vouchers.check("SUMMER10", slot.id, travelers=2, principal=customer)
    core.bookings.book(BookingRequest(slot.id, travelers, voucher_code="Summer10"),
                       principal=customer)

A booking made with a voucher goes through the one booking path
(:meth:`~bookingcore.services.BookingService.book`): in the booking's
transaction the voucher's row is locked, checked, its use counted and a
redemption written, so a refused booking uses nothing and ``max_uses`` is never
exceeded, however many bookings race for the last use. A retried booking (the
same idempotency key) returns the first booking and counts nothing.

Decisions:

- The voucher comes off after the group discount tier, from what the tier left;
  the total never goes below zero.
- A cancelled booking keeps its use (as pretix does by default): the voucher's
  ``uses`` and the redemption stay. Staff who want the use back raise
  ``max_uses`` with :meth:`VoucherService.update`.
- Partners may book with a voucher that is not limited to products or
  locations (``Voucher.restricted``); a limited one is refused to them
  (``not_for_partners``): limits are the operator's own campaigns.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction, diff, snapshot
from bookingcore.domain.bookings import Booking
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.pricing import PriceBreakdown, price_booking
from bookingcore.domain.queries import BookingFilter, Page, PageRequest, every_item
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import CustomerId, LocationId, Money, ProductId, SlotId
from bookingcore.domain.vouchers import (
    VOUCHER_FIELD,
    Voucher,
    VoucherFilter,
    VoucherId,
    VoucherRedemption,
    VoucherRedemptionId,
    normalise_code,
)
from bookingcore.errors import DuplicateError, NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_creation,
    fingerprint,
    principal_key,
)
from bookingcore.services.customers import loyalty_discount_in

__all__ = ["VOUCHER_TERMS", "VoucherService", "redeem_voucher", "use_voucher"]

#: The fields of a voucher its audit entries record.
VOUCHER_TERMS = (
    "code",
    "percent_off",
    "amount_off",
    "valid_from",
    "valid_until",
    "product_ids",
    "location_ids",
    "max_uses",
    "max_uses_per_customer",
    "min_travelers",
    "active",
    "description",
)


#: The id a keyed voucher holds until its key is claimed (it then takes the claim's).
_UNCLAIMED = VoucherId(UUID(int=0))


def _unknown(code: str) -> ValidationError:
    return ValidationError.single(VOUCHER_FIELD, f"no voucher {code!r}", "unknown")


def _checked(
    uow: UnitOfWork,
    voucher: Voucher,
    *,
    slot: Slot,
    travelers: int,
    customer_id: CustomerId | None,
    principal: Principal,
    now: datetime,
) -> None:
    if principal.kind is PrincipalKind.PARTNER and voucher.restricted:
        msg = f"voucher {voucher.code} is limited to some products or locations: not for partners"
        raise ValidationError.single(VOUCHER_FIELD, msg, "not_for_partners")
    uses = 0
    if voucher.max_uses_per_customer is not None and customer_id is not None:
        uses = _customer_uses(uow, voucher, customer_id)
    voucher.check(slot=slot, travelers=travelers, now=now, customer_uses=uses)


def _customer_uses(uow: UnitOfWork, voucher: Voucher, customer_id: CustomerId) -> int:
    """How many of the customer's bookings (cancelled ones too) were made with ``voucher``.

    Read from the bookings, not the redemptions: a customer merge moves the
    duplicate's bookings (and so its uses) to the survivor.
    """
    query = BookingFilter(customer_id=customer_id, include_archived=True)
    mine = every_item(lambda page: uow.bookings.list(query, page))
    return sum(1 for booking in mine if booking.voucher_code == voucher.code)


def redeem_voucher(
    uow: UnitOfWork,
    code: str,
    *,
    slot: Slot,
    travelers: int,
    customer_id: CustomerId,
    principal: Principal,
    now: datetime,
) -> Voucher:
    """The voucher with ``code``, locked in ``uow`` and checked for this booking:
    a step of the booking path, taken under the slot's lock (slot, then voucher:
    every booking takes the locks in this order).

    Raises:
        ValidationError: on field ``voucher_code``: a malformed or ``unknown``
            code, or a refusal of :meth:`~bookingcore.domain.vouchers.Voucher.check`
            (``not_for_partners`` for a partner and a limited voucher).

    .. versionadded:: 0.4
    """
    normal = normalise_code(code)
    found = uow.vouchers.get_by_code(normal)
    if found is None:
        raise _unknown(normal)
    voucher = uow.vouchers.get_for_update(found.id)
    if voucher is None:  # pragma: no cover - deleted between two reads: vouchers are never deleted
        raise _unknown(normal)
    _checked(
        uow,
        voucher,
        slot=slot,
        travelers=travelers,
        customer_id=customer_id,
        principal=principal,
        now=now,
    )
    return voucher


def use_voucher(
    tx: Transaction,
    voucher: Voucher,
    booking: Booking,
    *,
    redemption_id: UUID,
    principal: Principal,
    now: datetime,
) -> VoucherRedemption:
    """Count ``booking``'s use of ``voucher`` (locked by :func:`redeem_voucher`) and
    write its redemption and an audit entry, in ``tx``.

    .. versionadded:: 0.4
    """
    assert booking.voucher_discount is not None
    before = voucher.uses
    voucher.count_use(now)
    redemption = VoucherRedemption(
        id=VoucherRedemptionId(redemption_id),
        voucher_id=voucher.id,
        booking_id=booking.id,
        customer_id=booking.customer_id,
        at=now,
        amount=booking.voucher_discount,
    )
    tx.uow.vouchers.add_redemption(redemption)
    tx.audit(
        principal,
        entity="voucher",
        entity_id=voucher.id,
        action=AuditAction.UPDATED,
        old={"uses": before},
        new={"uses": voucher.uses},
        reason=f"used by booking {booking.reference}",
        booking_id=booking.id,
    )
    return redemption


class VoucherService:
    """Make, change, list and check vouchers (``core.vouchers``).

    Staff with ``set_prices`` make and change vouchers; staff who see
    everything (or set prices) read them. Anyone who may book checks a code.

    .. versionadded:: 0.4
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    @staticmethod
    def _require_prices(principal: Principal) -> None:
        policy.require(principal.has(Permission.SET_PRICES), f"{principal} may not manage vouchers")

    @staticmethod
    def _require_read(principal: Principal) -> None:
        policy.require(
            principal.has(Permission.SET_PRICES) or principal.has(Permission.VIEW_ALL),
            f"{principal} may not read vouchers",
        )

    def create(
        self,
        *,
        code: str,
        principal: Principal,
        percent_off: Decimal | str | int | None = None,
        amount_off: Money | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        product_ids: Iterable[ProductId] = (),
        location_ids: Iterable[LocationId] = (),
        max_uses: int | None = None,
        max_uses_per_customer: int | None = None,
        min_travelers: int = 1,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> Voucher:
        """Make a voucher: ``percent_off`` (``"10"`` for 10 %) or ``amount_off`` per booking.

        A retry with the same ``idempotency_key`` and the same request returns
        the voucher the first call made, as it is now, and makes nothing more.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``set_prices``.
            ValidationError: bad terms (see :meth:`Voucher.create`); an unknown
                product (``product_ids``) or location (``location_ids``).
            DuplicateError: another voucher has this code (in any case).
            IdempotencyConflictError: the key was used for another request.
        """
        self._require_prices(principal)
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        # Checked (and normalised) before the request's digest is taken: a retry spelling
        # the code, the percent or the description otherwise asks for the same voucher,
        # and bad terms are a ValidationError naming their field, never a TypeError.
        voucher = Voucher.create(
            voucher_id=VoucherId(self._ctx.ids.new_id()) if key is None else _UNCLAIMED,
            code=code,
            now=now,
            percent_off=percent_off,
            amount_off=amount_off,
            valid_from=valid_from,
            valid_until=valid_until,
            product_ids=product_ids,
            location_ids=location_ids,
            max_uses=max_uses,
            max_uses_per_customer=max_uses_per_customer,
            min_travelers=min_travelers,
            description=description,
        )
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if key is not None:
                asked = fingerprint(
                    "voucher",
                    principal,
                    code=voucher.code,
                    percent_off=voucher.percent_off,
                    amount_off=voucher.amount_off,
                    valid_from=voucher.valid_from,
                    valid_until=voucher.valid_until,
                    product_ids=voucher.product_ids,
                    location_ids=voucher.location_ids,
                    max_uses=voucher.max_uses,
                    max_uses_per_customer=voucher.max_uses_per_customer,
                    min_travelers=voucher.min_travelers,
                    description=voucher.description,
                )
                made_id, prior = claim_creation(
                    uow, key, "voucher", now, asked, as_id=VoucherId, load=uow.vouchers.get
                )
                if prior is not None:
                    return prior
                voucher.id = made_id
            self._check_references(uow, voucher.product_ids, voucher.location_ids)
            taken = uow.vouchers.get_by_code(voucher.code)
            if taken is not None:
                msg = f"voucher code {voucher.code} is taken"
                raise DuplicateError(msg, entity="voucher", existing_id=taken.id)
            uow.vouchers.add(voucher)
            tx.audit(
                principal,
                entity="voucher",
                entity_id=voucher.id,
                action=AuditAction.CREATED,
                new=snapshot(voucher, VOUCHER_TERMS),
            )
            tx.commit()
            return voucher

    @staticmethod
    def _check_references(
        uow: UnitOfWork, products: frozenset[ProductId], locations: frozenset[LocationId]
    ) -> None:
        for product_id in sorted(products, key=str):
            if uow.products.get(product_id) is None:
                msg = f"no product {product_id}"
                raise ValidationError.single("product_ids", msg, "unknown_reference")
        for location_id in sorted(locations, key=str):
            if uow.locations.get(location_id) is None:
                msg = f"no location {location_id}"
                raise ValidationError.single("location_ids", msg, "unknown_reference")

    def update(
        self,
        voucher_id: VoucherId,
        *,
        principal: Principal,
        expected_version: int | None = None,
        **changes: object,
    ) -> Voucher:
        """Change a voucher's terms (any of ``percent_off``, ``amount_off``,
        ``valid_from``, ``valid_until``, ``product_ids``, ``location_ids``,
        ``max_uses``, ``max_uses_per_customer``, ``min_travelers``, ``active``,
        ``description``); its code and uses stay. Bookings made already keep
        what they were given. Changing nothing writes nothing.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``set_prices``.
            NotFoundError: no such voucher.
            ValidationError: terms :meth:`create` would refuse, an unknown field.
            StaleVersionError: ``expected_version`` is not the voucher's version.
        """
        self._require_prices(principal)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            voucher = tx.uow.vouchers.get_for_update(voucher_id)
            if voucher is None:
                raise NotFoundError("voucher", voucher_id)
            voucher.check_version(expected_version)
            before = snapshot(voucher, VOUCHER_TERMS)
            if not voucher.change(now=now, **changes):
                return voucher
            self._check_references(tx.uow, voucher.product_ids, voucher.location_ids)
            old, new = diff(before, snapshot(voucher, VOUCHER_TERMS))
            active = changes.get("active")
            action = AuditAction.UPDATED
            if set(new) == {"active"}:
                action = AuditAction.ACTIVATED if active else AuditAction.DEACTIVATED
            tx.audit(
                principal, entity="voucher", entity_id=voucher.id, action=action, old=old, new=new
            )
            tx.commit()
            return voucher

    def deactivate(self, voucher_id: VoucherId, *, principal: Principal) -> Voucher:
        """Stop offering a voucher: bookings with it are refused (``inactive``) from now on.

        Raises:
            the errors of :meth:`update`.
        """
        return self.update(voucher_id, principal=principal, active=False)

    def get(self, voucher_id: VoucherId, *, principal: Principal) -> Voucher:
        """The voucher with this id.

        Raises:
            PermissionDeniedError: ``principal`` neither sets prices nor sees everything.
            NotFoundError: no such voucher.
        """
        self._require_read(principal)
        with self._ctx.uow_factory() as uow:
            voucher = uow.vouchers.get(voucher_id)
        if voucher is None:
            raise NotFoundError("voucher", voucher_id)
        return voucher

    def get_by_code(self, code: str, *, principal: Principal) -> Voucher:
        """The voucher with ``code`` (in any case).

        Raises:
            PermissionDeniedError: ``principal`` neither sets prices nor sees everything.
            NotFoundError: no such voucher.
        """
        self._require_read(principal)
        with self._ctx.uow_factory() as uow:
            voucher = uow.vouchers.get_by_code(code)
        if voucher is None:
            raise NotFoundError("voucher", code)
        return voucher

    def list(
        self,
        query: VoucherFilter | None = None,
        page: PageRequest | None = None,
        *,
        principal: Principal,
    ) -> Page[Voucher]:
        """Vouchers, newest first, a page at a time.

        Raises:
            PermissionDeniedError: ``principal`` neither sets prices nor sees everything.
        """
        self._require_read(principal)
        with self._ctx.uow_factory() as uow:
            return uow.vouchers.list(query or VoucherFilter(), page or PageRequest())

    def redemptions(
        self, voucher_id: VoucherId, *, principal: Principal
    ) -> Sequence[VoucherRedemption]:
        """The bookings made with a voucher, oldest first.

        Raises:
            PermissionDeniedError: ``principal`` neither sets prices nor sees everything.
            NotFoundError: no such voucher.
        """
        self._require_read(principal)
        with self._ctx.uow_factory() as uow:
            if uow.vouchers.get(voucher_id) is None:
                raise NotFoundError("voucher", voucher_id)
            return uow.vouchers.redemptions(voucher_id)

    def check(
        self,
        code: str,
        slot_id: SlotId,
        travelers: int,
        *,
        principal: Principal,
        customer_id: CustomerId | None = None,
    ) -> PriceBreakdown:
        """What booking ``slot_id`` for ``travelers`` travelers at the slot's price
        would cost with ``code``: the breakdown, its ``voucher_discount`` what the
        voucher takes off. Nothing is counted or held: a booking checks again.
        With a known customer, their loyalty tier discount comes off as a
        booking would take it (before the voucher).

        A customer's own uses count toward ``max_uses_per_customer``; staff and
        partners name the customer with ``customer_id`` to count theirs: a customer
        they may see (a partner the customers it brought).

        Raises:
            ValidationError: on ``voucher_code`` as a booking with the code would
                be refused; on ``slot_id`` for an unknown slot; on ``travelers``
                below 1; on ``customer_id`` (``unknown_reference``) for a customer
                ``principal`` may not see, or none.

        .. versionchanged:: 0.4
           ``customer_id`` must name a customer ``principal`` may see: a partner
           learnt any customer's loyalty tier and voucher uses from the answer.
        """
        given: object = travelers
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValidationError.single("travelers", "must be at least 1", "out_of_range")
        if principal.kind is PrincipalKind.CUSTOMER:
            customer_id = CustomerId(principal.id) if principal.id else None
        normal = normalise_code(code)
        with self._ctx.uow_factory() as uow:
            slot = uow.slots.get(slot_id)
            if slot is None:
                raise ValidationError.single("slot_id", f"no slot {slot_id}", "unknown_reference")
            if customer_id is not None and principal.kind is not PrincipalKind.CUSTOMER:
                # Their uses and their loyalty tier are the customer's own figures: only
                # for a principal who may see the customer (a partner its own).
                customer = uow.customers.get(customer_id)
                if customer is None or not policy.can_view_customer(principal, customer):
                    msg = f"no customer {customer_id}"
                    raise ValidationError.single("customer_id", msg, "unknown_reference")
            voucher = uow.vouchers.get_by_code(normal)
            if voucher is None:
                raise _unknown(normal)
            _checked(
                uow,
                voucher,
                slot=slot,
                travelers=travelers,
                customer_id=customer_id,
                principal=principal,
                now=self._ctx.now(),
            )
            loyalty = (
                None if customer_id is None else loyalty_discount_in(self._ctx, uow, customer_id)
            )
        return price_booking(
            [slot.price_per_traveler] * travelers,
            slot.group_discounts,
            currency=slot.currency,
            voucher=voucher,
            loyalty=loyalty,
        )
