"""The built-in event handlers: travel documents and booking messages to customers and advisors.

* a booking reaching ``payment_confirmed`` gets an invoice document;
* ``supplier_confirmed`` gets a voucher and an itinerary;
* a booking reaching a status of :attr:`Automations.messages` sends its customer
  that status's message: by default a confirmation when it is confirmed
  (``confirmed``, travel's ``payment_confirmed``, an appointment's ``ASSIGNED``),
  a cancellation when it is cancelled and a follow-up when it is completed;
* a booking created in such a status (and still live) gets the same message
  (:attr:`Automations.message_on_create`);
* the staff member (advisor) a booking is assigned to gets a notice
  (:attr:`Automations.notify_assignee`);
* with :attr:`Automations.push_messages`, the same booking messages are pushed to
  the customer's active devices too (real-time booking updates on the mobile app).
* a customer invited into a family account gets an SMS saying who invited them and
  as what (:attr:`Automations.family_invitations`).

Each is an ordinary handler on :class:`~bookingcore.services.EventDispatcher`,
behind a port (:class:`~bookingcore.ports.DocumentRenderer`,
:class:`~bookingcore.ports.Notifier`), and :class:`Automations` says which
statuses trigger which (status names match case-insensitively, so the
appointment lifecycle's ``COMPLETED`` counts too). Messages are sent once per
event: the event id is in the send's idempotency key, a send that failed in a
way that may work later makes the dispatcher retry (one that cannot stays logged
failed), and a redelivered event sends nothing more. A message that cannot be made
at all (an SMS text over 1,600 characters, no template for it, a customer
without an address on the channel: an erased one) is
logged failed with the reason (``log_unsendable``, see
:meth:`~bookingcore.services.CommunicationService.send`), not retried, and the
event is handled. An event whose booking (or, for an assignment notice, staff
member) no longer exists is handled too, with a warning on the
``bookingcore.automations`` logger naming the event and the missing id: nothing
can ever be sent about it. A confirmation is
sent once per time the booking is confirmed, whoever sends it: its key is the
booking's and the confirmation's number
(:func:`~bookingcore.services.communications.confirmation_key`), shared with
the confirmation of the booking's group
(:meth:`~bookingcore.services.GroupService.send_confirmations`).

.. versionadded:: 0.1
.. versionchanged:: 0.4
   confirmation and cancellation messages, messages on creation, notices to the
   assignee, push messages, family invitations; a booking's confirmation is one
   message with its group's.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

import attrs

from bookingcore.domain.communications import Channel, CommunicationType
from bookingcore.domain.documents import Document, DocumentData, DocumentKind
from bookingcore.domain.events import (
    BookingCreated,
    BookingStatusChanged,
    BookingUpdated,
    DocumentGenerated,
    DomainEvent,
    FamilyChanged,
)
from bookingcore.domain.families import FamilyInvitationId
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import DocumentId
from bookingcore.errors import DeliveryError, NotFoundError, ValidationError
from bookingcore.ports.messaging import DocumentRenderer
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext
from bookingcore.services.bookings import OPERATOR_CANCELLATION_KEY
from bookingcore.services.communications import CommunicationService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = [
    "DEFAULT_MESSAGES",
    "AssigneeNoticeHandler",
    "Automations",
    "BookingMessageHandler",
    "DocumentHandler",
    "FamilyInvitationHandler",
    "MessageHandler",
    "PushMessageHandler",
    "install",
]

_CONFIRMATION = CommunicationType.CONFIRMATION

_log = logging.getLogger("bookingcore.automations")

#: The message a booking reaching a status sends its customer, unless
#: :class:`Automations` says otherwise: status name (casefolded) -> message type.
#: Every shipped lifecycle is covered: ``reservation`` is confirmed at
#: ``confirmed``, ``travel`` when it is paid (``payment_confirmed``: the payment
#: is processed, then the confirmation sent), an ``appointment`` when an advisor
#: takes it (``ASSIGNED``); each one's cancelled state sends a cancellation and
#: ``completed`` a follow-up.
#:
#: .. versionadded:: 0.4
DEFAULT_MESSAGES: Mapping[str, CommunicationType | None] = MappingProxyType(
    {
        "confirmed": _CONFIRMATION,
        "payment_confirmed": _CONFIRMATION,
        "assigned": _CONFIRMATION,
        "cancelled": CommunicationType.CANCELLATION,
        "completed": CommunicationType.FOLLOW_UP,
    }
)

# What ``messages=None`` converts to until ``__attrs_post_init__`` resolves it.
_UNSET: Mapping[str, CommunicationType | None] = MappingProxyType({})


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


def _folded_or_none(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else _folded(values)


#: The messages a booking's status may send its customer: those about the booking
#: itself. The others are about something a booking does not carry (a family
#: invitation's inviter, a waiting-list offer, a sign-in code, a quotation, a group's
#: summary) or go to someone else (an ``assignment`` notice, to staff), and are sent
#: by their own service.
_ABOUT_A_BOOKING = frozenset(
    {
        _CONFIRMATION,
        CommunicationType.REMINDER,
        CommunicationType.FOLLOW_UP,
        CommunicationType.CERTIFICATE,
        CommunicationType.CANCELLATION,
        CommunicationType.SCHEDULE_CHANGE,
    }
)


def _type_or_none(value: CommunicationType | str | None) -> CommunicationType | None:
    return None if value is None else _message_type(value, "message_type")


def _message_type(value: CommunicationType | str, field: str) -> CommunicationType:
    allowed = ", ".join(member.value for member in CommunicationType if member in _ABOUT_A_BOOKING)
    try:
        kind = CommunicationType(value)
    except ValueError:
        msg = f"{value!r} is not a message type (one of: {allowed})"
        raise ValidationError.single(field, msg, "invalid_choice") from None
    if kind not in _ABOUT_A_BOOKING:
        msg = (
            f"{kind.value} messages are not about a booking: a status sends its "
            f"customer one of: {allowed}"
        )
        raise ValidationError.single(field, msg, "invalid_choice")
    return kind


def _status_key(key: object) -> str:
    name = key.strip().casefold() if isinstance(key, str) else ""
    if not name:
        msg = "each key is a status name, or 'lifecycle:status'"
        raise ValidationError.single("messages", msg, "invalid")
    return name


def _messages(
    value: Mapping[str, CommunicationType | str | None] | None,
) -> Mapping[str, CommunicationType | None]:
    if value is None:
        return _UNSET
    table: dict[str, CommunicationType | None] = {}
    for key, kind in value.items():
        name = _status_key(key)
        table[name] = None if kind is None else _message_type(kind, f"messages.{name}")
    return MappingProxyType(table)


@attrs.frozen
class Automations:
    """Which status triggers which automation.

    Args:
        invoice_on: statuses whose bookings get an invoice document.
        documents_on: statuses whose bookings get a voucher and an itinerary.
        messages: status name -> the message its customer gets when a booking
            reaches it (:data:`DEFAULT_MESSAGES` when not given). Names match
            case-insensitively; a ``"lifecycle:status"`` key (``"appointment:
            assigned"``) applies to that lifecycle only and wins over the bare
            status, and a ``None`` value sends nothing there. ``{}`` sends no
            status messages at all.
        message_on_create: a booking created in a status of ``messages`` that
            is still live (not ended, not cancelled: an import of a finished
            booking messages nobody) gets that status's message as if it had
            moved there: a booking made straight into ``confirmed`` gets one
            confirmation. ``False`` sends nothing on creation.
        notify_assignee: email the staff member (advisor) a booking is
            assigned to an :attr:`~bookingcore.domain.CommunicationType.ASSIGNMENT`
            notice, unless they assigned it to themselves.
        push_messages: push each message of ``messages`` to the customer's active
            devices as well (the ``push`` channel), when they registered one; a
            customer without devices gets the email or SMS alone.
        family_invitations: text a customer invited into a family account
            (:meth:`~bookingcore.services.FamilyService.invite`) a
            :attr:`~bookingcore.domain.CommunicationType.FAMILY_INVITATION` by
            SMS, once per invitation: who invited them and as what, nothing
            else. On by default, like every other automatic message once a
            notifier is wired: without it an invitation waits unseen until the
            invited customer signs in.
        message_on: deprecated, use ``messages``: the statuses that send
            ``message_type``.
        message_type: deprecated, use ``messages``.

    A cancellation by the operator (a called-off slot) sends no cancellation
    from here: its own message, with the operator's reason, is sent by the
    ``slots.cancellation_messages`` handler.

    Raises:
        ValidationError: on ``messages.<status>`` (or ``message_type``) for an
            unknown message type, or one that is not about the booking
            (``family_invitation``, ``waitlist_offer``, ``sign_in_code``,
            ``quotation``, ``group_confirmation``, ``assignment``: each needs what
            a booking does not carry, or goes to staff, and has its own sender);
            on ``message_on`` when ``messages`` is given too.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``messages``, ``message_on_create``, ``notify_assignee``, ``push_messages``
       and ``family_invitations``. A status may send only a message about the
       booking (a ``family_invitation`` there is refused).
       ``message_on`` and ``message_type`` are deprecated: when either is given,
       ``messages`` is exactly ``{status: message_type for status in message_on}``
       (their old defaults: ``{"completed"}`` and ``follow_up``), which is what
       they sent before 0.4.
    """

    invoice_on: frozenset[str] = attrs.field(
        default=frozenset({"payment_confirmed"}), converter=_folded
    )
    documents_on: frozenset[str] = attrs.field(
        default=frozenset({"supplier_confirmed"}), converter=_folded
    )
    message_on: frozenset[str] | None = attrs.field(default=None, converter=_folded_or_none)
    message_type: CommunicationType | None = attrs.field(default=None, converter=_type_or_none)
    messages: Mapping[str, CommunicationType | None] = attrs.field(
        default=None, converter=_messages, hash=False, kw_only=True
    )
    message_on_create: bool = attrs.field(default=True, kw_only=True)
    notify_assignee: bool = attrs.field(default=True, kw_only=True)
    push_messages: bool = attrs.field(default=False, kw_only=True)
    family_invitations: bool = attrs.field(default=True, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.message_on is None and self.message_type is None:
            if self.messages is _UNSET:
                object.__setattr__(self, "messages", DEFAULT_MESSAGES)
            return
        warnings.warn(
            "Automations(message_on=..., message_type=...) is deprecated since 0.4; "
            "pass messages={status: message type}",
            DeprecationWarning,
            stacklevel=3,
        )
        if self.messages is not _UNSET:
            msg = "give messages, or the deprecated message_on and message_type, not both"
            raise ValidationError.single("message_on", msg, "conflict")
        statuses = frozenset({"completed"}) if self.message_on is None else self.message_on
        kind = self.message_type or CommunicationType.FOLLOW_UP
        object.__setattr__(self, "messages", MappingProxyType(dict.fromkeys(statuses, kind)))

    def message_for(self, lifecycle: str, status: str) -> CommunicationType | None:
        """The message a booking of ``lifecycle`` reaching ``status`` sends, or None.

        .. versionadded:: 0.4
        """
        qualified = f"{lifecycle}:{status}".casefold()
        if qualified in self.messages:
            return self.messages[qualified]
        return self.messages.get(status.casefold())

    def times_confirmed(self, history: Iterable[LifecycleEvent]) -> int:
        """How many times the booking whose ``history`` this is was confirmed: its
        entries (its creation and its moves) into a status whose message is a
        :attr:`~bookingcore.domain.CommunicationType.CONFIRMATION`.

        The ``n``-th of them is the booking's ``n``-th confirmation, logged under
        :func:`~bookingcore.services.communications.confirmation_key`.

        .. versionadded:: 0.4
        """
        return sum(
            1
            for entry in history
            if self.message_for(entry.lifecycle, entry.to_status) is _CONFIRMATION
        )


class DocumentHandler:
    """Renders documents of ``kinds`` for the booking of a status change and stores them.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        context: ServiceContext,
        renderer: DocumentRenderer,
        kinds: Iterable[DocumentKind],
    ) -> None:
        self._ctx = context
        self._renderer = renderer
        self.kinds = tuple(kinds)

    def __call__(self, event: BookingStatusChanged, context: HandlerContext) -> None:
        """Render and store each document; raise (and be retried) if anything is missing."""
        uow = context.uow
        booking = uow.bookings.get(event.booking_id)
        if booking is None:
            raise NotFoundError("booking", event.booking_id)
        customer = uow.customers.get(booking.customer_id)
        if customer is None:
            raise NotFoundError("customer", booking.customer_id)
        travelers = []
        for entry in booking.travelers:
            traveler = uow.travelers.get(entry.traveler_id)
            if traveler is None:
                raise NotFoundError("traveler", entry.traveler_id)
            travelers.append(traveler)
        location = uow.locations.get(booking.location_id)
        product = uow.products.get(booking.product_id) if booking.product_id else None
        for kind in self.kinds:
            rendered = self._renderer.render(
                DocumentData(
                    kind=kind,
                    booking=booking,
                    customer=customer,
                    travelers=tuple(travelers),
                    location=location,
                    product=product,
                    issued_at=context.now,
                    business_name=self._ctx.settings.business_name,
                    zone=self._ctx.settings.zone,
                )
            )
            document = Document(
                id=DocumentId(self._ctx.ids.new_id()),
                booking_id=booking.id,
                kind=kind,
                filename=rendered.filename,
                media_type=rendered.media_type,
                content=rendered.content,
                created_at=context.now,
                source_event_id=event.id,
            )
            uow.documents.add(document)
            context.emit(
                DocumentGenerated(
                    id=self._ctx.ids.new_id(),
                    occurred_at=context.now,
                    document_id=document.id,
                    booking_id=booking.id,
                    kind=kind.value,
                )
            )


class MessageHandler:
    """Sends the customer a ``kind`` message about the booking of an event.

    The event id is the send's idempotency key: a retried delivery does not
    message the customer twice, and a send that failed in a way that may work
    later is sent again.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       a failure that cannot work later (``DeliveryError.retryable`` False) is
       final: the dispatcher does not send the message again.
    .. versionchanged:: 0.4
       takes a :class:`~bookingcore.domain.events.BookingCreated` event too.
    .. versionchanged:: 0.4
       an event whose booking no longer exists is done with (a warning), not retried.
    """

    def __init__(self, communications: CommunicationService, kind: CommunicationType) -> None:
        self._communications = communications
        self.kind = kind

    def __call__(
        self, event: BookingStatusChanged | BookingCreated, context: HandlerContext
    ) -> None:
        """Send (or resend) the message; a delivery error that may work later makes the
        dispatcher retry (one that cannot stays logged failed: see :func:`_unless_final`);
        a booking that no longer exists is done with (see :func:`_unless_gone`)."""
        with _unless_gone(event, {"booking": event.booking_id}), _unless_final():
            self._communications.send(
                event.booking_id,
                self.kind,
                principal=_SYSTEM,
                idempotency_key=f"event:{event.id}:{self.kind.value}",
                log_unsendable=True,
            )


class BookingMessageHandler:
    """Sends the customer the message :class:`Automations` maps a booking's status to:
    the status it moved to (``booking.status_changed``) or was created in
    (``booking.created``, with ``message_on_create``).

    Sends as :class:`MessageHandler` does (once per event and message type),
    but for a confirmation: that is the booking's ``n``-th confirmation
    (:meth:`confirmation_number`), sent once by whoever sends it first, this
    handler or the booking's group
    (:meth:`~bookingcore.services.GroupService.send_confirmations`), through
    :meth:`~bookingcore.services.CommunicationService.send_confirmation`.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        context: ServiceContext,
        communications: CommunicationService,
        automations: Automations,
    ) -> None:
        self._ctx = context
        self._communications = communications
        self.automations = automations

    def kind_for(self, event: BookingStatusChanged | BookingCreated) -> CommunicationType | None:
        """The message ``event`` sends, or None."""
        rules = self.automations
        if isinstance(event, BookingStatusChanged):
            if OPERATOR_CANCELLATION_KEY in event.metadata:
                return None  # the operator's own cancellation message says why
            return rules.message_for(event.lifecycle, event.to_status)
        if not rules.message_on_create:
            return None
        lifecycle = self._ctx.settings.lifecycles.get(event.lifecycle)
        if lifecycle is None or not lifecycle.is_active(event.status):
            return None
        return rules.message_for(event.lifecycle, event.status)

    def wants(self, event: BookingStatusChanged | BookingCreated) -> bool:
        """True when ``event`` sends a message (the subscription's filter)."""
        return self.kind_for(event) is not None

    def __call__(
        self, event: BookingStatusChanged | BookingCreated, context: HandlerContext
    ) -> None:
        """Send (or resend) the message; a delivery error that may work later makes the
        dispatcher retry."""
        kind = self.kind_for(event)
        if kind is None:
            return
        number = self.confirmation_number(event, context.uow) if kind is _CONFIRMATION else None
        if number is None:
            MessageHandler(self._communications, kind)(event, context)
        else:
            with _unless_gone(event, {"booking": event.booking_id}), _unless_final():
                self._communications.send_confirmation(
                    event.booking_id, number, principal=_SYSTEM, log_unsendable=True
                )

    def confirmation_number(
        self, event: BookingStatusChanged | BookingCreated, uow: UnitOfWork
    ) -> int | None:
        """Which of its booking's confirmations ``event`` sends (1 for the first):
        how many times the booking was confirmed up to the history entry of
        ``event`` (:meth:`Automations.times_confirmed`).

        None when that entry cannot be told: a ``booking.status_changed`` written
        before 0.4 (no ``booking_version``), or a history without the entry; the
        message is then sent once for the event, as before 0.4.
        """
        history = uow.lifecycle_events.list_for_booking(event.booking_id)
        if isinstance(event, BookingCreated):
            upto = [entry for entry in history if entry.from_status is None]
        else:
            version = event.booking_version
            if version is None or all(e.booking_version != version for e in history):
                return None
            upto = [entry for entry in history if entry.booking_version <= version]
        return self.automations.times_confirmed(upto) or None


class PushMessageHandler:
    """Pushes the message :class:`Automations` maps a booking's status to (as
    :class:`BookingMessageHandler` picks it) to the customer's active devices.

    Nothing is pushed (or logged) for a customer without an active device. The event id and
    ``push`` are in the idempotency key: a redelivered event pushes nothing more.
    A refusal worth retrying (FCM unavailable) makes the dispatcher retry; one that
    is not (every token gone: those devices are deactivated) is left in the
    communications log as failed.

    .. versionadded:: 0.4
    """

    def __init__(
        self, communications: CommunicationService, messages: BookingMessageHandler
    ) -> None:
        self._communications = communications
        self._messages = messages

    def wants(self, event: BookingStatusChanged | BookingCreated) -> bool:
        """True when ``event`` sends a message (the subscription's filter)."""
        return self._messages.wants(event)

    def __call__(
        self, event: BookingStatusChanged | BookingCreated, context: HandlerContext
    ) -> None:
        """Push the message when the customer has an active device."""
        kind = self._messages.kind_for(event)
        if kind is None:
            return
        # Nothing is read through the dispatcher's unit of work: the send deactivates
        # devices in its own, which a stale copy read here would overwrite.
        with _unless_gone(event, {"booking": event.booking_id}):
            try:
                self._communications.send(
                    event.booking_id,
                    kind,
                    principal=_SYSTEM,
                    channel=Channel.PUSH,
                    idempotency_key=f"event:{event.id}:{kind.value}:push",
                    log_unsendable=True,
                )
            except DeliveryError as exc:
                if exc.retryable:
                    raise
            except ValidationError as exc:
                if not any(e.code == "no_address" for e in exc.errors):
                    raise  # pragma: no cover - log_unsendable logs every other refusal


class AssigneeNoticeHandler:
    """Emails the staff member a booking was assigned to (``booking.updated`` with
    ``assignee_id``, or ``booking.created`` assigned, as an import assigns) a
    ``kind`` notice, through
    :meth:`~bookingcore.services.CommunicationService.send_to_staff`, which logs it
    in the communications log as every message is.

    Nothing is sent when the booking was unassigned, or when the staff member
    assigned it to themselves. The event id is the notice's idempotency key: a
    refused send that may work later makes the dispatcher retry (the same logged
    notice), one that cannot stays logged failed, and a redelivered event sends
    nothing more. A booking or staff member that no longer exists is done with (a
    warning names them), not retried.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        communications: CommunicationService,
        kind: CommunicationType = CommunicationType.ASSIGNMENT,
    ) -> None:
        self._communications = communications
        self.kind = kind

    @staticmethod
    def wants(event: BookingUpdated | BookingCreated) -> bool:
        """True for an assignment to someone other than the one who made it."""
        changed = isinstance(event, BookingCreated) or "assignee_id" in event.fields
        return (
            changed and event.assignee_id is not None and event.actor.id != str(event.assignee_id)
        )

    def __call__(self, event: BookingUpdated | BookingCreated, context: HandlerContext) -> None:
        """Send the notice; a delivery error that may work later makes the dispatcher
        retry (one that cannot stays logged failed: see :func:`_unless_final`)."""
        if event.assignee_id is None:
            return
        subjects = {"booking": event.booking_id, "staff member": event.assignee_id}
        with _unless_gone(event, subjects), _unless_final():
            self._communications.send_to_staff(
                event.booking_id,
                event.assignee_id,
                self.kind,
                principal=_SYSTEM,
                idempotency_key=f"event:{event.id}:{self.kind.value}",
                log_unsendable=True,
            )


class FamilyInvitationHandler:
    """Texts a customer invited into a family account (``family.changed`` with
    ``action`` ``invited``) through
    :meth:`~bookingcore.services.CommunicationService.send_family_invitation`.

    Once per invitation: the message's dedupe key is the invitation's, so a
    redelivered event sends nothing more; a refused send that may work later makes
    the dispatcher retry (the same logged message), one that cannot (or a message
    that cannot be made: a text too long for SMS) stays logged failed, and nothing
    is sent once the invitation no longer waits for an answer.

    .. versionadded:: 0.4
    """

    def __init__(
        self, communications: CommunicationService, channel: Channel = Channel.SMS
    ) -> None:
        self._communications = communications
        self.channel = channel

    @staticmethod
    def wants(event: FamilyChanged) -> bool:
        """True for a new invitation."""
        return event.action == "invited" and event.invitation_id is not None

    def __call__(self, event: FamilyChanged, context: HandlerContext) -> None:
        """Send the message; a delivery error that may work later makes the dispatcher
        retry (one that cannot stays logged failed: see :func:`_unless_final`)."""
        if event.invitation_id is None:
            return
        with _unless_final():
            self._communications.send_family_invitation(
                FamilyInvitationId(event.invitation_id),
                principal=_SYSTEM,
                channel=self.channel,
                log_unsendable=True,
            )


@contextlib.contextmanager
def _unless_final() -> Iterator[None]:
    """Let a send's :class:`~bookingcore.errors.DeliveryError` reach the dispatcher (which
    retries the handler, sending the logged message again) only when it may work later.

    One that cannot (``retryable`` False: an invalid number, a refused address, no
    notifier; or a gateway that answered without an id, so it may have taken the
    message) is final: the message is logged failed with the reason, and a retry
    could only be refused again or reach the customer twice.
    """
    try:
        yield
    except DeliveryError as exc:
        if exc.retryable:
            raise


@contextlib.contextmanager
def _unless_gone(event: DomainEvent, subjects: Mapping[str, object]) -> Iterator[None]:
    """End the handler of ``event`` as done when what it is about no longer exists:
    a :class:`~bookingcore.errors.NotFoundError` for one of ``subjects`` (entity ->
    the id ``event`` names: its booking, its staff member). Nothing can be sent about
    it on any retry, so the dispatcher is not made to retry until it gives up; a
    warning names the event and the missing id.

    Any other ``NotFoundError`` (another entity, another id) is not the event's
    subject going away but a fault: it reaches the dispatcher, which records and
    retries it.
    """
    try:
        yield
    except NotFoundError as exc:
        named = subjects.get(exc.entity)
        if named is None or str(named) != str(exc.key):
            raise
        _log.warning(
            "%s %s: its %s %s no longer exists, nothing to send",
            event.name,
            event.id,
            exc.entity,
            exc.key,
        )


_SYSTEM = Principal.system("automations")


def install(
    dispatcher: EventDispatcher,
    context: ServiceContext,
    *,
    renderer: DocumentRenderer | None,
    communications: CommunicationService | None,
    automations: Automations | None = None,
) -> None:
    """Subscribe the built-in handlers whose port is wired.

    Handler names: ``documents.invoice``, ``documents.voucher_itinerary``,
    ``messages.on_status``, ``messages.on_create``, ``messages.push_on_status``,
    ``messages.push_on_create``, ``messages.to_assignee``,
    ``messages.to_assignee_on_create`` and ``messages.family_invitation``.

    .. versionchanged:: 0.4
       ``messages.on_status`` replaces ``messages.on_completed``;
       ``messages.on_create``, ``messages.push_on_status``, ``messages.push_on_create``,
       ``messages.to_assignee``, ``messages.to_assignee_on_create`` and
       ``messages.family_invitation``.
    """
    rules = automations or Automations()

    if renderer is not None:
        dispatcher.subscribe(
            BookingStatusChanged,
            DocumentHandler(context, renderer, [DocumentKind.INVOICE]),
            name="documents.invoice",
            when=lambda event: event.to_status.casefold() in rules.invoice_on,
        )
        dispatcher.subscribe(
            BookingStatusChanged,
            DocumentHandler(context, renderer, [DocumentKind.VOUCHER, DocumentKind.ITINERARY]),
            name="documents.voucher_itinerary",
            when=lambda event: event.to_status.casefold() in rules.documents_on,
        )
    if communications is not None:
        messages = BookingMessageHandler(context, communications, rules)
        if rules.messages:
            dispatcher.subscribe(
                BookingStatusChanged, messages, name="messages.on_status", when=messages.wants
            )
            if rules.message_on_create:
                dispatcher.subscribe(
                    BookingCreated, messages, name="messages.on_create", when=messages.wants
                )
        if rules.messages and rules.push_messages:
            pushes = PushMessageHandler(communications, messages)
            dispatcher.subscribe(
                BookingStatusChanged, pushes, name="messages.push_on_status", when=pushes.wants
            )
            if rules.message_on_create:
                dispatcher.subscribe(
                    BookingCreated, pushes, name="messages.push_on_create", when=pushes.wants
                )
        if rules.notify_assignee:
            notice = AssigneeNoticeHandler(communications)
            dispatcher.subscribe(
                BookingUpdated, notice, name="messages.to_assignee", when=notice.wants
            )
            dispatcher.subscribe(
                BookingCreated, notice, name="messages.to_assignee_on_create", when=notice.wants
            )
        if rules.family_invitations:
            invitation = FamilyInvitationHandler(communications)
            dispatcher.subscribe(
                FamilyChanged,
                invitation,
                name="messages.family_invitation",
                when=invitation.wants,
            )
