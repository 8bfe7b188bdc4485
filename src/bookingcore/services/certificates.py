"""Certificates earned on completed bookings, their renewal reminders, and the compliance report.

::

    cert = core.certificates.issue(
        booking.id, kind="PADI Open Water", number="OW-2026-0042",
        expires_at=now + timedelta(days=730), principal=staff,
    )
    # a periodic job: one reminder per certificate and expiry date, 30 days ahead
    core.certificates.due_renewal_reminders(principal=system)
    report = core.certificates.compliance_report(CertificateFilter(kind="PADI Open Water"),
                                                 principal=staff)

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import parse_choice
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.bookings import Booking
from bookingcore.domain.certificates import (
    Certificate,
    CertificateFilter,
    CertificateId,
    CertificateState,
    reminder_horizon,
)
from bookingcore.domain.communications import Channel, Communication, CommunicationType
from bookingcore.domain.customers import ERASED_NAME, Customer
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import MAX_PAGE_SIZE, PageRequest
from bookingcore.domain.values import (
    BookingId,
    CommunicationId,
    CustomerId,
    TravelerId,
    ensure_aware,
)
from bookingcore.errors import (
    ConflictError,
    DeliveryError,
    NotFoundError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    claim_creation,
    claim_request,
    fingerprint,
    principal_key,
)
from bookingcore.services.communications import CommunicationService
from bookingcore.services.customers import CustomerService, status_groups

__all__ = [
    "DEFAULT_RENEWAL_LEAD",
    "MAX_RENEWAL_LEAD",
    "CertificateService",
    "ComplianceLine",
    "ComplianceReport",
]

#: How long before expiry a renewal reminder goes out, unless configured otherwise.
DEFAULT_RENEWAL_LEAD = timedelta(days=30)
#: The longest lead a reminder run accepts: a year (a leap year's too).
#:
#: .. versionadded:: 0.4
MAX_RENEWAL_LEAD = timedelta(days=366)


def _check_lead(lead: timedelta, field: str = "lead") -> timedelta:
    given: object = lead
    if not isinstance(given, timedelta) or not timedelta(0) < given <= MAX_RENEWAL_LEAD:
        msg = f"must be a timedelta longer than zero and at most {MAX_RENEWAL_LEAD.days} days"
        raise ValidationError.single(field, msg, "out_of_range")
    return lead


_ISSUED = ("kind", "number", "issued_at", "expires_at", "booking_id", "traveler_id")


@attrs.frozen
class ComplianceLine:
    """One certificate in the compliance report: who holds it and where it stands.

    .. versionadded:: 0.3
    """

    certificate: Certificate
    holder: str
    state: CertificateState


@attrs.frozen
class ComplianceReport:
    """Who holds what, and what expires when (compliance reporting).

    ``lines`` are sorted by expiry (certificates that never expire last);
    ``counts`` says how many are in each state.

    .. versionadded:: 0.3
    """

    generated_at: datetime
    lines: Sequence[ComplianceLine]

    @property
    def counts(self) -> dict[CertificateState, int]:
        """How many certificates are in each state."""
        found = dict.fromkeys(CertificateState, 0)
        for line in self.lines:
            found[line.state] += 1
        return found


class CertificateService:
    """Issue certificates on completed bookings, remind before they expire, report on them.

    ``reminder_lead`` is how long before expiry the renewal reminder goes out.

    Raises:
        ValidationError: on field ``reminder_lead`` when it is not a timedelta
            longer than zero and at most ``MAX_RENEWAL_LEAD``, when the service is
            made or the lead set.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       ``reminder_lead`` is checked when the service is made and whenever it is
       set, not at the first run.
    """

    def __init__(
        self,
        context: ServiceContext,
        communications: CommunicationService,
        *,
        reminder_lead: timedelta = DEFAULT_RENEWAL_LEAD,
    ) -> None:
        self._ctx = context
        self._communications = communications
        self._reminder_lead = _check_lead(reminder_lead, "reminder_lead")

    @property
    def reminder_lead(self) -> timedelta:
        """How long before expiry the renewal reminder goes out (the compliance report's
        ``expiring`` follows it too).

        Raises:
            ValidationError: on ``reminder_lead`` when set to anything but a timedelta
                longer than zero and at most :data:`MAX_RENEWAL_LEAD`; the lead stays
                as it was.
        """
        return self._reminder_lead

    @reminder_lead.setter
    def reminder_lead(self, lead: timedelta) -> None:
        self._reminder_lead = _check_lead(lead, "reminder_lead")

    def _is_completed(self, booking: Booking) -> bool:
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if booking.status.lower() == "completed":
            return True
        # A terminal state that gives the seats back (travel's ``refunded``) did not take place.
        return (
            lifecycle.is_terminal(booking.status)
            and lifecycle.holds_capacity(booking.status)
            and not status_groups([lifecycle]).has_ended(booking.lifecycle, booking.status)
        )

    def issue(
        self,
        booking_id: BookingId,
        *,
        kind: str,
        number: str,
        principal: Principal,
        traveler_id: TravelerId | None = None,
        issued_at: datetime | None = None,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Certificate:
        """Record a certificate earned on a completed booking.

        It belongs to the booking's customer and, with ``traveler_id``, to that
        traveler of the booking. ``issued_at`` defaults to now.

        A retry with the same ``idempotency_key`` and the same request (the
        booking, ``kind``, ``number``, ``traveler_id``, ``issued_at`` and
        ``expires_at`` as given) returns the certificate the first call
        recorded, as it is now (renewed since, perhaps), and records nothing
        more: not a ``DuplicateError`` on its number.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` is not staff who may change the booking.
            ValidationError: the booking is not completed (``booking_id``), the
                traveler is not on it (``traveler_id``), or bad kind, number,
                issue or expiry date (naive, the expiry not after the issue, or
                the issue on a day after today on the business's calendar); a
                malformed ``idempotency_key``.
            DuplicateError: a certificate of this kind already has this number.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``issued_at`` may not fall after today in ``settings.timezone``;
           ``idempotency_key``.
        """
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        if issued_at is not None:
            issued_at = ensure_aware(issued_at, "issued_at")
            today = self._ctx.today()
            if self._ctx.settings.local(issued_at).date() > today:
                msg = f"must not fall after today ({today.isoformat()})"
                raise ValidationError.single("issued_at", msg, "future")
        with self._ctx.transaction() as tx:
            booking = tx.uow.bookings.get(booking_id)
            if booking is None or not policy.can_view_booking(principal, booking):
                raise NotFoundError("booking", booking_id)
            policy.require(
                principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
                and policy.can_change_booking(principal, booking),
                f"{principal} may not issue certificates for booking {booking.reference}",
            )
            certificate_id = None
            if key is not None:
                asked = fingerprint(
                    "certificate",
                    principal,
                    booking_id=booking_id,
                    kind=kind,
                    number=number,
                    traveler_id=traveler_id,
                    issued_at=issued_at,
                    expires_at=expires_at,
                )
                certificate_id, prior = claim_creation(
                    tx.uow,
                    key,
                    "certificate",
                    now,
                    asked,
                    as_id=CertificateId,
                    load=tx.uow.certificates.get,
                )
                if prior is not None:
                    return prior
            if not self._is_completed(booking):
                msg = f"booking {booking.reference} is {booking.status}, not completed"
                raise ValidationError.single("booking_id", msg, "not_completed")
            if traveler_id is not None and traveler_id not in {
                t.traveler_id for t in booking.travelers
            }:
                msg = f"is not a traveler of booking {booking.reference}"
                raise ValidationError.single("traveler_id", msg, "not_on_booking")
            certificate = Certificate.issue(
                certificate_id=CertificateId(certificate_id or self._ctx.ids.new_id()),
                customer_id=booking.customer_id,
                booking_id=booking.id,
                traveler_id=traveler_id,
                kind=kind,
                number=number,
                issued_at=issued_at or now,
                expires_at=expires_at,
                now=now,
            )
            tx.uow.certificates.add(certificate)
            tx.audit(
                principal,
                entity="certificate",
                entity_id=certificate.id,
                action=AuditAction.CREATED,
                new=snapshot(certificate, _ISSUED),
                booking_id=booking.id,
            )
            tx.commit()
            return certificate

    def renew(
        self,
        certificate_id: CertificateId,
        expires_at: datetime,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Certificate:
        """Move a certificate's expiry; a reminder goes out again before the new date.

        A retry with the same ``idempotency_key`` and the same request (the
        certificate and ``expires_at``) returns the certificate as it is now
        and changes nothing more (not a renewal made since, nor its version),
        even once the asked expiry is no longer after today.

        Raises:
            PermissionDeniedError: only staff who may change everything, and the
                system, renew (not a provider's webhook).
            NotFoundError: no such certificate.
            ValidationError: on ``expires_at``: naive (``naive_datetime``), not after
                the issue date (``out_of_range``), or not on a day after today on
                the business's calendar (``past``); a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           The new expiry must fall after today in ``settings.timezone``;
           ``idempotency_key``.
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not renew",
        )
        key = principal_key(principal, idempotency_key)
        expires_at = ensure_aware(expires_at, "expires_at")
        with self._ctx.transaction() as tx:
            entry_id, fresh = None, True
            if key is not None:
                asked = fingerprint(
                    "certificate_renewal",
                    principal,
                    certificate_id=certificate_id,
                    expires_at=expires_at,
                )
                entry_id, fresh = claim_request(
                    tx.uow, key, "certificate_renewal", self._ctx.now(), asked
                )
            certificate = tx.uow.certificates.get(certificate_id)
            if certificate is None:
                raise NotFoundError("certificate", certificate_id)
            if not fresh:
                return certificate
            today = self._ctx.today()
            if self._ctx.settings.local(expires_at).date() <= today:
                msg = f"must fall after today ({today.isoformat()}) to renew"
                raise ValidationError.single("expires_at", msg, "past")
            before = snapshot(certificate, ("expires_at",))
            certificate.renew(expires_at, now=self._ctx.now())
            tx.audit(
                principal,
                entity="certificate",
                entity_id=certificate.id,
                action=AuditAction.UPDATED,
                old=before,
                new=snapshot(certificate, ("expires_at",)),
                booking_id=certificate.booking_id,
                entry_id=entry_id,
            )
            tx.commit()
            return certificate

    def for_customer(
        self, customer_id: CustomerId, *, principal: Principal
    ) -> Sequence[Certificate]:
        """The customer's certificates, newest first: those of the bookings ``principal``
        may see, as the customer view lists them (a partner, those earned on its own
        bookings).

        Raises:
            NotFoundError: no such customer visible to ``principal``.

        .. versionchanged:: 0.4
           Only the certificates of bookings ``principal`` may see (a partner got
           those of other channels' bookings of its customers too).
        """
        with self._ctx.uow_factory() as uow:
            customer = CustomerService.load_visible(uow, customer_id, principal)
            earned = list(_walk(uow, CertificateFilter(customer_id=customer_id)))
            if not earned or principal.has(Permission.VIEW_ALL):
                return earned
            visible = CustomerService.visible_bookings(
                uow, customer, principal, [c.booking_id for c in earned]
            )
            return [c for c in earned if visible(c.booking_id)]

    def due_renewal_reminders(
        self,
        now: datetime | None = None,
        *,
        principal: Principal,
        lead: timedelta | None = None,
        channel: Channel | str | None = None,
    ) -> Sequence[Communication]:
        """Send a renewal reminder for every certificate expiring within ``lead``
        (the service's ``reminder_lead`` by default) of ``now``, once per
        certificate and expiry date: those the compliance report shows expiring at
        ``now``, one expiring exactly ``lead`` after ``now`` included
        (:func:`~bookingcore.domain.certificates.reminder_horizon`).

        Each reminder is logged as a ``certificate`` communication with the
        dedupe key ``certificate-renewal:<id>:<expiry>`` and the certificate
        is marked reminded in the same unit of work, so a second run, or a
        second worker at the same time, sends nothing again. A reminder the
        notifier refuses is logged as failed and the others still go out.
        Erased customers are skipped (there is nobody left to tell).

        Raises:
            PermissionDeniedError: ``principal`` may not send messages for all bookings.
            ValidationError: on ``channel`` when it is not a channel, on ``now``
                when it is naive, on ``lead`` when it is not longer than zero and at
                most :data:`MAX_RENEWAL_LEAD`.
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not send reminders")
        if channel is not None:
            channel = parse_choice(Channel, channel, "channel", what="a channel")
        moment = self._ctx.now() if now is None else ensure_aware(now, "now")
        window = _check_lead(lead if lead is not None else self.reminder_lead)
        sent: list[Communication] = []
        while True:
            with self._ctx.uow_factory() as uow:
                due = uow.certificates.list_expiring(
                    reminder_horizon(moment, window), after=moment, limit=100
                )
            if not due:
                return sent
            for certificate in due:
                logged = self._log_reminder(certificate.id, moment, window, principal, channel)
                if logged is None:
                    continue
                try:
                    sent.append(self._communications.deliver(logged))
                except DeliveryError:
                    with self._ctx.uow_factory() as uow:
                        failed = uow.communications.get(logged)
                    if failed is not None:
                        sent.append(failed)

    def _log_reminder(
        self,
        certificate_id: CertificateId,
        now: datetime,
        lead: timedelta,
        principal: Principal,
        channel: Channel | str | None,
    ) -> CommunicationId | None:
        """In one unit of work: the reminder logged (pending) and the certificate marked."""
        try:
            with self._ctx.transaction() as tx:
                certificate = tx.uow.certificates.get(certificate_id)
                if certificate is None or not certificate.needs_reminder(now, lead=lead):
                    return None
                customer = tx.uow.customers.get(certificate.customer_id)
                certificate.mark_reminded(now=now)
                if customer is None or customer.is_erased:
                    tx.commit()
                    return None
                message = self._reminder(certificate, customer, principal, channel, now)
                assert message.dedupe_key is not None
                if tx.uow.communications.get_by_dedupe_key(message.dedupe_key) is not None:
                    # Renewed back to an expiry reminded of already: that reminder stands.
                    tx.commit()
                    return None
                tx.uow.communications.add(message)
                tx.commit()
                return message.id
        except ConflictError:
            return None  # another worker reminded this certificate first

    def _reminder(
        self,
        certificate: Certificate,
        customer: Customer,
        principal: Principal,
        channel: Channel | str | None,
        now: datetime,
    ) -> Communication:
        chosen = Channel(channel) if channel else (Channel.EMAIL if customer.email else Channel.SMS)
        if chosen is Channel.EMAIL and customer.email is None:
            chosen = Channel.SMS
        recipient = customer.email.value if chosen is Channel.EMAIL and customer.email else None
        assert certificate.expires_at is not None
        expiry = self._ctx.settings.local(certificate.expires_at).date().isoformat()
        business = self._ctx.settings.business_name
        return Communication(
            id=CommunicationId(self._ctx.ids.new_id()),
            customer_id=customer.id,
            booking_id=certificate.booking_id,
            type=CommunicationType.CERTIFICATE,
            channel=chosen,
            recipient=recipient or customer.phone.e164,
            subject=f"Your {certificate.kind} certificate expires on {expiry}",
            content=(
                f"Hello {customer.name or 'there'}, your {certificate.kind} certificate "
                f"{certificate.number} expires on {expiry}. Book a renewal with {business}."
            ),
            template_used="certificate_renewal",
            created_at=now,
            created_by=principal.actor,
            dedupe_key=f"certificate-renewal:{certificate.id}:{certificate.expires_at.isoformat()}",
            sending_since=self._ctx.now(),
        )

    def compliance_report(
        self,
        query: CertificateFilter | None = None,
        *,
        principal: Principal,
        now: datetime | None = None,
    ) -> ComplianceReport:
        """Who holds which certificate and where each stands (valid, expiring,
        expired, permanent) at ``now``, for the certificates matching ``query``.

        Staff who see everything see all; a partner sees its own customers', those
        earned on its own bookings (as :meth:`for_customer` gives them). The
        certificates of an erased customer stay, held by ``[erased]``.
        Reads one page of certificates and their holders at a time.

        Raises:
            PermissionDeniedError: ``principal`` may not list customers.
            ValidationError: on ``now`` when it is naive.
        """
        moment = self._ctx.now() if now is None else ensure_aware(now, "now")
        wanted = query or CertificateFilter()
        lines: list[ComplianceLine] = []
        may_list = principal.has(Permission.VIEW_ALL) or principal.kind is PrincipalKind.PARTNER
        policy.require(may_list, f"{principal} may not read the compliance report")
        sees_all = principal.has(Permission.VIEW_ALL)
        with self._ctx.uow_factory() as uow:
            # A partner's customers' bookings it may see, read once per customer.
            visible: dict[CustomerId, Callable[[BookingId], bool]] = {}
            for page in _pages(uow, wanted):
                holders = uow.customers.get_many({c.customer_id for c in page})
                owners = {c.customer_id for c in page if c.traveler_id}
                travelers = {
                    t.id: t
                    for saved in uow.travelers.list_for_customers(owners).values()
                    for t in saved
                }
                # A traveler deleted since still holds the certificate they earned.
                for missing in {c.traveler_id for c in page if c.traveler_id} - travelers.keys():
                    if (deleted := uow.travelers.get(missing)) is not None:
                        travelers[deleted.id] = deleted
                for certificate in page:
                    customer = holders.get(certificate.customer_id)
                    if customer is None or not policy.can_view_customer(principal, customer):
                        continue
                    if not sees_all:
                        if customer.id not in visible:
                            visible[customer.id] = CustomerService.visible_bookings(
                                uow, customer, principal, [certificate.booking_id]
                            )
                        if not visible[customer.id](certificate.booking_id):
                            continue
                    traveler = (
                        travelers.get(certificate.traveler_id) if certificate.traveler_id else None
                    )
                    if traveler is not None:
                        holder = traveler.name
                    elif customer.is_erased:
                        holder = ERASED_NAME  # not the placeholder phone
                    else:
                        holder = customer.name or customer.phone.e164
                    state = certificate.state(moment, lead=self.reminder_lead)
                    lines.append(ComplianceLine(certificate, holder, state))
        far = datetime.max.replace(tzinfo=moment.tzinfo)
        lines.sort(key=lambda line: (line.certificate.expires_at or far, line.certificate.id.bytes))
        return ComplianceReport(generated_at=moment, lines=lines)


def _pages(uow: UnitOfWork, query: CertificateFilter) -> Iterator[Sequence[Certificate]]:
    request = PageRequest(limit=MAX_PAGE_SIZE)
    while True:
        page = uow.certificates.list(query, request)
        yield page.items
        if page.next_cursor is None:
            return
        request = PageRequest(limit=MAX_PAGE_SIZE, cursor=page.next_cursor)


def _walk(uow: UnitOfWork, query: CertificateFilter) -> Iterator[Certificate]:
    for page in _pages(uow, query):
        yield from page
