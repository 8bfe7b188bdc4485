"""Payments and refunds: money taken for a booking, and money given back.

A :class:`Payment` is one attempt to collect ``amount`` for a booking through a
provider (``stripe``, ``razorpay``, ``manual``, ...), known there by its
``provider_reference`` (the payment intent or order id). Its status moves:

* ``pending``, ``requires_action`` (3-D Secure, a UPI approval) and ``failed``
  may become ``requires_action``, ``authorized``, ``captured``, ``failed`` or
  ``cancelled``: a failed attempt may be tried again on the same intent;
* ``authorized`` becomes ``captured``, or ``cancelled`` (the hold is voided);
* ``captured`` becomes ``partially_refunded`` and ``refunded``, through refunds only;
* ``refunded`` and ``cancelled`` are final, except that a settled refund the
  provider reports ``failed`` afterwards (:meth:`Payment.reverse_refund`) takes
  the payment back to what it keeps (``partially_refunded`` or ``captured``).

**Webhooks are applied once.** Providers deliver an event more than once and
out of order; :meth:`Payment.apply_event` records every event id it has seen
in ``processed_event_ids`` and returns False, changing nothing, for one it saw
before. An event that arrives after a later one (``authorized`` after
``captured``) is recorded but moves nothing back; an event that contradicts
the payment (``captured`` after ``cancelled``) is refused with
:class:`~bookingcore.errors.InvalidTransitionError`.

**Some events decide nothing by themselves.** ``pending``, ``requires_action``
and ``failed`` follow each other in any order while a customer retries on one
intent, so an event reporting one of them, arriving while the payment is at
another of them after some event, says nothing about which came last
(:meth:`Payment.decides` is False). The payment service then asks the provider
for the payment's current state and applies that with
:meth:`Payment.apply_provider_state`; without a provider to ask, the event is
applied as it comes (the last one delivered wins until a deciding event).

**Refunds never exceed what was captured.** A :class:`Refund` is started with
:meth:`Payment.start_refund`, which reserves its amount against the payment
at once, and ends with :meth:`Payment.settle_refund` or
:meth:`Payment.fail_refund` (which frees the reservation). At every moment
``refunded_amount + pending_refund_amount <= captured_amount``, all in the
payment's currency; asking for more is a
:class:`~bookingcore.errors.ValidationError` on ``amount``. Because the
running totals live on the payment (which has a version and can be locked
with ``payments.get_for_update``), two refunds started at once cannot
together overdraw it. A refund the provider made on its own (in its
dashboard) is recorded with :meth:`Payment.record_provider_refund`; one the
payment cannot hold is kept ``unreconciled``, outside these totals.

**A refund follows what its provider reported.** Every refund keeps the status
its provider last reported (:attr:`Refund.provider_status`: ``pending``, then
``succeeded`` or ``failed``), forward only, as a payment's status is:
:meth:`Payment.report_refund` records a report and refuses to move it back, so
a late or redelivered ``pending`` report after ``failed`` changes nothing.
``failed`` after ``succeeded`` is news, not a step back: the customer's bank
returned the refund (Stripe's ``refund.failed``), and
:meth:`Payment.reverse_refund` counts its amount as the payment's again. An
unreconciled refund the provider reported ``pending`` is taken in as
``pending`` (its amount reserved), not as refunded; one it reported ``failed``
moved no money and becomes ``failed``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime

import attrs

from bookingcore.domain._validation import (
    check_move,
    check_text,
    clean_text,
    parse_choice,
    positive_money_amount,
    text_mapping,
)
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    Money,
    PaymentId,
    RefundId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import InvalidTransitionError, ValidationError

__all__ = [
    "AttentionItem",
    "AttentionReason",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundStatus",
    "normalise_provider",
]

_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,39}")


def normalise_provider(value: object, field: str = "provider") -> str:
    """Return a payment provider's identifier stripped and lower-cased (``"stripe"``).

    An identifier is 1-40 letters, digits, ``_``, ``.`` or ``-``.

    Raises:
        ValidationError: on ``field`` when it is missing or malformed.

    .. versionadded:: 0.1
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    provider = value.strip().lower()
    if not _PROVIDER.fullmatch(provider):
        msg = f"{value!r} is not a provider identifier (letters, digits, '_.-'; at most 40)"
        raise ValidationError.single(field, msg, "invalid_provider")
    return provider


class PaymentStatus(enum.StrEnum):
    """Where a payment is.

    .. versionadded:: 0.1
    """

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundStatus(enum.StrEnum):
    """Where a refund is.

    ``unreconciled`` is a refund the provider reports having made (in its
    dashboard) that its payment's books cannot hold: more than is left to
    refund, nothing captured yet, or another currency. It is recorded as the
    provider says, counted in no total, and its payment is flagged for staff
    (:meth:`Payment.record_provider_refund`). Staff resolve it: applied once it
    fits (:meth:`Payment.reconcile_refund`: ``pending``, then ``succeeded`` or
    ``failed`` as the provider reports), or ``dismissed`` with a note
    (:meth:`Payment.dismiss_refund`): still recorded, still counted in no
    total. One the provider reports ``failed`` moved no money: it becomes
    ``failed`` (:meth:`Payment.fail_refund`), counted in no total.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``unreconciled``.
    .. versionchanged:: 0.4 ``dismissed``.
    .. versionchanged:: 0.4 an ``unreconciled`` refund may become ``failed``.
    """

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNRECONCILED = "unreconciled"
    DISMISSED = "dismissed"


_P = PaymentStatus
_PENDING = RefundStatus.PENDING
_RETRIED = frozenset({_P.REQUIRES_ACTION, _P.AUTHORIZED, _P.CAPTURED, _P.FAILED, _P.CANCELLED})

#: The moves a payment's status may make (refund statuses only through refunds).
_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _P.PENDING: _RETRIED,
    _P.REQUIRES_ACTION: _RETRIED - {_P.REQUIRES_ACTION},
    _P.FAILED: _RETRIED - {_P.FAILED},
    _P.AUTHORIZED: frozenset({_P.CAPTURED, _P.CANCELLED}),
    _P.CAPTURED: frozenset({_P.PARTIALLY_REFUNDED, _P.REFUNDED}),
    _P.PARTIALLY_REFUNDED: frozenset({_P.REFUNDED}),
    _P.REFUNDED: frozenset(),
    _P.CANCELLED: frozenset(),
}

_BEFORE_CAPTURE = frozenset({_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED, _P.AUTHORIZED})

#: The statuses of attempts on one intent, which follow each other in any order
#: (``pending`` again is a retry in flight: Stripe's ``processing``).
_UNDECIDED = frozenset({_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED})

#: Events for these statuses, arriving once the payment is at the key, are late: kept, not applied.
_LATE: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _P.PENDING: frozenset(),
    _P.REQUIRES_ACTION: frozenset({_P.PENDING}),
    _P.FAILED: frozenset({_P.PENDING}),
    _P.AUTHORIZED: frozenset({_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED}),
    _P.CAPTURED: _BEFORE_CAPTURE,
    _P.PARTIALLY_REFUNDED: _BEFORE_CAPTURE | {_P.CAPTURED},
    _P.REFUNDED: _BEFORE_CAPTURE | {_P.CAPTURED, _P.PARTIALLY_REFUNDED},
    _P.CANCELLED: frozenset({_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED, _P.AUTHORIZED}),
}

_REFUND_STATUSES = frozenset({_P.PARTIALLY_REFUNDED, _P.REFUNDED})


class AttentionReason(enum.StrEnum):
    """Why a payment is flagged for staff (the code of an :class:`AttentionItem`).

    .. versionadded:: 0.4
    """

    #: Captured after its booking was cancelled or ended without seats.
    LATE_PAYMENT = "late_payment"
    #: Captured more than was due on its booking.
    OVERPAID = "overpaid"
    #: The provider reports money taken that the payment refused.
    CAPTURE_REFUSED = "capture_refused"
    #: Captured, but its booking could not take it (not moved, not invoiced).
    CAPTURE_UNSETTLED = "capture_unsettled"
    #: The provider reports a refund without its amount.
    REFUND_WITHOUT_AMOUNT = "refund_without_amount"
    #: A refund made at the provider that the payment cannot hold (``unreconciled``).
    UNRECONCILED_REFUND = "unreconciled_refund"
    #: A refund that had succeeded failed afterwards: the customer is owed its amount again.
    #:
    #: .. versionadded:: 0.4
    REFUND_REVERSED = "refund_reversed"
    #: Flagged for anything else (flags stored before reasons had codes).
    OTHER = "other"


def _attention_reason(value: object) -> AttentionReason:
    return parse_choice(AttentionReason, value, "reason_code", what="an attention reason")


def _attention_text(value: object) -> str:
    text = clean_text(value, "text", required=True, max_length=2000)
    assert text is not None
    return text


def _aware_since(value: datetime) -> datetime:
    return ensure_aware(value, "since")


@attrs.frozen
class AttentionItem:
    """One open reason a payment needs staff: its ``code``, what happened (``text``) and
    when it was first flagged (``since``).

    .. versionadded:: 0.4
    """

    code: AttentionReason = attrs.field(converter=_attention_reason)
    text: str = attrs.field(converter=_attention_text)
    since: datetime = attrs.field(converter=_aware_since)


def _attention_items(values: Iterable[AttentionItem]) -> tuple[AttentionItem, ...]:
    items = tuple(values)
    if any(not isinstance(item, AttentionItem) for item in items):
        raise ValidationError.single("attention", "holds attention items only", "invalid")
    codes = [item.code for item in items]
    if len(set(codes)) != len(codes):
        raise ValidationError.single("attention", "holds one item per reason", "duplicate")
    return tuple(sorted(items, key=lambda item: (item.since, item.code.value)))


_REFUND_MOVES: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
    RefundStatus.UNRECONCILED: frozenset(
        {RefundStatus.PENDING, RefundStatus.FAILED, RefundStatus.DISMISSED}
    ),
    RefundStatus.DISMISSED: frozenset(),
}

#: The statuses a provider reports a refund in (:attr:`Refund.provider_status`).
_REPORTED = frozenset({RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED})

#: Where a reported status may move: forward only, as a payment's status does. A
#: ``succeeded`` refund may still fail: Stripe reports ``refund.failed`` when the
#: customer's bank returns a refund it had accepted (the money comes back to the
#: business); nothing follows ``failed``.
_REPORT_MOVES: dict[RefundStatus | None, frozenset[RefundStatus]] = {
    None: _REPORTED,
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.FAILED}),
    RefundStatus.FAILED: frozenset(),
}


def _payment_status(value: object) -> PaymentStatus:
    return parse_choice(PaymentStatus, value, "status", what="a payment status")


def _refund_status(value: object) -> RefundStatus:
    return parse_choice(RefundStatus, value, "status", what="a refund status")


def _reported_status(value: object, field: str = "provider_status") -> RefundStatus | None:
    """A status a provider reports a refund in: ``pending``, ``succeeded`` or ``failed``."""
    if value is None:
        return None
    status = parse_choice(RefundStatus, value, field, what="a refund status")
    if status not in _REPORTED:
        msg = f"{status.value!r} is not a status a provider reports (pending, succeeded, failed)"
        raise ValidationError.single(field, msg, "invalid_choice")
    return status


def _event_ids(values: Iterable[object]) -> frozenset[str]:
    found: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not value or value.strip() != value:
            msg = "event ids are non-empty text without surrounding spaces"
            raise ValidationError.single("processed_event_ids", msg, "invalid")
        found.add(value)
    return frozenset(found)


def _event_id(value: object) -> str:
    text = clean_text(value, "event_id", required=True)
    assert text is not None
    return text


def _zero_like_amount(payment: Payment) -> Money:
    return Money.zero(payment.amount.currency)


def _same_currency(expected: str, value: Money, field: str) -> None:
    if value.currency != expected:
        msg = f"is in {value.currency}; the payment is in {expected}"
        raise ValidationError.single(field, msg, "currency_mismatch")


@attrs.define(slots=False, kw_only=True)
class Refund(Versioned):
    """Money given back from one payment: ``pending`` until the provider settles it.

    Its status changes only through its payment (:meth:`Payment.settle_refund`,
    :meth:`Payment.fail_refund`), which keeps the payment's running totals right.
    ``provider_status`` is the status its provider last reported (``pending``,
    ``succeeded`` or ``failed``; ``None`` until it reported one, and for
    refunds stored before it was kept), moved forward only by
    :meth:`Payment.report_refund`.

    Raises:
        ValidationError: on ``amount`` when it is not above zero; on
            ``provider_status`` when it is not one a provider reports.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``provider_status``.
    """

    id: RefundId
    payment_id: PaymentId
    amount: Money
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    status: RefundStatus = attrs.field(default=RefundStatus.PENDING, converter=_refund_status)
    provider_reference: str | None = None
    failure_reason: str | None = None
    completed_at: datetime | None = None
    version: int = 1
    provider_status: RefundStatus | None = attrs.field(default=None, converter=_reported_status)

    entity_name = "refund"

    def __attrs_post_init__(self) -> None:
        positive_money_amount(self.amount, "amount")
        self.reason = clean_text(self.reason, "reason", max_length=2000)
        self.provider_reference = clean_text(self.provider_reference, "provider_reference")
        self.failure_reason = clean_text(self.failure_reason, "failure_reason", max_length=2000)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")

    @property
    def is_pending(self) -> bool:
        """True until the provider settled the refund or it failed."""
        return self.status is RefundStatus.PENDING

    def _end(
        self,
        target: RefundStatus,
        now: datetime,
        *,
        provider_reference: str | None = None,
        failure_reason: str | None = None,
    ) -> None:
        check_move("refund", f"refund {self.id}", _REFUND_MOVES, self.status, target)
        self.status = target
        if provider_reference is not None:
            self.provider_reference = clean_text(provider_reference, "provider_reference")
        if failure_reason is not None:
            self.failure_reason = clean_text(failure_reason, "failure_reason", max_length=2000)
        self.completed_at = ensure_aware(now, "now")
        self.updated_at = self.completed_at
        self.version += 1


@attrs.define(slots=False, kw_only=True)
class Payment(Versioned):
    """One attempt to collect ``amount`` for a booking through a provider.

    ``captured_amount`` is what the provider actually took (at most
    ``amount``); ``refunded_amount`` what went back for good and
    ``pending_refund_amount`` what refunds in flight have reserved. All four
    are in one currency, and ``refunded_amount + pending_refund_amount``
    never exceeds ``captured_amount``. ``(provider, provider_reference)`` and
    ``idempotency_key`` are unique in storage.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.1
    """

    id: PaymentId
    booking_id: BookingId
    customer_id: CustomerId
    provider: str = attrs.field(converter=normalise_provider)
    amount: Money
    created_at: datetime
    updated_at: datetime
    provider_reference: str | None = None
    status: PaymentStatus = attrs.field(default=PaymentStatus.PENDING, converter=_payment_status)
    captured_amount: Money = attrs.field(default=attrs.Factory(_zero_like_amount, takes_self=True))
    refunded_amount: Money = attrs.field(default=attrs.Factory(_zero_like_amount, takes_self=True))
    pending_refund_amount: Money = attrs.field(
        default=attrs.Factory(_zero_like_amount, takes_self=True)
    )
    processed_event_ids: frozenset[str] = attrs.field(factory=frozenset, converter=_event_ids)
    idempotency_key: str | None = None
    failure_reason: str | None = None
    captured_at: datetime | None = None
    metadata: dict[str, str] = attrs.field(factory=dict, converter=text_mapping)
    attention: tuple[AttentionItem, ...] = attrs.field(default=(), converter=_attention_items)
    version: int = 1

    entity_name = "payment"

    def __attrs_post_init__(self) -> None:
        positive_money_amount(self.amount, "amount")
        currency = self.amount.currency
        for field in ("captured_amount", "refunded_amount", "pending_refund_amount"):
            value = getattr(self, field)
            _same_currency(currency, value, field)
            if value.is_negative():
                raise ValidationError.single(field, "cannot be negative", "negative_amount")
        if self.captured_amount > self.amount:
            msg = f"{self.captured_amount} is more than the {self.amount} asked for"
            raise ValidationError.single("captured_amount", msg, "exceeds_amount")
        if self.refunded_amount + self.pending_refund_amount > self.captured_amount:
            msg = f"refunds exceed the {self.captured_amount} captured"
            raise ValidationError.single("refunded_amount", msg, "exceeds_captured")
        self.provider_reference = clean_text(self.provider_reference, "provider_reference")
        if self.idempotency_key is not None:
            # Kept as scoped_key made it: its caller's part is checked there, and the
            # scope may take it past the 255 characters clean_text allows.
            check_text(self.idempotency_key, "idempotency_key")
            self.idempotency_key = self.idempotency_key if self.idempotency_key.strip() else None
        self.failure_reason = clean_text(self.failure_reason, "failure_reason", max_length=2000)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        if self.captured_at is not None:
            self.captured_at = ensure_aware(self.captured_at, "captured_at")

    # ------------------------------------------------------------------ reading

    @property
    def currency(self) -> str:
        """The currency of every amount on this payment and its refunds."""
        return self.amount.currency

    @property
    def refundable_amount(self) -> Money:
        """What may still be refunded: captured, less refunded and reserved by refunds."""
        return self.captured_amount - self.refunded_amount - self.pending_refund_amount

    @property
    def net_amount(self) -> Money:
        """What the business keeps for now: captured less refunded."""
        return self.captured_amount - self.refunded_amount

    @property
    def is_captured(self) -> bool:
        """True once money was taken (whether or not some went back since)."""
        return self.status in {_P.CAPTURED, _P.PARTIALLY_REFUNDED, _P.REFUNDED}

    def has_processed(self, event_id: str) -> bool:
        """True when the webhook event ``event_id`` was applied to this payment already."""
        return event_id in self.processed_event_ids

    # ------------------------------------------------------------------ webhooks

    def record_event(self, event_id: str, *, now: datetime) -> bool:
        """Remember a provider event about this payment; False if it was seen before.

        Call it first for events that change something other than the
        payment's own status (a refund settling), and act only on True.

        Raises:
            ValidationError: on ``event_id`` when it is blank.
        """
        event_id = _event_id(event_id)
        if event_id in self.processed_event_ids:
            return False
        self.processed_event_ids = self.processed_event_ids | {event_id}
        self.touch(now)
        return True

    def apply_event(
        self,
        event_id: str,
        status: PaymentStatus | str,
        *,
        now: datetime,
        amount: Money | None = None,
        reason: str | None = None,
    ) -> bool:
        """Apply a provider's webhook event saying the payment is now ``status``.

        Returns False, and changes nothing, when ``event_id`` was applied
        before. Otherwise the event id is recorded and the status moves, unless
        the event is late (its status comes before the current one: then only
        the id is recorded). ``amount`` is what was captured, for
        ``captured`` (the whole amount when not given); ``reason`` is kept for
        ``failed``.

        Raises:
            ValidationError: on ``event_id`` when blank, on ``status`` for an
                unknown status or a refund status (refunds go through
                :meth:`start_refund`), on ``amount`` as :meth:`capture` says.
            InvalidTransitionError: the event contradicts the payment
                (``captured`` after ``cancelled``); nothing is recorded.
        """
        event_id = _event_id(event_id)
        if event_id in self.processed_event_ids:
            return False
        target = _payment_status(status)
        if target in _REFUND_STATUSES:
            msg = "refunds are recorded with start_refund and settle_refund, not as a status"
            raise ValidationError.single("status", msg, "refund_status")
        if target is not self.status and target not in _LATE[self.status]:
            self._move(target, now, amount=amount, reason=reason)
        self.processed_event_ids = self.processed_event_ids | {event_id}
        self.touch(now)
        return True

    def decides(self, status: PaymentStatus | str) -> bool:
        """True when the forward-only rules alone say what an event reporting ``status`` does.

        False when the payment is ``pending``, ``requires_action`` or
        ``failed`` and the event reports another of those three: a customer
        retrying on one intent goes back and forth between them, so the event
        may be older or newer than what put the payment where it is. Ask the
        provider for the payment's current state then
        (:meth:`apply_provider_state`). The first event of a payment still
        ``pending`` decides: nothing came before it.

        Raises:
            ValidationError: on ``status`` for an unknown status.

        .. versionadded:: 0.2
        """
        target = _payment_status(status)
        if target is self.status or target not in _UNDECIDED or self.status not in _UNDECIDED:
            return True
        return self.status is _P.PENDING and not self.processed_event_ids

    def apply_provider_state(
        self,
        event_id: str,
        status: PaymentStatus | str,
        *,
        now: datetime,
        captured: Money | None = None,
        reason: str | None = None,
    ) -> bool:
        """Apply the event ``event_id`` as the provider's current state of the payment says.

        For an event that does not :meth:`decide <decides>` by itself: the
        payment service asked the provider (:meth:`PaymentProvider.fetch
        <bookingcore.ports.PaymentProvider.fetch>`) and passes its answer.
        Returns False, changing nothing, when ``event_id`` was applied before;
        otherwise the event id is recorded and:

        * between ``pending``, ``requires_action`` and ``failed`` the payment
          goes where the provider says, even back (the provider knows which
          attempt came last);
        * otherwise the forward-only rules of :meth:`apply_event` hold: a state
          behind the payment's moves nothing back;
        * ``partially_refunded`` and ``refunded`` count as ``captured`` (the
          money was taken; refunds are recorded by their own events).

        ``captured`` is what the provider took, for ``captured``; ``reason``
        is kept for ``failed`` (also when the payment was failed already).

        Raises:
            ValidationError: on ``event_id`` when blank, on ``status`` for an
                unknown status, on ``amount`` as :meth:`capture` says.
            InvalidTransitionError: the provider's state contradicts the
                payment (``captured`` after ``cancelled``); nothing is recorded.

        .. versionadded:: 0.2
        """
        event_id = _event_id(event_id)
        if event_id in self.processed_event_ids:
            return False
        target = _payment_status(status)
        if target in _REFUND_STATUSES:
            target = _P.CAPTURED
        if target is not self.status:
            if self.status in _UNDECIDED and target in _UNDECIDED:
                self.status = target
            elif target not in _LATE[self.status]:
                self._move(target, now, amount=captured, reason=reason)
        if self.status is _P.FAILED and target is _P.FAILED and reason is not None:
            self.failure_reason = clean_text(reason, "reason", max_length=2000)
        self.processed_event_ids = self.processed_event_ids | {event_id}
        self.touch(now)
        return True

    # ------------------------------------------------------------------ status moves

    def require_action(self, *, now: datetime) -> None:
        """The customer must do something (3-D Secure, a UPI approval).

        Raises:
            InvalidTransitionError: not from the current status.
        """
        self._move(_P.REQUIRES_ACTION, now)
        self.touch(now)

    def authorize(self, *, now: datetime) -> None:
        """The provider holds the money, not yet taken.

        Raises:
            InvalidTransitionError: not from the current status.
        """
        self._move(_P.AUTHORIZED, now)
        self.touch(now)

    def capture(self, *, now: datetime, amount: Money | None = None) -> None:
        """The provider took ``amount`` (the whole amount when not given).

        Raises:
            InvalidTransitionError: not from the current status.
            ValidationError: on ``amount`` when it is not above zero, is more
                than the payment's amount, or is in another currency.
        """
        self._move(_P.CAPTURED, now, amount=amount)
        self.touch(now)

    def fail(self, *, now: datetime, reason: str | None = None) -> None:
        """The attempt failed (declined, timed out); the customer may try again.

        Raises:
            InvalidTransitionError: not from the current status.
        """
        self._move(_P.FAILED, now, reason=reason)
        self.touch(now)

    def cancel(self, *, now: datetime) -> None:
        """Give up on the payment (or void its authorization) before money is taken.

        Raises:
            InvalidTransitionError: money was taken already (refund it instead).
        """
        self._move(_P.CANCELLED, now)
        self.touch(now)

    # ------------------------------------------------------------------ refunds

    def start_refund(
        self,
        *,
        refund_id: RefundId,
        amount: Money,
        now: datetime,
        reason: str | None = None,
        provider_reference: str | None = None,
    ) -> Refund:
        """Reserve ``amount`` of what was captured for a new refund, and return it.

        Store the returned :class:`Refund` (``uow.refunds.add``) in the same
        unit of work as this payment.

        Raises:
            InvalidTransitionError: nothing was captured (the payment is not
                ``captured`` or ``partially_refunded``).
            ValidationError: on ``amount`` when it is in another currency, not
                above zero, or more than :attr:`refundable_amount`.
        """
        self._check_refundable(amount)
        refund = Refund(
            id=refund_id,
            payment_id=self.id,
            amount=amount,
            created_at=now,
            updated_at=now,
            reason=reason,
            provider_reference=provider_reference,
        )
        self.pending_refund_amount += amount
        self.touch(now)
        return refund

    def record_provider_refund(
        self,
        *,
        refund_id: RefundId,
        amount: Money,
        now: datetime,
        provider_reference: str,
        reason: str | None = None,
        status: RefundStatus | str = RefundStatus.PENDING,
    ) -> Refund:
        """Record a refund the provider made without the library asking (in its dashboard).

        ``status`` is what the provider reported it at (its
        :attr:`Refund.provider_status`). The refund comes back ``pending`` with
        ``amount`` reserved, as from :meth:`start_refund`: settle it with
        :meth:`settle_refund` when the provider says it succeeded. When the
        payment cannot hold it (nothing captured, another currency, more than
        :attr:`refundable_amount`), it comes back ``unreconciled`` with the
        reason in ``failure_reason`` and the payment unchanged: the provider
        may have given the money back all the same, so store the refund and
        flag the payment for staff. One reported ``failed`` moved no money: it
        comes back ``failed``, the payment unchanged (kept so a late
        ``pending`` report of it moves nothing). Store the returned refund
        (``uow.refunds.add``) in the same unit of work as this payment.

        Raises:
            ValidationError: on ``amount`` when it is not above zero; on
                ``status`` when it is not one a provider reports.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4 ``status``.
        """
        reported = _reported_status(status, "status")

        def kept(
            outcome: RefundStatus,
            *,
            completed_at: datetime | None = None,
            failure_reason: str | None = None,
        ) -> Refund:
            # A refund the provider made outside the payment's own totals.
            return Refund(
                id=refund_id,
                payment_id=self.id,
                amount=amount,
                created_at=now,
                updated_at=now,
                reason=reason,
                status=outcome,
                provider_reference=provider_reference,
                provider_status=reported,
                completed_at=completed_at,
                failure_reason=failure_reason,
            )

        if reported is RefundStatus.FAILED:
            return kept(RefundStatus.FAILED, completed_at=now)
        try:
            refund = self.start_refund(
                refund_id=refund_id,
                amount=amount,
                now=now,
                reason=reason,
                provider_reference=provider_reference,
            )
        except (InvalidTransitionError, ValidationError) as exc:
            return kept(RefundStatus.UNRECONCILED, failure_reason=str(exc))
        refund.provider_status = reported
        return refund

    def report_refund(self, refund: Refund, status: RefundStatus | str, *, now: datetime) -> bool:
        """Record that the provider reports ``refund`` at ``status``; True when it moved on.

        The reported status (:attr:`Refund.provider_status`) moves forward only:
        ``pending``, then ``succeeded`` or ``failed``. A report that would move it
        back, or repeats it, changes nothing and returns False; ``failed`` after
        ``succeeded`` moves on (a refund the customer's bank returned). A refund
        that reported nothing yet starts from its own status when that is one a
        provider reports. The refund's own status is not changed here: when this
        returns True, settle a ``pending`` refund reported ``succeeded``
        (:meth:`settle_refund`), fail a ``pending`` or ``unreconciled`` one
        reported ``failed`` (:meth:`fail_refund`), and reverse a ``succeeded``
        one reported ``failed`` (:meth:`reverse_refund`).

        Raises:
            ValidationError: on ``refund`` when it belongs to another payment; on
                ``status`` when it is not one a provider reports.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4 ``failed`` after ``succeeded`` moves on.
        """
        self._own(refund)
        reported = _reported_status(status, "status")
        assert reported is not None
        known = refund.provider_status
        if known is None and refund.status in _REPORTED and refund.status is not _PENDING:
            known = refund.status  # ended before reports were kept: it ends as it is
        if reported not in _REPORT_MOVES[known]:
            return False
        refund.provider_status = reported
        refund.updated_at = ensure_aware(now, "now")
        refund.version += 1
        return True

    def reconcile_refund(self, refund: Refund, *, now: datetime) -> None:
        """Take an ``unreconciled`` ``refund`` into the books, now that the payment can hold it.

        The refund becomes ``pending`` with its amount reserved, as from
        :meth:`start_refund`; settle it with :meth:`settle_refund` once the
        provider reported it ``succeeded`` (:attr:`Refund.provider_status`);
        while it reports ``pending`` the amount stays reserved. Nothing
        changes when it still does not fit.

        Raises:
            ValidationError: on ``refund`` when it belongs to another payment;
                on ``amount`` when it is in another currency or more than
                :attr:`refundable_amount`.
            InvalidTransitionError: the refund is not ``unreconciled``, or
                nothing was captured.

        .. versionadded:: 0.4
        """
        self._own(refund)
        check_move(
            "refund", f"refund {refund.id}", _REFUND_MOVES, refund.status, RefundStatus.PENDING
        )
        self._check_refundable(refund.amount)
        refund.status = RefundStatus.PENDING
        refund.failure_reason = None
        refund.updated_at = ensure_aware(now, "now")
        refund.version += 1
        self.pending_refund_amount += refund.amount
        self.touch(now)

    def dismiss_refund(self, refund: Refund, *, now: datetime, note: str) -> None:
        """Close an ``unreconciled`` ``refund`` without taking it into the books.

        It stays recorded, ``dismissed``, counted in no total; ``note`` (why,
        required) goes first in its ``failure_reason``, before why it was
        unreconciled. The payment's totals do not change.

        Raises:
            ValidationError: on ``note`` when blank; on ``refund`` when it
                belongs to another payment.
            InvalidTransitionError: the refund is not ``unreconciled``.

        .. versionadded:: 0.4
        """
        self._own(refund)
        why = clean_text(note, "note", required=True, max_length=1000)
        assert why is not None
        check_move(
            "refund", f"refund {refund.id}", _REFUND_MOVES, refund.status, RefundStatus.DISMISSED
        )
        was = f" (unreconciled: {refund.failure_reason})" if refund.failure_reason else ""
        refund._end(RefundStatus.DISMISSED, now, failure_reason=f"dismissed: {why}{was}"[:2000])
        self.touch(now)

    def settle_refund(
        self, refund: Refund, *, now: datetime, provider_reference: str | None = None
    ) -> None:
        """The provider paid ``refund`` out: it counts as refunded for good.

        The payment becomes ``refunded`` once everything captured went back,
        ``partially_refunded`` before that.

        Raises:
            ValidationError: on ``refund`` when it belongs to another payment.
            InvalidTransitionError: the refund is not pending.
        """
        self._own(refund)
        refund._end(RefundStatus.SUCCEEDED, now, provider_reference=provider_reference)
        self.pending_refund_amount -= refund.amount
        self.refunded_amount += refund.amount
        target = _P.REFUNDED if self.refunded_amount == self.captured_amount else None
        self.status = target or _P.PARTIALLY_REFUNDED
        self.touch(now)

    def fail_refund(self, refund: Refund, *, now: datetime, reason: str | None = None) -> None:
        """The provider could not pay ``refund`` out: its reservation is freed.

        An ``unreconciled`` refund reserved nothing: it becomes ``failed``, and
        the payment's totals stay as they are.

        Raises:
            ValidationError: on ``refund`` when it belongs to another payment.
            InvalidTransitionError: the refund is not pending or unreconciled.

        .. versionchanged:: 0.4 an ``unreconciled`` refund may fail.
        """
        self._own(refund)
        reserved = refund.is_pending
        refund._end(RefundStatus.FAILED, now, failure_reason=reason)
        if reserved:
            self.pending_refund_amount -= refund.amount
        self.touch(now)

    def reverse_refund(self, refund: Refund, *, now: datetime, reason: str | None = None) -> None:
        """A ``succeeded`` ``refund`` failed afterwards: the money came back, and is owed again.

        Stripe reports it as ``refund.failed`` (or ``refund.updated`` with
        ``status: failed``) after the refund had succeeded, when the customer's
        bank or card issuer returns it (a closed account, an expired card): the
        amount goes back to the business's balance and the customer has not
        been paid. The refund becomes ``failed`` (with ``reason``), the payment's
        ``refunded_amount`` drops by its amount, which is refundable again, and
        the payment's status follows what it keeps: ``captured`` when nothing
        refunded is left, ``partially_refunded`` otherwise. This is the only
        move of a payment's status back; every other stays forward only.

        Raises:
            ValidationError: on ``refund`` when it belongs to another payment.
            InvalidTransitionError: the refund is not ``succeeded``, or the
                payment does not count it as refunded.

        .. versionadded:: 0.4
        """
        self._own(refund)
        if refund.status is not RefundStatus.SUCCEEDED or refund.amount > self.refunded_amount:
            msg = f"refund {refund.id} is {refund.status.value}; only a settled refund is reversed"
            raise InvalidTransitionError(
                "refund", refund.status.value, RefundStatus.FAILED.value, message=msg
            )
        refund.status = RefundStatus.FAILED
        refund.failure_reason = clean_text(reason, "failure_reason", max_length=2000)
        refund.completed_at = ensure_aware(now, "now")
        refund.updated_at = refund.completed_at
        refund.version += 1
        self.refunded_amount -= refund.amount
        self.status = _P.PARTIALLY_REFUNDED if self.refunded_amount.amount else _P.CAPTURED
        self.touch(now)

    # ------------------------------------------------------------------ helpers

    def _check_refundable(self, amount: Money) -> None:
        """Refuse a refund of ``amount`` this payment cannot hold now."""
        if self.status not in {_P.CAPTURED, _P.PARTIALLY_REFUNDED}:
            msg = f"payment {self.id} is {self.status.value}; only captured money is refunded"
            raise InvalidTransitionError(
                "payment", self.status.value, _P.REFUNDED.value, message=msg
            )
        _same_currency(self.currency, amount, "amount")
        if amount.amount <= 0:
            raise ValidationError.single("amount", "must be above zero", "not_positive")
        left = self.refundable_amount
        if amount > left:
            msg = (
                f"{amount} is more than the {left} left to refund "
                f"({self.captured_amount} captured, {self.refunded_amount} refunded, "
                f"{self.pending_refund_amount} being refunded)"
            )
            raise ValidationError.single("amount", msg, "exceeds_captured")

    # ------------------------------------------------------------------ attention

    @property
    def attention_since(self) -> datetime | None:
        """Since when the payment needs staff (its oldest open item); None when it does not.

        .. versionadded:: 0.4
        """
        return min((item.since for item in self.attention), default=None)

    def needs_attention(self, code: AttentionReason | str | None = None) -> bool:
        """Whether an item is open (for ``code``, when given).

        .. versionadded:: 0.4
        """
        if code is None:
            return bool(self.attention)
        wanted = _attention_reason(code)
        return any(item.code is wanted for item in self.attention)

    def flag(self, code: AttentionReason | str, text: str, *, now: datetime) -> AttentionItem:
        """Open an item for staff, or update the open item of ``code``: its ``text`` is
        the latest, its ``since`` stays the first. Other reasons' items are kept.

        Call only on a payment read under the unit of work's lock on it
        (``payments.get_for_update`` or ``get_by_provider_reference_for_update``),
        or on one not stored yet. Flagging does not bump :attr:`version`, so the
        optimistic check cannot catch two flags of different reasons made at once:
        without the lock, the later write would drop the other's item. Every
        flagging path of :class:`~bookingcore.services.PaymentService` holds it.

        Raises:
            ValidationError: on ``reason_code`` or ``text``.

        .. versionadded:: 0.4
        """
        reason = _attention_reason(code)
        kept = [item for item in self.attention if item.code is not reason]
        since = next((i.since for i in self.attention if i.code is reason), now)
        item = AttentionItem(reason, text, since)
        self.attention = _attention_items([*kept, item])
        return item

    def resolve_attention(self, code: AttentionReason | str) -> AttentionItem:
        """Close the open item of ``code`` (the others stay open) and return it.

        Raises:
            ValidationError: on ``reason_code`` when it is not a reason.
            InvalidTransitionError: no item of ``code`` is open.

        .. versionadded:: 0.4
        """
        reason = _attention_reason(code)
        found = next((item for item in self.attention if item.code is reason), None)
        if found is None:
            msg = f"payment {self.id} has no open {reason.value} item"
            raise InvalidTransitionError("payment", "open", reason.value, message=msg)
        self.attention = tuple(item for item in self.attention if item is not found)
        return found

    def touch(self, now: datetime) -> None:
        """Record that the payment changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1

    def _own(self, refund: Refund) -> None:
        if refund.payment_id != self.id:
            msg = f"refund {refund.id} belongs to payment {refund.payment_id}, not {self.id}"
            raise ValidationError.single("refund", msg, "other_payment")

    def _move(
        self,
        target: PaymentStatus,
        now: datetime,
        *,
        amount: Money | None = None,
        reason: str | None = None,
    ) -> None:
        check_move("payment", f"payment {self.id}", _MOVES, self.status, target)
        if target is _P.CAPTURED:
            taken = self.amount if amount is None else amount
            _same_currency(self.currency, taken, "amount")
            if taken.amount <= 0:
                raise ValidationError.single("amount", "must be above zero", "not_positive")
            if taken > self.amount:
                msg = f"{taken} is more than the {self.amount} asked for"
                raise ValidationError.single("amount", msg, "exceeds_amount")
            self.captured_amount = taken
            self.captured_at = ensure_aware(now, "now")
        if target is _P.FAILED and reason is not None:
            self.failure_reason = clean_text(reason, "reason", max_length=2000)
        self.status = target
