"""Properties of the commission ledger: whatever captures, refunds and cancellation a partner's
booking goes through, in any order (refunds failing after they settled included), its
commission is never negative, never more than its total earns, never accrued or reversed twice,
whole again once nothing is refunded, and gone once everything went back."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from bookingcore import BookingId, Money, PartnerId, PaymentId, RefundId
from bookingcore.domain import CommissionEntry, CommissionEntryId
from bookingcore.domain.commissions import (
    accrual_for,
    accruals_for_reactivation,
    restoration_for_reversed_refund,
    reversal_for_refund,
    reversals_for_cancellation,
    summarise,
)
from bookingcore.testing.builders import T0


def _inr(minor: int) -> Money:
    return Money.from_minor_units(minor, "INR")


def _id() -> UUID:
    return uuid4()


steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["capture", "refund", "refund", "cancel", "redeliver", "bounce", "reactivate"]
        ),
        st.integers(0, 3),  # which payment
        st.integers(1, 400_000),  # minor units
    ),
    max_size=20,
)


@given(
    total=st.integers(1, 1_000_000),
    rate=st.sampled_from([Decimal("0.01"), Decimal("7.5"), Decimal("12.5"), Decimal("33.33")]),
    script=steps,
)
def test_the_ledger_of_a_booking_stays_within_what_its_payments_earn(
    total: int, rate: Decimal, script: list[tuple[str, int, int]]
) -> None:
    booking_id, partner_id = BookingId(uuid4()), PartnerId(uuid4())
    booking_total = _inr(total)
    payments = [PaymentId(uuid4()) for _ in range(4)]
    captured: dict[PaymentId, Money] = {}
    refunded: dict[PaymentId, Money] = {}
    entries: list[CommissionEntry] = []
    cancelled = False

    def capture(payment: PaymentId, amount: Money) -> None:
        entry = accrual_for(
            entries,
            entry_id=CommissionEntryId(uuid4()),
            partner_id=partner_id,
            booking_id=booking_id,
            booking_total=booking_total,
            payment_id=payment,
            captured=amount,
            rate=rate,
            now=T0,
        )
        if entry is not None:
            entries.append(entry)

    def refund(payment: PaymentId, amount: Money, refund_id: RefundId) -> None:
        entry = reversal_for_refund(
            entries,
            entry_id=CommissionEntryId(uuid4()),
            payment_id=payment,
            refund_id=refund_id,
            refund_amount=amount,
            captured=captured[payment],
            refunded=refunded[payment],
            now=T0,
        )
        if entry is not None:
            entries.append(entry)

    def bounce(payment: PaymentId, refund_id: RefundId) -> None:
        entry = restoration_for_reversed_refund(
            entries,
            entry_id=CommissionEntryId(uuid4()),
            payment_id=payment,
            refund_id=refund_id,
            captured=captured[payment],
            refunded=refunded[payment],
            now=T0,
        )
        if entry is not None:
            entries.append(entry)

    refund_ids: list[tuple[PaymentId, Money, RefundId]] = []
    bounced: set[RefundId] = set()
    for action, which, minor in script:
        payment = payments[which]
        if action == "capture" and payment not in captured and not cancelled:
            captured[payment] = _inr(minor)
            refunded[payment] = _inr(0)
            capture(payment, captured[payment])
            before = len(entries)
            capture(payment, captured[payment])  # the capture delivered twice at once
            assert len(entries) == before
        elif action == "refund" and payment in captured:
            left = captured[payment] - refunded[payment]
            amount = _inr(min(minor, left.minor_units))
            if amount.amount > 0:
                refunded[payment] += amount
                refund_ids.append((payment, amount, RefundId(uuid4())))
                refund(payment, amount, refund_ids[-1][2])
        elif action == "cancel" and not cancelled:
            cancelled = True
            entries += reversals_for_cancellation(entries, new_id=_id, change_id=uuid4(), now=T0)
        elif action == "reactivate" and cancelled:  # back from cancelled (an appointment)
            cancelled = False
            change, kept = uuid4(), {p: (captured[p], refunded[p]) for p in captured}
            entries += accruals_for_reactivation(
                entries, new_id=_id, change_id=change, kept=kept, now=T0
            )
            again = accruals_for_reactivation(
                entries, new_id=_id, change_id=change, kept=kept, now=T0
            )
            assert again == []  # the change retried: accrued once
            for payment, (taken, back) in kept.items():  # each payment earns its share again
                mine = [e for e in entries if e.payment_id == payment]
                first = next((e for e in mine if e.is_capture_accrual), None)
                if first is not None:
                    share = Money(
                        first.amount.amount
                        * min(taken - back, first.base).amount
                        / first.base.amount,
                        "INR",
                    )
                    assert sum((e.amount for e in mine), _inr(0)) == share
        elif action == "bounce" and refund_ids:  # the bank returned a settled refund
            payment, amount, refund_id = refund_ids[which % len(refund_ids)]
            if refund_id not in bounced:
                bounced.add(refund_id)
                refunded[payment] -= amount
            before = len(entries)
            if not cancelled:  # the service restores nothing for a booking closed to payment
                bounce(payment, refund_id)
                bounce(payment, refund_id)  # reported again: restored once at most
            assert len(entries) <= before + 1
        elif action == "redeliver" and refund_ids:  # a settled refund handled again
            again = refund_ids[which % len(refund_ids)]
            before = len(entries)
            refund(*again)
            assert len(entries) == before
        # A redelivery later on never reaches the ledger: the webhook inbox applies an event
        # once (tests/integration/test_payments_concurrency.py). A capture that earned
        # nothing when applied (no room left under the booking's total) is not evaluated
        # again after refunds of other payments free room.

    assert len({e.key for e in entries}) == len(entries)
    zero = _inr(0)
    for payment, taken in captured.items():
        mine = [e for e in entries if e.payment_id == payment]
        accrued = sum((e.amount for e in mine if e.is_accrual), zero)
        left = sum((e.amount for e in mine), zero)
        assert zero <= left <= accrued
        if cancelled or refunded[payment] == taken:
            assert left == zero
        elif refunded[payment] == zero:  # every refund of it bounced: all of it is back
            first = next((e for e in mine if e.is_capture_accrual), None)
            assert left == (zero if first is None else first.amount)
    accrued_bases = sum((e.base for e in entries if e.is_accrual), zero)
    kept_bases = accrued_bases - sum((e.base for e in entries if not e.is_accrual), zero)
    assert zero <= kept_bases <= booking_total
    net = sum((e.amount for e in entries), zero)
    earned = Money(booking_total.amount * rate / 100, "INR")
    assert net <= earned + _inr(len(entries))  # at most a minor unit of rounding per entry
    accrued_all = sum((e.amount for e in entries if e.is_accrual), zero)
    if not any(not e.is_accrual for e in entries):  # rounding telescopes
        assert accrued_all == Money(accrued_bases.amount * rate / 100, "INR")
        assert accrued_bases <= booking_total
    for summary in summarise(entries):  # one partner, one currency: at most one
        assert summary.net == sum((e.amount for e in entries), zero)
        assert summary.accrued - summary.reversed == summary.net
        assert summary.entries == len(entries)
