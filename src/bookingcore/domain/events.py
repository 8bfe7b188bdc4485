"""Domain events, the outbox that carries them, and handler deliveries.

A use case that changes something records a :class:`DomainEvent` in the outbox
of the same unit of work, so the event exists exactly when the change does.
After commit the dispatcher (:class:`~bookingcore.services.EventDispatcher`)
hands each event to every subscribed handler and keeps a :class:`Delivery` per
event and handler: done, waiting for a retry, or given up. A failing handler
never undoes the change that raised the event and never holds up other handlers.

Every event class has a stable ``name`` (``booking.status_changed``) under
which it is stored and published; :func:`event_type` finds the class again.
Subclass :class:`DomainEvent` to add your own; the subclass registers itself.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs

from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    BookingId,
    CommunicationId,
    CustomerId,
    DocumentId,
    Money,
    PartnerId,
    PaymentId,
    RefundId,
    SlotId,
    StaffId,
    TravelerId,
    WaitlistEntryId,
)
from bookingcore.errors import ValidationError

__all__ = [
    "AttendanceRecorded",
    "BookingCreated",
    "BookingPaid",
    "BookingRescheduled",
    "BookingStatusChanged",
    "BookingUnarchived",
    "BookingUpdated",
    "BookingsArchived",
    "CommunicationStatusChanged",
    "CustomerRegistered",
    "Delivery",
    "DeliveryStatus",
    "DocumentGenerated",
    "DomainEvent",
    "FamilyChanged",
    "OutboxMessage",
    "RefundReversed",
    "RetryPolicy",
    "SerializedMessage",
    "SlotCancelled",
    "SlotRescheduled",
    "TravelerChanged",
    "WaitlistOfferEnded",
    "WaitlistOffered",
    "event_type",
    "event_types",
]

_REGISTRY: dict[str, type[DomainEvent]] = {}


def _frozen_dict(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Something that happened, with its own id and time.

    Subclasses set ``name`` (a dotted, stable identifier) and add their fields;
    each subclass is registered under its name for :func:`event_type`.

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "event"

    id: UUID
    occurred_at: datetime

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _REGISTRY[cls.name] = cls


def event_type(name: str) -> type[DomainEvent]:
    """The event class registered under ``name``.

    Raises:
        ValidationError: on field ``name`` when no class has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        msg = f"{name!r} is not a known event; subclass DomainEvent with that name"
        raise ValidationError.single("name", msg, "unknown_event") from None


def event_types() -> Mapping[str, type[DomainEvent]]:
    """Every registered event class by name (the library's and your own)."""
    return dict(_REGISTRY)


@attrs.frozen(kw_only=True)
class BookingCreated(DomainEvent):
    """A booking was made.

    ``assignee_id`` is the staff member (advisor) it was made assigned to (an
    import's row or assignment strategy), if any.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``assignee_id``.
    """

    name: ClassVar[str] = "booking.created"

    booking_id: BookingId
    reference: str
    customer_id: CustomerId
    slot_id: SlotId
    lifecycle: str
    status: str
    source: BookingSource
    actor: Actor
    travelers: int
    partner_id: PartnerId | None = None
    assignee_id: StaffId | None = None


@attrs.frozen(kw_only=True)
class BookingStatusChanged(DomainEvent):
    """A booking moved along its lifecycle.

    ``booking_version`` is the booking's version after the move: the
    ``booking_version`` of the history entry the move wrote
    (:class:`~bookingcore.domain.lifecycle.LifecycleEvent`), so a handler finds
    that entry, and the moves before it, in the booking's history.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``partner_id``.
    .. versionchanged:: 0.4 ``booking_version``.
    """

    name: ClassVar[str] = "booking.status_changed"

    booking_id: BookingId
    lifecycle: str
    from_status: str
    to_status: str
    actor: Actor
    note: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_dict)
    #: the partner the booking belongs to, so subscribers can pick partners' moves
    #: without reading the booking (``None`` for direct bookings and older events)
    partner_id: PartnerId | None = None
    #: the booking's version after the move (``None`` in events written before 0.4)
    booking_version: int | None = None


@attrs.frozen(kw_only=True)
class BookingPaid(DomainEvent):
    """A captured payment covered a booking's total while the booking stayed where it
    was: it had reached its paid state before the money came (staff confirmed it
    first), or the move there was left out (no seats for it, the booking archived).

    A payment that moves the booking to its paid state raises a
    :class:`BookingStatusChanged` with the payment's id in its metadata instead;
    either is the partner webhook topic ``booking.paid``. ``paid`` (with
    ``currency``) is what the booking's payments hold after this one.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "booking.paid"

    booking_id: BookingId
    payment_id: PaymentId
    status: str
    paid: str
    currency: str
    actor: Actor
    partner_id: PartnerId | None = None


@attrs.frozen(kw_only=True)
class BookingUpdated(DomainEvent):
    """A booking's bookkeeping fields (notes, external id, assignee, ...) were edited.

    ``assignee_id`` is the staff member (advisor) the booking is assigned to
    after the edit when ``"assignee_id"`` is among ``fields``; ``None`` when the
    edit left the booking unassigned or did not touch its assignee (and in
    events written before 0.4).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``assignee_id``.
    """

    name: ClassVar[str] = "booking.updated"

    booking_id: BookingId
    fields: tuple[str, ...]
    actor: Actor
    assignee_id: StaffId | None = None


@attrs.frozen(kw_only=True)
class BookingsArchived(DomainEvent):
    """One batch of ended bookings was archived: they left the operational lists.

    ``booking_ids`` are the bookings this batch archived (each also has its own
    audit entry), ``ended_before`` the cutoff their slots ended before. Nothing
    else about them changed.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "bookings.archived"

    booking_ids: tuple[BookingId, ...]
    ended_before: datetime
    actor: Actor


@attrs.frozen(kw_only=True)
class BookingUnarchived(DomainEvent):
    """Staff brought an archived booking back to the operational lists.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "booking.unarchived"

    booking_id: BookingId
    actor: Actor
    reason: str | None = None


@attrs.frozen(kw_only=True)
class AttendanceRecorded(DomainEvent):
    """Staff recorded who turned up to a booking's slot: the travelers marked
    attended, no-show and unknown by this change (those it changed only).

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "booking.attendance_recorded"

    booking_id: BookingId
    slot_id: SlotId
    customer_id: CustomerId
    actor: Actor
    attended: tuple[TravelerId, ...] = ()
    no_shows: tuple[TravelerId, ...] = ()
    unknown: tuple[TravelerId, ...] = ()
    partner_id: PartnerId | None = None


@attrs.frozen(kw_only=True)
class BookingRescheduled(DomainEvent):
    """A booking moved to another slot, or its slot's departure moved (then
    ``from_slot_id`` and ``to_slot_id`` are the same); ``price_difference`` is
    new total less old. ``partner_id`` is the partner whose booking it is.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``partner_id``.
    """

    name: ClassVar[str] = "booking.rescheduled"

    booking_id: BookingId
    from_slot_id: SlotId
    to_slot_id: SlotId
    from_starts_at: datetime
    to_starts_at: datetime
    price_difference: str
    currency: str
    actor: Actor
    note: str | None = None
    partner_id: PartnerId | None = None


@attrs.frozen(kw_only=True)
class CustomerRegistered(DomainEvent):
    """A new customer was registered (by phone, possibly by a partner).

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "customer.registered"

    customer_id: CustomerId
    actor: Actor
    partner_id: PartnerId | None = None


@attrs.frozen(kw_only=True)
class TravelerChanged(DomainEvent):
    """A saved traveler was created, updated or deleted.

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "traveler.changed"

    traveler_id: TravelerId
    customer_id: CustomerId
    action: str
    actor: Actor


@attrs.frozen(kw_only=True)
class FamilyChanged(DomainEvent):
    """A family account changed for ``customer_id``.

    ``action`` is one of ``invited``, ``joined``, ``declined``, ``cancelled`` (an
    invitation withdrawn), ``left``, ``removed`` (by the owner, or on erasure) and
    ``dissolved`` (the owner left: one event per member unlinked).
    ``invitation_id`` names the invitation of an ``invited`` event (the invited
    customer's message is sent from it), None otherwise.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "family.changed"

    family_id: UUID
    customer_id: CustomerId
    action: str
    actor: Actor
    invitation_id: UUID | None = None


@attrs.frozen(kw_only=True)
class DocumentGenerated(DomainEvent):
    """A document (invoice, voucher, itinerary) was generated for a booking.

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "document.generated"

    document_id: DocumentId
    booking_id: BookingId
    kind: str


@attrs.frozen(kw_only=True)
class CommunicationStatusChanged(DomainEvent):
    """A message to a customer reached a new status (sent, delivered, failed, ...).

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "communication.status_changed"

    communication_id: CommunicationId
    booking_id: BookingId | None
    customer_id: CustomerId
    status: str


@attrs.frozen(kw_only=True)
class WaitlistOffered(DomainEvent):
    """Freed seats on a slot are held for a waiting customer until ``offer_expires_at``.

    ``communication_id`` is the logged message that tells the customer; a
    handler hands it to the :class:`~bookingcore.ports.Notifier` after commit.

    .. versionadded:: 0.2
    """

    name: ClassVar[str] = "waitlist.offered"

    entry_id: WaitlistEntryId
    slot_id: SlotId
    customer_id: CustomerId
    seats: int
    offer_expires_at: datetime
    communication_id: CommunicationId | None = None


@attrs.frozen(kw_only=True)
class WaitlistOfferEnded(DomainEvent):
    """A waiting-list offer ended: ``outcome`` is ``booked``, ``expired``, ``cancelled`` or
    ``declined`` (an offer on an alternative date turned down; declined or expired, such
    an offer leaves the entry waiting on its own slot again).

    .. versionadded:: 0.2
    """

    name: ClassVar[str] = "waitlist.offer_ended"

    entry_id: WaitlistEntryId
    slot_id: SlotId
    customer_id: CustomerId
    seats: int
    outcome: str
    booking_id: BookingId | None = None


@attrs.frozen(kw_only=True)
class SlotCancelled(DomainEvent):
    """An operator cancelled a slot: it is closed and every live booking on it was
    cancelled with a full refund owed, its waiting list ended.

    ``booking_ids`` are the bookings this cancellation cancelled (each also has
    its own ``booking.status_changed`` event), ``waitlist_entry_ids`` the
    entries it ended, ``communication_ids`` the logged messages that tell the
    customers; a handler hands them to the :class:`~bookingcore.ports.Notifier`
    after commit.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "slot.cancelled"

    slot_id: SlotId
    reason: str
    booking_ids: tuple[BookingId, ...] = ()
    waitlist_entry_ids: tuple[WaitlistEntryId, ...] = ()
    communication_ids: tuple[CommunicationId, ...] = ()


@attrs.frozen(kw_only=True)
class SlotRescheduled(DomainEvent):
    """An operator moved a slot's departure (a weather delay, a boat swap): it starts
    at ``to_starts_at`` instead of ``from_starts_at``.

    ``booking_ids`` are the live bookings that moved with it (each also has its
    own ``booking.rescheduled`` event, from and to the same slot),
    ``communication_ids`` the logged messages that tell their customers; a
    handler hands them to the :class:`~bookingcore.ports.Notifier` after commit.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "slot.rescheduled"

    slot_id: SlotId
    from_starts_at: datetime
    to_starts_at: datetime
    reason: str
    booking_ids: tuple[BookingId, ...] = ()
    communication_ids: tuple[CommunicationId, ...] = ()


@attrs.frozen(kw_only=True)
class RefundReversed(DomainEvent):
    """A refund that had succeeded failed afterwards (Stripe's ``refund.failed``): the
    customer's bank returned it, the money is back with the business, and the customer is
    owed ``amount`` again.

    ``refunded_amount`` and ``payment_status`` are the payment's after the reversal
    (``captured`` when nothing refunded is left); ``reason`` is the provider's, as the
    refund's ``failure_reason`` keeps it. The payment is flagged for staff
    (``refund_reversed``) to give the money back another way; in the same transaction a
    debit note reversed the refund's credit note and the partner commission it reversed
    was accrued again.

    .. versionadded:: 0.4
    """

    name: ClassVar[str] = "payment.refund_reversed"

    payment_id: PaymentId
    refund_id: RefundId
    booking_id: BookingId
    provider: str
    amount: Money
    refunded_amount: Money
    payment_status: str
    actor: Actor
    refund_reference: str | None = None
    reason: str | None = None


@attrs.define
class OutboxMessage:
    """An event waiting in the outbox.

    ``sequence`` is given by the storage when the message is committed and
    orders the outbox. ``dispatched_at`` is set once every subscribed handler
    had its first try at the event (each handler's :class:`Delivery` says
    whether it is done, waiting for a retry or gave up); ``published_at`` once
    an :class:`~bookingcore.ports.EventPublisher` relayed it to a broker.

    .. versionadded:: 0.1
    """

    event: DomainEvent
    sequence: int | None = None
    dispatched_at: datetime | None = None
    published_at: datetime | None = None

    @property
    def id(self) -> UUID:
        """The event's id, which is the message's id."""
        return self.event.id

    @property
    def name(self) -> str:
        """The event's registered name."""
        return self.event.name

    def erase(self, placeholder: str, *, keep: Iterable[str] = ()) -> bool:
        """Replace the event's free text with ``placeholder``, in place (GDPR).

        Free text is a non-empty ``note`` (:class:`BookingStatusChanged`,
        :class:`BookingRescheduled`) and the non-empty values of a ``metadata``
        mapping (:class:`BookingStatusChanged`) but those of ``keep``; your own
        events' fields of those names are erased the same way. Everything else
        (ids, statuses, times, amounts, the event's id) stays. Returns whether
        anything changed; the unit of work that read the message stores it on commit.

        .. versionadded:: 0.4
        """
        fields = attrs.fields_dict(type(self.event))
        changes: dict[str, Any] = {}
        note = getattr(self.event, "note", None) if "note" in fields else None
        if isinstance(note, str) and note and note != placeholder:
            changes["note"] = placeholder
        metadata = getattr(self.event, "metadata", None) if "metadata" in fields else None
        if isinstance(metadata, Mapping):
            kept = frozenset(keep)
            erased = {k: v if k in kept or not v else placeholder for k, v in metadata.items()}
            if erased != dict(metadata):
                changes["metadata"] = erased
        if not changes:
            return False
        self.event = attrs.evolve(self.event, **changes)
        return True


@attrs.frozen
class SerializedMessage:
    """An outbox message as storage keeps it: the event's id, registered name, time and
    data as JSON text (``payload``, the document of ``event_to_dict(event)["data"]``),
    not rebuilt into a typed event.

    What an :class:`~bookingcore.ports.SerializedEventPublisher` gets from the
    relay: a broker needs the JSON anyway, so the relay hands on the text storage
    returned, with no typed :class:`DomainEvent` rebuilt and no document parsed
    and written again. The text is JSON, not a canonical form: PostgreSQL's
    ``jsonb`` prints keys in its own order with a space after each separator,
    SQLite keeps what was written. Parse it to compare it (:attr:`data`).
    ``bookingcore.serialization`` converts both ways (``serialized_message``,
    ``event_from_serialized``).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       The data comes as JSON text, ``payload``; ``data`` parses it.
    """

    id: UUID
    name: str
    occurred_at: datetime
    payload: str
    sequence: int | None = None

    @property
    def data(self) -> Mapping[str, Any]:
        """The event's data, parsed from :attr:`payload` (again at each access).

        .. versionchanged:: 0.4
           Parsed from ``payload``; it was a field.
        """
        parsed: Mapping[str, Any] = json.loads(self.payload)
        return parsed


class DeliveryStatus(enum.StrEnum):
    """Where one handler is with one event.

    .. versionadded:: 0.1
    """

    DONE = "done"
    RETRYING = "retrying"
    GAVE_UP = "gave_up"


@attrs.frozen
class RetryPolicy:
    """How often and how late a failing handler is tried again.

    The n-th retry waits ``first_delay * factor ** (n - 1)``, capped at
    ``max_delay``; after ``max_attempts`` failures the delivery gives up and
    stays visible for an operator to replay.

    Raises:
        ValidationError: on the field at fault: ``max_attempts`` not a whole number
            of at least 1, ``first_delay`` not a positive ``timedelta``, ``factor``
            not a number of at least 1 (NaN included), ``max_delay`` not a
            ``timedelta`` of at least ``first_delay``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       Each field is checked on its own name (a factor below 1 was an error on
       ``first_delay``; a NaN factor or a zero ``max_delay`` was taken).
    """

    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=10)
    factor: float = 3.0
    max_delay: timedelta = timedelta(hours=6)

    def __attrs_post_init__(self) -> None:
        attempts: object = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            msg = "must be a whole number"
            raise ValidationError.single("max_attempts", msg, "invalid_type")
        if attempts < 1:
            raise ValidationError.single("max_attempts", "must be at least 1", "too_small")
        first: object = self.first_delay
        if not isinstance(first, timedelta) or first <= timedelta(0):
            msg = "must be a positive timedelta"
            raise ValidationError.single("first_delay", msg, "invalid")
        factor: object = self.factor
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
            raise ValidationError.single("factor", "must be a number of at least 1", "invalid")
        cap: object = self.max_delay
        if not isinstance(cap, timedelta) or cap < first:
            msg = f"must be a timedelta of at least the first delay ({first})"
            raise ValidationError.single("max_delay", msg, "invalid")

    def delay(self, failures: int) -> timedelta:
        """How long to wait after the ``failures``-th failure."""
        cap = self.max_delay.total_seconds()
        try:
            seconds = self.first_delay.total_seconds() * self.factor ** max(failures - 1, 0)
        except OverflowError:
            return self.max_delay
        return self.max_delay if seconds >= cap else timedelta(seconds=seconds)


@attrs.define
class Delivery:
    """The record of one handler applying one event; at most one per pair.

    Its ``id`` is derived from the event id and the handler name, so storage
    that keeps ids unique also keeps "applied once per handler" true when two
    dispatchers race.

    .. versionadded:: 0.1
    """

    event_id: UUID
    handler: str
    status: DeliveryStatus = DeliveryStatus.RETRYING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    completed_at: datetime | None = None
    id: UUID = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.id = self.key(self.event_id, self.handler)

    @staticmethod
    def key(event_id: UUID, handler: str) -> UUID:
        """The id of the delivery of ``event_id`` to ``handler``."""
        return uuid5(NAMESPACE_URL, f"bookingcore:delivery:{event_id}:{handler}")

    @property
    def finished(self) -> bool:
        """True when nothing more will be tried (done or given up)."""
        return self.status is not DeliveryStatus.RETRYING

    def is_due(self, now: datetime) -> bool:
        """True when the handler should be tried (again) at ``now``."""
        return not self.finished and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def succeed(self, now: datetime) -> None:
        """The handler applied the event."""
        self.attempts += 1
        self.status = DeliveryStatus.DONE
        self.completed_at = now
        self.next_attempt_at = None

    def fail(self, error: str, now: datetime, policy: RetryPolicy) -> None:
        """The handler raised ``error``: schedule a retry, or give up after the last attempt."""
        self.attempts += 1
        self.last_error = error[:2000]
        if self.attempts >= policy.max_attempts:
            self.status = DeliveryStatus.GAVE_UP
            self.completed_at = now
            self.next_attempt_at = None
        else:
            self.status = DeliveryStatus.RETRYING
            self.next_attempt_at = now + policy.delay(self.attempts)
