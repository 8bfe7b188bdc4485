"""The webhook inbox: every verified delivery from a payment provider, kept once.

Providers deliver an event more than once, concurrently and out of order. A
delivery whose signature verifies is stored as a :class:`WebhookReceipt`
before anything else happens; ``(provider, event_id)`` is unique in storage,
so eight concurrent deliveries of one event leave one receipt and the seven
others find it. The receipt is then applied (the payment moves) and marked
``applied``, or ``ignored`` (an event the library does not act on), or
``failed`` with the reason, to be applied again later. A receipt whose event
needs the provider's answer, when the provider could not be asked, stays
``received`` (:meth:`WebhookReceipt.postpone`): the next delivery of the event
applies it. A delivery that does not verify is refused and stored nowhere.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain._validation import check_move, clean_text, parse_choice, require_text
from bookingcore.domain.payments import normalise_provider
from bookingcore.domain.values import Versioned, ensure_aware

__all__ = ["ReceiptStatus", "WebhookReceipt"]


class ReceiptStatus(enum.StrEnum):
    """Where a stored delivery stands.

    .. versionadded:: 0.2
    """

    RECEIVED = "received"
    APPLIED = "applied"
    IGNORED = "ignored"
    FAILED = "failed"


_MOVES: Mapping[ReceiptStatus, frozenset[ReceiptStatus]] = {
    ReceiptStatus.RECEIVED: frozenset(
        {ReceiptStatus.APPLIED, ReceiptStatus.IGNORED, ReceiptStatus.FAILED}
    ),
    ReceiptStatus.FAILED: frozenset(
        {ReceiptStatus.APPLIED, ReceiptStatus.IGNORED, ReceiptStatus.FAILED}
    ),
    ReceiptStatus.APPLIED: frozenset(),
    ReceiptStatus.IGNORED: frozenset(),
}


#: Only a receipt not applied yet may wait for the provider.
_WAITING: Mapping[ReceiptStatus, frozenset[ReceiptStatus]] = {
    ReceiptStatus.RECEIVED: frozenset({ReceiptStatus.RECEIVED}),
}


def _receipt_status(value: object) -> ReceiptStatus:
    return parse_choice(ReceiptStatus, value, "status", what="a receipt status")


@attrs.define(slots=False, kw_only=True)
class WebhookReceipt(Versioned):
    """One verified delivery of a provider's event, unique by ``(provider, event_id)``.

    ``payload`` is the delivery's parsed body as the provider sent it;
    ``payment_reference`` the intent or order it is about, when it names one.
    ``attempts`` counts how often applying it was tried.

    Raises:
        ValidationError: an empty provider, event id or kind, or a naive time.

    .. versionadded:: 0.2
    """

    id: UUID
    provider: str = attrs.field(converter=normalise_provider)
    event_id: str
    kind: str
    received_at: datetime
    payload: Mapping[str, Any] = attrs.Factory(dict)
    payment_reference: str | None = None
    status: ReceiptStatus = attrs.field(default=ReceiptStatus.RECEIVED, converter=_receipt_status)
    attempts: int = 0
    error: str | None = None
    applied_at: datetime | None = None
    version: int = 1

    entity_name = "webhook_receipt"

    def __attrs_post_init__(self) -> None:
        self.event_id = require_text(self.event_id, "event_id")
        self.kind = require_text(self.kind, "kind", max_length=100)
        self.payment_reference = clean_text(self.payment_reference, "payment_reference")
        self.error = clean_text(self.error, "error", max_length=2000)
        self.received_at = ensure_aware(self.received_at, "received_at")

    @property
    def is_settled(self) -> bool:
        """True once applied or ignored: a redelivery changes nothing."""
        return self.status in (ReceiptStatus.APPLIED, ReceiptStatus.IGNORED)

    def mark_applied(self, *, now: datetime) -> None:
        """The event moved its payment (or found it there already).

        Raises:
            InvalidTransitionError: the receipt was settled already.
        """
        self._end(ReceiptStatus.APPLIED, now)

    def mark_ignored(self, *, now: datetime) -> None:
        """The event is of a kind the library does not act on; kept for the record."""
        self._end(ReceiptStatus.IGNORED, now)

    def mark_failed(self, reason: str, *, now: datetime) -> None:
        """Applying the event failed with ``reason``; it may be applied again later."""
        self._end(ReceiptStatus.FAILED, now)
        self.error = clean_text(reason, "error", max_length=2000)

    def postpone(self, reason: str, *, now: datetime) -> None:
        """Applying waits for something outside (the provider could not be asked).

        The receipt stays ``received``, with ``reason`` as its error and one
        more attempt counted; a redelivery of the event applies it.

        Raises:
            InvalidTransitionError: the receipt is not ``received``.

        .. versionadded:: 0.2
        """
        subject = f"receipt {self.event_id}"
        check_move("webhook_receipt", subject, _WAITING, self.status, ReceiptStatus.RECEIVED)
        ensure_aware(now, "now")
        self.attempts += 1
        self.error = clean_text(reason, "error", max_length=2000)
        self.version += 1

    def erase(self, placeholder: str) -> bool:
        """Replace the text of the stored payload with ``placeholder``, in place (GDPR).

        A provider's payload carries the payer's name, email, phone and address.
        What the books need stays: numbers (amounts, times), flags, and the text
        of ids (``id``, ``*_id`` and the provider's links such as
        ``payment_intent``), types, statuses and currencies; every other string,
        however deep, becomes ``placeholder``. The event id, kind, payment
        reference, status and error are kept. Returns whether anything changed.

        .. versionadded:: 0.3
        """
        erased = _erase_text(self.payload, placeholder)
        if erased == self.payload:
            return False
        self.payload = erased
        self.version += 1
        return True

    def _end(self, target: ReceiptStatus, now: datetime) -> None:
        check_move("webhook_receipt", f"receipt {self.event_id}", _MOVES, self.status, target)
        self.status = target
        self.attempts += 1
        self.error = None
        self.applied_at = ensure_aware(now, "now") if target is not ReceiptStatus.FAILED else None
        self.version += 1


#: The keys whose text a payload keeps when erased: ids, kinds, statuses, currencies.
_KEPT_TEXT = frozenset(
    {
        "id",
        "object",
        "type",
        "event",
        "entity",
        "kind",
        "status",
        "currency",
        "payment_intent",
        "charge",
        "refund",
        "order",
        "invoice",
        "payment",
    }
)


def _erase_text(value: Any, placeholder: str, key: str | None = None) -> Any:
    """``value`` with every string not under a kept key replaced by ``placeholder``."""
    if isinstance(value, Mapping):
        return {k: _erase_text(v, placeholder, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_erase_text(v, placeholder, key) for v in value]
    if not isinstance(value, str) or not value:
        return value
    if key is not None and (key in _KEPT_TEXT or key.endswith("_id") or "amount" in key):
        return value
    return placeholder
