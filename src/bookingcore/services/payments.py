"""Taking money for bookings and giving it back, through any payment provider.

Providers implement :class:`~bookingcore.ports.PaymentProvider`.

The flow, from intent to refund::

    intent = core.payments.create_intent(booking.id, "stripe", principal=me,
                                         idempotency_key="pay-7f3a")
    # the customer's app confirms intent.client_secret with Stripe; Stripe calls back:
    receipt = core.payments.handle_webhook("stripe", request.headers, request.body)
    core.payments.refund(payment.id, Money("500", "INR"), principal=staff,
                         idempotency_key="desk-refund-1")

**Intents are made once per key.** The provider is asked with the key (it
answers a retry with the same intent), and the payment is stored unique by
the principal's key, so two requests racing with one key leave one payment.

**Webhooks are applied once.** A delivery is verified by the provider adapter
over its raw body first; one that does not verify is refused and stored
nowhere. A verified one is stored in the webhook inbox (unique by provider and
event id) first, in the one transaction that applies it, so concurrent
redeliveries of one event leave one receipt and one change. Out-of-order events
do not move a payment back (the payment's forward-only states decide); an event
those states cannot order (between ``pending``, ``requires_action`` and
``failed``) is decided by the provider's current state, when the provider can
be asked (``ProviderCapabilities.fetch_state``).

**Bookings move through the one booking path.** Money taken for a travel
booking still at ``booking_created`` moves it to ``payment_pending``; when a
booking's captured payments (less refunds) cover its total, the booking moves
with :meth:`~bookingcore.domain.Booking.move` to ``payment_confirmed`` (the
travel lifecycle) or ``confirmed`` (the others), when its lifecycle allows that
move from where it is. Nothing is due on a booking that is cancelled or ended
without seats (``refunded``): intents and manual payments for it are refused.
A payment captured for it anyway (an intent made before) never takes seats
back: ``PaymentSettings.late_payments`` chooses to refund it automatically or
to flag it for staff (an audit entry and an open item in the payment's
``attention``, one per reason, each resolved on its own). A capture that
takes more than was due when it arrived (two intents paid for one balance) is
flagged the same way, for staff to refund the excess.

**Money the provider took is never dropped.** A capture is settled whole (the
payment, the booking's move, the commission and the invoice) or not at all:
when its booking cannot take it, the capture is recorded alone and flagged. A
capture the payment refuses (more than it asked for, another currency, after
it was cancelled) leaves a ``failed`` receipt and flags the payment.

**Every capture is invoiced, every settled refund credited.** In the
transaction that records a captured payment, an :class:`~bookingcore.domain.Invoice`
is issued with a number from the series of the year of issue and the booking's
location (``INV-2026-DL01-000042``), taken under the series' row lock, so a
failed transaction gives its number back and numbers have no gap. A refund
that settles gets a credit note, and one that fails after it settled a debit
note reversing that credit note, each numbered in the series of its own year
of issue. Read them with :meth:`PaymentService.invoices_for`.

.. versionadded:: 0.2
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import clean_text, parse_choice
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.bookings import Booking
from bookingcore.domain.cancellation import recorded_refund
from bookingcore.domain.events import BookingPaid, BookingStatusChanged, RefundReversed
from bookingcore.domain.idempotency import caller_key, scoped_key
from bookingcore.domain.inbox import ReceiptStatus, WebhookReceipt
from bookingcore.domain.invoices import (
    Invoice,
    InvoiceId,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    invoice_number,
    priced_lines,
    series_key,
)
from bookingcore.domain.partner_webhooks import PAYMENT_METADATA_KEY
from bookingcore.domain.payments import (
    AttentionItem,
    AttentionReason,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.values import BookingId, CustomerId, Money, PaymentId, RefundId
from bookingcore.errors import (
    BookingError,
    ConflictError,
    DuplicateError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PaymentProviderError,
    ValidationError,
)
from bookingcore.ports.payments import (
    IntentRequest,
    PaymentProvider,
    ProviderPayment,
    WebhookEvent,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services import commissions
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    check_key_free,
    claim_creation,
    claim_key,
    fingerprint,
    principal_key,
)
from bookingcore.services._observing import error_name
from bookingcore.services._settlement import (
    advance_if_paid,
    balance_due,
    close_if_refunded,
    closed_to_payment,
    paid_for,
)
from bookingcore.services.customers import CustomerService
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = ["PaymentAttention", "PaymentIntent", "PaymentService", "PaymentSettings"]

#: Ids of refunds derive from their payment and key, so a retried refund finds its first.
_REFUND_NAMESPACE = uuid.UUID("6d1f1c7e-3b7a-4f43-9a55-2f1a3c0e9b41")

#: The name of the event handler that refunds cancellations (``refund_on_cancel``).
REFUND_ON_CANCEL_HANDLER = "payments.refund_on_cancel"

_log = logging.getLogger("bookingcore.payments")


def _same_intent(
    payment: Payment, booking_id: BookingId, provider: str, amount: Money | None
) -> bool:
    """True when ``payment`` answers a request for an intent for ``booking_id`` at
    ``provider`` (for ``amount``, or the balance due when None) under its key."""
    return (
        payment.booking_id == booking_id
        and payment.provider == provider
        and (amount is None or amount == payment.amount)
    )


def _refund_id(payment_id: PaymentId, key: str) -> RefundId:
    """The id of the refund of ``payment_id`` made with (scoped) ``key``."""
    return RefundId(uuid.uuid5(_REFUND_NAMESPACE, f"{payment_id}:{key}"))


def _require_money(amount: object) -> None:
    """Refuse an ``amount`` that is not :class:`Money` (a bare number has no currency)."""
    if not isinstance(amount, Money):
        raise ValidationError.single("amount", "must be Money", "invalid_type")


@attrs.frozen
class PaymentSettings:
    """How payments behave where a business may choose.

    Args:
        late_payments: what happens to money captured for a booking that is
            cancelled by then: ``"flag"`` (the default) keeps it and flags the
            payment for staff; ``"refund"`` gives it back at once when the
            provider can refund. Either way the booking's seats stay released.
        refund_on_cancel: ``True`` gives back what a cancellation recorded the
            customer is owed (its cancellation policy's refund tiers: its
            product's, else ``Settings.cancellation``) by itself, after the cancellation
            commits: the event dispatcher's handler ``payments.refund_on_cancel``
            calls :meth:`PaymentService.refund_cancellation`, once per booking
            (a retry, a redelivery or a second worker finds the refunds made).
            ``False`` (the default): the library refunds nothing by itself; staff
            may call :meth:`PaymentService.refund_cancellation` or refund by hand.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4 ``refund_on_cancel``.
    """

    late_payments: Literal["flag", "refund"] = "flag"
    refund_on_cancel: bool = False


@attrs.frozen
class _Outcome:
    """What applying one delivery left to do after its commit."""

    late: Payment | None = None  # captured for a cancelled booking
    waiting: PaymentProviderError | None = None  # the provider could not be asked


class _UnsettledError(Exception):
    """A capture its booking could not take: the delivery's transaction is undone, and the
    capture is recorded again alone, flagged for staff with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Words in the text of a payment's attention item for an unreconciled refund.
_CANNOT_HOLD = "that the payment cannot hold"

#: What staff may do with an unreconciled refund.
_RESOLUTIONS = ("apply", "dismiss")

#: The statuses a provider reports when it took the money.
_TAKEN = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)


@attrs.frozen
class PaymentIntent:
    """What :meth:`PaymentService.create_intent` gives the customer's app.

    ``client_secret`` or ``redirect_url`` is how the customer finishes paying
    with the provider; ``replayed`` is True when the key was used before.

    .. versionadded:: 0.2
    """

    payment: Payment
    client_secret: str | None = None
    redirect_url: str | None = None
    replayed: bool = False


@attrs.frozen
class PaymentAttention:
    """A payment flagged for staff: why (``reason``, the texts of its open ``items``), and
    the refunds the provider
    made that its books could not hold yet (``unreconciled_refunds``, oldest first).

    .. versionadded:: 0.4
    """

    payment: Payment
    reason: str
    unreconciled_refunds: tuple[Refund, ...] = ()
    #: The payment's open attention items, oldest first (``reason`` joins their texts).
    items: tuple[AttentionItem, ...] = ()


class PaymentService:
    """Intents, manual payments, provider webhooks, refunds and payment histories.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        context: ServiceContext,
        providers: Mapping[str, PaymentProvider],
        settings: PaymentSettings | None = None,
    ) -> None:
        self._ctx = context
        self._providers = {name.strip().lower(): provider for name, provider in providers.items()}
        self._settings = settings or PaymentSettings()

    # ------------------------------------------------------------------ providers

    def provider(self, name: str) -> PaymentProvider:
        """The provider wired under ``name``.

        Raises:
            ValidationError: on ``provider`` when none is wired under that name.
        """
        raw: object = name
        found = self._providers.get(raw.strip().lower()) if isinstance(raw, str) else None
        if found is None:
            known = ", ".join(sorted(self._providers)) or "none"
            msg = f"{name!r} is not a configured payment provider (configured: {known})"
            raise ValidationError.single("provider", msg, "unknown_provider")
        return found

    # ------------------------------------------------------------------ intents

    def create_intent(
        self,
        booking_id: BookingId,
        provider: str,
        *,
        principal: Principal,
        idempotency_key: str,
        amount: Money | None = None,
    ) -> PaymentIntent:
        """Ask ``provider`` to collect ``amount`` (the balance due by default) for a booking.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not pay for it.
            ValidationError: an unknown provider, a missing key, an amount in
                another currency, not above zero, or above the balance due
                (nothing is due on a cancelled booking).
            IdempotencyConflictError: the key made an intent for another booking,
                provider or amount.
            PaymentProviderError: the provider refused or could not be reached.
        """
        gateway = self.provider(provider)
        if amount is not None:
            _require_money(amount)
        key = scoped_key(principal.kind.value, principal.id, idempotency_key)
        if key is None:
            raise ValidationError.single("idempotency_key", "is required", "required")
        with self._ctx.uow_factory() as uow:
            prior = uow.payments.get_by_idempotency_key(key)
            if prior is None:
                check_key_free(uow, key, "payment")  # before the provider is asked
            booking = self._payable(uow, booking_id, principal)
            due = self._balance_due(uow, booking)
        wanted = due if amount is None else amount
        if prior is None:
            self._check_amount(wanted, due)
        elif not _same_intent(prior, booking.id, gateway.name, amount):
            raise IdempotencyConflictError(idempotency_key)

        def asked(payment_id: PaymentId, amount: Money) -> IntentRequest:
            return IntentRequest(
                payment_id=payment_id,
                booking_id=booking.id,
                amount=amount,
                idempotency_key=key,
                description=f"Booking {booking.reference}",
                metadata={"booking_reference": booking.reference},
            )

        payment_id = prior.id if prior is not None else PaymentId(self._ctx.ids.new_id())
        answer = gateway.create_intent(
            asked(payment_id, prior.amount if prior is not None else wanted)
        )
        if prior is not None:
            return PaymentIntent(prior, answer.client_secret, answer.redirect_url, replayed=True)
        now = self._ctx.now()
        payment = Payment(
            id=payment_id,
            booking_id=booking.id,
            customer_id=booking.customer_id,
            provider=gateway.name,
            amount=wanted,
            created_at=now,
            updated_at=now,
            provider_reference=answer.reference,
            idempotency_key=key,
        )
        try:
            with self._ctx.transaction() as tx:
                # Not new: a twin stored its payment first (the add below says so).
                claim_key(tx.uow, key, "payment", now)
                tx.uow.payments.add(payment)
                tx.audit(
                    principal,
                    entity="payment",
                    entity_id=payment.id,
                    action=AuditAction.CREATED,
                    new=snapshot(payment, ("provider", "provider_reference", "amount")),
                    booking_id=booking.id,
                )
                tx.commit()
        except DuplicateError:
            # A twin request with the same key stored its payment first: that is the answer.
            with self._ctx.uow_factory() as uow:
                twin = uow.payments.get_by_idempotency_key(key)
            if twin is None:
                raise
            if not _same_intent(twin, booking.id, gateway.name, amount):
                raise IdempotencyConflictError(idempotency_key) from None  # another request
            if answer.reference != twin.provider_reference:
                # The provider made an intent for each request (Razorpay's orders have no
                # idempotency key): this one's is not the stored payment's, so the caller
                # must get the twin's, or the customer pays an intent no payment knows.
                answer = gateway.create_intent(asked(twin.id, twin.amount))
            return PaymentIntent(twin, answer.client_secret, answer.redirect_url, replayed=True)
        return PaymentIntent(payment, answer.client_secret, answer.redirect_url)

    def record_manual_payment(
        self,
        booking_id: BookingId,
        amount: Money,
        *,
        principal: Principal,
        reference: str,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Record money staff took by hand (cash, bank transfer): captured at once.

        ``reference`` is the receipt or transfer number, unique for the
        ``manual`` provider, so recording the same one twice is refused.

        A retry with the same ``idempotency_key`` and the same request (the
        booking, ``amount``, ``reference`` and ``note``) returns the payment the
        first call recorded (as it is now) and records nothing more: not a
        ``DuplicateError`` on its reference, nor a refusal because nothing is
        due any more. The key is claimed as a ``manual_payment`` (the payment
        keeps no key of its own: ``Payment.idempotency_key`` is the key a
        provider was asked with), so an intent's key is refused here and this
        call's key by :meth:`create_intent`, before any provider is asked.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may change bookings.
            NotFoundError: no such booking.
            ValidationError: on ``amount``: in another currency, not above zero,
                or above the balance due (nothing is due on a cancelled booking);
                on ``reference`` when it is missing or blank; on
                ``idempotency_key`` when malformed.
            DuplicateError: ``reference`` was recorded before.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not record payments",
        )
        # A payment is refunded by its reference, so one without any could never be.
        cleaned = clean_text(reference, "reference", required=True)
        assert cleaned is not None
        reference = cleaned
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            payment_id = None
            if key is not None:
                asked = fingerprint(
                    "manual_payment",
                    principal,
                    booking_id=booking_id,
                    amount=amount,
                    reference=reference,
                    note=note,
                )
                payment_id, prior = claim_creation(
                    tx.uow,
                    key,
                    "manual_payment",
                    now,
                    asked,
                    as_id=PaymentId,
                    load=tx.uow.payments.get,
                )
                if prior is not None:
                    return prior
            # The booking's lock makes two payments recorded at once see each other: the
            # second is checked against what is due after the first.
            booking = self._payable(tx.uow, booking_id, principal, lock=True)
            self._check_amount(amount, self._balance_due(tx.uow, booking))
            payment = Payment(
                id=PaymentId(payment_id or self._ctx.ids.new_id()),
                booking_id=booking.id,
                customer_id=booking.customer_id,
                provider="manual",
                amount=amount,
                created_at=now,
                updated_at=now,
                provider_reference=reference,
                metadata={"note": note} if note else {},
            )
            payment.capture(now=now)
            tx.uow.payments.add(payment)
            tx.audit(
                principal,
                entity="payment",
                entity_id=payment.id,
                action=AuditAction.CREATED,
                new=snapshot(payment, ("provider", "provider_reference", "amount", "status")),
                reason=note,
                booking_id=booking.id,
            )
            self._book_capture(tx, booking, payment, principal)
            tx.commit()
            return payment

    # ------------------------------------------------------------------ webhooks

    def handle_webhook(
        self, provider: str, headers: Mapping[str, str], raw_body: bytes
    ) -> WebhookReceipt:
        """Verify, store once and apply one provider delivery; the receipt says what happened.

        Call it with the request's raw body, before any JSON parsing. A
        redelivery (same provider and event id) returns the stored receipt and
        changes nothing. An event about no known payment, or of a kind the
        library does not act on, is stored as ``ignored``; one that contradicts
        its payment (captured after cancelled) as ``failed`` with the reason; a
        refused capture also flags the payment for staff (an attention item).
        A capture whose booking cannot take it (its move or invoice is refused)
        is recorded alone, ``applied``: the payment ``captured`` and flagged,
        the booking unmoved and not invoiced.

        An event that does not decide by itself
        (:meth:`~bookingcore.domain.Payment.decides`: ``pending``,
        ``requires_action`` or ``failed`` while an earlier event left the
        payment at another of those) makes the service ask the provider for
        the payment's current state, under the payment's lock, when the
        provider declares ``fetch_state``, and apply that; a provider that
        cannot be asked has the event applied as it comes.

        Raises:
            ValidationError: on ``provider`` when none is wired under that name.
            AuthenticationError: the delivery does not verify; nothing is stored.
            PaymentProviderError: the event needed the provider's current state
                and the provider could not be asked. The delivery is stored as
                ``received``, not applied: answer with an error status (a 503)
                so the provider delivers it again; that delivery applies it. Or,
                with ``late_payments="refund"``, a late payment's refund could not
                reach the provider (retryable; the capture is committed): the
                provider's redelivery sends it again. A provider's refusal of that
                refund raises nothing: it is recorded ``failed`` and said on the
                payment's ``late_payment`` item, for staff.
        """
        observer = self._ctx.observer
        if observer is None:
            return self._handle_webhook(provider, headers, raw_body)[0]
        with observer.use_case("payment_webhook"):
            started = time.perf_counter()
            # Only a wired provider's name is told: the argument may be anything a caller sent.
            name = str(provider).strip().lower()
            label = name if name in self._providers else "unknown"
            try:
                receipt, duplicate = self._handle_webhook(provider, headers, raw_body)
            except Exception as exc:
                observer.payment_webhook_handled(
                    provider=label,
                    outcome="refused" if isinstance(exc, BookingError) else "error",
                    error=error_name(exc),
                    seconds=time.perf_counter() - started,
                )
                raise
            observer.payment_webhook_handled(
                provider=label,
                outcome="duplicate" if duplicate else receipt.status.value,
                error=None,
                seconds=time.perf_counter() - started,
            )
            return receipt

    def _handle_webhook(
        self, provider: str, headers: Mapping[str, str], raw_body: bytes
    ) -> tuple[WebhookReceipt, bool]:
        """:meth:`handle_webhook`'s receipt, and True when it was a redelivery that
        changed nothing."""
        gateway = self.provider(provider)
        event = gateway.parse_webhook(headers, raw_body)
        try:
            receipt, duplicate = self._intake(gateway, event)
        except _UnsettledError as unsettled:
            # Undone whole; the money the provider took is recorded alone, flagged.
            return self._intake(gateway, event, unsettled=unsettled.reason)
        if duplicate and self._settings.late_payments == "refund" and event.status is not None:
            self._refund_late_again(event)
        return receipt, duplicate

    def _refund_late_again(self, event: WebhookEvent) -> None:
        """On a redelivery, send again the refund of a late payment the provider could not
        take the first time (the first delivery raised its retryable error, so the
        provider delivered again); nothing when there is none pending."""
        if event.payment_reference is None:
            return
        with self._ctx.uow_factory() as uow:
            payment = uow.payments.get_by_provider_reference(
                event.provider, event.payment_reference
            )
        if payment is not None and payment.needs_attention(AttentionReason.LATE_PAYMENT):
            self._refund_late(payment)

    def _intake(
        self, gateway: PaymentProvider, event: WebhookEvent, *, unsettled: str | None = None
    ) -> tuple[WebhookReceipt, bool]:
        """Store ``event`` once and apply it; ``unsettled`` records a capture without settling.

        Returns the receipt, and True for a redelivery of a settled event (nothing changed).

        Raises:
            _UnsettledError: the capture's booking could not take it (nothing was committed).
        """
        receipt = WebhookReceipt(
            id=self._ctx.ids.new_id(),
            provider=event.provider,
            event_id=event.event_id,
            kind=event.kind,
            received_at=self._ctx.now(),
            payload=dict(event.payload),
            payment_reference=event.payment_reference,
        )
        with self._ctx.transaction() as tx:
            # One transaction: the receipt is stored first, so a concurrent delivery of the
            # same event waits here for this one to commit and then finds its receipt.
            if tx.uow.webhook_inbox.add_if_new(receipt):
                payment = self._locked_payment(tx.uow, event)
                outcome = self._apply(tx, gateway, receipt, event, payment, unsettled=unsettled)
                tx.commit()
                return self._after(outcome, receipt), False
            stored = tx.uow.webhook_inbox.get_by_event(event.provider, event.event_id)
            # A redelivery changed nothing: it ends as a finished transaction, not a failed
            # one (on PostgreSQL a rollback makes psycopg drop its prepared statements).
            tx.commit()
        if stored is None:  # pragma: no cover - the conflicting receipt was committed
            msg = f"the {event.provider} event {event.event_id} is held but cannot be read"
            raise ConflictError(msg)
        if stored.status is not ReceiptStatus.RECEIVED:
            return stored, True
        return self._apply_again(gateway, event, unsettled=unsettled), False

    def _apply_again(
        self, gateway: PaymentProvider, event: WebhookEvent, *, unsettled: str | None = None
    ) -> WebhookReceipt:
        """Apply a stored receipt that waited for the provider, on a redelivery of its event.

        The payment is locked before the receipt is read: whoever applies an
        event holds its payment's lock, so the receipt read here is current.

        Raises:
            _UnsettledError: as :meth:`_intake` says.
        """
        with self._ctx.transaction() as tx:
            payment = self._locked_payment(tx.uow, event)
            receipt = tx.uow.webhook_inbox.get_by_event(event.provider, event.event_id)
            if receipt is None:  # pragma: no cover - receipts are never deleted
                msg = f"the {event.provider} event {event.event_id} was stored but is gone"
                raise ConflictError(msg)
            if receipt.status is not ReceiptStatus.RECEIVED:
                return receipt
            outcome = self._apply(tx, gateway, receipt, event, payment, unsettled=unsettled)
            tx.commit()
        return self._after(outcome, receipt)

    def _after(self, outcome: _Outcome, receipt: WebhookReceipt) -> WebhookReceipt:
        """What follows a committed delivery: the provider's error, or a late payment refunded."""
        if outcome.waiting is not None:
            raise outcome.waiting
        if outcome.late is not None and self._settings.late_payments == "refund":
            self._refund_late(outcome.late)
        return receipt

    @staticmethod
    def _locked_payment(uow: UnitOfWork, event: WebhookEvent) -> Payment | None:
        if event.payment_reference is None:
            return None
        # A capture settles the payment's booking next: locked with it, in one read.
        capture = event.status is PaymentStatus.CAPTURED and event.refund_reference is None
        return uow.payments.get_by_provider_reference_for_update(
            event.provider, event.payment_reference, with_booking=capture
        )

    def _refund_late(self, payment: Payment) -> None:
        """Give a late payment back in full, once (its key is the payment's own)."""
        reason = "the booking was cancelled before the payment arrived"
        key = f"late-payment:{payment.id}"
        principal = Principal.system("late-payments")
        with self._ctx.uow_factory() as uow:
            prior = uow.refunds.get(_refund_id(payment.id, key))
        if prior is not None:  # asked before: sent again while the provider has not answered
            if prior.is_pending:
                self._send_refund(prior.id, principal)
            return
        left = payment.refundable_amount  # refunds made at the provider went back already
        if not left.amount or not self._can_refund(payment, left):
            return  # stays flagged for staff
        try:
            self._refund(payment.id, left, principal, key=key, reason=reason)
        except BookingError as exc:
            if isinstance(exc, PaymentProviderError) and exc.retryable:
                raise  # unknown outcome: the provider's redelivery sends it again
            # Refused: the refund is recorded failed and its amount free; no error of the
            # delivery, whose capture is committed. Staff refund it (the flag says why).
            self._late_refund_refused(payment.id, left, principal, exc)

    def _late_refund_refused(
        self, payment_id: PaymentId, amount: Money, principal: Principal, exc: BookingError
    ) -> None:
        """Say on the late payment's flag that its automatic refund of ``amount`` was refused."""
        with self._ctx.transaction() as tx:
            payment = self._payment_for_update(tx.uow, payment_id)
            item = next(
                (i for i in payment.attention if i.code is AttentionReason.LATE_PAYMENT), None
            )
            said = f"{item.text}; " if item is not None else ""
            reason = f"{said}its refund of {amount} was refused: {exc.message[:500]}"
            self._flag(
                tx,
                payment.booking_id,
                payment,
                principal,
                reason,
                code=AttentionReason.LATE_PAYMENT,
            )
            tx.commit()

    def _apply(
        self,
        tx: Transaction,
        gateway: PaymentProvider,
        receipt: WebhookReceipt,
        event: WebhookEvent,
        payment: Payment | None,
        *,
        unsettled: str | None = None,
    ) -> _Outcome:
        """Apply ``event`` to its locked ``payment`` and mark ``receipt`` with what happened.

        A capture is settled (booking moved, invoice issued) whole or not at all:
        when its booking cannot take it, :class:`_UnsettledError` undoes the transaction,
        and the delivery applied again with ``unsettled`` (the reason) records the
        capture alone, flagged for staff. A capture the payment refuses (more than
        it asked for, another currency, after it was cancelled) leaves the receipt
        ``failed`` and flags the payment: the provider took money all the same.

        Raises:
            _UnsettledError: the booking could not take the capture; nothing may be committed.
        """
        now = self._ctx.now()
        if payment is None or (event.status is None and event.refund_reference is None):
            receipt.mark_ignored(now=now)
            return _Outcome()
        late = False
        told = None
        before = payment.status
        try:
            if event.refund_reference is not None:
                unreconciled = self._apply_refund_event(tx, payment, event)
                if unreconciled is not None:
                    receipt.mark_failed(unreconciled, now=now)
                    return _Outcome()
            else:
                assert event.status is not None
                if not (payment.has_processed(event.event_id) or payment.decides(event.status)):
                    try:
                        told = self._current_state(gateway, payment)
                    except PaymentProviderError as exc:
                        receipt.postpone(str(exc), now=now)
                        return _Outcome(waiting=exc)
                if told is None:
                    payment.apply_event(event.event_id, event.status, now=now, amount=event.amount)
                else:
                    payment.apply_provider_state(
                        event.event_id,
                        told.status,
                        now=now,
                        captured=told.captured,
                        reason=told.failure_reason,
                    )
        except (InvalidTransitionError, ValidationError) as exc:
            receipt.mark_failed(str(exc), now=now)
            taken = event.status if told is None else told.status
            if event.refund_reference is None and taken is not None and taken in _TAKEN:
                amount = event.amount if told is None else told.captured
                said = f" {amount}" if amount is not None else ""
                reason = f"{event.provider} reports{said} {taken.value} but it was refused: {exc}"
                principal = Principal.webhook(event.provider)
                code = AttentionReason.CAPTURE_REFUSED
                self._flag(tx, payment.booking_id, payment, principal, reason, code=code)
            return _Outcome()
        self._audit_event_move(tx, payment, before, event, told)
        # A refund event moves a payment back to captured when its refund failed after it
        # settled: no money came in, so that is no capture to settle (nor a late payment).
        captured = event.refund_reference is None and payment.status is not before
        if captured and payment.status is PaymentStatus.CAPTURED:
            late = self._settle_capture(tx, payment, event.provider, unsettled=unsettled)
        receipt.mark_applied(now=now)
        return _Outcome(late=payment if late else None)

    def _settle_capture(
        self, tx: Transaction, payment: Payment, provider: str, *, unsettled: str | None
    ) -> bool:
        """Settle the locked ``payment``'s capture reported by ``provider``'s webhook (its
        booking moved and invoiced), or flag it when ``unsettled``; True for a late payment.

        Raises:
            _UnsettledError: the booking could not take the capture.
        """
        late = False
        principal = Principal.webhook(provider)
        booking = tx.uow.bookings.get_for_update(payment.booking_id)
        if booking is not None:
            if unsettled is not None:
                reason = (
                    f"captured {payment.captured_amount} but booking {booking.reference} "
                    f"could not take it: {unsettled}; it was not moved or invoiced"
                )
                code = AttentionReason.CAPTURE_UNSETTLED
                self._flag(tx, booking.id, payment, principal, reason, code=code)
            else:
                try:
                    late = self._book_capture(tx, booking, payment, principal)
                except (InvalidTransitionError, ValidationError) as exc:
                    raise _UnsettledError(str(exc)) from exc
        if unsettled is None:
            self._reconcile_refunds(tx, payment, principal)
        return late

    def _audit_event_move(
        self,
        tx: Transaction,
        payment: Payment,
        before: PaymentStatus,
        event: WebhookEvent,
        told: ProviderPayment | None,
    ) -> None:
        """Audit the move ``event`` made of ``payment``'s status, as the provider's webhook
        (naming the event, and the state the provider answered when it was asked). A
        refund event audits the moves it makes where it makes them."""
        if event.refund_reference is not None:
            return
        said = "" if told is None else f"; {event.provider} answered {told.status.value}"
        self._audit_status(
            tx,
            payment,
            before,
            Principal.webhook(event.provider),
            reason=f"{event.provider} {event.kind} {event.event_id}{said}",
        )

    @staticmethod
    def _current_state(gateway: PaymentProvider, payment: Payment) -> ProviderPayment | None:
        """The payment as its provider sees it now; None when the provider cannot be asked.

        Raises:
            PaymentProviderError: the provider could not answer (any error of
                its ``fetch`` becomes one).
        """
        if not gateway.capabilities.fetch_state or payment.provider_reference is None:
            return None
        try:
            return gateway.fetch(payment.provider_reference)
        except PaymentProviderError:
            raise
        except BookingError as exc:
            msg = f"could not fetch payment {payment.provider_reference}: {exc.message}"
            raise PaymentProviderError(msg, provider=gateway.name, reason=exc.code) from exc

    def _book_capture(
        self, tx: Transaction, booking: Booking, payment: Payment, principal: Principal
    ) -> bool:
        """Invoice a captured payment and settle its booking; True for a late payment."""
        paid = paid_for(tx.uow, booking)
        due_before = self._balance_due(tx.uow, booking, paid - payment.net_amount)
        late = self._settle_booking(tx, booking, payment, principal, paid=paid)
        if not late and payment.currency == booking.currency and payment.net_amount > due_before:
            excess = payment.net_amount - due_before
            reason = f"captured {excess} more than the {due_before} due on {booking.reference}"
            self._flag(tx, booking.id, payment, principal, reason, code=AttentionReason.OVERPAID)
        self._issue_invoice(tx, booking, payment, principal, paid=paid)
        return late

    def _apply_refund_event(
        self, tx: Transaction, payment: Payment, event: WebhookEvent
    ) -> str | None:
        """Apply a refund event to the locked ``payment``; the reason when it was flagged.

        The refund is found by the provider's refund id, else by the key the library
        sent with it (its webhook came before the provider's answer was stored), else
        it was made at the provider and is recorded here. The status reported moves
        the refund's :attr:`~bookingcore.domain.Refund.provider_status` forward only
        (a late ``pending`` after ``failed`` changes nothing), and the refund with it
        (:meth:`_follow_report`), whether it is the library's, one made at the
        provider, or one still unreconciled.
        """
        assert event.refund_reference is not None
        now = self._ctx.now()
        refund = tx.uow.refunds.get_by_provider_reference(event.refund_reference)
        if refund is None:
            refund = self._refund_by_key(tx.uow, payment, event)
        if refund is None:
            return self._record_provider_refund(tx, payment, event)
        reported = event.refund_status
        if reported is None:
            if refund.is_pending:
                self._remember_reference(refund, event.refund_reference, now)
            return None
        if not payment.report_refund(refund, reported, now=now):
            return None  # repeats or goes back on what the provider reported before
        payment.record_event(event.event_id, now=now)
        self._remember_reference(refund, event.refund_reference, now)
        principal = Principal.webhook(event.provider)
        self._follow_report(tx, payment, refund, principal, why=f"{event.provider} {event.kind}")
        return None

    def _follow_report(
        self, tx: Transaction, payment: Payment, refund: Refund, principal: Principal, *, why: str
    ) -> None:
        """Move the locked ``payment``'s ``refund`` as its provider last reported it.

        A ``pending`` refund reported ``succeeded`` settles (credit note, commission
        reversed, the booking closed when its money all went back); one reported
        ``failed`` fails, and its amount is refundable again; a ``succeeded`` one
        reported ``failed`` afterwards is reversed (:meth:`_reverse_refund`). An ``unreconciled``
        refund reported ``failed`` moved no money: it fails too, and the payment's
        flag for unreconciled refunds closes once none is left. Each failure writes
        an audit entry on the payment.
        """
        reported = refund.provider_status
        before = refund.status
        if before is RefundStatus.PENDING and reported is RefundStatus.SUCCEEDED:
            self._settle_refund(tx, payment, refund, principal)
            return
        if before is RefundStatus.SUCCEEDED and reported is RefundStatus.FAILED:
            self._reverse_refund(tx, payment, refund, principal, why=why)
            return
        if reported is not RefundStatus.FAILED or before not in {
            RefundStatus.PENDING,
            RefundStatus.UNRECONCILED,
        }:
            return
        payment.fail_refund(refund, now=self._ctx.now(), reason=why)
        named = refund.provider_reference or refund.id
        failed = f"refund {named} failed: {why}"
        self._audit_refund_move(tx, payment, refund, before, principal, reason=failed)
        if before is RefundStatus.UNRECONCILED:
            self._clear_refund_flag(tx, payment, principal)

    def _reverse_refund(
        self, tx: Transaction, payment: Payment, refund: Refund, principal: Principal, *, why: str
    ) -> None:
        """A settled ``refund`` of the locked ``payment`` failed afterwards (the customer's
        bank returned it): the money is the business's again and owed to the customer.

        The refund fails, the payment's refunded amount (and so the booking's balance)
        takes it back, each change is audited, the payment is flagged for staff
        (``refund_reversed``: give the money back another way) and
        :class:`~bookingcore.domain.RefundReversed` is published. The credit note
        issued when it settled stays as issued and a debit note reverses it; the
        partner commission it reversed is restored (:meth:`_reverse_credit_note`).
        """
        before = payment.status
        now = self._ctx.now()
        payment.reverse_refund(refund, now=now, reason=why)
        named = refund.provider_reference or str(refund.id)
        failed = f"refund {named} failed after it succeeded: {why}"
        self._audit_refund_move(
            tx, payment, refund, RefundStatus.SUCCEEDED, principal, reason=failed
        )
        self._audit_status(
            tx, payment, before, principal, reason=f"refund {named} failed after it succeeded"
        )
        self._reverse_credit_note(tx, payment, refund)
        reason = (
            f"refund {named} of {refund.amount} succeeded, then {payment.provider} reported "
            f"it failed ({why}): the money came back and the customer is owed it again"
        )
        self._flag(
            tx, payment.booking_id, payment, principal, reason, code=AttentionReason.REFUND_REVERSED
        )
        tx.emit(
            RefundReversed(
                id=tx.new_event_id(),
                occurred_at=now,
                payment_id=payment.id,
                refund_id=refund.id,
                booking_id=payment.booking_id,
                provider=payment.provider,
                amount=refund.amount,
                refunded_amount=payment.refunded_amount,
                payment_status=payment.status.value,
                actor=principal.actor,
                refund_reference=refund.provider_reference,
                reason=why,
            )
        )

    @staticmethod
    def _audit_refund_move(
        tx: Transaction,
        payment: Payment,
        refund: Refund,
        before: RefundStatus,
        principal: Principal,
        *,
        reason: str,
    ) -> None:
        """Audit, on ``payment``, the move of its ``refund`` from ``before`` to where it is."""
        tx.audit(
            principal,
            entity="payment",
            entity_id=payment.id,
            action=AuditAction.UPDATED,
            old={"refund": str(refund.id), "status": before.value},
            new={"refund": str(refund.id), "status": refund.status.value},
            reason=reason,
            booking_id=payment.booking_id,
        )

    @staticmethod
    def _audit_status(
        tx: Transaction,
        payment: Payment,
        before: PaymentStatus,
        principal: Principal,
        *,
        reason: str,
    ) -> None:
        """Audit the move of ``payment``'s status from ``before``, by ``principal`` (the
        provider's webhook, or who settled a refund); nothing when it did not move."""
        if payment.status is before:
            return
        fields = ["status", "captured_amount", "refunded_amount"]
        if payment.status is PaymentStatus.FAILED:
            fields.append("failure_reason")
        tx.audit(
            principal,
            entity="payment",
            entity_id=payment.id,
            action=AuditAction.STATUS_CHANGED,
            old={"status": before.value},
            new=snapshot(payment, fields),
            reason=reason,
            booking_id=payment.booking_id,
        )

    @staticmethod
    def _refund_by_key(uow: UnitOfWork, payment: Payment, event: WebhookEvent) -> Refund | None:
        """The library's refund of ``payment`` that ``event`` names by the key it was sent
        with (its id), while the provider's refund id is not stored on it yet."""
        if event.refund_key is None:
            return None
        try:
            refund_id = RefundId(uuid.UUID(event.refund_key))
        except ValueError:
            return None
        refund = uow.refunds.get(refund_id)
        if refund is None or refund.payment_id != payment.id:
            return None
        # One with another provider id is a second refund made with the same key (the
        # provider forgot the key): money that went back all the same.
        return refund if refund.provider_reference is None else None

    def _record_provider_refund(
        self, tx: Transaction, payment: Payment, event: WebhookEvent
    ) -> str | None:
        """Record a refund made at the provider, and settle it when the provider says it
        succeeded, as the library's own refunds settle; the reason when it was flagged.

        One reported ``failed`` first moved no money: it is recorded ``failed`` (when
        its amount is told), so that its ``pending`` report arriving later moves nothing.
        """
        assert event.refund_reference is not None
        reference = event.refund_reference
        failed = event.refund_status is RefundStatus.FAILED
        if failed and event.refund_amount is None:
            return None  # no money moved, and nothing to record it with
        now = self._ctx.now()
        principal = Principal.webhook(event.provider)
        amount = event.refund_amount
        if amount is None:
            reason = f"{event.provider} reports refund {reference} without its amount"
            code = AttentionReason.REFUND_WITHOUT_AMOUNT
            self._flag(tx, payment.booking_id, payment, principal, reason, code=code)
            return reason
        if not payment.record_event(event.event_id, now=now):
            return None
        why = f"refunded at {event.provider} (refund {reference}), not through bookingcore"
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid.uuid5(_REFUND_NAMESPACE, f"{event.provider}:{reference}")),
            amount=amount,
            now=now,
            provider_reference=reference,
            reason=why,
            status=event.refund_status or RefundStatus.PENDING,
        )
        tx.uow.refunds.add(refund)
        tx.audit(
            principal,
            entity="payment",
            entity_id=payment.id,
            action=AuditAction.UPDATED,
            new={
                "refund": str(refund.id),
                "amount": f"{amount}",
                "provider_reference": reference,
                "status": refund.status.value,
            },
            reason=why,
            booking_id=payment.booking_id,
        )
        if refund.status is RefundStatus.UNRECONCILED:
            reason = (
                f"{event.provider} reports refund {reference} of {amount} "
                f"{_CANNOT_HOLD}: {refund.failure_reason}"
            )
            code = AttentionReason.UNRECONCILED_REFUND
            self._flag(tx, payment.booking_id, payment, principal, reason, code=code)
            return reason
        if event.refund_status is RefundStatus.SUCCEEDED:
            self._settle_refund(tx, payment, refund, principal)
        return None

    @staticmethod
    def _remember_reference(refund: Refund, reference: str, now: datetime) -> None:
        """Store the provider's id of ``refund``, learnt from its answer or its webhook."""
        if refund.provider_reference is None:
            refund.provider_reference = reference
            refund.updated_at = now
            refund.version += 1

    # ------------------------------------------------------------------ refunds

    def install(self, dispatcher: EventDispatcher) -> None:
        """Subscribe the handler ``payments.refund_on_cancel`` to ``dispatcher``: every
        cancellation that recorded refund terms is refunded through
        :meth:`refund_cancellation` (:class:`BookingCore` does it when
        ``PaymentSettings.refund_on_cancel`` is set).

        .. versionadded:: 0.4
        """
        dispatcher.subscribe(
            BookingStatusChanged,
            self._refund_on_cancel,
            name=REFUND_ON_CANCEL_HANDLER,
            when=lambda event: recorded_refund(event.metadata) is not None,
        )

    def _refund_on_cancel(self, event: BookingStatusChanged, context: HandlerContext) -> None:
        self.refund_cancellation(event.booking_id, principal=Principal.system("refund-on-cancel"))

    def refund_cancellation(
        self, booking_id: BookingId, *, principal: Principal
    ) -> Sequence[Refund]:
        """Give back what the booking's cancellation recorded its customer is owed, once.

        The amounts are those the cancellation recorded (its refund terms,
        :data:`~bookingcore.domain.CANCELLATION_METADATA_KEYS`), per currency,
        taken from the booking's captured payments of that currency, oldest
        first, each up to what it still holds, through the refund path of
        :meth:`refund`. Each payment's refund is keyed by the booking and its
        cancellation (``refund-on-cancel:<booking id>:<history entry id>``):
        calling this again, from a retry,
        a redelivered event or a second worker at the same moment, finds the
        refunds made (and sends a pending one again) and never gives anything
        back twice. Payments whose provider is not wired or cannot make the
        refund (no refunds, or no partial ones) are left for staff.

        Refunds made by hand after the cancellation are not subtracted: with
        ``PaymentSettings.refund_on_cancel`` the refund follows the
        cancellation at once (inline dispatch) or at the next dispatcher run.

        Returns:
            The refunds of the cancellation, made now or before; empty when the
            cancellation recorded no refund terms, or nothing is owed.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may change
                bookings, nor the system.
            NotFoundError: no such booking.
            InvalidTransitionError: the booking is not cancelled (or, in the travel
                lifecycle, refunded since).
            PaymentProviderError: a provider could not be reached (the refund
                stays pending: call again) or refused.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not refund payments",
        )
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None:
                raise NotFoundError("booking", booking_id)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            cancelled = next(
                (
                    entry
                    for entry in reversed(uow.lifecycle_events.list_for_booking(booking_id))
                    if entry.to_status == lifecycle.cancelled
                ),
                None,
            )
        # Cancelled, or gone on to refunded since: not reactivated.
        if cancelled is None or not closed_to_payment(lifecycle, booking.status):
            msg = f"booking {booking.reference} is not cancelled ({booking.status})"
            raise InvalidTransitionError(lifecycle.name, booking.status, "refunded", message=msg)
        recorded = recorded_refund(cancelled.metadata)
        if recorded is None:
            return ()
        # One cancellation, one refund per payment: a booking reactivated and
        # cancelled again (an appointment) is owed what its last cancellation says.
        key = f"refund-on-cancel:{booking_id}:{cancelled.id}"
        plan: list[tuple[PaymentId, Money]] = []
        for owed in recorded[1]:
            plan += self._cancellation_plan(booking_id, owed, key)
        reason = f"refund on cancellation of booking {booking.reference}"
        return tuple(
            self._refund(payment_id, amount, principal, key=key, reason=reason)
            for payment_id, amount in plan
        )

    def _cancellation_plan(
        self, booking_id: BookingId, owed: Money, key: str
    ) -> list[tuple[PaymentId, Money]]:
        """Which of the booking's payments in ``owed``'s currency give back how much of it.

        Each payment is read under its lock, with its refund of ``key`` if any: a
        refund made before keeps its amount, a new one takes what the payment
        still holds, up to what is left owed.
        """
        plan: list[tuple[PaymentId, Money]] = []
        left = owed
        with self._ctx.uow_factory() as uow:
            found = uow.payments.list_for_booking(booking_id)
            ordered = sorted(
                (p for p in found if p.currency == owed.currency and p.is_captured),
                key=lambda p: (p.created_at, str(p.id)),
            )
            for listed in ordered:
                if not left.amount > 0:
                    break
                payment = self._payment_for_update(uow, listed.id)
                prior = uow.refunds.get(_refund_id(payment.id, key))
                if prior is not None:
                    amount = prior.amount
                else:
                    amount = min(left, payment.refundable_amount)
                    if not amount.amount > 0 or not self._can_refund(payment, amount):
                        continue
                left -= amount
                plan.append((payment.id, amount))
        return plan

    def _can_refund(self, payment: Payment, amount: Money) -> bool:
        gateway = self._providers.get(payment.provider)
        if gateway is None or not gateway.capabilities.refunds:
            _log.warning(
                "payment %s: %s cannot refund; left for staff", payment.id, payment.provider
            )
            return False
        if amount < payment.captured_amount and not gateway.capabilities.partial_refunds:
            _log.warning("payment %s: %s cannot refund in part", payment.id, payment.provider)
            return False
        return True

    def refund(
        self,
        payment_id: PaymentId,
        amount: Money,
        *,
        principal: Principal,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Refund:
        """Give back ``amount`` of a captured payment, once per key.

        The amount is reserved on the payment under its lock first, so two
        refunds at once can never together give back more than was captured;
        then the provider is asked. A refund the provider settles at once is
        ``succeeded``; one it settles later stays ``pending`` until its webhook.
        A retry with the key returns the first refund; one still pending is sent
        to the provider again as first asked (with the first call's ``reason``).

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may change bookings.
            NotFoundError: no such payment.
            InvalidTransitionError: nothing was captured.
            ValidationError: on ``amount``: another currency, not above zero,
                more than what is left to refund, or a part of the capture for a
                provider without ``partial_refunds``; on ``payment_id`` when its
                provider cannot refund; on ``idempotency_key`` when missing.
            IdempotencyConflictError: the key refunded another amount of this payment.
            PaymentProviderError: the provider refused (the reservation is freed)
                or could not be reached (the refund stays pending: retry with the key).
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not refund payments",
        )
        _require_money(amount)
        key = scoped_key(principal.kind.value, principal.id, idempotency_key)
        if key is None:
            raise ValidationError.single("idempotency_key", "is required", "required")
        return self._refund(payment_id, amount, principal, key=key, reason=reason)

    def _refund(
        self,
        payment_id: PaymentId,
        amount: Money,
        principal: Principal,
        *,
        key: str,
        reason: str | None,
    ) -> Refund:
        refund_id = _refund_id(payment_id, key)
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            prior = uow.refunds.get(refund_id)
        if prior is not None and prior.amount != amount:
            raise IdempotencyConflictError(caller_key(key))
        if prior is not None and not prior.is_pending:
            return prior
        if prior is None:
            try:
                with self._ctx.transaction() as tx:
                    # Not new: this key refunded before (another payment, or a twin
                    # that reserved first: the add below says so).
                    claim_key(tx.uow, key, "refund", now)
                    payment = self._payment_for_update(tx.uow, payment_id)
                    # A twin that reserved while this one waited for the payment's lock:
                    # its refund is this one's (what it reserved is not left to refund).
                    prior = tx.uow.refunds.get(refund_id)
                    if prior is None:
                        self._check_provider_refunds(payment, amount)
                        refund = payment.start_refund(
                            refund_id=refund_id, amount=amount, now=now, reason=reason
                        )
                        tx.uow.refunds.add(refund)
                        tx.audit(
                            principal,
                            entity="payment",
                            entity_id=payment.id,
                            action=AuditAction.UPDATED,
                            new={"refund": str(refund.id), "amount": f"{amount}"},
                            reason=reason,
                            booking_id=payment.booking_id,
                        )
                        tx.commit()
            except DuplicateError:
                pass  # a twin with the same key reserved it first; go on with theirs
            if prior is not None and prior.amount != amount:
                raise IdempotencyConflictError(caller_key(key))
        return self._send_refund(refund_id, principal)

    def _check_provider_refunds(self, payment: Payment, amount: Money) -> None:
        """Refuse, before anything is reserved or sent, a refund of ``amount`` that
        ``payment``'s provider says it cannot make (its capabilities)."""
        gateway = self.provider(payment.provider)
        if not gateway.capabilities.refunds:
            msg = f"{gateway.name} cannot refund: give the money back outside it"
            raise ValidationError.single("payment_id", msg, "refunds_unsupported")
        partial = amount.currency == payment.currency and amount < payment.captured_amount
        if partial and not gateway.capabilities.partial_refunds:
            msg = f"{gateway.name} refunds only the whole {payment.captured_amount} captured"
            raise ValidationError.single("amount", msg, "partial_refund_unsupported")

    def _send_refund(self, refund_id: RefundId, principal: Principal) -> Refund:
        with self._ctx.uow_factory() as uow:
            refund = uow.refunds.get(refund_id)
            assert refund is not None
            payment = uow.payments.get(refund.payment_id)
            assert payment is not None
        if not refund.is_pending:
            return refund
        if payment.provider_reference is None:  # pragma: no cover - payments always have one
            msg = f"payment {payment.id} has no provider reference"
            raise ValidationError.single("payment_id", msg, "not_refundable")
        gateway = self.provider(payment.provider)
        try:
            # The refund's id is its key for the provider: it derives from the payment and
            # the caller's key, so one key used on two payments asks for two refunds. A
            # retry asks what the first call asked (its stored reason, not the retry's):
            # providers refuse a key reused with other parameters.
            answer = gateway.refund(
                payment.provider_reference,
                refund.amount,
                idempotency_key=str(refund.id),
                reason=refund.reason,
            )
        except PaymentProviderError as exc:
            if exc.retryable:
                raise  # unknown outcome: the refund stays pending for a retry with the key
            self._end_refund(refund_id, principal, failed=str(exc))
            raise
        except BookingError as exc:
            self._end_refund(refund_id, principal, failed=str(exc))
            raise
        return self._end_refund(
            refund_id,
            principal,
            reference=answer.reference,
            settled=answer.status is RefundStatus.SUCCEEDED,
            failed=answer.failure_reason if answer.status is RefundStatus.FAILED else None,
            reported=answer.status,
        )

    def _end_refund(
        self,
        refund_id: RefundId,
        principal: Principal,
        *,
        reference: str | None = None,
        settled: bool = False,
        failed: str | None = None,
        reported: RefundStatus | None = None,
    ) -> Refund:
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            refund = tx.uow.refunds.get(refund_id)
            assert refund is not None
            payment = self._payment_for_update(tx.uow, refund.payment_id)
            # The answer is a report like a webhook's: one older than a webhook
            # applied meanwhile moves nothing back.
            if (
                refund.is_pending
                and reported is not None
                and not payment.report_refund(refund, reported, now=now)
            ):
                settled, failed = False, None
            if refund.is_pending:
                if settled:
                    self._settle_refund(tx, payment, refund, principal, reference=reference)
                elif failed is not None:
                    payment.fail_refund(refund, now=now, reason=failed)
                elif reference is not None:
                    self._remember_reference(refund, reference, now)
            tx.commit()
            return refund

    # ------------------------------------------------------------------ attention

    def needing_attention(
        self, *, principal: Principal, limit: int = 100
    ) -> Sequence[PaymentAttention]:
        """Payments flagged for staff (an open attention item), oldest first (by their
        oldest open item), at most ``limit``.

        Each comes with its open items and its unreconciled refunds: refunds the provider made
        that the payment's books could not hold (resolve them with
        :meth:`resolve_refund`). Only reads.

        Raises:
            PermissionDeniedError: ``principal`` is not staff with ``view_all``.
            ValidationError: on ``limit`` when it is not 1-500.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.VIEW_ALL),
            f"{principal} may not read payments needing attention",
        )
        raw: object = limit
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 500:
            raise ValidationError.single("limit", "must be a whole number 1-500", "out_of_range")
        with self._ctx.uow_factory().read_only() as uow:
            found = []
            for payment in uow.payments.list_needing_attention(limit):
                refunds = uow.refunds.list_for_payment(payment.id)
                found.append(
                    PaymentAttention(
                        payment=payment,
                        reason="; ".join(item.text for item in payment.attention),
                        items=payment.attention,
                        unreconciled_refunds=tuple(
                            r for r in refunds if r.status is RefundStatus.UNRECONCILED
                        ),
                    )
                )
            return found

    def resolve_refund(
        self,
        refund_id: RefundId,
        action: Literal["apply", "dismiss"],
        *,
        principal: Principal,
        note: str | None = None,
    ) -> Refund:
        """Resolve an ``unreconciled`` refund the provider made: apply it, or dismiss it.

        ``apply`` takes it into the books once its payment can hold it (captured,
        same currency, no more than is left to refund): it settles as the
        library's own refunds do (credit note, commission reversed, a booking
        whose money all went back moves to ``refunded``), unless the provider
        last reported it ``pending``: then it stays ``pending``, its amount
        reserved, until the provider reports it ``succeeded`` or ``failed``. ``dismiss`` closes it
        with ``note`` (required): it stays recorded, ``dismissed``, counted in no
        total. Either way an audit entry names the staff member, and once no
        unreconciled refund is left on the payment its ``unreconciled_refund``
        attention item is closed (items open for anything else stay). Repeating a
        resolution that was made returns the refund unchanged.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may change bookings.
            ValidationError: on ``action`` when it is not ``apply`` or
                ``dismiss``; on ``note`` when dismissing without one; on
                ``amount`` when the refund still does not fit its payment
                (another currency, more than is left to refund).
            NotFoundError: no such refund.
            InvalidTransitionError: the refund was resolved the other way, or is
                not one the provider made unreconciled; or its payment has
                captured nothing yet.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not resolve refunds",
        )
        if action not in _RESOLUTIONS:
            msg = f"{action!r} is not a resolution (apply or dismiss)"
            raise ValidationError.single("action", msg, "invalid_choice")
        why = clean_text(note, "note", max_length=1000)
        if action == "dismiss" and why is None:
            raise ValidationError.single("note", "is required to dismiss a refund", "required")
        with self._ctx.uow_factory() as uow:
            found = uow.refunds.get(refund_id)
        if found is None:
            raise NotFoundError("refund", refund_id)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            payment = self._payment_for_update(tx.uow, found.payment_id)
            refund = tx.uow.refunds.get(refund_id)
            assert refund is not None
            done = RefundStatus.DISMISSED if action == "dismiss" else None
            if refund.status is done or (
                done is None and refund.status in {RefundStatus.PENDING, RefundStatus.SUCCEEDED}
            ):
                tx.commit()
                return refund  # resolved so before: a retry
            before = refund.status
            if action == "dismiss":
                assert why is not None
                payment.dismiss_refund(refund, now=now, note=why)
            else:
                payment.reconcile_refund(refund, now=now)
            applied = f"refund {refund.provider_reference or refund.id} applied by staff"
            self._audit_refund_move(tx, payment, refund, before, principal, reason=why or applied)
            if action == "apply" and refund.provider_status is not RefundStatus.PENDING:
                # The provider said it succeeded, or said nothing that was kept: staff's word.
                self._settle_refund(tx, payment, refund, principal)
            self._clear_refund_flag(tx, payment, principal)
            tx.commit()
            return refund

    def resolve_attention(
        self,
        payment_id: PaymentId,
        reason_code: AttentionReason | str,
        *,
        principal: Principal,
        note: str,
    ) -> Payment:
        """Close one open attention item of a payment (staff), saying how with ``note``.

        Only the item of ``reason_code`` closes: the payment's other items stay open
        and it stays listed by :meth:`needing_attention` until they close too. An
        audit entry names the staff member, the item and ``note``. The item of an
        unreconciled refund closes by itself once its refunds are resolved with
        :meth:`resolve_refund`, and is refused here while one is left. Resolving an
        item that is not open (a retry) returns the payment unchanged.

        Raises:
            PermissionDeniedError: ``principal`` is not staff who may change bookings.
            ValidationError: on ``reason_code`` when it is not an
                :class:`~bookingcore.domain.AttentionReason`; on ``note`` when missing.
            NotFoundError: no such payment.
            InvalidTransitionError: ``reason_code`` is ``unreconciled_refund`` while
                the payment has a refund left unreconciled.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.kind is PrincipalKind.STAFF and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not resolve payments needing attention",
        )
        code = parse_choice(AttentionReason, reason_code, "reason_code", what="an attention reason")
        why = clean_text(note, "note", required=True, max_length=1000)
        assert why is not None
        with self._ctx.transaction() as tx:
            payment = self._payment_for_update(tx.uow, payment_id)
            if not payment.needs_attention(code):
                tx.commit()
                return payment  # not open: resolved before
            if code is AttentionReason.UNRECONCILED_REFUND and any(
                r.status is RefundStatus.UNRECONCILED
                for r in tx.uow.refunds.list_for_payment(payment.id)
            ):
                msg = (
                    f"payment {payment.id} still has unreconciled refunds: "
                    "resolve them (apply or dismiss) first"
                )
                raise InvalidTransitionError("payment", "open", code.value, message=msg)
            item = payment.resolve_attention(code)
            payment.touch(self._ctx.now())
            tx.audit(
                principal,
                entity="payment",
                entity_id=payment.id,
                action=AuditAction.UPDATED,
                old={"needs_attention": item.text, "attention_code": code.value},
                new={},
                reason=why,
                booking_id=payment.booking_id,
            )
            tx.commit()
            return payment

    def _reconcile_refunds(self, tx: Transaction, payment: Payment, principal: Principal) -> None:
        """Apply the locked ``payment``'s unreconciled refunds that it can hold now, oldest
        first, as their provider reported them: one reported ``succeeded`` settles
        through the one settlement path, one reported ``pending`` stays ``pending`` with
        its amount reserved (its later report settles or fails it). The others stay
        unreconciled, and so does one whose reported status was not kept (stored
        before it was): staff decide.

        Only a payment flagged for an unreconciled refund can have one (storing one
        flags its payment, and the flag cannot be resolved while one is left), so
        the refunds of any other payment are not read: a capture costs no look-up.
        """
        if not payment.needs_attention(AttentionReason.UNRECONCILED_REFUND):
            return
        applied = False
        for refund in tx.uow.refunds.list_for_payment(payment.id):
            if refund.status is not RefundStatus.UNRECONCILED or refund.provider_status is None:
                continue
            try:
                payment.reconcile_refund(refund, now=self._ctx.now())
            except (InvalidTransitionError, ValidationError):
                continue  # still does not fit: stays for staff
            applied = True
            why = f"refund {refund.provider_reference or refund.id} applied once captured"
            self._audit_refund_move(
                tx, payment, refund, RefundStatus.UNRECONCILED, principal, reason=why
            )
            self._follow_report(tx, payment, refund, principal, why="reported before the capture")
        if applied:
            self._clear_refund_flag(tx, payment, principal)

    @staticmethod
    def _clear_refund_flag(tx: Transaction, payment: Payment, principal: Principal) -> None:
        """Close the ``payment``'s item for unreconciled refunds, once none is left; its
        items for other reasons stay open."""
        code = AttentionReason.UNRECONCILED_REFUND
        if not payment.needs_attention(code):
            return  # not flagged for a refund
        refunds = tx.uow.refunds.list_for_payment(payment.id)
        if any(r.status is RefundStatus.UNRECONCILED for r in refunds):
            return
        item = payment.resolve_attention(code)
        tx.audit(
            principal,
            entity="payment",
            entity_id=payment.id,
            action=AuditAction.UPDATED,
            old={"needs_attention": item.text, "attention_code": code.value},
            new={},
            reason="no unreconciled refund is left",
            booking_id=payment.booking_id,
        )

    # ------------------------------------------------------------------ reading

    def for_booking(self, booking_id: BookingId, *, principal: Principal) -> Sequence[Payment]:
        """A booking's payments, oldest first.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None or not policy.can_view_booking(principal, booking):
                raise NotFoundError("booking", booking_id)
            return uow.payments.list_for_booking(booking_id)

    def invoices_for(self, booking_id: BookingId, *, principal: Principal) -> Sequence[Invoice]:
        """A booking's invoices, credit notes and debit notes, in the order they were issued.

        Raises:
            NotFoundError: no such booking visible to ``principal``.

        .. versionadded:: 0.2
        """
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None or not policy.can_view_booking(principal, booking):
                raise NotFoundError("booking", booking_id)
            return uow.invoices.list_for_booking(booking_id)

    def for_customer(self, customer_id: CustomerId, *, principal: Principal) -> Sequence[Payment]:
        """A customer's payments, oldest first: of the bookings ``principal`` may see,
        in a number of queries that does not grow with the payments.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            customer = CustomerService.load_visible(uow, customer_id, principal)
            payments = uow.payments.list_for_customer(customer_id)
            return CustomerService.visible_payments(uow, customer, principal, payments)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _payable(
        uow: UnitOfWork, booking_id: BookingId, principal: Principal, *, lock: bool = False
    ) -> Booking:
        read = uow.bookings.get_for_update if lock else uow.bookings.get
        booking = read(booking_id)
        if booking is None or not policy.can_view_booking(principal, booking):
            raise NotFoundError("booking", booking_id)
        if principal.kind is PrincipalKind.STAFF:
            allowed = principal.has(Permission.CHANGE_ALL)
        else:
            allowed = principal.is_customer(booking.customer_id) or (
                booking.partner_id is not None and principal.is_partner(booking.partner_id)
            )
        policy.require(allowed, f"{principal} may not pay for booking {booking.reference}")
        return booking

    @staticmethod
    def _payment_for_update(uow: UnitOfWork, payment_id: PaymentId) -> Payment:
        payment = uow.payments.get_for_update(payment_id)
        if payment is None:
            raise NotFoundError("payment", payment_id)
        return payment

    def _balance_due(self, uow: UnitOfWork, booking: Booking, paid: Money | None = None) -> Money:
        """What is left to pay on ``booking``; ``paid`` when the caller read it already."""
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        return balance_due(lifecycle, booking, paid_for(uow, booking) if paid is None else paid)

    @staticmethod
    def _check_amount(amount: Money, due: Money) -> None:
        _require_money(amount)
        if amount.currency != due.currency:
            msg = f"is in {amount.currency}; the booking is in {due.currency}"
            raise ValidationError.single("amount", msg, "currency_mismatch")
        if amount.amount <= 0:
            msg = "nothing is due on this booking" if due.amount <= 0 else "must be above zero"
            raise ValidationError.single("amount", msg, "not_positive")
        if amount > due:
            raise ValidationError.single("amount", f"is more than the {due} due", "exceeds_due")

    def _settle_booking(
        self,
        tx: Transaction,
        booking: Booking,
        payment: Payment,
        principal: Principal,
        *,
        paid: Money,
    ) -> bool:
        """What a captured payment does to its booking: paid, part paid, or late.

        ``paid`` is what the booking's payments took, this one included.
        Returns True for a payment that arrived after its booking was cancelled.
        """
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if closed_to_payment(lifecycle, booking.status):
            reason = f"payment captured after booking {booking.reference} was {booking.status}"
            self._flag(
                tx, booking.id, payment, principal, reason, code=AttentionReason.LATE_PAYMENT
            )
            return True
        # Part paid: on to payment_pending at most; the balance due shows on its payments.
        advance_if_paid(
            self._ctx,
            tx,
            booking,
            paid=paid,
            principal=principal,
            note=f"paid by {payment.provider} {payment.provider_reference}",
            # Marks the move as a payment's (partner webhooks send it as booking.paid).
            metadata={PAYMENT_METADATA_KEY: str(payment.id)},
        )
        self._paid_in_place(tx, booking, payment, principal, paid=paid)
        return False

    def _paid_in_place(
        self,
        tx: Transaction,
        booking: Booking,
        payment: Payment,
        principal: Principal,
        *,
        paid: Money,
    ) -> None:
        """Raise :class:`~bookingcore.domain.events.BookingPaid` when ``payment`` is the
        one that covered the booking's total but no move to the paid state carried it
        (the booking was there already, or stayed where it was)."""
        if payment.currency != booking.currency or paid < booking.total:
            return
        if paid - payment.net_amount >= booking.total:
            return  # paid in full before: an extra payment, not the one that paid it
        marker = str(payment.id)
        for event in tx.emitted:
            if (
                isinstance(event, BookingStatusChanged)
                and event.booking_id == booking.id
                and event.metadata.get(PAYMENT_METADATA_KEY) == marker
            ):
                return  # the move to the paid state says it (booking.paid)
        tx.emit(
            BookingPaid(
                id=tx.new_event_id(),
                occurred_at=self._ctx.now(),
                booking_id=booking.id,
                payment_id=payment.id,
                status=booking.status,
                paid=str(paid.amount),
                currency=paid.currency,
                actor=principal.actor,
                partner_id=booking.partner_id,
            )
        )

    # ------------------------------------------------------------------ invoices

    def _series_key(self, uow: UnitOfWork, booking: Booking, now: datetime) -> str:
        # The business's fiscal year, in its time zone (Settings.timezone, fiscal_year_start).
        location = uow.locations.get(booking.location_id)
        code = location.code if location is not None else "NONE"
        return series_key(self._ctx.settings.fiscal_year(now), code)

    @staticmethod
    def _take_number(uow: UnitOfWork, key: str) -> int:
        """The next number of series ``key``, taken under its lock in the caller's transaction."""
        number = uow.invoice_series.take_number(key)
        if number is not None:
            return number
        # The series' first number: its row is stored at once, or, when a concurrent
        # transaction is storing it, this waits for that one and then takes a number.
        first = InvoiceSeries(key=key)
        if uow.invoice_series.add_if_new(first):
            return first.take()
        number = uow.invoice_series.take_number(key)
        if number is None:  # pragma: no cover - the conflicting row was committed
            msg = f"invoice series {key} is held but cannot be read"
            raise ConflictError(msg)
        return number

    def _issue_invoice(
        self,
        tx: Transaction,
        booking: Booking,
        payment: Payment,
        principal: Principal,
        *,
        paid: Money,
    ) -> Invoice | None:
        """Invoice the captured ``payment``: the booking's lines, what it paid, what is left.

        ``paid`` is what the booking's payments took, this one included. Every
        capture applied to a booking comes here, so the partner's commission on it
        is accrued here too, in the same transaction. The number is taken last:
        its series stays locked until the commit, so the less that happens after,
        the less other captures wait.
        """
        commissions.accrue_on_capture(self._ctx, tx, booking, payment)
        if payment.currency != booking.currency:
            return None  # only the booking's currency adds up against its total
        uow = tx.uow
        now = self._ctx.now()
        items = []
        for n, seat in enumerate(booking.travelers, start=1):
            traveler = uow.travelers.get(seat.traveler_id)
            name = traveler.name if traveler is not None else f"traveler {n}"
            items.append((f"Booking {booking.reference}: {name}", seat.price))
        location = uow.locations.get(booking.location_id)
        rate = self._ctx.settings.taxes.rate_for(location.code if location else None)
        lines = priced_lines(items, booking.discount, rate)  # prices include any tax
        if booking.items_sum.amount:  # its line items count towards its total too
            extras = [
                (
                    f"Booking {booking.reference}: {item.description}"
                    + (f" x {item.quantity}" if item.quantity > 1 else ""),
                    item.booking_total,
                )
                for item in uow.booking_items.list_for_booking(booking.id)
                if not item.is_cancelled and item.booking_total.amount
            ]
            lines += priced_lines(extras, Money.zero(booking.currency), rate)
        key = self._series_key(uow, booking, now)
        sequence = self._take_number(uow, key)
        zero = Money.zero(booking.currency)
        subtotal = sum((line.amount for line in lines), zero)
        discount = sum((line.discount for line in lines if line.discount is not None), zero)
        tax = sum((line.tax for line in lines), zero)
        invoice = Invoice(
            id=InvoiceId(self._ctx.ids.new_id()),
            kind=InvoiceKind.INVOICE,
            series_key=key,
            sequence=sequence,
            number=invoice_number(InvoiceKind.INVOICE, key, sequence),
            booking_id=booking.id,
            customer_id=booking.customer_id,
            payment_id=payment.id,
            issued_at=now,
            currency=booking.currency,
            lines=lines,
            subtotal=subtotal,
            discount=discount,
            tax=tax,
            total=subtotal - discount + tax,
            paid=payment.captured_amount,
            due=self._balance_due(uow, booking, paid),
        )
        uow.invoices.add(invoice)
        tx.audit(
            principal,
            entity="invoice",
            entity_id=invoice.id,
            action=AuditAction.CREATED,
            new={"number": invoice.number, "paid": f"{invoice.paid}", "due": f"{invoice.due}"},
            booking_id=booking.id,
        )
        return invoice

    def _settle_refund(
        self,
        tx: Transaction,
        payment: Payment,
        refund: Refund,
        principal: Principal,
        *,
        reference: str | None = None,
    ) -> None:
        """Settle ``refund`` of the locked ``payment``: credit note, and a booking whose
        money all went back moves to ``refunded`` (the only way there)."""
        before = payment.status
        payment.settle_refund(refund, now=self._ctx.now(), provider_reference=reference)
        named = refund.provider_reference or refund.id
        self._audit_status(tx, payment, before, principal, reason=f"refund {named} settled")
        self._issue_credit_note(tx, payment, refund)
        booking = tx.uow.bookings.get_for_update(payment.booking_id)
        if booking is not None:
            note = f"refunded by {payment.provider} {refund.provider_reference or refund.id}"
            close_if_refunded(self._ctx, tx, booking, principal=principal, note=note)

    def _issue_credit_note(self, tx: Transaction, payment: Payment, refund: Refund) -> None:
        """Credit the invoice of ``payment`` with the settled ``refund``, once.

        Every settled refund comes here, so the partner's commission on it is
        reversed here too, in the same transaction.
        """
        commissions.reverse_on_refund(self._ctx, tx, payment, refund)
        uow = tx.uow
        issued = uow.invoices.list_for_booking(payment.booking_id)
        if any(doc.is_credit_note and doc.refund_id == refund.id for doc in issued):
            return
        credited = next(
            (
                doc
                for doc in issued
                if doc.kind is InvoiceKind.INVOICE and doc.payment_id == payment.id
            ),
            None,
        )
        if credited is None:
            return  # captured before invoices were issued: nothing to credit
        booking = uow.bookings.get(payment.booking_id)
        now = self._ctx.now()
        # The series of its year of issue (a 2026 invoice is credited in 2027's series
        # once 2027 started): each series is numbered in the order its documents are issued.
        key = credited.series_key if booking is None else self._series_key(uow, booking, now)
        sequence = self._take_number(uow, key)
        back = -refund.amount
        why = f": {refund.reason[:200]}" if refund.reason else ""
        rates = {line.tax_rate for line in credited.lines}
        rate = rates.pop() if len(rates) == 1 else None  # the tax the refunded price held
        line = InvoiceLine.including_tax(f"Refund of {credited.number}{why}", back, tax_rate=rate)
        zero = Money.zero(back.currency)
        due = zero if booking is None else self._balance_due(uow, booking)
        note = Invoice(
            id=InvoiceId(self._ctx.ids.new_id()),
            kind=InvoiceKind.CREDIT_NOTE,
            series_key=key,
            sequence=sequence,
            number=invoice_number(InvoiceKind.CREDIT_NOTE, key, sequence),
            booking_id=payment.booking_id,
            customer_id=payment.customer_id,
            payment_id=payment.id,
            issued_at=now,
            currency=back.currency,
            lines=(line,),
            subtotal=line.amount,
            discount=zero,
            tax=line.tax,
            total=back,
            paid=back,
            due=due,
            refund_id=refund.id,
            credited_invoice_id=credited.id,
        )
        uow.invoices.add(note)
        tx.audit(
            Principal.system("invoices"),
            entity="invoice",
            entity_id=note.id,
            action=AuditAction.CREATED,
            new={"number": note.number, "credits": credited.number, "paid": f"{note.paid}"},
            booking_id=payment.booking_id,
        )

    def _reverse_credit_note(self, tx: Transaction, payment: Payment, refund: Refund) -> None:
        """Reverse the credit note of ``refund``, which failed after it settled, once.

        A credit note is never deleted nor changed (numbers are gapless): a debit note
        from its series charges back what it gave, naming it (``credited_invoice_id``)
        and the refund. The partner's commission the refund reversed is restored
        here too, in the same transaction.
        """
        commissions.restore_on_refund_reversal(self._ctx, tx, payment, refund)
        uow = tx.uow
        issued = uow.invoices.list_for_booking(payment.booking_id)
        if any(doc.is_debit_note and doc.refund_id == refund.id for doc in issued):
            return
        credit = next(
            (doc for doc in issued if doc.is_credit_note and doc.refund_id == refund.id), None
        )
        if credit is None:
            return  # settled before invoices were issued: nothing to reverse
        booking = uow.bookings.get(payment.booking_id)
        now = self._ctx.now()
        key = credit.series_key if booking is None else self._series_key(uow, booking, now)
        sequence = self._take_number(uow, key)
        named = refund.provider_reference or str(refund.id)
        text = f"Reversal of {credit.number}: refund {named} failed after it settled"
        rates = {line.tax_rate for line in credit.lines}
        rate = rates.pop() if len(rates) == 1 else None
        line = InvoiceLine.including_tax(text, -credit.total, tax_rate=rate)
        zero = Money.zero(credit.currency)
        note = Invoice(
            id=InvoiceId(self._ctx.ids.new_id()),
            kind=InvoiceKind.DEBIT_NOTE,
            series_key=key,
            sequence=sequence,
            number=invoice_number(InvoiceKind.DEBIT_NOTE, key, sequence),
            booking_id=payment.booking_id,
            customer_id=payment.customer_id,
            payment_id=payment.id,
            issued_at=now,
            currency=credit.currency,
            lines=(line,),
            subtotal=line.amount,
            discount=zero,
            tax=line.tax,
            total=line.total,
            paid=-credit.paid,
            due=zero if booking is None else self._balance_due(uow, booking),
            refund_id=refund.id,
            credited_invoice_id=credit.id,
        )
        uow.invoices.add(note)
        tx.audit(
            Principal.system("invoices"),
            entity="invoice",
            entity_id=note.id,
            action=AuditAction.CREATED,
            new={"number": note.number, "reverses": credit.number, "paid": f"{note.paid}"},
            booking_id=payment.booking_id,
        )

    def _flag(
        self,
        tx: Transaction,
        booking_id: BookingId,
        payment: Payment,
        principal: Principal,
        reason: str,
        *,
        code: AttentionReason,
    ) -> None:
        """Flag the locked ``payment`` for staff: an open attention item of ``code``
        (other reasons' items stay open) and an audit entry. Flagging bumps no version:
        the payment's lock is what keeps a concurrent flag from being written over."""
        payment.flag(code, reason, now=self._ctx.now())
        tx.audit(
            principal,
            entity="payment",
            entity_id=payment.id,
            action=AuditAction.UPDATED,
            new={"needs_attention": reason, "attention_code": code.value},
            reason=reason,
            booking_id=booking_id,
        )
