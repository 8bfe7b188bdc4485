"""Who is asking, and what they may see and do: the one place that decides.

Every service asks this module before it reads or changes anything, so a rule
changes in one place for the whole library:

=================  ======================  ==========================  ======================
principal          sees                    changes                     books
=================  ======================  ==========================  ======================
customer           own profile, travelers  own profile, travelers,     for themselves and
                   and bookings; their     own bookings; their family  their family's travelers
                   family (see below)      if they own it
partner            customers and bookings  the same                    at allowed locations
                   it created
staff (by role)    everything (admin,      everything (admin, staff)   anywhere (admin, staff)
                   staff, editor)
advisor            bookings assigned to    those bookings              no
                   them
supplier           bookings of its         their status                no
                   supplier
webhook            nothing                 only what its provider      no
                                           reports: payments, refunds,
                                           message deliveries
system             everything              everything                  anywhere
=================  ======================  ==========================  ======================

Moving a booking along its lifecycle (:func:`check_may_transition`): customers
and partners may only cancel, and only before the deadline of the cancellation
policy (``Settings.cancellation``; the slot's start by default); advisors move
the bookings assigned to them, suppliers the bookings of their supplier; staff
who may change everything and the system move any booking. The audit trail is
for staff with ``view_audit`` and, for their bookings, advisors.

A provider's webhook (:meth:`Principal.webhook`) holds no permission: it records
what its provider reports (:func:`may_apply_provider_report`): a payment's or a
refund's status, with what follows from it (the booking's move to paid, its
invoice, flags for staff, audit entries), and a message's delivery status. Every
other read answers "not found" and every other change is refused.

Reading something that is not yours answers "not found", never "forbidden", so
a partner cannot probe for another partner's records.

Family accounts (0.4, :mod:`bookingcore.domain.families`): a customer booking
for themselves may pick the saved travelers of the other members of their family
(:func:`can_book_family_traveler`); staff who may book anywhere may do so for
them, a partner never (it sees its own customers, not their families). A member
reads the family's members and travelers by name (:func:`can_view_family`) and
the upcoming bookings other members made for their travelers; the owner (and
staff who change everything) invites and removes members
(:func:`can_manage_family`). Staff who see everything read every family.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Self
from uuid import UUID

import attrs

from bookingcore.domain.bookings import Booking
from bookingcore.domain.cancellation import CANCELLATION_METADATA_KEYS, CancellationPolicy
from bookingcore.domain.catalog import Location
from bookingcore.domain.communications import Communication, CommunicationType
from bookingcore.domain.customers import Customer
from bookingcore.domain.items import BookingItem
from bookingcore.domain.leads import Lead, LeadFilter
from bookingcore.domain.lifecycle import Lifecycle, LifecycleEvent
from bookingcore.domain.partners import Partner
from bookingcore.domain.queries import BookingFilter, CustomerFilter, Page
from bookingcore.domain.quotations import Quotation, QuotationFilter, QuotationStatus
from bookingcore.domain.values import (
    Actor,
    ActorKind,
    CustomerId,
    PartnerId,
    RequestOrigin,
    StaffId,
    SupplierId,
)
from bookingcore.errors import PermissionDeniedError

__all__ = [
    "ROLE_PERMISSIONS",
    "Permission",
    "Principal",
    "PrincipalKind",
    "StaffRole",
    "booking_for",
    "booking_page_for",
    "bookings_for",
    "can_answer_for_item",
    "can_book_family_traveler",
    "can_change_booking",
    "can_change_customer",
    "can_decide_quotation",
    "can_manage_family",
    "can_read_message",
    "can_share_booking",
    "can_view_audit",
    "can_view_booking",
    "can_view_customer",
    "can_view_family",
    "can_view_item",
    "can_view_lead",
    "can_view_partner_webhooks",
    "can_view_quotation",
    "can_view_share_links",
    "can_work_lead",
    "check_may_book",
    "check_may_cancel",
    "check_may_edit",
    "check_may_record_attendance",
    "check_may_transition",
    "check_may_write_fields",
    "history_for",
    "may_apply_provider_report",
    "may_read_roll_calls",
    "may_resend_partner_webhooks",
    "require",
    "scope_bookings",
    "scope_customers",
    "scope_leads",
    "scope_quotations",
    "sees_move_note",
    "sees_staff_notes",
]


class PrincipalKind(enum.StrEnum):
    """The kinds of caller the policy knows.

    .. versionadded:: 0.1
    """

    CUSTOMER = "customer"
    PARTNER = "partner"
    STAFF = "staff"
    WEBHOOK = "webhook"
    SYSTEM = "system"


class StaffRole(enum.StrEnum):
    """Roles of the business's own people (staff, advisors, supplier users).

    .. versionadded:: 0.1
    """

    ADMIN = "admin"
    STAFF = "staff"
    EDITOR = "editor"
    ADVISOR = "advisor"
    SUPPLIER = "supplier"


class Permission(enum.StrEnum):
    """What a staff role may do beyond its own scope.

    .. versionadded:: 0.1
    """

    VIEW_ALL = "view_all"
    CHANGE_ALL = "change_all"
    BOOK_ANYWHERE = "book_anywhere"
    SET_PRICES = "set_prices"
    MANAGE_CATALOG = "manage_catalog"
    MANAGE_PARTNERS = "manage_partners"
    VIEW_AUDIT = "view_audit"
    IMPORT_BOOKINGS = "import_bookings"
    MANAGE_STAFF = "manage_staff"


#: The permissions each staff role has. Data, so a host can read it in its docs.
ROLE_PERMISSIONS: Mapping[StaffRole, frozenset[Permission]] = MappingProxyType(
    {
        StaffRole.ADMIN: frozenset(Permission),
        StaffRole.STAFF: frozenset(
            {
                Permission.VIEW_ALL,
                Permission.CHANGE_ALL,
                Permission.BOOK_ANYWHERE,
                Permission.SET_PRICES,
                Permission.MANAGE_CATALOG,
                Permission.VIEW_AUDIT,
            }
        ),
        StaffRole.EDITOR: frozenset({Permission.VIEW_ALL, Permission.MANAGE_CATALOG}),
        StaffRole.ADVISOR: frozenset(),
        StaffRole.SUPPLIER: frozenset(),
    }
)


@attrs.frozen
class Principal:
    """Who is asking. Hosts build one from a verified token and pass it to every call.

    Use the constructors: :meth:`customer`, :meth:`partner`, :meth:`staff`,
    :meth:`webhook`, :meth:`system`; :meth:`with_origin` adds the request's IP
    address and user agent, which audit entries keep.

    .. versionadded:: 0.1
    """

    kind: PrincipalKind
    id: UUID | None = None
    role: StaffRole | None = None
    supplier_id: SupplierId | None = None
    name: str | None = None
    origin: RequestOrigin | None = attrs.field(default=None, eq=False)

    @classmethod
    def customer(cls, customer_id: CustomerId) -> Self:
        """A customer acting for themselves."""
        return cls(PrincipalKind.CUSTOMER, customer_id)

    @classmethod
    def partner(cls, partner_id: PartnerId) -> Self:
        """A partner's API client."""
        return cls(PrincipalKind.PARTNER, partner_id)

    @classmethod
    def staff(
        cls,
        staff_id: StaffId,
        role: StaffRole = StaffRole.STAFF,
        *,
        supplier_id: SupplierId | None = None,
    ) -> Self:
        """A member of staff with ``role`` (a supplier user also names its supplier)."""
        return cls(PrincipalKind.STAFF, staff_id, StaffRole(role), supplier_id)

    @classmethod
    def system(cls, name: str = "system") -> Self:
        """The library or a host job acting on its own behalf."""
        return cls(PrincipalKind.SYSTEM, name=name)

    @classmethod
    def webhook(cls, name: str) -> Self:
        """A verified callback from a provider (payments, SMS delivery), named by its source."""
        return cls(PrincipalKind.WEBHOOK, name=name)

    def with_origin(self, *, ip_address: str | None = None, user_agent: str | None = None) -> Self:
        """The same principal, with where its request came from (kept on audit entries)."""
        return attrs.evolve(self, origin=RequestOrigin(ip_address, user_agent))

    @property
    def actor(self) -> Actor:
        """How this principal is recorded on what it creates or changes."""
        if self.kind is PrincipalKind.SYSTEM:
            return Actor.system(self.name)
        if self.kind is PrincipalKind.WEBHOOK:
            return Actor(ActorKind.WEBHOOK, self.name)
        if self.kind is PrincipalKind.STAFF and self.role is StaffRole.SUPPLIER:
            return Actor(ActorKind.SUPPLIER, str(self.supplier_id or self.id))
        return Actor(ActorKind(self.kind.value), str(self.id))

    def has(self, permission: Permission) -> bool:
        """True when this principal holds ``permission`` (the system holds all; a
        webhook none: what it may do is :func:`may_apply_provider_report`).

        .. versionchanged:: 0.4 a webhook no longer holds ``view_all`` and ``change_all``.
        """
        if self.kind is PrincipalKind.SYSTEM:
            return True
        if self.kind is PrincipalKind.STAFF and self.role is not None:
            return permission in ROLE_PERMISSIONS[self.role]
        return False

    def is_customer(self, customer_id: UUID | None) -> bool:
        """True when this is the customer ``customer_id`` acting for themselves."""
        return self.kind is PrincipalKind.CUSTOMER and self.id == customer_id

    def is_partner(self, partner_id: UUID | None = None) -> bool:
        """True for a partner (and, if given, that very partner)."""
        return self.kind is PrincipalKind.PARTNER and (partner_id is None or self.id == partner_id)

    def __str__(self) -> str:
        return str(self.actor) if self.role is None else f"{self.actor}({self.role.value})"


def _id(principal: Principal) -> UUID:
    if principal.id is None:
        msg = f"{principal} has no id"
        raise PermissionDeniedError(msg)
    return principal.id


def require(allowed: bool, message: str) -> None:
    """Raise :class:`PermissionDeniedError` with ``message`` unless ``allowed``."""
    if not allowed:
        raise PermissionDeniedError(message)


def _owns_customer(principal: Principal, customer: Customer) -> bool:
    """The customer themself, or the partner the customer belongs to."""
    return principal.is_customer(customer.id) or (
        customer.partner_id is not None and principal.is_partner(customer.partner_id)
    )


def can_view_customer(principal: Principal, customer: Customer) -> bool:
    """May ``principal`` read ``customer`` (and so their travelers)?"""
    return principal.has(Permission.VIEW_ALL) or _owns_customer(principal, customer)


def can_change_customer(principal: Principal, customer: Customer) -> bool:
    """May ``principal`` change ``customer``'s profile and travelers?"""
    return principal.has(Permission.CHANGE_ALL) or _owns_customer(principal, customer)


def _advisor_or_supplier_sees(principal: Principal, booking: Booking) -> bool:
    if principal.kind is not PrincipalKind.STAFF:
        return False
    if principal.role is StaffRole.ADVISOR:
        return booking.assignee_id is not None and booking.assignee_id == principal.id
    if principal.role is StaffRole.SUPPLIER:
        return booking.supplier_id is not None and booking.supplier_id == principal.supplier_id
    return False


def can_view_booking(principal: Principal, booking: Booking) -> bool:
    """May ``principal`` read ``booking``?"""
    if principal.has(Permission.VIEW_ALL):
        return True
    return (
        principal.is_customer(booking.customer_id)
        or (booking.partner_id is not None and principal.is_partner(booking.partner_id))
        or _advisor_or_supplier_sees(principal, booking)
    )


def can_change_booking(principal: Principal, booking: Booking) -> bool:
    """May ``principal`` change or cancel ``booking``?"""
    if principal.has(Permission.CHANGE_ALL):
        return True
    if principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR:
        return booking.assignee_id is not None and booking.assignee_id == principal.id
    return principal.is_customer(booking.customer_id) or (
        booking.partner_id is not None and principal.is_partner(booking.partner_id)
    )


def check_may_book(
    principal: Principal,
    *,
    customer_id: CustomerId,
    location: Location,
    partner: Partner | None,
) -> None:
    """Refuse a booking ``principal`` may not make.

    ``partner`` is the loaded partner record when ``principal`` is a partner.

    Raises:
        PermissionDeniedError: a customer booking for someone else, a partner at a
            location it is not allowed (or while inactive), or staff without
            ``book_anywhere``.
    """
    if principal.has(Permission.BOOK_ANYWHERE):
        return
    if principal.kind is PrincipalKind.CUSTOMER:
        require(principal.id == customer_id, "customers can only book for themselves")
        return
    if principal.kind is PrincipalKind.PARTNER:
        require(partner is not None and partner.id == principal.id, "unknown partner")
        assert partner is not None
        require(partner.is_active, f"partner {partner.name} is not active")
        require(
            partner.may_book_at(location.id),
            f"partner {partner.name} may not book at location {location.code}",
        )
        return
    raise PermissionDeniedError(f"{principal} may not create bookings")


def scope_bookings(principal: Principal, wanted: BookingFilter) -> BookingFilter:
    """Narrow ``wanted`` to what ``principal`` may see.

    A customer's own bookings include the archived ones (``include_archived``).

    Raises:
        PermissionDeniedError: the filter explicitly asks for someone else's bookings.
    """
    if principal.has(Permission.VIEW_ALL):
        return wanted
    if principal.kind is PrincipalKind.CUSTOMER:
        require(wanted.customer_id in (None, principal.id), "customers see only their own bookings")
        # Archiving tidies the operator's lists; a customer's own history keeps them all.
        return attrs.evolve(wanted, customer_id=CustomerId(_id(principal)), include_archived=True)
    if principal.kind is PrincipalKind.PARTNER:
        require(wanted.partner_id in (None, principal.id), "partners see only their own bookings")
        partner = PartnerId(_id(principal))
        # The text search reads customers too: only those the partner may read.
        return attrs.evolve(wanted, partner_id=partner, text_customers_of=partner)
    if principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR:
        require(
            wanted.assignee_id in (None, principal.id),
            "advisors see only bookings assigned to them",
        )
        advisor = StaffId(_id(principal))
        return attrs.evolve(wanted, assignee_id=advisor, text_without_customers=True)
    if principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.SUPPLIER:
        require(principal.supplier_id is not None, "this supplier login names no supplier")
        require(
            wanted.supplier_id in (None, principal.supplier_id),
            "suppliers see only their own bookings",
        )
        return attrs.evolve(wanted, supplier_id=principal.supplier_id, text_without_customers=True)
    raise PermissionDeniedError(f"{principal} may not list bookings")


def scope_customers(principal: Principal, wanted: CustomerFilter) -> CustomerFilter:
    """Narrow ``wanted`` to the customers ``principal`` may see.

    Raises:
        PermissionDeniedError: the filter asks for another partner's customers, or
            the principal may not list customers at all.
    """
    if principal.has(Permission.VIEW_ALL):
        return wanted
    if principal.kind is PrincipalKind.PARTNER:
        require(wanted.partner_id in (None, principal.id), "partners see only their own customers")
        return attrs.evolve(wanted, partner_id=PartnerId(_id(principal)))
    if principal.kind is PrincipalKind.CUSTOMER:
        return attrs.evolve(wanted, customer_id=CustomerId(_id(principal)))
    raise PermissionDeniedError(f"{principal} may not list customers")


def check_may_cancel(
    principal: Principal,
    booking: Booking,
    *,
    now: datetime,
    cancellation: CancellationPolicy | None = None,
) -> None:
    """Refuse a cancellation ``principal`` may not make.

    Customers and partners may cancel their own bookings online before the
    ``cancellation`` policy's deadline (its ``self_service_until`` before the
    start; without a policy, or by default, until the slot starts: partners
    cancel "own bookings, before date"); staff who may change all bookings and the
    booking's advisor may cancel at any time.

    Raises:
        PermissionDeniedError: not the principal's booking, or too late for them
            (the message says until when they could).

    .. versionchanged:: 0.4 ``cancellation``.
    """
    require(
        can_change_booking(principal, booking),
        f"{principal} may not cancel booking {booking.reference}",
    )
    self_service = principal.kind in (PrincipalKind.CUSTOMER, PrincipalKind.PARTNER)
    if not self_service:
        return
    rules = cancellation or _UNTIL_START
    deadline = rules.self_service_deadline(booking.starts_at)
    if now < deadline:
        return
    if not rules.self_service_until:
        msg = (
            f"booking {booking.reference} started at {booking.starts_at.isoformat()} "
            "and can no longer be cancelled online; contact the operator"
        )
    else:
        msg = (
            f"booking {booking.reference} could be cancelled online until "
            f"{deadline.isoformat()} ({rules.self_service_until} before it starts at "
            f"{booking.starts_at.isoformat()}); contact the operator"
        )
    raise PermissionDeniedError(msg)


#: Cancelling online until the start: the rule without a policy.
_UNTIL_START = CancellationPolicy()


#: Booking fields that only staff may edit (or the assigned advisor, for notes).
STAFF_ONLY_FIELDS = frozenset({"internal_notes", "assignee_id"})


def check_may_edit(principal: Principal, booking: Booking, fields: frozenset[str]) -> None:
    """Refuse an edit of ``fields`` on ``booking`` that ``principal`` may not make.

    Anyone who may change the booking may edit its referral source and external
    id; internal notes are for staff and the assigned advisor; only staff who may
    change all bookings reassign them.

    Raises:
        PermissionDeniedError: naming the first field ``principal`` may not edit.
    """
    require(
        can_change_booking(principal, booking),
        f"{principal} may not change booking {booking.reference}",
    )
    check_may_write_fields(principal, fields)


def check_may_write_fields(principal: Principal, fields: frozenset[str]) -> None:
    """Refuse ``principal`` writing any of ``fields`` that is staff-only, on any booking.

    The field rule of :func:`check_may_edit`, for every path that writes a
    booking's fields (booking, accepting a waiting-list offer, editing): staff
    who may change all bookings write every field, the assigned advisor the
    internal notes; a partner or a customer none of :data:`STAFF_ONLY_FIELDS`.

    Raises:
        PermissionDeniedError: naming the first field ``principal`` may not write,
            as :func:`check_may_edit` does.

    .. versionadded:: 0.4
    """
    if principal.has(Permission.CHANGE_ALL):
        return
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    for field in sorted(fields & STAFF_ONLY_FIELDS):
        if field == "internal_notes" and advisor:
            continue
        raise PermissionDeniedError(f"{principal} may not edit {field}")


def check_may_transition(
    principal: Principal,
    booking: Booking,
    *,
    lifecycle: Lifecycle,
    target: str,
    now: datetime,
    cancellation: CancellationPolicy | None = None,
) -> None:
    """Refuse a status move ``principal`` may not make.

    Cancelling follows :func:`check_may_cancel` (with the ``cancellation``
    policy). Other moves are for staff who may change every booking, the
    booking's advisor, its supplier's users and the system; customers and
    partners may only cancel. A provider's webhook makes none: the moves a
    payment causes are the payment service's own
    (:func:`may_apply_provider_report`). A supplier's user may make any
    move the lifecycle allows on a booking of its supplier (to ``completed``
    or ``no_show`` too), but not cancel it.

    Raises:
        PermissionDeniedError: naming the principal, the booking and the target.

    .. versionchanged:: 0.4 ``cancellation``; a webhook is refused.
    """
    if target == lifecycle.cancelled:
        check_may_cancel(principal, booking, now=now, cancellation=cancellation)
        return
    supplier = (
        principal.kind is PrincipalKind.STAFF
        and principal.role is StaffRole.SUPPLIER
        and _advisor_or_supplier_sees(principal, booking)
    )
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    allowed = (
        principal.has(Permission.CHANGE_ALL)
        or supplier
        or (advisor and can_change_booking(principal, booking))
    )
    require(allowed, f"{principal} may not move booking {booking.reference} to {target!r}")


def check_may_record_attendance(principal: Principal, booking: Booking) -> None:
    """Refuse ``principal`` recording who turned up to ``booking``'s slot.

    The rule of the staff's moves to ``completed`` and ``no_show``
    (:func:`check_may_transition`), for people only: staff who may change every
    booking, the booking's advisor, its supplier's users, and the system.
    Customers, partners and webhooks never mark attendance.

    Raises:
        PermissionDeniedError: naming the principal and the booking.

    .. versionadded:: 0.4
    """
    staff = principal.kind is PrincipalKind.STAFF
    allowed = principal.kind is PrincipalKind.SYSTEM or (
        staff
        and (
            principal.has(Permission.CHANGE_ALL)
            or (
                principal.role is StaffRole.SUPPLIER
                and _advisor_or_supplier_sees(principal, booking)
            )
            or (principal.role is StaffRole.ADVISOR and can_change_booking(principal, booking))
        )
    )
    require(allowed, f"{principal} may not record attendance on booking {booking.reference}")


def may_apply_provider_report(principal: Principal) -> bool:
    """May ``principal`` record what a provider reports: a payment's or a refund's
    status (and the booking moves, invoices, flags and audit entries that follow
    from it), a message's delivery status? A provider's webhook and the system.

    This is all a webhook may do: it holds no permission (:meth:`Principal.has`),
    so it sees and changes nothing else, and every staff-only change refuses it.

    .. versionadded:: 0.4
    """
    return principal.kind in (PrincipalKind.WEBHOOK, PrincipalKind.SYSTEM)


def may_read_roll_calls(principal: Principal) -> bool:
    """May ``principal`` read a slot's roll call? Staff and the system (each staff
    member sees the bookings they may see).

    .. versionadded:: 0.4
    """
    return principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)


def can_view_audit(principal: Principal, booking: Booking | None = None) -> bool:
    """May ``principal`` read the audit trail (of ``booking``, when given)?

    Staff with ``view_audit`` read every trail; an advisor reads the trail of
    the bookings assigned to them (an advisor's history).
    """
    if principal.has(Permission.VIEW_AUDIT):
        return True
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    return booking is not None and advisor and _advisor_or_supplier_sees(principal, booking)


# --------------------------------------------------------- staff notes (0.4)
#
# Staff notes stay with staff: whatever a service hands a partner or a customer
# (a webhook too) goes through these, at the service boundary, so a host that
# serialises the library's objects as they are leaks nothing written for staff.


def sees_staff_notes(principal: Principal) -> bool:
    """May ``principal`` read what staff write for staff? Staff and the system only.

    .. versionadded:: 0.4
    """
    return principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)


def booking_for(principal: Principal, booking: Booking) -> Booking:
    """``booking`` as ``principal`` may read it: for anyone but staff and the system,
    a copy without its internal notes (the stored booking is left alone).

    .. versionadded:: 0.4
    """
    if sees_staff_notes(principal) or booking.internal_notes is None:
        return booking
    return attrs.evolve(booking, internal_notes=None)


def bookings_for(principal: Principal, bookings: Iterable[Booking]) -> list[Booking]:
    """Each of ``bookings`` as :func:`booking_for` gives it to ``principal``.

    .. versionadded:: 0.4
    """
    return [booking_for(principal, b) for b in bookings]


def booking_page_for(principal: Principal, page: Page[Booking]) -> Page[Booking]:
    """``page`` with its bookings as :func:`booking_for` gives them to ``principal``.

    .. versionadded:: 0.4
    """
    if sees_staff_notes(principal):
        return page
    return attrs.evolve(page, items=bookings_for(principal, page.items))


def sees_move_note(principal: Principal, actor: Actor) -> bool:
    """May ``principal`` read the note (and metadata) of a status move ``actor`` made?

    Staff and the system read every move's note; anyone else only the notes of
    the moves they made themselves (a customer as that customer, a partner
    through its own API client), never those staff, suppliers, webhooks, the
    system or another party wrote.

    .. versionadded:: 0.4
    """
    return sees_staff_notes(principal) or actor == principal.actor


def history_for(principal: Principal, events: Iterable[LifecycleEvent]) -> list[LifecycleEvent]:
    """A booking's status history as ``principal`` may read it.

    Every move stays, with who made it and when; on a move whose note
    ``principal`` may not read (:func:`sees_move_note`) the note, the metadata
    and the request's idempotency key and fingerprint are left out (``None``,
    empty) of the copy ``principal`` gets, all but the cancellation terms a
    cancellation recorded (:data:`~bookingcore.domain.CANCELLATION_METADATA_KEYS`):
    what the customer is owed is theirs to read, whoever cancelled.

    .. versionadded:: 0.4
    """
    return [
        e
        if sees_move_note(principal, e.actor)
        or not (e.note or e.metadata or e.idempotency_key or e.request_fingerprint)
        else attrs.evolve(
            e,
            note=None,
            metadata={k: v for k, v in e.metadata.items() if k in CANCELLATION_METADATA_KEYS},
            idempotency_key=None,
            request_fingerprint=None,
        )
        for e in events
    ]


def can_view_partner_webhooks(principal: Principal, partner_id: UUID | None = None) -> bool:
    """May ``principal`` read partner webhook deliveries (of ``partner_id``, when given)?

    Staff and the system who see every booking or manage partners read all of
    them; a partner reads its own (with ``partner_id`` given, only that one's).

    .. versionadded:: 0.2
    """
    staff_like = principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
    if staff_like and (
        principal.has(Permission.MANAGE_PARTNERS) or principal.has(Permission.VIEW_ALL)
    ):
        return True
    return principal.is_partner() and (partner_id is None or principal.is_partner(partner_id))


def may_resend_partner_webhooks(principal: Principal) -> bool:
    """May ``principal`` send a partner webhook again? Staff and the system who manage
    partners or change every booking; never a partner.

    .. versionadded:: 0.2
    """
    staff_like = principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
    return staff_like and (
        principal.has(Permission.MANAGE_PARTNERS) or principal.has(Permission.CHANGE_ALL)
    )


# --------------------------------------------------------- the travel operating system (0.3)
#
# Line items: staff who see everything see every item; a supplier's users see
# and confirm only their own supplier's items (never the rest of a booking
# that mixes suppliers); anyone else sees an item when they may see its booking.
# Leads and quotations: staff who see everything see them all; an advisor sees
# the leads assigned to them; a partner the leads it captured; a customer their
# own leads and quotations, and nobody else's.


def _supplier_user(principal: Principal) -> bool:
    return principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.SUPPLIER


def can_view_item(principal: Principal, item: BookingItem, booking: Booking | None) -> bool:
    """May ``principal`` read the line item ``item`` (of ``booking``)?

    .. versionadded:: 0.3
    """
    if principal.has(Permission.VIEW_ALL):
        return True
    if _supplier_user(principal):
        return item.supplier_id is not None and item.supplier_id == principal.supplier_id
    return booking is not None and can_view_booking(principal, booking)


def can_answer_for_item(principal: Principal, item: BookingItem) -> bool:
    """May ``principal`` confirm or reject ``item`` for its supplier?

    Staff who change everything, the system, and the users of the item's own
    supplier; nobody else (not the customer, not another supplier).

    .. versionadded:: 0.3
    """
    if principal.has(Permission.CHANGE_ALL):
        return True
    return (
        _supplier_user(principal)
        and item.supplier_id is not None
        and item.supplier_id == principal.supplier_id
    )


def can_view_lead(principal: Principal, lead: Lead) -> bool:
    """May ``principal`` read ``lead``?

    .. versionadded:: 0.3
    """
    if principal.has(Permission.VIEW_ALL):
        return True
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    return (
        principal.is_customer(lead.customer_id)
        or (lead.partner_id is not None and principal.is_partner(lead.partner_id))
        or (advisor and lead.assignee_id is not None and lead.assignee_id == principal.id)
    )


def scope_leads(principal: Principal, wanted: LeadFilter) -> LeadFilter | None:
    """Narrow ``wanted`` to the leads ``principal`` may see (:func:`can_view_lead`).

    ``None`` when nothing it asks for is visible: a customer asking for another
    customer's leads, an advisor for another's, a supplier's user for any.

    .. versionadded:: 0.3
    """
    if principal.has(Permission.VIEW_ALL):
        return wanted
    mine = principal.id
    if mine is None:
        return None
    if principal.kind is PrincipalKind.CUSTOMER and wanted.customer_id in (None, mine):
        return attrs.evolve(wanted, customer_id=CustomerId(mine))
    if principal.kind is PrincipalKind.PARTNER and wanted.partner_id in (None, mine):
        return attrs.evolve(wanted, partner_id=PartnerId(mine))
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    if advisor and wanted.assignee_id in (None, mine):
        return attrs.evolve(wanted, assignee_id=StaffId(mine))
    return None


def can_work_lead(principal: Principal, lead: Lead) -> bool:
    """May ``principal`` change ``lead`` (status, follow-up, assignment, conversion)?

    Staff who change everything, and the advisor the lead is assigned to.

    .. versionadded:: 0.3
    """
    if principal.has(Permission.CHANGE_ALL):
        return True
    advisor = principal.kind is PrincipalKind.STAFF and principal.role is StaffRole.ADVISOR
    return advisor and lead.assignee_id is not None and lead.assignee_id == principal.id


def can_view_quotation(principal: Principal, quotation: Quotation) -> bool:
    """May ``principal`` read ``quotation``? A customer reads only their own, and
    only once it was sent (:attr:`~bookingcore.domain.Quotation.was_sent`): a draft
    is the agency's work in progress.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       A customer no longer sees a draft that was never sent.
    """
    if principal.has(Permission.VIEW_ALL):
        return True
    return principal.is_customer(quotation.customer_id) and quotation.was_sent


def scope_quotations(principal: Principal, wanted: QuotationFilter) -> QuotationFilter | None:
    """Narrow ``wanted`` to the revisions ``principal`` may see (:func:`can_view_quotation`).

    ``None`` when nothing it asks for is visible: a customer asking for another
    customer's or for drafts, anyone else who does not see everything. A customer's
    own are narrowed to those sent (``sent_only``).

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       A customer's list leaves out the drafts never sent.
    """
    if principal.has(Permission.VIEW_ALL):
        return wanted
    mine = principal.id
    if (
        principal.kind is PrincipalKind.CUSTOMER
        and mine is not None
        and wanted.customer_id in (None, mine)
        and wanted.status is not QuotationStatus.DRAFT
    ):
        return attrs.evolve(wanted, customer_id=CustomerId(mine), sent_only=True)
    return None


def can_decide_quotation(principal: Principal, quotation: Quotation) -> bool:
    """May ``principal`` approve or reject ``quotation``: its customer, or staff for them.

    .. versionadded:: 0.3
    """
    return principal.has(Permission.CHANGE_ALL) or principal.is_customer(quotation.customer_id)


# --------------------------------------------------------- family accounts (0.4)


def can_view_family(principal: Principal, members: Iterable[UUID]) -> bool:
    """May ``principal`` read the family whose members are ``members``: its members'
    names and relations, their travelers' names? A member, and staff who see everything.

    .. versionadded:: 0.4
    """
    if principal.has(Permission.VIEW_ALL):
        return True
    return principal.kind is PrincipalKind.CUSTOMER and principal.id in set(members)


def can_manage_family(principal: Principal, owner_id: UUID) -> bool:
    """May ``principal`` invite into and remove from the family ``owner_id`` owns?
    Its owner, and staff who change everything.

    .. versionadded:: 0.4
    """
    return principal.has(Permission.CHANGE_ALL) or principal.is_customer(owner_id)


def can_read_message(principal: Principal, message: Communication) -> bool:
    """May ``principal``, who may read ``message``'s customer, read this message of
    theirs? Yes, but for a family invitation: it names another customer (the inviter),
    so only the invited customer and staff who see everything read it, never a
    partner; and for an assignment notice, which went to a staff member about the
    customer's booking: only staff who see everything read it.

    .. versionadded:: 0.4
    .. versionchanged:: 0.4
       Assignment notices (logged since they are sent the way every message is).
    """
    if message.type is CommunicationType.ASSIGNMENT:
        return principal.has(Permission.VIEW_ALL)
    if message.type is not CommunicationType.FAMILY_INVITATION:
        return True
    return principal.has(Permission.VIEW_ALL) or principal.is_customer(message.customer_id)


def can_book_family_traveler(
    principal: Principal, *, booker: UUID, traveler_owner: UUID, members: Iterable[UUID]
) -> bool:
    """May ``principal``, booking for the customer ``booker``, put on the booking a
    traveler saved by ``traveler_owner``, where ``members`` is ``booker``'s family?

    Yes when both are members of that family and the booking is made by
    ``booker`` themself or by staff who may book anywhere (for them); never by a
    partner, whose reach ends at the customers it made.

    .. versionadded:: 0.4
    """
    family = set(members)
    if booker not in family or traveler_owner not in family:
        return False
    return principal.is_customer(booker) or principal.has(Permission.BOOK_ANYWHERE)


# --------------------------------------------------------- sharing trips (0.4)


def can_share_booking(principal: Principal, booking: Booking) -> bool:
    """May ``principal`` make or revoke share links to ``booking``'s trip view? Its
    customer, the partner whose booking it is, and staff who change everything;
    never an advisor or supplier user (sharing is the customer's choice).

    .. versionadded:: 0.4
    """
    if principal.has(Permission.CHANGE_ALL):
        return True
    return principal.is_customer(booking.customer_id) or (
        booking.partner_id is not None and principal.is_partner(booking.partner_id)
    )


def can_view_share_links(principal: Principal, booking: Booking) -> bool:
    """May ``principal`` list ``booking``'s share links (masked)? Whoever may share
    it, and staff who see everything.

    .. versionadded:: 0.4
    """
    return principal.has(Permission.VIEW_ALL) or can_share_booking(principal, booking)
