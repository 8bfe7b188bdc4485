"""Properties of payments: refunds never exceed what was captured, and webhooks apply once.

Whatever refunds are asked for, and whichever of them settle or fail, the
refunded and reserved amounts stay within the captured one. A webhook event
delivered any number of times, in any order, leaves the payment as if each
event had arrived once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookingcore import Money, RefundId
from bookingcore.domain import Payment, PaymentStatus, Refund, RefundStatus
from bookingcore.errors import InvalidTransitionError, ValidationError
from bookingcore.testing.builders import T0, Builder


def _inr(minor: int) -> Money:
    return Money(Decimal(minor).scaleb(-2), "INR")


def _payment(amount: Money) -> Payment:
    make = Builder()
    location = make.location()
    slot = make.slot(location.id)
    customer = make.customer()
    booking = make.booking(customer.id, slot, [make.traveler(customer.id).id])
    return make.payment(booking, amount=amount)


@dataclass(frozen=True)
class Ask:
    """Ask for a refund of ``minor`` paise."""

    minor: int


@dataclass(frozen=True)
class Settle:
    """Settle one of the pending refunds (``index`` modulo how many there are)."""

    index: int


@dataclass(frozen=True)
class Fail:
    """Fail one of the pending refunds (``index`` modulo how many there are)."""

    index: int


_STEPS = st.lists(
    st.one_of(
        st.builds(Ask, st.integers(1, 60_000)),
        st.builds(Settle, st.integers(0, 20)),
        st.builds(Fail, st.integers(0, 20)),
    ),
    max_size=25,
)


@given(st.integers(1, 100_000), st.data(), _STEPS)
def test_refunds_never_exceed_what_was_captured(
    amount_minor: int, data: st.DataObject, steps: list[Ask | Settle | Fail]
) -> None:
    payment = _payment(_inr(amount_minor))
    payment.capture(now=T0, amount=_inr(data.draw(st.integers(1, amount_minor))))
    captured = payment.captured_amount
    pending: list[Refund] = []
    settled = Money.zero("INR")
    for step in steps:
        if isinstance(step, Ask):
            asked = _inr(step.minor)
            if asked <= payment.refundable_amount:
                pending.append(
                    payment.start_refund(refund_id=RefundId(uuid4()), amount=asked, now=T0)
                )
            elif payment.status is PaymentStatus.REFUNDED:
                # All of it went back already: the payment is past refunding at all.
                before = copy.deepcopy(payment)
                with pytest.raises(InvalidTransitionError):
                    payment.start_refund(refund_id=RefundId(uuid4()), amount=asked, now=T0)
                assert payment == before
            else:
                before = copy.deepcopy(payment)
                with pytest.raises(ValidationError) as caught:
                    payment.start_refund(refund_id=RefundId(uuid4()), amount=asked, now=T0)
                assert caught.value.fields == ("amount",)
                assert payment == before  # a refused refund changes nothing
        elif pending:
            refund = pending.pop(step.index % len(pending))
            if isinstance(step, Settle):
                payment.settle_refund(refund, now=T0)
                settled += refund.amount
                assert refund.status is RefundStatus.SUCCEEDED
            else:
                payment.fail_refund(refund, now=T0)
                assert refund.status is RefundStatus.FAILED
        assert payment.refunded_amount + payment.pending_refund_amount <= captured
        assert payment.refunded_amount == settled
        assert payment.pending_refund_amount == sum((r.amount for r in pending), Money.zero("INR"))
    if settled == captured:
        assert payment.status is PaymentStatus.REFUNDED
    elif settled.amount > 0:
        assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    else:
        assert payment.status is PaymentStatus.CAPTURED


#: Statuses providers report before and at capture; any order of them is accepted.
_STATUSES = st.sampled_from(["pending", "requires_action", "failed", "authorized", "captured"])


@given(
    st.dictionaries(st.from_regex(r"evt_[a-z0-9]{1,6}", fullmatch=True), _STATUSES, min_size=1),
    st.data(),
)
def test_redelivered_events_change_nothing(statuses: dict[str, str], data: st.DataObject) -> None:
    ids = list(statuses)
    repeats = data.draw(st.lists(st.sampled_from(ids), max_size=10))
    deliveries = data.draw(st.permutations(ids + repeats))
    payment = _payment(_inr(50_000))
    reference = copy.deepcopy(payment)
    for event_id in dict.fromkeys(deliveries):  # each event once, in first-delivery order
        assert reference.apply_event(event_id, statuses[event_id], now=T0)
    seen: set[str] = set()
    for event_id in deliveries:
        before = copy.deepcopy(payment)
        fresh = payment.apply_event(event_id, statuses[event_id], now=T0)
        if event_id in seen:
            assert not fresh
            assert payment == before
        else:
            assert fresh
        seen.add(event_id)
    assert payment == reference
    assert payment.processed_event_ids == frozenset(ids)
