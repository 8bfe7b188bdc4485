"""What every payment provider adapter answers for the same mistake, so a host handles it once.

Each is ``(field, code)`` of the one :class:`~bookingcore.errors.ValidationError`
the mistake raises; the field is the
:class:`~bookingcore.ports.PaymentProvider` parameter (or
:class:`~bookingcore.ports.payments.IntentRequest` attribute) at fault. The
tests of Stripe, Razorpay, the manual provider and the in-memory fake hold each
of them to these.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookingcore.domain.values import Money
from bookingcore.errors import ValidationError
from bookingcore.ports.payments import PaymentProvider

#: ``create_intent`` or ``refund`` for zero or less: refused before the provider is asked.
AMOUNT_NOT_ABOVE_ZERO = ("amount", "not_positive")
#: ``create_intent`` for less than the provider's minimum charge in that currency.
AMOUNT_BELOW_MINIMUM = ("amount", "amount_too_small")
#: ``refund`` of more than is left of the captured payment.
REFUND_ABOVE_WHAT_IS_LEFT = ("amount", "amount_too_large")
#: ``create_intent`` or ``refund`` with an empty idempotency key.
KEY_MISSING = ("idempotency_key", "required")
#: ``fetch`` or ``refund`` with a blank provider reference.
REFERENCE_MISSING = ("reference", "required")
#: ``refund`` of a payment that never took any money (not paid yet, or only authorized).
REFUND_NOT_CAPTURED = ("reference", "not_captured")
#: ``parse_webhook`` of a verified body that is not one of the provider's events.
BODY_NOT_AN_EVENT = ("raw_body", "invalid_webhook")


def refused(caught: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    """``(field, code)`` of the one field error ``caught`` holds."""
    (error,) = caught.value.errors
    return error.field, error.code


def blank_references_refused(provider: PaymentProvider) -> list[tuple[str, str]]:
    """What ``provider`` answers ``refund`` and then ``fetch`` of a blank reference with:
    each ``(field, code)`` of the ``ValidationError`` it raises."""
    answers = []
    for call in (
        lambda: provider.refund(" ", Money(Decimal(1), "INR"), idempotency_key="blank-1"),
        lambda: provider.fetch(""),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        answers.append(refused(caught))
    return answers
