"""Customer use cases: phone-first registration, look-up, profile completion, lists.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, bounded_count, clean_text
from bookingcore.domain.audit import AuditAction, diff, snapshot
from bookingcore.domain.auth import RevocationReason
from bookingcore.domain.bookings import Booking
from bookingcore.domain.certificates import Certificate, CertificateFilter
from bookingcore.domain.communications import Communication
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.events import CustomerRegistered
from bookingcore.domain.insights import CustomerStats, StatusGroups
from bookingcore.domain.leads import LeadFilter
from bookingcore.domain.loyalty import LoyaltyStatus
from bookingcore.domain.payments import Payment
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.pricing import LoyaltyDiscount
from bookingcore.domain.queries import (
    MAX_PAGE_SIZE,
    BookingFilter,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
    every_item,
)
from bookingcore.domain.quotations import QuotationFilter
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    BookingId,
    CustomerId,
    EmailAddress,
    PhoneNumber,
    ProductId,
    TravelerId,
    Versioned,
)
from bookingcore.errors import NotFoundError, PermissionDeniedError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction, claim_change
from bookingcore.services._family_links import move_family_links
from bookingcore.services._sessions import revoke_sessions
from bookingcore.services.reports import status_groups

__all__ = [
    "CustomerHistory",
    "CustomerMatch",
    "CustomerService",
    "CustomerView",
    "RebookingSuggestion",
    "Registration",
    "StaffNote",
    "StaffNoteKind",
    "TravelerRequirement",
    "status_groups",
]

#: How many upcoming and recent bookings, and rebooking slots, a view shows.
VIEW_BOOKINGS = 20

#: How many advisor notes a view shows, newest first.
VIEW_ADVISOR_NOTES = 50


def loyalty_in(
    context: ServiceContext, uow: UnitOfWork, customer_id: CustomerId
) -> LoyaltyStatus | None:
    """Inside ``uow``: where the customer stands in the configured loyalty program,
    from the figures stored now (all their bookings, whoever made them); ``None``
    without a program. No visibility check: for use cases that judge the tier
    (a booking applying its discount).

    .. versionadded:: 0.4
    """
    program = context.settings.loyalty
    if program is None:
        return None
    stats = uow.customer_stats.summarise(
        BookingFilter(customer_id=customer_id, include_archived=True),
        now=context.now(),
        statuses=status_groups(context.settings.lifecycles.values()),
    )
    return program.status(stats)


def loyalty_discount_in(
    context: ServiceContext, uow: UnitOfWork, customer_id: CustomerId
) -> LoyaltyDiscount | None:
    """Inside ``uow``: the loyalty discount a new booking of the customer gets, judged
    from the figures stored now; nothing is read when no tier gives a discount.

    .. versionadded:: 0.4
    """
    program = context.settings.loyalty
    if program is None or not program.gives_discounts:
        return None
    status = loyalty_in(context, uow, customer_id)
    return None if status is None or status.tier is None else status.tier.discount


@attrs.frozen
class TravelerRequirement:
    """What one of the customer's travelers needs (special requirements, preferences).

    .. versionadded:: 0.3
    """

    traveler_id: TravelerId
    name: str
    requirements: str


class StaffNoteKind(enum.StrEnum):
    """Where a :class:`StaffNote` comes from.

    * ``internal``: a booking's internal notes (one text per booking, edited in
      place; ``written_at`` is when the booking last changed, no author kept);
    * ``advisor``: one entry of a booking's append-only advisor log
      (:meth:`~bookingcore.services.BookingService.add_note`), with its author.

    .. versionadded:: 0.3
    """

    INTERNAL = "internal"
    ADVISOR = "advisor"


@attrs.frozen
class StaffNote:
    """A note staff left about the customer, on one of their bookings.

    ``kind`` says which: the booking's internal notes or an advisor note;
    ``author`` is who wrote an advisor note (``None`` for internal notes, whose
    author is not kept).

    .. versionchanged:: 0.3 ``kind`` and ``author``: advisor notes are listed too.

    .. versionadded:: 0.3
    """

    booking_id: BookingId
    reference: str
    text: str
    written_at: datetime
    kind: StaffNoteKind = StaffNoteKind.INTERNAL
    author: Actor | None = None


@attrs.frozen
class CustomerView:
    """The customer history view: one customer as staff see them.

    ``stats`` come from the storage's aggregate queries and count only the
    bookings the principal may see; ``upcoming`` are bookings still to take
    place (neither cancelled nor a no-show), soonest first (the 20 of them most
    recently made, when there are more),
    ``recent`` the 20 newest bookings;
    ``requirements`` what their travelers need; ``notes`` what staff wrote,
    newest first: the internal notes of their recent bookings and the newest
    advisor notes of any of their bookings (at most 50); both for staff and
    the system only (empty for a partner or the customer, whose ``upcoming``
    and ``recent`` bookings come without their internal notes); ``communications``
    the messages the principal may read, oldest first. ``certificates`` lists
    what they earned, newest first (those of bookings the principal may see);
    ``payments`` their payment history, oldest first (the payments of
    the bookings the principal may see).
    ``loyalty`` is where they stand in the loyalty program
    (:meth:`CustomerService.loyalty`); ``None`` without a program, or for a
    principal that sees only part of their bookings (a partner, an advisor).

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``payments``.
    .. versionchanged:: 0.4 ``loyalty``.
    """

    customer: Customer
    stats: CustomerStats
    upcoming: Sequence[Booking]
    recent: Sequence[Booking]
    travelers: Sequence[Traveler]
    requirements: Sequence[TravelerRequirement]
    notes: Sequence[StaffNote]
    communications: Sequence[Communication]
    certificates: Sequence[Certificate] = ()
    payments: Sequence[Payment] = ()
    loyalty: LoyaltyStatus | None = None


@attrs.frozen
class RebookingSuggestion:
    """A slot the customer could book again: a product they booked before, with seats free.

    .. versionadded:: 0.3
    """

    product_id: ProductId
    slot: Slot


@attrs.frozen
class Registration:
    """The customer a registration found or created, and which of the two happened.

    .. versionadded:: 0.1
    """

    customer: Customer
    created: bool


@attrs.frozen
class CustomerHistory:
    """What staff see on a customer's page (their history, as a CRM shows it), read in one go.

    ``bookings`` is the newest page of the customer's bookings the principal
    may see (pass its ``next_cursor`` for older ones); ``travelers`` are the
    saved travelers, oldest first; ``communications`` every logged message and
    ``payments`` every payment, oldest first, of the bookings the principal
    may see.

    .. versionchanged:: 0.1
       ``payments`` added.

    .. versionadded:: 0.1
    """

    customer: Customer
    travelers: Sequence[Traveler]
    bookings: Page[Booking]
    communications: Sequence[Communication]
    payments: Sequence[Payment] = ()


class CustomerService:
    """Register customers by phone, find them again, complete their profile, list them.

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def parse_phone(self, phone: str | PhoneNumber, field: str = "phone") -> PhoneNumber:
        """Read ``phone`` with the configured default region.

        Raises:
            ValidationError: the text is not a valid phone number.
        """
        if isinstance(phone, PhoneNumber):
            return phone
        return PhoneNumber.parse(phone, region=self._ctx.settings.default_region, field=field)

    def register(
        self,
        phone: str | PhoneNumber,
        *,
        principal: Principal,
        name: str | None = None,
        email: str | None = None,
        source: BookingSource | str | None = None,
    ) -> Registration:
        """Find the customer with this phone or create one (phone-only registration).

        The phone is the natural idempotency key: registering the same number
        again, however it is written, returns the same customer with
        ``created=False`` and fills in only profile fields that were empty.
        A partner's new customers carry ``source=partner`` and its partner id.

        Raises:
            ValidationError: bad phone, name (2-255 characters) or email.
            PermissionDeniedError: the principal may not register customers, or a
                partner registers a number that belongs to a customer it did not create.
        """
        problems = Problems()
        number = problems.capture(lambda: self.parse_phone(phone))
        clean_name = problems.capture(lambda: clean_text(name, "name", min_length=2))
        clean_email = problems.capture(lambda: None if not email else EmailAddress.parse(email))
        chosen = problems.capture(lambda: None if source is None else BookingSource.parse(source))
        problems.raise_if_any()
        assert number is not None
        may_register = (
            principal.has(Permission.CHANGE_ALL) or principal.kind is PrincipalKind.PARTNER
        )
        policy.require(may_register, f"{principal} may not register customers")
        with self._ctx.transaction() as tx:
            result = self.find_or_create(
                tx, number, principal=principal, name=clean_name, email=clean_email, source=chosen
            )
            if result.customer is None:
                msg = (
                    "this phone number belongs to a customer your partner account did not "
                    "create; book for them by passing their details with the booking"
                )
                raise PermissionDeniedError(msg)
            tx.commit()
            return Registration(result.customer, result.created)

    def find_or_create(
        self,
        tx: Transaction,
        phone: PhoneNumber,
        *,
        principal: Principal,
        name: str | None = None,
        email: EmailAddress | None = None,
        source: BookingSource | None = None,
        external_id: str | None = None,
        emit: bool = True,
    ) -> CustomerMatch:
        """Inside the transaction ``tx``: the customer with ``phone``, created if new.

        For an existing customer that ``principal`` may not change, nothing is
        changed and ``customer`` is ``None`` with its id in ``customer_id`` (a
        partner booking for someone already on file links to them without
        seeing their profile). An existing customer gets the ``name``, ``email``
        and ``external_id`` they lack (:meth:`fill_blanks`). A new customer and
        a filled-in profile each leave an audit entry; a new customer raises
        ``CustomerRegistered`` (``emit=False`` leaves the event out, as an
        import told not to emit does).

        .. versionchanged:: 0.3 ``external_id`` (an import's id from the old system), ``emit``.
        """
        now = self._ctx.now()
        uow = tx.uow
        external_id = clean_text(external_id, "external_id")
        existing = uow.customers.get_by_phone(phone)
        if existing is not None:
            if not policy.can_change_customer(principal, existing):
                return CustomerMatch(None, existing.id, created=False)
            self.fill_blanks(
                tx, existing, principal=principal, name=name, email=email, external_id=external_id
            )
            return CustomerMatch(existing, existing.id, created=False)
        is_partner = principal.kind is PrincipalKind.PARTNER
        partner_id = principal.id if is_partner else None
        customer = Customer(
            id=CustomerId(self._ctx.ids.new_id()),
            phone=phone,
            created_at=now,
            updated_at=now,
            name=name,
            email=email,
            source=BookingSource.PARTNER if is_partner else (source or BookingSource.DIRECT),
            partner_id=partner_id,  # type: ignore[arg-type]
            created_by_partner_id=partner_id,  # type: ignore[arg-type]
            created_by=principal.actor,
            external_id=external_id,
        )
        uow.customers.add(customer)
        tx.audit(
            principal,
            entity="customer",
            entity_id=customer.id,
            action=AuditAction.CREATED,
            new={
                **snapshot(customer, _REGISTERED),
                **({"external_id": external_id} if external_id else {}),
            },
        )
        if emit:
            tx.emit(
                CustomerRegistered(
                    id=tx.new_event_id(),
                    occurred_at=now,
                    customer_id=customer.id,
                    actor=principal.actor,
                    partner_id=customer.partner_id,
                )
            )
        return CustomerMatch(customer, customer.id, created=True)

    def fill_blanks(
        self,
        tx: Transaction,
        customer: Customer,
        *,
        principal: Principal,
        name: str | None = None,
        email: EmailAddress | None = None,
        external_id: str | None = None,
    ) -> bool:
        """Inside the transaction ``tx``: give ``customer`` the ``name``, ``email`` and
        ``external_id`` they lack.

        Fields already set are kept. A change leaves an audit entry; returns
        whether anything changed. The caller checked that ``principal`` may
        change the customer (:func:`~bookingcore.domain.policy.can_change_customer`).

        .. versionadded:: 0.3
        """
        if not (
            (name and customer.name is None)
            or (email and customer.email is None)
            or (external_id and customer.external_id is None)
        ):
            return False
        fields = (*_PROFILE, "external_id")
        before = snapshot(customer, fields)
        customer.complete_profile(
            now=self._ctx.now(),
            name=name if customer.name is None else None,
            email=email if customer.email is None else None,
            external_id=external_id if customer.external_id is None else None,
        )
        old, new = diff(before, snapshot(customer, fields))
        tx.audit(
            principal,
            entity="customer",
            entity_id=customer.id,
            action=AuditAction.UPDATED,
            old=old,
            new=new,
        )
        return True

    def get(self, customer_id: CustomerId, *, principal: Principal) -> Customer:
        """The customer with this id.

        Raises:
            NotFoundError: no such customer, or one ``principal`` may not see.
        """
        with self._ctx.uow_factory() as uow:
            return self.load_visible(uow, customer_id, principal)

    def find_by_phone(self, phone: str | PhoneNumber, *, principal: Principal) -> Customer | None:
        """The customer with this phone, however it is written, if ``principal`` may see them.

        Raises:
            ValidationError: the phone is not valid.
        """
        number = self.parse_phone(phone)
        with self._ctx.uow_factory() as uow:
            customer = uow.customers.get_by_phone(number)
        if customer is None or not policy.can_view_customer(principal, customer):
            return None
        return customer

    def complete_profile(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal,
        name: str | None = None,
        email: str | None = None,
        expected_version: int | None = None,
    ) -> Customer:
        """Set the customer's name and/or email (completing the profile after phone sign-in).

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: ``principal`` may see but not change them.
            StaleVersionError: ``expected_version`` is older than the stored one.
            ValidationError: bad name or email; nothing is changed.
        """
        with self._ctx.transaction() as tx:
            customer = self.load_visible(tx.uow, customer_id, principal)
            policy.require(
                policy.can_change_customer(principal, customer),
                f"{principal} may not change customer {customer_id}",
            )
            customer.check_version(expected_version)
            before = snapshot(customer, _PROFILE)
            customer.complete_profile(now=self._ctx.now(), name=name, email=email)
            old, new = diff(before, snapshot(customer, _PROFILE))
            if new:
                tx.audit(
                    principal,
                    entity="customer",
                    entity_id=customer.id,
                    action=AuditAction.UPDATED,
                    old=old,
                    new=new,
                )
            tx.commit()
            return customer

    def list(
        self,
        query: CustomerFilter | None = None,
        page: PageRequest | None = None,
        *,
        principal: Principal,
    ) -> Page[Customer]:
        """Customers matching ``query`` that ``principal`` may see, newest first.

        Raises:
            PermissionDeniedError: the query asks for another partner's customers.
        """
        scoped = policy.scope_customers(principal, query or CustomerFilter())
        with self._ctx.uow_factory() as uow:
            return uow.customers.list(scoped, page or PageRequest())

    def history(
        self, customer_id: CustomerId, *, principal: Principal, page: PageRequest | None = None
    ) -> CustomerHistory:
        """The customer with their travelers, bookings, messages and payments, in one unit of work.

        The number of queries does not grow with the number of bookings or
        messages: one per kind of record (bookings bring their travelers in one
        more), never one per row. Anyone but staff and the system (a partner,
        the customer) gets the bookings without their internal notes.

        .. versionchanged:: 0.3 Internal notes withheld from partners and customers.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
        """
        scoped = policy.scope_bookings(
            principal, BookingFilter(customer_id=customer_id, include_archived=True)
        )
        with self._ctx.uow_factory() as uow:
            customer = self.load_visible(uow, customer_id, principal)
            communications = uow.communications.list_for_customer(customer_id)
            payments = uow.payments.list_for_customer(customer_id)
            mentioned = [*(c.booking_id for c in communications), *(p.booking_id for p in payments)]
            visible = self.visible_bookings(uow, customer, principal, mentioned)
            found = uow.bookings.list(scoped, page or PageRequest())
            return CustomerHistory(
                customer=customer,
                travelers=uow.travelers.list_for_customer(customer_id),
                bookings=policy.booking_page_for(principal, found),
                communications=[
                    c
                    for c in communications
                    if policy.can_read_message(principal, c)
                    and (c.booking_id is None or visible(c.booking_id))
                ],
                payments=[p for p in payments if visible(p.booking_id)],
            )

    @staticmethod
    def visible_communications(
        uow: UnitOfWork,
        customer: Customer,
        principal: Principal,
        communications: Sequence[Communication],
    ) -> Sequence[Communication]:
        """Inside ``uow``: the messages to ``customer`` that ``principal`` may read.

        Staff who see everything and the customer themself read them all; a
        partner reads the messages about its own bookings (and those about no
        booking, but for a family invitation: it names another customer, and a
        partner has no part in families), never those about another channel's
        booking of the same customer. Costs one query per 500 of the customer's
        visible bookings, and none for staff or the customer.

        .. versionchanged:: 0.4 a family invitation only for staff who see
           everything and the customer.
        """
        visible = CustomerService.visible_bookings(
            uow, customer, principal, [c.booking_id for c in communications]
        )
        return [
            c
            for c in communications
            if policy.can_read_message(principal, c)
            and (c.booking_id is None or visible(c.booking_id))
        ]

    @staticmethod
    def visible_payments(
        uow: UnitOfWork,
        customer: Customer,
        principal: Principal,
        payments: Sequence[Payment],
    ) -> Sequence[Payment]:
        """Inside ``uow``: the payments of ``customer`` that ``principal`` may see, those
        of the bookings it may see, at the cost :meth:`visible_communications` has.

        .. versionadded:: 0.4
        """
        visible = CustomerService.visible_bookings(
            uow, customer, principal, [p.booking_id for p in payments]
        )
        return [p for p in payments if visible(p.booking_id)]

    @staticmethod
    def visible_bookings(
        uow: UnitOfWork,
        customer: Customer,
        principal: Principal,
        mentioned: Iterable[BookingId | None],
    ) -> Callable[[BookingId], bool]:
        """Inside ``uow``: which of ``customer``'s bookings ``principal`` may see, as a
        test on their ids (for records that name a booking: certificates, messages,
        payments).

        Reads the bookings only for a principal that sees part of them, and
        only when some record names a booking.

        .. versionadded:: 0.4
        """
        if principal.has(Permission.VIEW_ALL) or principal.is_customer(customer.id):
            return lambda _: True
        visible: set[BookingId] = set()
        if any(booking_id is not None for booking_id in mentioned):
            query = policy.scope_bookings(
                principal, BookingFilter(customer_id=customer.id, include_archived=True)
            )
            request = PageRequest(limit=MAX_PAGE_SIZE)
            while True:
                found = uow.bookings.list(query, request)
                visible.update(b.id for b in found.items)
                if found.next_cursor is None:
                    break
                request = PageRequest(limit=MAX_PAGE_SIZE, cursor=found.next_cursor)
        return visible.__contains__

    @staticmethod
    def load_visible(uow: UnitOfWork, customer_id: CustomerId, principal: Principal) -> Customer:
        """Inside ``uow``: the customer, if ``principal`` may see them.

        Raises:
            NotFoundError: otherwise.
        """
        customer = uow.customers.get(customer_id)
        if (
            customer is None
            or customer.merged_into is not None
            or not policy.can_view_customer(principal, customer)
        ):
            raise NotFoundError("customer", customer_id)
        return customer

    # ------------------------------------------------------------ customer view (0.3)

    def statuses(self) -> StatusGroups:
        """How the configured lifecycles' statuses count in the view's figures: as the
        reports count them (:func:`~bookingcore.services.reports.status_groups`).

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 the reports' rules (travel's ``refunded`` is cancelled).
        """
        return status_groups(self._ctx.settings.lifecycles.values())

    def view(self, customer_id: CustomerId, *, principal: Principal) -> CustomerView:
        """The customer history view staff use, of one customer, in one unit of work.

        The figures are aggregate queries in the storage; the number of queries
        is fixed (about ten on SQL) however many bookings the customer has.
        A partner sees only its own customers, and figures, bookings,
        messages, certificates and payments only of its own bookings. Notes
        from staff (internal and advisor notes) are listed for staff (and the
        system) only, of the bookings the principal may see; a partner or the
        customer gets no notes, and the bookings without their internal notes.

        Raises:
            NotFoundError: no such customer visible to ``principal`` (merged
                customers are never found).

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 ``payments``: the customer's payment history.
        """
        now = self._ctx.now()
        statuses = self.statuses()
        scoped = policy.scope_bookings(
            principal, BookingFilter(customer_id=customer_id, include_archived=True)
        )
        # The statuses of bookings still to take place in some lifecycle: bookings
        # cancelled or missed never take the places of upcoming ones in the list.
        still = frozenset(
            state
            for lifecycle in self._ctx.settings.lifecycles.values()
            for state in lifecycle.states
            if not statuses.has_ended(lifecycle.name, state)
        )
        if scoped.statuses is not None:
            still &= scoped.statuses
        with self._ctx.uow_factory().read_only() as uow:
            customer = self.load_visible(uow, customer_id, principal)
            stats = uow.customer_stats.summarise(scoped, now=now, statuses=statuses)
            ahead = (
                uow.bookings.list(
                    attrs.evolve(scoped, starts_from=now, statuses=still),
                    PageRequest(limit=VIEW_BOOKINGS),
                ).items
                if still
                else []
            )
            recent = uow.bookings.list(scoped, PageRequest(limit=VIEW_BOOKINGS)).items
            travelers = uow.travelers.list_for_customer(customer_id)
            messages = uow.communications.list_for_customer(customer_id)
            communications = self.visible_communications(uow, customer, principal, messages)
            earned = uow.certificates.list(
                CertificateFilter(customer_id=customer_id), PageRequest(limit=MAX_PAGE_SIZE)
            ).items
            paid = uow.payments.list_for_customer(customer_id)
            if (earned or paid) and not (
                principal.has(Permission.VIEW_ALL) or principal.is_customer(customer_id)
            ):
                visible = self.visible_bookings(
                    uow,
                    customer,
                    principal,
                    [*(c.booking_id for c in earned), *(p.booking_id for p in paid)],
                )
                earned = [c for c in earned if visible(c.booking_id)]
                paid = [p for p in paid if visible(p.booking_id)]
            staff = policy.sees_staff_notes(principal)
            advised = (
                uow.customer_stats.booking_notes(scoped, limit=VIEW_ADVISOR_NOTES) if staff else ()
            )
        notes = [
            StaffNote(b.id, b.reference, b.internal_notes, b.updated_at)
            for b in recent
            if b.internal_notes and staff
        ]
        ahead = policy.bookings_for(principal, ahead)
        recent = policy.bookings_for(principal, recent)
        notes += [
            StaffNote(
                n.booking_id, n.reference, n.text, n.written_at, StaffNoteKind.ADVISOR, n.author
            )
            for n in advised
        ]
        notes.sort(key=lambda n: n.written_at, reverse=True)
        upcoming = sorted(
            (b for b in ahead if not statuses.has_ended(b.lifecycle, b.status)),
            key=lambda b: (b.starts_at, b.id.bytes),
        )
        return CustomerView(
            customer=customer,
            stats=stats,
            upcoming=upcoming,
            recent=recent,
            travelers=travelers,
            requirements=[
                TravelerRequirement(t.id, t.name, t.special_requirements)
                for t in travelers
                if t.special_requirements
            ],
            notes=notes,
            communications=communications,
            certificates=earned,
            payments=paid,
            loyalty=self._loyalty_of(stats, scoped, customer_id),
        )

    # ------------------------------------------------------------ loyalty tiers (0.4)

    def _loyalty_of(
        self, stats: CustomerStats, scoped: BookingFilter, customer_id: CustomerId
    ) -> LoyaltyStatus | None:
        """The view's loyalty status from its figures, when they are the whole customer's."""
        program = self._ctx.settings.loyalty
        if program is None or scoped != BookingFilter(
            customer_id=customer_id, include_archived=True
        ):
            return None
        return program.status(stats)

    def loyalty(self, customer_id: CustomerId, *, principal: Principal) -> LoyaltyStatus:
        """Where the customer stands in the loyalty program: their tier, the figures
        it was judged on (completed bookings, money spent per currency), and what the
        next tier still needs.

        The figures count all the customer's bookings, so only a principal that
        sees all of them may ask: staff who see every booking, the system, and
        the customer themself.

        Raises:
            NotFoundError: no such customer visible to ``principal`` (every customer,
                for an advisor or a supplier's user: they read no customer records).
            PermissionDeniedError: ``principal`` sees only part of the customer's
                bookings (a partner, of a customer it brought).
            ValidationError: on ``loyalty`` when no loyalty program is configured
                (code ``not_configured``).

        .. versionadded:: 0.4
        """
        if self._ctx.settings.loyalty is None:
            msg = "no loyalty program is configured (Settings.loyalty)"
            raise ValidationError.single("loyalty", msg, "not_configured")
        wanted = BookingFilter(customer_id=customer_id, include_archived=True)
        with self._ctx.uow_factory().read_only() as uow:
            self.load_visible(uow, customer_id, principal)
            if policy.scope_bookings(principal, wanted) != wanted:
                msg = f"{principal} sees only part of this customer's bookings"
                raise PermissionDeniedError(msg)
            status = loyalty_in(self._ctx, uow, customer_id)
        assert status is not None
        return status

    def rebooking_suggestions(
        self, customer_id: CustomerId, *, principal: Principal, limit: int = VIEW_BOOKINGS
    ) -> Sequence[RebookingSuggestion]:
        """Upcoming slots with a free seat of the products the customer booked before.

        Products are taken most recently booked first (at most ten); for each,
        its next active slots with room, soonest first, up to ``limit`` in all.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            ValidationError: on ``limit`` unless a whole number from 1 to 500.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 a ``limit`` outside 1-500 is refused (it was clamped,
           and a negative one cut suggestions off the end).
        """
        limit = bounded_count(limit, "limit", minimum=1, maximum=MAX_PAGE_SIZE)
        now = self._ctx.now()
        scoped = policy.scope_bookings(
            principal, BookingFilter(customer_id=customer_id, include_archived=True)
        )
        found: list[RebookingSuggestion] = []
        with self._ctx.uow_factory() as uow:
            self.load_visible(uow, customer_id, principal)
            for product_id in uow.customer_stats.booked_products(scoped, limit=10):
                slots = uow.slots.list(
                    SlotFilter(product_id=product_id, starts_from=now, only_available=True),
                    PageRequest(limit=limit),
                )
                found += [RebookingSuggestion(product_id, slot) for slot in slots]
        found.sort(key=lambda s: (s.slot.starts_at, s.slot.id.bytes))
        return found[:limit]

    def identify(
        self,
        *,
        principal: Principal,
        phone: str | PhoneNumber | None = None,
        email: str | EmailAddress | None = None,
        name: str | None = None,
        source: BookingSource | str | None = None,
    ) -> Registration:
        """As a booking begins: find the customer by phone, then by email, or create them.

        A customer found by email is returned as is (their phone on file wins);
        a new customer needs a phone (identity is phone-first).

        Raises:
            ValidationError: neither phone nor email, a bad one, or no phone to
                create a new customer with.
            PermissionDeniedError: as :meth:`register`.

        .. versionadded:: 0.3
        """
        if phone is None and not email:
            msg = "give a phone or an email to find the customer by"
            raise ValidationError.single("phone", msg, "required")
        if email and phone is None:
            address = email if isinstance(email, EmailAddress) else EmailAddress.parse(email)
            with self._ctx.uow_factory() as uow:
                match = uow.customers.find_by_emails([address]).get(address)
            if match is not None and policy.can_view_customer(principal, match):
                return Registration(match, created=False)
            msg = "no customer has this email; give a phone to register them"
            raise ValidationError.single("phone", msg, "required")
        assert phone is not None
        number = self.parse_phone(phone)
        if email:
            address = email if isinstance(email, EmailAddress) else EmailAddress.parse(email)
            with self._ctx.uow_factory() as uow:
                by_phone = uow.customers.get_by_phone(number)
                by_email = (
                    None if by_phone else uow.customers.find_by_emails([address]).get(address)
                )
            if by_email is not None and policy.can_view_customer(principal, by_email):
                return Registration(by_email, created=False)
        return self.register(
            number,
            principal=principal,
            name=name,
            email=None if email is None else str(email),
            source=source,
        )

    def merge(
        self,
        survivor_id: CustomerId,
        duplicate_id: CustomerId,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        """Merge ``duplicate_id`` into ``survivor_id``: two records found to be one person.

        In one unit of work the duplicate's bookings, travelers, messages,
        payments, waiting-list entries, certificates, leads, quotations, trips,
        voucher redemptions, groups, push devices, family links and share links move to
        the survivor (a share link keeps working; a group whose organiser and company
        were the two keeps the survivor as organiser and no company), its
        name and email fill the survivor's empty ones, and it is marked merged
        (reads never return it again; its phone finds the survivor) and its
        signed-in sessions end. Audit
        entries about the duplicate are kept, and each customer gets a
        ``merged`` entry. Issued invoices keep the customer they were issued to.

        A retry with the same ``idempotency_key`` and the same request (the two
        customers and ``reason``) returns the survivor as it is now and writes
        nothing: no ``NotFoundError`` for the duplicate the first call merged.

        Raises:
            PermissionDeniedError: only staff who may change everything, and the
                system, merge (not a provider's webhook).
            NotFoundError: either customer does not exist or was merged already
                (for a retry: the survivor was merged since).
            ValidationError: the two ids are the same (code ``same_customer``); the
                survivor was erased (on ``survivor_id``, code ``erased``); a malformed
                ``idempotency_key``.
            DuplicateError: both are on one slot's waiting list.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4
           ``idempotency_key``; voucher redemptions, push devices and family links move
           too.
        .. versionchanged:: 0.4 share links move too.
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not merge customers",
        )
        if survivor_id == duplicate_id:
            msg = "a customer cannot be merged into itself"
            raise ValidationError.single("duplicate_id", msg, "same_customer")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "customer_merge",
                principal,
                survivor_id=survivor_id,
                duplicate_id=duplicate_id,
                reason=reason,
            )
            survivor = self.load_visible(uow, survivor_id, principal)
            if not fresh:
                return survivor
            if survivor.is_erased:
                # The duplicate's profile, phone and records would land on an erased record.
                msg = "an erased customer cannot take in another customer's records"
                raise ValidationError.single("survivor_id", msg, "erased")
            duplicate = self.load_visible(uow, duplicate_id, principal)
            moved = self._move_records(uow, duplicate_id, survivor_id, now)
            moved["family_links"] = move_family_links(
                self._ctx, tx, duplicate_id, survivor_id, principal
            )
            before = snapshot(survivor, _PROFILE)
            if (duplicate.name and not survivor.name) or (duplicate.email and not survivor.email):
                survivor.complete_profile(
                    now=now,
                    name=duplicate.name if not survivor.name else None,
                    email=duplicate.email if not survivor.email else None,
                )
            old, new = diff(before, snapshot(survivor, _PROFILE))
            duplicate.merge_into(survivor_id, now=now)
            # Signed-in sessions of the duplicate would act as nobody: end them.
            revoke_sessions(
                tx,
                PrincipalKind.CUSTOMER,
                duplicate_id,
                RevocationReason.CREDENTIALS_CHANGED,
                principal=principal,
                now=now,
            )
            tx.audit(
                principal,
                entity="customer",
                entity_id=survivor_id,
                action=AuditAction.MERGED,
                old=old,
                new={**new, "merged_from": str(duplicate_id), **moved},
                reason=reason,
                entry_id=entry_id,
            )
            tx.audit(
                principal,
                entity="customer",
                entity_id=duplicate_id,
                action=AuditAction.MERGED,
                old={"phone": duplicate.phone.e164},
                new={"merged_into": str(survivor_id)},
                reason=reason,
            )
            tx.commit()
            return survivor

    @staticmethod
    def _move_records(
        uow: UnitOfWork, source: CustomerId, target: CustomerId, now: datetime
    ) -> dict[str, int]:
        """Point every record of ``source`` at ``target``; how many of each moved."""
        bookings: list[Booking] = []
        request = PageRequest(limit=MAX_PAGE_SIZE)
        while True:
            page = uow.bookings.list(
                BookingFilter(customer_id=source, include_archived=True), request
            )
            bookings += page.items
            if page.next_cursor is None:
                break
            request = PageRequest(limit=MAX_PAGE_SIZE, cursor=page.next_cursor)
        records: dict[str, Sequence[Any]] = {
            "bookings": bookings,
            "travelers": uow.travelers.list_for_customer(source, include_deleted=True),
            "communications": uow.communications.list_for_customer(source),
            "payments": uow.payments.list_for_customer(source),
            "waitlist_entries": list(every_item(partial(uow.waitlist.list_for_customer, source))),
            "certificates": list(
                every_item(partial(uow.certificates.list, CertificateFilter(customer_id=source)))
            ),
            "leads": list(every_item(partial(uow.leads.list, LeadFilter(customer_id=source)))),
            "quotations": list(
                every_item(partial(uow.quotations.list, QuotationFilter(customer_id=source)))
            ),
            "trips": list(every_item(partial(uow.trips.list_for_customer, source))),
            "push_devices": uow.push_devices.list_for_customer(source),
            "share_links": uow.share_links.list_for_customer(source),
        }
        for found in records.values():
            for record in found:
                _reassign(record, "customer_id", target, now)
        groups = 0
        request = PageRequest(limit=MAX_PAGE_SIZE)
        while True:
            listed = uow.groups.list(request, customer_id=source)
            for group in listed.items:
                for field in ("organizer_id", "company_id"):
                    if getattr(group, field) == source:
                        _reassign(group, field, target, now)
                if group.company_id == group.organizer_id:
                    # The organiser and the company were one person: no company profile.
                    group.company_id = None
                groups += 1
            if listed.next_cursor is None:
                break
            request = PageRequest(limit=MAX_PAGE_SIZE, cursor=listed.next_cursor)
        # Redemptions are frozen records, moved in one statement where the store can.
        redemptions = uow.vouchers.move_redemptions(source, target)
        return {
            **{kind: len(found) for kind, found in records.items()},
            "groups": groups,
            "voucher_redemptions": redemptions,
        }


_PROFILE = ("name", "email")
_REGISTERED = ("phone", "name", "email", "source", "partner_id")


@attrs.frozen
class CustomerMatch:
    """What :meth:`CustomerService.find_or_create` found.

    ``customer`` is ``None`` when the number belongs to a customer the principal
    may not change; ``customer_id`` is always set so a booking can link to them.

    .. versionadded:: 0.1
    """

    customer: Customer | None
    customer_id: CustomerId
    created: bool


def _reassign(record: Any, field: str, customer_id: CustomerId, now: datetime) -> None:
    """Point ``record``'s ``field`` at ``customer_id``, as a change its storage will write."""
    setattr(record, field, customer_id)
    if hasattr(record, "updated_at"):
        record.updated_at = now
    if isinstance(record, Versioned):
        record.version += 1
