"""Messages to customers: send from templates, log, track delivery, remind.

Every message is a :class:`~bookingcore.domain.communications.Communication`
logged before it is sent, so a message that fails still has a record with its
reason. Delivery callbacks move the status forward only. Reminders are derived
from bookings: a booking whose slot starts within the reminder window gets one
reminder, however many workers run the reminder job at once; one that failed
in a way that may work later is tried again after
``Settings.reminder_retry_after``, up to ``Settings.reminder_attempts`` attempts
(:meth:`CommunicationService.send_due_reminders`).

A keyed message that failed is sent again by the next send that finds it, once:
the resend claims it in storage first
(:meth:`~bookingcore.ports.CommunicationRepository.requeue_failed`, a
compare-and-set), so of two senders that find it failed at the same moment one
sends it and the other answers it as it is. A crash between the claim and the
send leaves it pending, as a crash between a first logging and its send does.

A message is handed over for sending when it is logged pending by a use case
that sends it after commit, and when a failed one is claimed again: its
``sending_since`` records when. The ``communications.resend_stalled`` job
(:meth:`CommunicationService.resend_stalled`) sends once more a message still
pending ``Settings.stalled_message_after`` later (its sender crashed before the
notifier answered), claiming it in storage first
(:meth:`~bookingcore.ports.CommunicationRepository.claim_stalled`), so two runs
never both send it. :meth:`CommunicationService.deliver_logged` sends a
pending message nobody holds at once.

Every sender claims a message before it hands it to the notifier, the first
sender as the resenders do: a compare-and-set on its ``sending_claim``
(:meth:`~bookingcore.ports.CommunicationRepository.claim_for_sending`, a token
of the sender's own, which also sets ``sending_since`` to when it went to the
gateway), so a sender that loses the claim does not hand the message over
again. A sender whose claim was taken over while it waited on the notifier (it
was slower than ``Settings.stalled_message_after``, so the stalled-message job
took the message over and sent it too) records its answer as follows; the claim
holder's answer is recorded as usual:

* a late **success** is recorded forward only, by the status order
  (:attr:`~bookingcore.domain.CommunicationStatus.rank`): a message still
  pending (the resender is still at the gateway) becomes sent, and the
  resender's answer then changes nothing; a message the resender logged sent
  keeps that send's ``sent_at`` and provider id; one it logged failed stays
  failed (``failed`` ranks above ``sent``) but gains the send time and provider
  id it lacked, so the provider's delivery report finds it and moves it on
  (``delivered`` ranks above ``failed``). A message is never reported sent
  twice (one ``communication.status_changed`` event).
* a late **failure** is dropped: it cannot turn a message another sender holds,
  or sent, into a failed one that a keyed send would then send a third time.

The message goes to the gateway with the same ``communication_id`` both times,
so a gateway that takes an idempotency key drops the second; the claim cannot
stop a sender that is already inside the notifier's call.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import check_text
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
    MessageTemplate,
    check_message_length,
    message_time,
    push_recipient,
)
from bookingcore.domain.customers import Customer
from bookingcore.domain.devices import PushDeviceId
from bookingcore.domain.events import CommunicationStatusChanged
from bookingcore.domain.families import FamilyInvitationId, invitation_message_key
from bookingcore.domain.idempotency import caller_key, request_digest
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, PageRequest
from bookingcore.domain.values import (
    BookingId,
    CommunicationId,
    CustomerId,
    StaffId,
    ensure_aware,
)
from bookingcore.errors import (
    ConflictError,
    DeliveryError,
    IdempotencyConflictError,
    NotFoundError,
    RecipientGoneError,
    ValidationError,
)
from bookingcore.ports.messaging import Notifier, OutgoingMessage, SendReceipt
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_key,
    fingerprint,
    principal_key,
)
from bookingcore.services.customers import CustomerService
from bookingcore.services.devices import PushDeviceService

__all__ = ["CommunicationService", "confirmation_key"]

#: Who deactivates a device whose token the push service no longer knows.
_PUSH_SERVICE = Principal.system("push")

_log = logging.getLogger("bookingcore.communications")

#: Why a reminder run passes a booking over, nothing logged, and reminds the others: its
#: customer has no address on the channel asked for, or its text is too long for it.
_PASSED_OVER = frozenset({"no_address", "too_long"})

#: How far ahead of a slot's start reminders go out, unless the caller says otherwise.
DEFAULT_REMINDER_WINDOW = timedelta(hours=24)


@attrs.frozen
class _Retry:
    """When a failed reminder is due for another attempt: it failed at or before
    ``failed_by`` and went to its channel fewer than ``attempts_below`` times
    (:meth:`~bookingcore.domain.Communication.retry_due`)."""

    failed_by: datetime
    attempts_below: int


#: How many times a unit of work that logs a confirmation runs when another
#: sender's commit of the same confirmation beats it.
_LOGGING_ATTEMPTS = 3


def confirmation_key(booking_id: BookingId, number: int) -> str:
    """The dedupe key of a booking's ``number``-th confirmation (1 for its first):
    ``confirmation:<booking id>:<number>``.

    A key of the library's own, not scoped to a principal: every sender of that
    confirmation (the automatic message, the group's confirmation) logs it under
    this key, so storage holds it once.

    .. versionadded:: 0.4
    """
    return f"confirmation:{booking_id}:{number}"


class CommunicationService:
    """Send messages about bookings, keep their history, and take delivery callbacks.

    ``notifier`` is the :class:`~bookingcore.ports.Notifier` adapter; without
    one, every send is logged as failed with the reason "no notifier configured".

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext, notifier: Notifier | None = None) -> None:
        self._ctx = context
        self._notifier = notifier

    # ------------------------------------------------------------------ sending

    def send(
        self,
        booking_id: BookingId,
        kind: CommunicationType | str,
        *,
        principal: Principal,
        channel: Channel | str | None = None,
        idempotency_key: str | None = None,
        log_unsendable: bool = False,
    ) -> Communication:
        """Send the ``kind`` message about a booking to its customer and log it.

        The channel defaults to email when the customer has an email address,
        SMS otherwise. With an ``idempotency_key`` a repeat returns the logged
        message without sending again, unless it failed, in which case it is
        sent again (the same record), once however many repeats find it failed
        at the same moment (see the module). Keys belong to ``principal``
        (another principal's identical key is a fresh request); the message's
        ``dedupe_key`` shows it scoped as ``"<kind>:<principal id>:<key>"``.

        With ``log_unsendable`` (what the automatic messages ask), a message that
        cannot be made for this customer (no address on the channel: an erased
        customer has none; no template for it; a text too long for it) is not
        refused: it is logged failed with the reason, never handed to the
        notifier, and ``DeliveryError`` (``retryable`` False) is raised, as for a
        refusal that cannot work later. A push message to a customer without an
        active device is refused even so (nothing logged).

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not message this customer.
            ValidationError: an unknown type or channel, no address for it, or a
                malformed ``idempotency_key`` (over 255 characters, control characters).
            IdempotencyConflictError: the key was used for a different message.
            DeliveryError: the notifier refused; the message is logged as failed.

        .. versionchanged:: 0.4 ``log_unsendable``.
        """
        return self._send(
            booking_id,
            kind,
            principal=principal,
            channel=channel,
            dedupe_key=principal_key(principal, idempotency_key),
            log_unsendable=log_unsendable,
        )

    def _send(
        self,
        booking_id: BookingId,
        kind: CommunicationType | str,
        *,
        principal: Principal,
        channel: Channel | str | None,
        dedupe_key: str | None,
        own_key: bool = False,
        retry: _Retry | None = None,
        recipient: str | None = None,
        recipient_id: StaffId | None = None,
        log_unsendable: bool = False,
    ) -> Communication:
        """:meth:`send` with the stored key: scoped, or one the library writes for
        itself (``own_key``: no caller's key can be it, so other calls' keys are not read).
        ``recipient`` overrides the customer's address (a staff member's, for
        :meth:`send_to_staff`); ``recipient_id`` names whose it is, part of what a
        keyed repeat must ask again (their address may change between tries).

        A failed message found under the key is sent again when it is claimed
        (:func:`_claim_resend`): at once, or with ``retry`` (a reminder's) only
        when it is due for another attempt.

        A repeat under a caller's key is recognised by its fingerprint, which
        names the principal (keys are scoped to it anyway). A message under a key
        of the library's own is recognised by what it is (:func:`_same_message`:
        booking, type, and channel when one is asked for), whoever logged it and
        whoever asks now: the reminder the system's job logged is the one staff
        running the job find."""
        idempotency_key = dedupe_key
        message_kind = _choice(CommunicationType, kind, "type")
        wanted_channel = None if channel is None else _choice(Channel, channel, "channel")
        asked: dict[str, object] = {
            "booking_id": booking_id,
            "kind": message_kind,
            "channel": wanted_channel,
        }
        if recipient_id is not None:
            asked["recipient"] = recipient_id
        # A caller's key is its own: a retry is the same principal asking the same.
        # A key of the library's own names one message whoever sends it (the reminder
        # job run by the system or by staff): it is recognised by what was asked.
        digest = (
            request_digest("send", asked) if own_key else fingerprint("send", principal, **asked)
        )
        with self._ctx.transaction() as tx:
            booking = self._booking_to_message(tx.uow, booking_id, principal)
            if idempotency_key is not None:
                # A caller's new key: nothing was sent with it. The library's own keys
                # (own_key) are not registered: no caller's key can be one of them.
                fresh = not own_key and claim_key(
                    tx.uow, idempotency_key, "message", self._ctx.now()
                )
                prior = None if fresh else tx.uow.communications.get_by_dedupe_key(idempotency_key)
                if prior is not None:
                    same = (
                        _same_message(prior, booking_id, message_kind, wanted_channel)
                        if own_key
                        else prior.request_fingerprint == digest
                    )
                    if not same:
                        raise IdempotencyConflictError(caller_key(idempotency_key))
                    if not _claim_resend(tx.uow, prior, self._ctx.now(), retry):
                        return prior
                    communication = prior
                else:
                    communication = self._compose(
                        tx,
                        booking,
                        message_kind,
                        wanted_channel,
                        principal=principal,
                        dedupe_key=idempotency_key,
                        recipient=recipient,
                        log_unsendable=log_unsendable,
                    )
            else:
                communication = self._compose(
                    tx,
                    booking,
                    message_kind,
                    wanted_channel,
                    principal=principal,
                    dedupe_key=None,
                    recipient=recipient,
                    log_unsendable=log_unsendable,
                )
            communication.request_fingerprint = digest
            tx.commit()
        return self._deliver(communication.id)

    def send_text(
        self,
        customer_id: CustomerId,
        kind: CommunicationType | str,
        *,
        subject: str,
        body: str,
        principal: Principal,
        channel: Channel | str | None = None,
        idempotency_key: str | None = None,
    ) -> Communication:
        """Send a message written by the caller (a quotation, a follow-up) to a customer
        and log it; it concerns no booking yet.

        The channel defaults to email when the customer has an email address,
        SMS otherwise. A refusal by the notifier (or no notifier) is logged as
        a failed message and returned, not raised: the caller's own change
        (a quotation marked sent) stands, and the log shows the failure.

        With an ``idempotency_key`` a repeat of the same message (customer,
        type, subject, body, channel) returns the logged message without
        sending again, unless it failed, in which case it is sent again (the
        same record). Keys are scoped to ``principal`` and belong to the
        ``"message"`` operations, as in :meth:`send`.

        Raises:
            NotFoundError: no such customer.
            PermissionDeniedError: ``principal`` may not message customers
                (staff who change everything and the system may).
            ValidationError: an unknown type or channel, no address for it, a
                malformed ``idempotency_key``, a ``subject`` or ``body`` with a
                control character, or a ``subject`` with a line break.
            IdempotencyConflictError: the key was used for a different message
                or by another kind of operation.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           ``subject`` and ``body`` are checked as any text is (a NUL made PostgreSQL
           and SQLite raise their own errors), and ``subject`` is one line.
        """
        return self.send_rendered_text(
            customer_id,
            kind,
            subject=subject,
            body=body,
            principal=principal,
            channel=channel,
            idempotency_key=idempotency_key,
            asked=("send_text", {"subject": subject, "body": body}),
        )

    def send_rendered_text(
        self,
        customer_id: CustomerId,
        kind: CommunicationType | str,
        *,
        subject: str,
        body: str,
        principal: Principal,
        channel: Channel | str | None,
        idempotency_key: str | None,
        asked: tuple[str, Mapping[str, object]],
    ) -> Communication:
        """:meth:`send_text` for a text another service renders, a keyed retry being
        recognised by ``asked``: the name of the call and what it asked for besides
        the customer, type and channel (the text for :meth:`send_text`; the
        quotation for a quotation's sending, whose text is rendered anew by each call).

        Raises:
            As :meth:`send_text`.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not message customers",
        )
        message_kind = _choice(CommunicationType, kind, "type")
        wanted = None if channel is None else _choice(Channel, channel, "channel")
        _check_message_text(subject, body)  # a bad text is refused before any read
        key = principal_key(principal, idempotency_key)
        operation, fields = asked
        digest = fingerprint(
            operation,
            principal,
            customer_id=customer_id,
            kind=message_kind,
            channel=wanted,
            **fields,
        )
        with self._ctx.transaction() as tx:
            customer = tx.uow.customers.get(customer_id)
            if customer is None:
                raise NotFoundError("customer", customer_id)
            prior = None
            if key is not None and not claim_key(tx.uow, key, "message", self._ctx.now()):
                prior = tx.uow.communications.get_by_dedupe_key(key)
                if prior is not None and prior.request_fingerprint != digest:
                    raise IdempotencyConflictError(caller_key(key))
            if prior is not None:
                if not _claim_resend(tx.uow, prior, self._ctx.now()):
                    return prior
                communication = prior
            else:
                chosen, recipient = self.route_text(
                    tx.uow, customer, wanted, subject=subject, body=body
                )
                communication = Communication(
                    id=CommunicationId(self._ctx.ids.new_id()),
                    customer_id=customer.id,
                    type=message_kind,
                    channel=chosen,
                    recipient=recipient,
                    subject=subject,
                    content=body,
                    created_at=self._ctx.now(),
                    created_by=principal.actor,
                    dedupe_key=key,
                    sending_since=self._ctx.now(),
                )
                communication.request_fingerprint = digest
                tx.uow.communications.add(communication)
            tx.commit()
        try:
            return self._deliver(communication.id)
        except DeliveryError:
            with self._ctx.uow_factory() as uow:
                logged = uow.communications.get(communication.id)
            assert logged is not None
            return logged

    @staticmethod
    def route_text(
        uow: UnitOfWork,
        customer: Customer,
        channel: Channel | str | None,
        *,
        subject: str,
        body: str,
    ) -> tuple[Channel, str]:
        """The channel and address a caller's text (:meth:`send_text`) to ``customer``
        goes to, once it is checked: ``channel``, or email when the customer has an
        address, SMS otherwise. A use case that changes something before it sends such
        a text (a quotation marked sent) calls this first, in its unit of work, so a
        text that cannot go leaves nothing changed.

        Raises:
            ValidationError: an unknown ``channel`` or no address on it; a ``subject``
                or ``body`` :meth:`send_text` refuses; a ``body`` longer than the
                channel carries (an SMS over
                :data:`~bookingcore.domain.communications.SMS_MAX_LENGTH`).

        .. versionadded:: 0.4
        """
        wanted = None if channel is None else _choice(Channel, channel, "channel")
        _check_message_text(subject, body)
        chosen = wanted or (Channel.EMAIL if customer.email else Channel.SMS)
        recipient = _address(uow, customer, chosen)
        check_message_length(chosen, body)
        return chosen, recipient

    def send_family_invitation(
        self,
        invitation_id: FamilyInvitationId,
        *,
        principal: Principal,
        channel: Channel | str | None = None,
        log_unsendable: bool = False,
    ) -> Communication | None:
        """Tell the invited customer about a family invitation, once per invitation
        (the ``family_invitation`` automation sends it when the invitation is made).

        It goes by SMS unless ``channel`` says otherwise: the customer was invited by
        phone. Its text comes from the ``(family_invitation, channel)`` template,
        which names the inviter and the relation and nothing else
        (:data:`~bookingcore.domain.communications.FAMILY_INVITATION_FIELDS`). It is
        logged as the invited customer's message (about no booking) under the
        library's own dedupe key
        :func:`~bookingcore.domain.families.invitation_message_key`: a second
        call returns it without sending again, unless it failed, when it is sent
        again (the same record). Nothing is sent (``None``, or the failed message
        as it is) once the invitation no longer waits for an answer: answered,
        withdrawn, expired, or gone with its family or an erasure.
        ``log_unsendable`` is :meth:`send`'s.

        Raises:
            PermissionDeniedError: only staff who change everything and the system
                send it.
            ValidationError: an unknown channel, no template or no address for it,
                or a text too long for it.
            DeliveryError: the notifier refused; the message is logged as failed.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not message customers",
        )
        wanted = None if channel is None else _choice(Channel, channel, "channel")
        key = invitation_message_key(invitation_id)
        for attempt in range(_LOGGING_ATTEMPTS):
            try:
                with self._ctx.transaction() as tx:
                    uow = tx.uow
                    prior = uow.communications.get_by_dedupe_key(key)
                    if prior is not None and prior.status is not CommunicationStatus.FAILED:
                        return prior
                    invitation = uow.families.get_invitation(invitation_id)
                    invitee = (
                        None if invitation is None else uow.customers.get(invitation.customer_id)
                    )
                    if (
                        invitation is None
                        or not invitation.is_open_at(self._ctx.now())
                        or invitee is None
                        or invitee.is_erased
                    ):
                        return prior
                    if prior is not None:
                        if not _claim_resend(uow, prior, self._ctx.now()):
                            return prior  # another sender took it first
                        communication = prior
                    else:
                        inviter = uow.customers.get(invitation.invited_by)
                        chosen = wanted or Channel.SMS
                        draft = self._draft(
                            uow,
                            invitee,
                            CommunicationType.FAMILY_INVITATION,
                            chosen,
                            {
                                "inviter_name": (inviter.name if inviter else None) or "A customer",
                                "relation": invitation.relation,
                                "business": self._ctx.settings.business_name,
                            },
                            log_unsendable=log_unsendable,
                        )
                        communication = Communication(
                            id=CommunicationId(self._ctx.ids.new_id()),
                            customer_id=invitee.id,
                            type=CommunicationType.FAMILY_INVITATION,
                            channel=chosen,
                            recipient=draft.recipient,
                            subject=draft.subject,
                            content=draft.body,
                            template_used=draft.template,
                            created_at=self._ctx.now(),
                            created_by=principal.actor,
                            dedupe_key=key,
                            sending_since=self._ctx.now(),
                            failed_reason=draft.unsendable,
                        )
                        uow.communications.add(communication)
                    tx.commit()
                break
            except ConflictError:
                # Another sender logged this invitation's message between our read and
                # our commit: the next attempt finds it.
                if attempt + 1 == _LOGGING_ATTEMPTS:
                    raise
        return self._deliver(communication.id)

    def send_due_reminders(
        self,
        *,
        principal: Principal,
        within: timedelta = DEFAULT_REMINDER_WINDOW,
        channel: Channel | str | None = None,
    ) -> Sequence[Communication]:
        """Send the reminder of every booking in :meth:`due_reminders`, once each,
        and try again the ones that failed and are due for another attempt.

        A booking's reminder has the dedupe key ``reminder:<booking id>``: a
        second run, or a second worker, does not send it again, whichever
        principal each runs as: a reminder logged by another run is the same
        reminder (returned as it is). A booking rescheduled after its reminder
        went out is reminded again before its new departure, with the key
        ``reminder:<booking id>:<departure>`` (the new start, ISO 8601 in UTC).
        A reminder that fails is logged as failed and the others still go out.
        With a ``channel``, a booking whose customer has no address on it (no
        email address, no push device) is passed over, nothing logged; it stays
        due, and a run without ``channel`` reminds it on the customer's own. A
        booking whose reminder is too long for its channel (an SMS over
        :data:`~bookingcore.domain.communications.SMS_MAX_LENGTH`) is passed over
        the same way, with a warning on the ``bookingcore.communications`` logger.

        A reminder whose last failure may work later (the notifier raised
        ``DeliveryError(retryable=True)``: a timeout, an HTTP 503) is sent again,
        the same record, by the first run ``Settings.reminder_retry_after`` or
        more after it failed, until it went to its channel
        ``Settings.reminder_attempts`` times in all; only while the booking is
        still in the window and still active. A failure that cannot work later
        (an invalid number) is final. Each retry is claimed in storage first
        (:meth:`~bookingcore.ports.CommunicationRepository.requeue_for_retry`, a
        compare-and-set), so of two runs that find a reminder due at once, one
        sends it and the other returns it as it is.

        Raises:
            PermissionDeniedError: ``principal`` may not send messages for all bookings.

        .. versionchanged:: 0.4
           A reminder another run logged (as another principal) between this
           run's listing and its send is recognised, not skipped as a conflict.
        .. versionchanged:: 0.4
           With a ``channel``, a customer without an address on it is passed over;
           before, the run raised ``ValidationError`` there, leaving the bookings
           after it unreminded.
        .. versionchanged:: 0.4
           A reminder too long for SMS is passed over; the others still go out.
        .. versionchanged:: 0.4
           A reminder that failed retryably is tried again, after
           ``Settings.reminder_retry_after``, up to ``Settings.reminder_attempts``
           attempts; before, a failed reminder was never sent again by a later
           run (and a run that found one another run had just logged failed sent
           it again at once; it now waits for the retry time too).
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not send reminders")
        now = self._ctx.now()
        retry = self._reminder_retry(now)
        sent: list[Communication] = []
        for booking, key in self._due_reminders(principal, within, now, retry):
            try:
                # One reminder per booking, whoever runs the job: a key of the library's
                # own, not scoped to the principal.
                sent.append(
                    self._send(
                        booking.id,
                        CommunicationType.REMINDER,
                        principal=principal,
                        channel=channel,
                        dedupe_key=key,
                        own_key=True,
                        retry=retry,
                    )
                )
            except DeliveryError:
                with self._ctx.uow_factory() as uow:
                    failed = uow.communications.get_by_dedupe_key(key)
                if failed is not None:
                    sent.append(failed)
            except ConflictError:
                continue  # another worker logged this reminder first
            except ValidationError as exc:
                if not all(error.code in _PASSED_OVER for error in exc.errors):
                    raise
                # This customer cannot be reached on the channel asked for (no email
                # address, no push device), or their reminder is too long for it (an
                # SMS over 1600 characters): nothing to log; the others still go out.
                _log.warning("reminder for booking %s not sent: %s", booking.reference, exc)
                continue
        return sent

    def due_reminders(
        self,
        *,
        principal: Principal,
        within: timedelta = DEFAULT_REMINDER_WINDOW,
        now: datetime | None = None,
    ) -> Sequence[Booking]:
        """Bookings that should get their reminder now: their slot starts within
        ``within`` of the clock's time, they hold seats and are still active, and
        no reminder was logged for them yet, or the one logged failed and is due
        for another attempt (see :meth:`send_due_reminders`).

        Raises:
            PermissionDeniedError: the principal may not list bookings.
            ValidationError: on ``now`` when naive.

        .. versionchanged:: 0.4
           A booking whose reminder failed and is due for another attempt.
        """
        start = self._ctx.now() if now is None else ensure_aware(now, "now")
        due = self._due_reminders(principal, within, start, self._reminder_retry(start))
        return policy.bookings_for(principal, [booking for booking, _ in due])

    def _reminder_retry(self, now: datetime) -> _Retry:
        settings = self._ctx.settings
        return _Retry(now - settings.reminder_retry_after, settings.reminder_attempts)

    def _due_reminders(
        self, principal: Principal, within: timedelta, start: datetime, retry: _Retry
    ) -> list[tuple[Booking, str]]:
        """The bookings :meth:`due_reminders` answers at ``start``, each with its
        reminder's dedupe key."""
        query = policy.scope_bookings(
            principal, BookingFilter(starts_from=start, starts_before=start + within)
        )
        due: list[tuple[Booking, str]] = []
        with self._ctx.uow_factory() as uow:
            page = uow.bookings.list(query, PageRequest(limit=500))
            while True:
                for booking in page.items:
                    lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
                    wanted = lifecycle.holds_capacity(booking.status) and lifecycle.is_active(
                        booking.status
                    )
                    key = _reminder_key(uow, booking, within, retry) if wanted else None
                    if key is not None:
                        due.append((booking, key))
                if page.next_cursor is None:
                    break
                page = uow.bookings.list(query, PageRequest(limit=500, cursor=page.next_cursor))
        due.sort(key=lambda pair: (pair[0].starts_at, pair[0].id.bytes))
        return due

    # ------------------------------------------------------------------ callbacks

    def record_status(
        self,
        communication_id: CommunicationId,
        status: CommunicationStatus | str,
        *,
        principal: Principal,
        at: datetime | None = None,
        reason: str | None = None,
    ) -> Communication:
        """Take a delivery report for a logged message (forward-only, see the module).

        Raises:
            NotFoundError: no such message.
            PermissionDeniedError: only webhooks, the system and staff who change
                every booking report deliveries.
            ValidationError: an unknown status; on ``at`` when naive.
        """
        return self._report(
            lambda uow: uow.communications.get_for_update(communication_id),
            communication_id,
            status,
            principal=principal,
            at=at,
            reason=reason,
        )

    def record_callback(
        self,
        provider_message_id: str,
        status: CommunicationStatus | str,
        *,
        principal: Principal,
        at: datetime | None = None,
        reason: str | None = None,
        communication_id: CommunicationId | None = None,
    ) -> Communication:
        """A delivery callback from the provider, found by its message id.

        A message being sent again (``pending``: failed, then claimed for another
        send) is returned as it is: the id the report names is its earlier send's
        (the new send's id is recorded with its answer), and a late or repeated
        report about that send (its failure, once more) says nothing about this one.

        ``communication_id`` is the message the callback itself names, when the
        provider gives it back (Twilio's ``StatusCallback`` URL carries it, see
        :class:`~bookingcore_adapters.sms.TwilioNotifier`). No message has the
        provider id yet when the report comes before the send's answer is recorded
        (the provider reports asynchronously, the sender commits slowly) or when the
        sender died after the provider took the message: the message of that id is
        then found, and when it has no provider id of its own, the report moves it
        forward as usual (a pending message too) and its provider id becomes
        ``provider_message_id``, so later reports and the send's own answer agree
        (that answer moves it forward only). One that has another provider id (a
        message sent again, while its new send is on its way) is not the one
        reported on: ``NotFoundError``, as without ``communication_id``. Pass only
        an id taken from a report whose signature was checked.

        Raises:
            NotFoundError: no message has this provider id (nor, with
                ``communication_id``, is that message one without a provider id).
            PermissionDeniedError: as :meth:`record_status`.
            ValidationError: an unknown status, or a provider message id that is
                not text or holds control characters; on ``communication_id`` when
                not a UUID; on ``at`` when naive.

        .. versionchanged:: 0.4
           ``communication_id``.
        """
        check_text(provider_message_id, "provider_message_id")
        named_id: object = communication_id  # a caller's value: checked, not trusted
        if named_id is not None and not isinstance(named_id, UUID):
            msg = "must be a communication id (a UUID)"
            raise ValidationError.single("communication_id", msg, "invalid")
        unanswered: list[Communication] = []

        def find(uow: UnitOfWork) -> Communication | None:
            # Locked, and read again under the lock: the sender may be recording its
            # answer (the provider's id) at this very moment, or another report.
            found = uow.communications.get_by_provider_message_id(provider_message_id)
            if found is not None:
                return uow.communications.get_for_update(found.id)
            if communication_id is None:
                return None
            named = uow.communications.get_for_update(communication_id)
            if named is None or named.provider_message_id not in (None, provider_message_id):
                return None  # unknown, or another send's (another provider's) message
            if named.provider_message_id is None:
                unanswered.append(named)
            return named

        return self._report(
            find,
            provider_message_id,
            status,
            principal=principal,
            at=at,
            reason=reason,
            earlier_send_if_pending=True,
            unanswered=unanswered,
            provider_message_id=provider_message_id,
        )

    def _report(
        self,
        find: Callable[[UnitOfWork], Communication | None],
        key: object,
        status: CommunicationStatus | str,
        *,
        principal: Principal,
        at: datetime | None,
        reason: str | None,
        earlier_send_if_pending: bool = False,
        unanswered: Sequence[Communication] = (),
        provider_message_id: str | None = None,
    ) -> Communication:
        """Apply a report to the message ``find`` gives (``key`` names it when none).

        With ``earlier_send_if_pending``, a pending message is returned as it is
        (the report is about an earlier send), unless ``find`` put it in
        ``unanswered``: found by its own id with no provider id yet, the report is
        about the send on its way, and ``provider_message_id`` becomes its own.
        """
        self._require_reporter(principal)
        if at is not None:
            at = ensure_aware(at, "at")
        with self._ctx.transaction() as tx:
            communication = find(tx.uow)
            if communication is None:
                raise NotFoundError("communication", key)
            answered = not any(found is communication for found in unanswered)
            if (
                earlier_send_if_pending
                and answered
                and communication.status is CommunicationStatus.PENDING
            ):
                _choice(CommunicationStatus, status, "status")  # still refuse nonsense
                return communication  # a report about the send before this one
            self._apply(
                tx,
                communication,
                status,
                at=at,
                reason=reason,
                provider_message_id=None if answered else provider_message_id,
            )
            tx.commit()
            return communication

    # ------------------------------------------------------------------ history

    def for_booking(
        self, booking_id: BookingId, *, principal: Principal
    ) -> Sequence[Communication]:
        """A booking's messages, oldest first.

        Messages carry the customer's address and name, so a partner that
        booked for a customer on file it may not see gets none of them. Notices to
        staff about the booking (an ``assignment``) are read by staff who see
        everything only.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None or not policy.can_view_booking(principal, booking):
                raise NotFoundError("booking", booking_id)
            customer = uow.customers.get(booking.customer_id)
            if customer is None or not policy.can_view_customer(principal, customer):
                return []
            return [
                message
                for message in uow.communications.list_for_booking(booking_id)
                if policy.can_read_message(principal, message)
            ]

    def for_customer(
        self, customer_id: CustomerId, *, principal: Principal
    ) -> Sequence[Communication]:
        """A customer's messages about any booking ``principal`` may see, oldest first.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            customer = CustomerService.load_visible(uow, customer_id, principal)
            return CustomerService.visible_communications(
                uow, customer, principal, uow.communications.list_for_customer(customer_id)
            )

    def get(self, communication_id: CommunicationId, *, principal: Principal) -> Communication:
        """One logged message, if ``principal`` may see its customer and its booking.

        Raises:
            NotFoundError: otherwise.
        """
        with self._ctx.uow_factory() as uow:
            communication = uow.communications.get(communication_id)
            customer = (
                None if communication is None else uow.customers.get(communication.customer_id)
            )
            booking = (
                None
                if communication is None or communication.booking_id is None
                else uow.bookings.get(communication.booking_id)
            )
        if (
            communication is None
            or customer is None
            or not policy.can_view_customer(principal, customer)
            or not policy.can_read_message(principal, communication)
            or (communication.booking_id is not None and booking is None)
            or (booking is not None and not policy.can_view_booking(principal, booking))
        ):
            raise NotFoundError("communication", communication_id)
        return communication

    # ------------------------------------------------------------------ logged elsewhere

    def deliver_logged(self, communication_id: CommunicationId) -> Communication:
        """Hand a message another use case logged (pending) to the notifier, once.

        A message that was sent already is returned as it is; a failed one is
        sent again, once: it is claimed in storage first, and a caller that
        loses the claim to another sender gets it as that sender left it. A
        pending one is sent when no sender holds it (it is claimed first, see the
        module); one another sender holds is returned as it is.
        Handlers call this after the logging unit of work commits (the
        waiting-list offer message is one).

        Raises:
            NotFoundError: no such message.
            DeliveryError: the notifier refused; the message is logged as failed.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4
           A failed message is claimed before it is sent again (once); a pending
           one is claimed before it is sent, and not sent while another sender
           holds it.
        """
        with self._ctx.transaction() as tx:
            communication = tx.uow.communications.get(communication_id)
            if communication is None:
                raise NotFoundError("communication", communication_id)
            if communication.status is CommunicationStatus.FAILED:
                if not _claim_resend(tx.uow, communication, self._ctx.now()):
                    return communication  # another sender took it first
                tx.commit()
            elif communication.status is not CommunicationStatus.PENDING:
                return communication
        return self._deliver(communication_id)

    def resend_stalled(
        self,
        *,
        principal: Principal,
        older_than: timedelta | None = None,
        limit: int = 100,
    ) -> Sequence[Communication]:
        """Send once more the messages a crash left pending: handed over for sending
        (``sending_since``) longer than ``older_than`` ago
        (``Settings.stalled_message_after`` unless given) and still pending, up to
        ``limit`` of them, longest waiting first. Returns them as the notifier left
        them (sent, or failed: a failed one is then sent again by the next keyed
        send or the dispatcher's retry, as any failed message).

        Each is claimed in storage first
        (:meth:`~bookingcore.ports.CommunicationRepository.claim_stalled`, a
        compare-and-set on ``sending_since``), so of two runs of the job that find
        it at once one sends it and the other skips it, and a run that claimed it
        is not followed by another until ``older_than`` has passed again. The claim
        takes the message over from a sender that is still waiting on the notifier
        (slower than ``older_than``): that sender's late answer is recorded as the
        module says (a success forward only, a failure not at all). It goes
        with its own ``communication_id``: a gateway that takes an idempotency key
        drops it if the first send did reach it. A pending message without
        ``sending_since`` (logged before 0.4, or left to a host's own handler) is
        left alone. The ``communications.resend_stalled`` job calls this.

        Raises:
            PermissionDeniedError: ``principal`` may not message customers.
            ValidationError: ``older_than`` not positive (or no threshold at all:
                ``Settings.stalled_message_after`` is ``None``), ``limit`` below 1.

        .. versionadded:: 0.4
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not send messages")
        wait = self._ctx.settings.stalled_message_after if older_than is None else older_than
        if wait is None or wait <= timedelta(0):
            msg = "must be a positive timedelta"
            raise ValidationError.single("older_than", msg, "out_of_range")
        if limit < 1:
            raise ValidationError.single("limit", "must be at least 1", "out_of_range")
        now = self._ctx.now()
        before = now - wait
        with self._ctx.uow_factory() as uow:
            stalled = [c.id for c in uow.communications.list_stalled(before, limit)]
        resent: list[Communication] = []
        for communication_id in stalled:
            claim = uuid4()
            with self._ctx.transaction() as tx:
                claimed = tx.uow.communications.claim_stalled(
                    communication_id, before=before, at=self._ctx.now(), claim=claim
                )
                if not claimed:
                    continue  # sent, failed, or claimed by another sender meanwhile
                tx.commit()
            try:
                resent.append(self._deliver(communication_id, claim))
            except DeliveryError:
                with self._ctx.uow_factory() as uow:
                    failed = uow.communications.get(communication_id)
                if failed is not None:
                    resent.append(failed)
        return resent

    # ------------------------------------------------------------------ staff

    def send_to_staff(
        self,
        booking_id: BookingId,
        staff_id: StaffId,
        kind: CommunicationType | str,
        *,
        principal: Principal,
        idempotency_key: str,
        log_unsendable: bool = False,
    ) -> Communication | None:
        """Email a staff member (an advisor) the ``kind`` message about a booking, and
        log it as every message is.

        It goes the way every message about a booking goes (:meth:`send`): rendered
        from the ``(kind, email)`` template with the booking's values, logged as a
        :class:`~bookingcore.domain.Communication` of the booking (its customer's,
        whom it is about) with the staff member's address as its ``recipient``, then
        handed to the notifier and logged sent or failed. Only staff who see every
        customer read it (:func:`~bookingcore.domain.policy.can_read_message`): not the
        customer, not a partner. ``idempotency_key`` is scoped to ``principal`` as in
        :meth:`send`: a repeat returns the logged notice without sending it again,
        unless it failed, when it is sent again (the same record, the same
        ``communication_id``). Returns the logged notice, or ``None`` (nothing sent,
        nothing logged) when the staff member is inactive. ``log_unsendable`` is
        :meth:`send`'s.

        Raises:
            NotFoundError: no such booking, or no such staff member.
            PermissionDeniedError: only the system and staff who change every
                booking send notices to staff.
            ValidationError: an unknown type, no email template for it, or a
                malformed ``idempotency_key``.
            IdempotencyConflictError: the key was used for another message.
            DeliveryError: the notifier refused, or none is configured; the notice
                is logged as failed.

        .. versionadded:: 0.4
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not message staff")
        key = principal_key(principal, idempotency_key)
        if key is None:
            raise ValidationError.single("idempotency_key", "a notice needs a key", "required")
        with self._ctx.uow_factory() as uow:
            if uow.bookings.get(booking_id) is None:
                raise NotFoundError("booking", booking_id)
            member = uow.staff.get(staff_id)
        if member is None:
            raise NotFoundError("staff member", staff_id)
        if not member.is_active:
            return None
        return self._send(
            booking_id,
            kind,
            principal=principal,
            channel=Channel.EMAIL,
            dedupe_key=key,
            recipient=member.email.value,
            recipient_id=member.id,
            log_unsendable=log_unsendable,
        )

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _booking_to_message(
        uow: UnitOfWork, booking_id: BookingId, principal: Principal
    ) -> Booking:
        booking = uow.bookings.get(booking_id)
        if booking is None or not policy.can_view_booking(principal, booking):
            raise NotFoundError("booking", booking_id)
        staff_like = principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
        policy.require(
            staff_like and policy.can_change_booking(principal, booking),
            f"{principal} may not send messages about booking {booking.reference}",
        )
        return booking

    def log_for_booking(
        self,
        tx: Transaction,
        booking: Booking,
        kind: CommunicationType,
        *,
        principal: Principal,
        channel: Channel | None = None,
        recipient: str | None = None,
        values: Mapping[str, str] | None = None,
    ) -> Communication:
        """Log (pending) the ``kind`` message about ``booking`` in the caller's unit of work.

        ``recipient`` overrides the customer's address (a traveler's phone);
        ``values`` override template values. Send it after commit with
        :meth:`deliver_logged`.

        Raises:
            ValidationError: no template for the channel, or no address for it.

        .. versionadded:: 0.2
        """
        return self._compose(
            tx,
            booking,
            kind,
            channel,
            principal=principal,
            dedupe_key=None,
            recipient=recipient,
            values=values,
        )

    def log_confirmation(
        self,
        tx: Transaction,
        booking: Booking,
        number: int,
        *,
        principal: Principal,
        channel: Channel | None = None,
        recipient: str | None = None,
        log_unsendable: bool = False,
    ) -> tuple[Communication, bool]:
        """Log (pending) ``booking``'s ``number``-th confirmation in the caller's unit
        of work, unless it is logged already.

        A booking gets one confirmation each time it is confirmed, whoever sends
        it (the automatic message of its move to a confirmed status, or the
        confirmation of its group): each is logged under the library's own dedupe
        key :func:`confirmation_key`, unique in storage. Returns the message and
        whether the caller sends it (with :meth:`deliver_logged`, after commit):
        True when it is logged now, or was logged before and failed and this unit
        of work claimed it (it is sent again, the same record; see
        :meth:`~bookingcore.ports.CommunicationRepository.requeue_failed`);
        False when it is pending or sent already, by whoever logged it, or
        another sender claimed it first. Two callers that log the same
        confirmation at once cannot both commit: the second commit raises
        ``ConflictError``, and the caller runs its unit of work again (it then
        finds the message).

        ``channel`` and ``recipient`` are :meth:`log_for_booking`'s, for a
        message logged now. With ``log_unsendable``, a confirmation that cannot be
        made (see :meth:`send`) is logged all the same, with the reason, and
        :meth:`deliver_logged` then logs it failed without handing it over.

        Raises:
            ValidationError: on ``number`` below 1; no template for the channel,
                or no address for it.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4
           A failed confirmation is claimed before it is sent again: two
           callers that find it failed at once do not both send it.
        """
        if number < 1:
            msg = "a booking's confirmations are counted from 1"
            raise ValidationError.single("number", msg, "out_of_range")
        key = confirmation_key(booking.id, number)
        prior = tx.uow.communications.get_by_dedupe_key(key)
        if prior is not None:
            return prior, _claim_resend(tx.uow, prior, self._ctx.now())
        communication = self._compose(
            tx,
            booking,
            CommunicationType.CONFIRMATION,
            channel,
            principal=principal,
            dedupe_key=key,
            recipient=recipient,
            log_unsendable=log_unsendable,
        )
        return communication, True

    def send_confirmation(
        self,
        booking_id: BookingId,
        number: int,
        *,
        principal: Principal,
        log_unsendable: bool = False,
    ) -> Communication:
        """Send ``booking_id``'s ``number``-th confirmation to its customer, once,
        whoever else sends it (see :meth:`log_confirmation`).

        Returns the message: sent now, or as it is when it was logged already
        (pending or sent by whoever logged it). A message that failed is sent
        again. ``log_unsendable`` is :meth:`send`'s.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not message this customer.
            ValidationError: on ``number`` below 1; no address for the
                customer's channel.
            DeliveryError: the notifier refused; the message is logged as failed.

        .. versionadded:: 0.4
        """
        for attempt in range(_LOGGING_ATTEMPTS):
            try:
                with self._ctx.transaction() as tx:
                    booking = self._booking_to_message(tx.uow, booking_id, principal)
                    communication, send = self.log_confirmation(
                        tx, booking, number, principal=principal, log_unsendable=log_unsendable
                    )
                    tx.commit()
                break
            except ConflictError:
                # Another sender committed this confirmation between our read and
                # our commit: the next attempt finds it.
                if attempt + 1 == _LOGGING_ATTEMPTS:
                    raise
        return self._deliver(communication.id) if send else communication

    def _compose(
        self,
        tx: Transaction,
        booking: Booking,
        kind: CommunicationType,
        channel: Channel | None,
        *,
        principal: Principal,
        dedupe_key: str | None,
        recipient: str | None = None,
        values: Mapping[str, str] | None = None,
        log_unsendable: bool = False,
    ) -> Communication:
        uow = tx.uow
        customer = uow.customers.get(booking.customer_id)
        if customer is None:  # pragma: no cover - bookings always have a customer
            raise NotFoundError("customer", booking.customer_id)
        chosen = channel or (Channel.EMAIL if customer.email else Channel.SMS)
        draft = self._draft(
            uow,
            customer,
            kind,
            chosen,
            {**self._values(uow, booking, customer), **(values or {})},
            recipient=recipient,
            log_unsendable=log_unsendable,
        )
        communication = Communication(
            id=CommunicationId(self._ctx.ids.new_id()),
            customer_id=customer.id,
            booking_id=booking.id,
            type=kind,
            channel=chosen,
            recipient=draft.recipient,
            subject=draft.subject,
            content=draft.body,
            template_used=draft.template,
            created_at=self._ctx.now(),
            created_by=principal.actor,
            dedupe_key=dedupe_key,
            sending_since=self._ctx.now(),
            failed_reason=draft.unsendable,
        )
        uow.communications.add(communication)
        return communication

    def _draft(
        self,
        uow: UnitOfWork,
        customer: Customer,
        kind: CommunicationType,
        channel: Channel,
        values: Mapping[str, str],
        *,
        recipient: str | None = None,
        log_unsendable: bool,
    ) -> _Draft:
        """The ``kind`` message to ``customer`` over ``channel``: its address
        (``recipient`` when given), template and text.

        A message that cannot be made (no address on the channel, no template, a
        text the channel cannot carry) raises ``ValidationError``; with
        ``log_unsendable`` it is a draft that says why (:attr:`_Draft.unsendable`)
        with what could be made, which :meth:`_deliver` logs failed without
        handing it over. A push message to a customer without an active device
        raises even so: nothing is logged for it."""
        address = recipient or ""
        template_name: str | None = None
        subject: str | None = None
        body = ""
        try:
            address = recipient or _address(uow, customer, channel)
            template = self._ctx.settings.template(kind, channel)
            template_name = template.name
            subject, body = _render(template, values)
            check_message_length(channel, body)
        except ValidationError as exc:
            no_device = channel is Channel.PUSH and any(e.code == "no_address" for e in exc.errors)
            if not log_unsendable or no_device:
                raise
            why = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            return _Draft(address, subject, body, template_name, why)
        return _Draft(address, subject, body, template_name)

    def _values(self, uow: UnitOfWork, booking: Booking, customer: Customer) -> dict[str, str]:
        location = uow.locations.get(booking.location_id)
        product = uow.products.get(booking.product_id) if booking.product_id else None
        place = location.name if location else ""
        return {
            "customer_name": customer.name or "customer",
            "reference": booking.reference,
            "status": booking.status,
            "starts_at": message_time(booking.starts_at, self._ctx.settings.zone),
            "location": place,
            "product": product.name if product else place,
            "travelers": str(booking.total_travelers),
            "total": str(booking.total),
            "business": self._ctx.settings.business_name,
            "seats": str(booking.total_travelers),
            "offer_expires_at": "",
        }

    def deliver(self, communication_id: CommunicationId) -> Communication:
        """Hand a message another service logged as pending to the notifier, and log
        what it answered (certificate renewal reminders are logged this way).

        The message is claimed first, as every send is (see the module): one another
        sender holds, or one that moved on, is returned as it is, not sent.

        Raises:
            DeliveryError: the notifier refused; the message is logged as failed.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4
           Claimed before it is sent.
        """
        return self._deliver(communication_id)

    def _deliver(
        self, communication_id: CommunicationId, claim: UUID | None = None
    ) -> Communication:
        """Hand a logged message to the notifier and log what it answered, once.

        The message is claimed in storage first
        (:meth:`~bookingcore.ports.CommunicationRepository.claim_for_sending`),
        unless the caller claimed it already (``claim``, the stalled-message job's):
        a sender that loses the claim (another sender holds the message) does not
        hand it to the notifier and answers it as it is. The answer is recorded as
        the module says: the holder's as usual; a late one of a sender whose claim
        was taken over, a success forward only and a failure not at all (nor
        raised).
        """
        if claim is None:
            claim = uuid4()
            with self._ctx.transaction() as tx:
                claimed = tx.uow.communications.claim_for_sending(
                    communication_id, claim=claim, at=self._ctx.now()
                )
                communication = tx.uow.communications.get(communication_id)
                assert communication is not None
                if not claimed:
                    return communication  # another sender holds it, or it moved on
                tx.commit()
        else:
            with self._ctx.uow_factory() as uow:
                communication = uow.communications.get(communication_id)
            assert communication is not None
        message = OutgoingMessage(
            communication_id=communication.id,
            channel=communication.channel,
            recipient=communication.recipient,
            body=communication.content,
            subject=communication.subject,
        )
        failure: DeliveryError | None = None
        receipt = None
        gone: dict[PushDeviceId, str] = {}
        started = self._ctx.now()
        too_long = _too_long(message)
        if too_long is not None:
            # Logged by a use case that composes its own text (or before 0.4): the channel
            # would refuse it (Twilio's 21617), so it is not handed over, nor tried again.
            failure = too_long
        elif not message.recipient or not message.body:
            # Logged unsendable (an automatic message: no address, no template): the
            # reason it was logged with is its failure, final.
            reason = communication.failed_reason or "nothing to send: no recipient or no text"
            failure = DeliveryError(reason, channel=message.channel.value, retryable=False)
        elif self._notifier is None:
            failure = DeliveryError("no notifier configured", channel=message.channel.value)
        elif message.channel is Channel.PUSH:
            receipt, failure, gone = self._push(self._notifier, communication, message)
        else:
            try:
                receipt = self._notifier.send(message)
            except DeliveryError as exc:
                failure = exc
        with self._ctx.transaction() as tx:
            holder = tx.uow.communications.settle_claim(communication_id, claim)
            stored = tx.uow.communications.get_for_update(communication_id)
            assert stored is not None
            for device_id, reason in gone.items():
                device = tx.uow.push_devices.get(device_id)
                # A token the app registered again since the push went out is news
                # the push service had not heard yet: it stays active.
                if device is not None and device.registered_at <= started:
                    PushDeviceService.deactivate(
                        tx, device, reason, principal=_PUSH_SERVICE, now=self._ctx.now()
                    )
            if failure is not None:
                if holder:
                    self._apply(
                        tx,
                        stored,
                        CommunicationStatus.FAILED,
                        reason=failure.reason,
                        retryable=failure.retryable,
                        # The channel's id when it took the message and answered failed
                        # at once: its later delivery reports name it.
                        provider_message_id=failure.provider_message_id,
                    )
                # A sender that lost its claim drops its failure: the holder's answer decides.
            else:
                assert receipt is not None
                # The holder's success, or a late one of a sender that lost its claim:
                # recorded forward only (a message the resender logged as sent keeps
                # its sent_at and provider id, and no second event is emitted).
                self._apply(
                    tx, stored, receipt.status, provider_message_id=receipt.provider_message_id
                )
            tx.commit()
        if failure is not None and holder:
            raise failure
        return stored

    def _push(
        self, notifier: Notifier, communication: Communication, message: OutgoingMessage
    ) -> tuple[SendReceipt | None, DeliveryError | None, dict[PushDeviceId, str]]:
        """Hand a push message to the notifier once per active device of its customer.

        Returns the receipt of the first device that took it (the message counts as
        sent when one did), else the failure to log; and the devices whose token the
        push service no longer knows, with its reason.
        """
        with self._ctx.uow_factory() as uow:
            devices = uow.push_devices.list_for_customer(
                communication.customer_id, only_active=True
            )
        data = {"communication_id": str(communication.id), "type": communication.type.value}
        if communication.booking_id is not None:
            data["booking_id"] = str(communication.booking_id)
        receipts: list[SendReceipt] = []
        refusals: list[DeliveryError] = []
        gone: dict[PushDeviceId, str] = {}
        for device in devices:
            try:
                receipts.append(
                    notifier.send(attrs.evolve(message, recipient=device.token, data=data))
                )
            except RecipientGoneError as exc:
                gone[device.id] = exc.reason
                refusals.append(exc)
            except DeliveryError as exc:
                refusals.append(exc)
        if receipts:
            return receipts[0], None, gone
        if not devices:
            reason = "the customer has no active device for push notifications"
            return None, DeliveryError(reason, channel=Channel.PUSH.value), gone
        # Every device refused: retry when one of them may take it later.
        retryable = [r for r in refusals if r.retryable]
        if retryable:
            return None, retryable[0], gone
        reasons = "; ".join(sorted({r.reason for r in refusals}))
        return None, DeliveryError(f"every device refused: {reasons}", channel="push"), gone

    def _apply(
        self,
        tx: Transaction,
        communication: Communication,
        status: CommunicationStatus | str,
        *,
        at: datetime | None = None,
        reason: str | None = None,
        provider_message_id: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        moved = communication.record(
            status,
            at or self._ctx.now(),
            reason=reason,
            provider_message_id=provider_message_id,
            retryable=retryable,
        )
        if moved:
            tx.emit(
                CommunicationStatusChanged(
                    id=tx.new_event_id(),
                    occurred_at=self._ctx.now(),
                    communication_id=communication.id,
                    booking_id=communication.booking_id,
                    customer_id=communication.customer_id,
                    status=communication.status.value,
                )
            )

    @staticmethod
    def _require_reporter(principal: Principal) -> None:
        allowed = policy.may_apply_provider_report(principal) or (
            principal.has(Permission.CHANGE_ALL)
        )
        policy.require(allowed, f"{principal} may not report message deliveries")


def _check_message_text(subject: str, body: str) -> None:
    """Refuse a caller's text that no channel or store can carry: control characters
    (NUL, lone surrogates, ...) in either, and a line break in the subject (one line:
    an email header, a push notification's title)."""
    check_text(subject, "subject")
    check_text(body, "body")
    if "\n" in subject or "\r" in subject:
        msg = "must be one line (no line breaks)"
        raise ValidationError.single("subject", msg, "control_character")


@attrs.frozen
class _Draft:
    """A message made from its template (:meth:`CommunicationService._draft`):
    ``unsendable`` says why it cannot be sent (None when it can), the rest is what
    could be made (an empty ``recipient`` or ``body`` when that could not)."""

    recipient: str
    subject: str | None
    body: str
    template: str | None
    unsendable: str | None = None


def _render(template: MessageTemplate, values: Mapping[str, str]) -> tuple[str | None, str]:
    """``template`` filled with ``values``; a placeholder ``values`` lacks is a
    ``ValidationError`` on ``template`` (``missing_value``), not a ``KeyError``."""
    try:
        return template.render(values)
    except KeyError as exc:
        msg = f"template {template.name!r} uses ${exc.args[0]}, which this message does not fill"
        raise ValidationError.single("template", msg, "missing_value") from None


def _too_long(message: OutgoingMessage) -> DeliveryError | None:
    """The failure of a message whose body its channel cannot carry (an SMS over
    :data:`~bookingcore.domain.communications.SMS_MAX_LENGTH`), not retryable; None
    for one it can."""
    try:
        check_message_length(message.channel, message.body)
    except ValidationError as exc:
        reason = f"body: {exc.errors[0].message}"
        return DeliveryError(reason, channel=message.channel.value, retryable=False)
    return None


def _address(uow: UnitOfWork, customer: Customer, channel: Channel) -> str:
    if channel is Channel.PUSH:
        # A push message goes to the devices active when it is sent, so the log names
        # the customer; there must be one now for the message to be worth logging.
        if not uow.push_devices.list_for_customer(customer.id, only_active=True):
            msg = "the customer has no device registered for push notifications"
            raise ValidationError.single("channel", msg, "no_address")
        return push_recipient(customer.id)
    if customer.is_erased:
        msg = "the customer's personal data was erased: there is no address to send to"
        raise ValidationError.single("channel", msg, "no_address")
    if channel is Channel.EMAIL:
        if customer.email is None:
            msg = "the customer has no email address; send by SMS or complete their profile"
            raise ValidationError.single("channel", msg, "no_address")
        return customer.email.value
    return customer.phone.e164


C = TypeVar("C", CommunicationType, Channel, CommunicationStatus)


def _choice(kind: type[C], value: C | str, field: str) -> C:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        msg = f"{value!r} is not one of: {known}"
        raise ValidationError.single(field, msg, "invalid_choice") from None


def _reminder_key(
    uow: UnitOfWork, booking: Booking, within: timedelta, retry: _Retry
) -> str | None:
    """The dedupe key of ``booking``'s reminder for its departure when it is due:
    not logged yet, or logged and failed and due for another attempt (``retry``);
    None otherwise.

    The first reminder is ``reminder:<booking id>``. One logged before the reminder
    window of the booking's departure was for an earlier departure (the booking was
    rescheduled since): the reminder of this one is ``reminder:<booking id>:<start>``.
    """
    key = f"reminder:{booking.id}"
    first = uow.communications.get_by_dedupe_key(key)
    if first is None:
        return key
    if first.created_at >= booking.starts_at - within:
        return key if _retry_due(first, retry) else None
    moved = f"{key}:{booking.starts_at.astimezone(UTC).isoformat()}"
    logged = uow.communications.get_by_dedupe_key(moved)
    return moved if logged is None or _retry_due(logged, retry) else None


def _retry_due(reminder: Communication, retry: _Retry) -> bool:
    return reminder.retry_due(failed_by=retry.failed_by, attempts_below=retry.attempts_below)


def _claim_resend(
    uow: UnitOfWork, prior: Communication, now: datetime, retry: _Retry | None = None
) -> bool:
    """Claim ``prior``, a message logged before, for sending it again: True when it
    failed and this unit of work moved it back to pending (the caller sends it,
    after commit); False when it is pending or sent, or another sender claimed it
    first (the caller answers it as it is). With ``retry`` (a reminder's), only when
    it is due for another attempt as stored.

    The claim is the storage's compare-and-set
    (:meth:`~bookingcore.ports.CommunicationRepository.requeue_failed`, or
    :meth:`~bookingcore.ports.CommunicationRepository.requeue_for_retry` with
    ``retry``), not the status read before it: two senders that both read the
    message failed (the dispatcher's retry and a group's confirmation, two
    workers) cannot both send it. A claimed message is handed over for sending at
    ``now`` (its ``sending_since``).
    """
    if prior.status is not CommunicationStatus.FAILED:
        return False
    if retry is None:
        return uow.communications.requeue_failed(prior.id, at=now)
    return uow.communications.requeue_for_retry(
        prior.id, at=now, failed_by=retry.failed_by, attempts_below=retry.attempts_below
    )


def _same_message(
    prior: Communication, booking_id: BookingId, kind: CommunicationType, channel: Channel | None
) -> bool:
    """Whether ``prior``, logged under a key of the library's own, is the message asked
    for: its booking, its type and (when one was asked for) its channel; whoever
    logged it."""
    return (
        prior.booking_id == booking_id
        and prior.type is kind
        and (channel is None or prior.channel is channel)
    )
