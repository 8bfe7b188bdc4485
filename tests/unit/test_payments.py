"""Payments and refunds: webhooks applied once, status moves, refunds within what was captured."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import Money, RefundId
from bookingcore.domain import AttentionItem, AttentionReason, Payment, PaymentStatus, RefundStatus
from bookingcore.domain.idempotency import scoped_key
from bookingcore.errors import InvalidTransitionError, ValidationError
from bookingcore.testing.builders import T0, Builder

LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def make() -> Builder:
    return Builder()


def _payment(make: Builder, amount: str = "1000", **fields: object) -> Payment:
    location = make.location()
    slot = make.slot(location.id, price_per_traveler=Money(amount, "INR"))
    customer = make.customer()
    booking = make.booking(customer.id, slot, [make.traveler(customer.id).id])
    return make.payment(booking, **fields)


def _captured(make: Builder, amount: str = "1000") -> Payment:
    payment = _payment(make, amount)
    payment.capture(now=T0)
    return payment


class TestNewPayments:
    def test_start_pending_with_nothing_captured(self, make: Builder) -> None:
        payment = _payment(make, provider=" Stripe ")
        assert (payment.provider, payment.status) == ("stripe", PaymentStatus.PENDING)
        assert payment.captured_amount == Money.zero("INR")
        assert payment.refundable_amount == Money.zero("INR")

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"amount": Money.zero("INR")}, "amount"),
            ({"provider": "pay pal"}, "provider"),
            ({"captured_amount": Money("1", "USD")}, "captured_amount"),
            ({"captured_amount": Money("1000.01", "INR")}, "captured_amount"),
            ({"refunded_amount": Money("1", "INR")}, "refunded_amount"),
            ({"processed_event_ids": [" evt_1"]}, "processed_event_ids"),
        ],
    )
    def test_a_broken_rule_names_its_field(
        self, make: Builder, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _payment(make, **fields)
        assert caught.value.fields == (field,)

    @pytest.mark.parametrize("caller_key", ["k" * 255, "retry  2", " spaced "])
    def test_keeps_the_scoped_idempotency_key_exactly_as_given(
        self, make: Builder, caller_key: str
    ) -> None:
        """A caller key the services accept (up to 255 characters, any spacing) is stored
        scoped as it is: never refused for the length the scope adds, never respaced."""
        key = scoped_key("customer", uuid4(), caller_key)
        assert key is not None
        assert _payment(make, idempotency_key=key).idempotency_key == key


class TestWebhooks:
    def test_an_event_is_applied_once(self, make: Builder) -> None:
        payment = _payment(make)
        assert payment.apply_event("evt_1", "captured", now=LATER)
        captured = (payment.status, payment.captured_amount, payment.version)
        assert captured == (PaymentStatus.CAPTURED, Money("1000", "INR"), 2)
        assert not payment.apply_event("evt_1", "captured", now=LATER + timedelta(hours=1))
        assert not payment.apply_event("evt_1", "failed", now=LATER + timedelta(hours=1))
        assert (payment.status, payment.captured_amount, payment.version) == captured
        assert (payment.updated_at, payment.processed_event_ids) == (LATER, frozenset({"evt_1"}))
        assert payment.has_processed("evt_1")

    def test_a_late_event_is_recorded_but_moves_nothing_back(self, make: Builder) -> None:
        payment = _payment(make)
        payment.apply_event("evt_2", "captured", now=LATER)
        assert payment.apply_event("evt_1", "authorized", now=LATER)
        assert payment.apply_event("evt_0", "failed", now=LATER, reason="first card declined")
        assert payment.status is PaymentStatus.CAPTURED
        assert payment.failure_reason is None
        assert payment.processed_event_ids == {"evt_0", "evt_1", "evt_2"}

    def test_a_failed_attempt_may_succeed_on_a_retry(self, make: Builder) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "requires_action", now=T0)
        payment.apply_event("evt_2", "failed", now=T0, reason="3-D Secure abandoned")
        payment.apply_event("evt_3", "authorized", now=LATER)
        payment.apply_event("evt_4", "captured", now=LATER, amount=Money("400", "INR"))
        assert (payment.status, payment.captured_amount, payment.captured_at) == (
            PaymentStatus.CAPTURED,
            Money("400", "INR"),
            LATER,
        )
        assert payment.failure_reason == "3-D Secure abandoned"

    def test_an_event_contradicting_the_payment_is_refused_and_not_recorded(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "cancelled", now=T0)
        with pytest.raises(InvalidTransitionError) as caught:
            payment.apply_event("evt_2", "captured", now=LATER)
        assert (caught.value.lifecycle, caught.value.from_state) == ("payment", "cancelled")
        assert not payment.has_processed("evt_2")
        assert (payment.status, payment.version) == (PaymentStatus.CANCELLED, 2)

    def test_refund_statuses_do_not_come_from_payment_events(self, make: Builder) -> None:
        payment = _captured(make)
        with pytest.raises(ValidationError) as caught:
            payment.apply_event("evt_9", "refunded", now=LATER)
        assert caught.value.fields == ("status",)
        assert not payment.has_processed("evt_9")

    @pytest.mark.parametrize(
        ("amount", "code"),
        [("1000.01", "exceeds_amount"), ("0", "not_positive")],
    )
    def test_a_capture_takes_at_most_the_amount_asked_for(
        self, make: Builder, amount: str, code: str
    ) -> None:
        payment = _payment(make)
        with pytest.raises(ValidationError) as caught:
            payment.apply_event("evt_1", "captured", now=LATER, amount=Money(amount, "INR"))
        assert (caught.value.fields, caught.value.errors[0].code) == (("amount",), code)
        assert (payment.status, payment.processed_event_ids) == (PaymentStatus.PENDING, set())

    def test_a_capture_in_another_currency_is_refused(self, make: Builder) -> None:
        payment = _payment(make)
        with pytest.raises(ValidationError) as caught:
            payment.capture(now=LATER, amount=Money("10", "USD"))
        assert caught.value.errors[0].code == "currency_mismatch"

    def test_record_event_remembers_other_events_once(self, make: Builder) -> None:
        payment = _captured(make)
        assert payment.record_event("evt_refund_1", now=LATER)
        assert not payment.record_event("evt_refund_1", now=LATER)
        assert payment.version == 3
        with pytest.raises(ValidationError):
            payment.record_event("  ", now=LATER)


class TestUndecidedEvents:
    @pytest.mark.parametrize(
        ("events", "reported", "decides"),
        [
            ([], "requires_action", True),  # the first event says where the payment went
            ([], "failed", True),
            (["pending"], "requires_action", False),
            (["requires_action"], "failed", False),
            (["failed"], "requires_action", False),
            (["failed"], "pending", False),  # a retry in flight, or an old event
            (["failed"], "failed", True),
            (["failed"], "authorized", True),
            (["failed"], "captured", True),
            (["authorized"], "failed", True),  # behind the payment: late
            (["captured"], "requires_action", True),
        ],
    )
    def test_only_retry_statuses_after_a_retry_status_leave_the_order_open(
        self, make: Builder, events: list[str], reported: str, decides: bool
    ) -> None:
        payment = _payment(make)
        for n, status in enumerate(events):
            payment.apply_event(f"evt_{n}", status, now=T0)
        assert payment.decides(reported) is decides

    def test_the_provider_state_moves_between_retry_statuses_either_way(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "failed", now=T0, reason="card declined")
        assert payment.apply_provider_state("evt_0", "requires_action", now=LATER)
        assert (payment.status, payment.version) == (PaymentStatus.REQUIRES_ACTION, 3)
        assert payment.apply_provider_state("evt_2", "pending", now=LATER)
        assert payment.status is PaymentStatus.PENDING
        assert payment.apply_provider_state("evt_3", "failed", now=LATER, reason="expired card")
        assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "expired card")
        assert not payment.apply_provider_state("evt_3", "captured", now=LATER)
        assert payment.processed_event_ids == {"evt_0", "evt_1", "evt_2", "evt_3"}

    def test_the_provider_state_captures_what_it_took_and_never_moves_back(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "requires_action", now=T0)
        payment.apply_provider_state("evt_2", "captured", now=LATER, captured=Money("400", "INR"))
        assert (payment.status, payment.captured_amount, payment.captured_at) == (
            PaymentStatus.CAPTURED,
            Money("400", "INR"),
            LATER,
        )
        assert payment.apply_provider_state("evt_3", "failed", now=LATER)
        assert payment.status is PaymentStatus.CAPTURED

    def test_a_refunded_provider_state_counts_as_captured(self, make: Builder) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "failed", now=T0)
        payment.apply_provider_state("evt_2", "refunded", now=LATER)
        assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
            PaymentStatus.CAPTURED,
            Money("1000", "INR"),
            Money.zero("INR"),
        )

    def test_a_provider_state_contradicting_the_payment_is_refused_and_not_recorded(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        payment.apply_event("evt_1", "cancelled", now=T0)
        with pytest.raises(InvalidTransitionError):
            payment.apply_provider_state("evt_2", "captured", now=LATER)
        assert not payment.has_processed("evt_2")


class TestMoves:
    def test_money_taken_cannot_be_cancelled(self, make: Builder) -> None:
        payment = _captured(make)
        with pytest.raises(InvalidTransitionError) as caught:
            payment.cancel(now=LATER)
        assert "refunded" in caught.value.message
        assert payment.status is PaymentStatus.CAPTURED

    def test_an_authorization_is_captured_or_voided(self, make: Builder) -> None:
        voided = _payment(make)
        voided.authorize(now=T0)
        voided.cancel(now=LATER)
        assert voided.status is PaymentStatus.CANCELLED
        taken = _payment(make)
        taken.authorize(now=T0)
        with pytest.raises(InvalidTransitionError):
            taken.fail(now=LATER)
        taken.capture(now=LATER)
        assert taken.is_captured


class TestRefunds:
    def test_refunds_reserve_then_settle_what_was_captured(self, make: Builder) -> None:
        payment = _captured(make)
        first = payment.start_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("300", "INR"),
            now=LATER,
            reason="one traveler dropped out",
        )
        assert (first.status, first.payment_id, first.amount) == (
            RefundStatus.PENDING,
            payment.id,
            Money("300", "INR"),
        )
        assert (payment.pending_refund_amount, payment.refundable_amount) == (
            Money("300", "INR"),
            Money("700", "INR"),
        )
        payment.settle_refund(first, now=LATER, provider_reference="rfnd_1")
        assert (first.status, first.provider_reference, first.completed_at) == (
            RefundStatus.SUCCEEDED,
            "rfnd_1",
            LATER,
        )
        assert (payment.status, payment.refunded_amount, payment.net_amount) == (
            PaymentStatus.PARTIALLY_REFUNDED,
            Money("300", "INR"),
            Money("700", "INR"),
        )
        rest = payment.start_refund(
            refund_id=RefundId(uuid4()), amount=Money("700", "INR"), now=LATER
        )
        payment.settle_refund(rest, now=LATER)
        assert (payment.status, payment.refundable_amount) == (
            PaymentStatus.REFUNDED,
            Money.zero("INR"),
        )

    def test_a_refund_beyond_what_was_captured_names_the_amount(self, make: Builder) -> None:
        payment = _payment(make)
        payment.capture(now=T0, amount=Money("600", "INR"))
        payment.start_refund(refund_id=RefundId(uuid4()), amount=Money("500", "INR"), now=LATER)
        with pytest.raises(ValidationError) as caught:
            payment.start_refund(
                refund_id=RefundId(uuid4()), amount=Money("100.01", "INR"), now=LATER
            )
        assert (caught.value.fields, caught.value.errors[0].code) == (
            ("amount",),
            "exceeds_captured",
        )
        assert "100.00 INR left to refund" in caught.value.message
        assert payment.pending_refund_amount == Money("500", "INR")

    @pytest.mark.parametrize(
        ("amount", "code"),
        [(Money("5", "USD"), "currency_mismatch"), (Money("0", "INR"), "not_positive")],
    )
    def test_a_refund_in_another_currency_or_of_nothing_is_refused(
        self, make: Builder, amount: Money, code: str
    ) -> None:
        payment = _captured(make)
        with pytest.raises(ValidationError) as caught:
            payment.start_refund(refund_id=RefundId(uuid4()), amount=amount, now=LATER)
        assert (caught.value.fields, caught.value.errors[0].code) == (("amount",), code)
        assert payment.version == 2

    def test_nothing_is_refunded_before_money_was_taken(self, make: Builder) -> None:
        payment = _payment(make)
        with pytest.raises(InvalidTransitionError) as caught:
            payment.start_refund(refund_id=RefundId(uuid4()), amount=Money("1", "INR"), now=LATER)
        assert caught.value.from_state == "pending"

    def test_a_failed_refund_frees_its_reservation(self, make: Builder) -> None:
        payment = _captured(make)
        refund = payment.start_refund(
            refund_id=RefundId(uuid4()), amount=Money("1000", "INR"), now=LATER
        )
        payment.fail_refund(refund, now=LATER, reason="account closed")
        assert (refund.status, refund.failure_reason) == (RefundStatus.FAILED, "account closed")
        assert (payment.status, payment.refundable_amount) == (
            PaymentStatus.CAPTURED,
            Money("1000", "INR"),
        )
        with pytest.raises(InvalidTransitionError):
            payment.settle_refund(refund, now=LATER)
        assert payment.refunded_amount == Money.zero("INR")

    def test_a_refund_settles_once_and_only_on_its_own_payment(self, make: Builder) -> None:
        payment, other = _captured(make), _captured(make)
        refund = payment.start_refund(
            refund_id=RefundId(uuid4()), amount=Money("10", "INR"), now=LATER
        )
        with pytest.raises(ValidationError) as caught:
            other.settle_refund(refund, now=LATER)
        assert caught.value.fields == ("refund",)
        payment.settle_refund(refund, now=LATER)
        with pytest.raises(InvalidTransitionError):
            payment.settle_refund(refund, now=LATER)
        assert payment.refunded_amount == Money("10", "INR")

    def test_a_provider_refund_that_fits_is_reserved_like_any_other(self, make: Builder) -> None:
        payment = _captured(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("400", "INR"),
            now=LATER,
            provider_reference="re_dashboard",
            reason="refunded at stripe",
        )
        assert (refund.status, refund.provider_reference) == (RefundStatus.PENDING, "re_dashboard")
        assert payment.pending_refund_amount == Money("400", "INR")
        payment.settle_refund(refund, now=LATER)
        assert payment.status is PaymentStatus.PARTIALLY_REFUNDED

    @pytest.mark.parametrize(
        ("captured", "amount"),
        [(True, Money("1000.01", "INR")), (True, Money("5", "USD")), (False, Money("5", "INR"))],
    )
    def test_a_provider_refund_the_payment_cannot_hold_is_unreconciled(
        self, make: Builder, captured: bool, amount: Money
    ) -> None:
        payment = _captured(make) if captured else _payment(make)
        before = (payment.status, payment.refunded_amount, payment.pending_refund_amount)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()), amount=amount, now=LATER, provider_reference="re_x"
        )
        assert refund.status is RefundStatus.UNRECONCILED
        assert refund.amount == amount
        assert refund.failure_reason
        assert (payment.status, payment.refunded_amount, payment.pending_refund_amount) == before
        with pytest.raises(InvalidTransitionError):
            payment.settle_refund(refund, now=LATER)

    def test_an_unreconciled_refund_is_reconciled_once_it_fits(self, make: Builder) -> None:
        payment = _payment(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("400", "INR"),
            now=LATER,
            provider_reference="re",
        )
        with pytest.raises(InvalidTransitionError):
            payment.reconcile_refund(refund, now=LATER)  # nothing captured yet
        assert refund.status is RefundStatus.UNRECONCILED
        payment.capture(now=LATER)
        payment.reconcile_refund(refund, now=LATER)
        assert (refund.status, refund.failure_reason) == (RefundStatus.PENDING, None)
        assert payment.pending_refund_amount == Money("400", "INR")
        payment.settle_refund(refund, now=LATER)
        assert payment.refunded_amount == Money("400", "INR")
        with pytest.raises(InvalidTransitionError):
            payment.reconcile_refund(refund, now=LATER)

    def test_one_still_too_big_is_left_as_it_was(self, make: Builder) -> None:
        payment = _captured(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("1001", "INR"),
            now=LATER,
            provider_reference="re",
        )
        with pytest.raises(ValidationError) as refused:
            payment.reconcile_refund(refund, now=LATER)
        assert refused.value.fields == ("amount",)
        assert refund.status is RefundStatus.UNRECONCILED
        assert payment.pending_refund_amount == Money("0", "INR")

    def test_a_dismissed_refund_keeps_its_note_and_counts_nowhere(self, make: Builder) -> None:
        payment = _captured(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("5", "USD"),
            now=LATER,
            provider_reference="re",
        )
        with pytest.raises(ValidationError) as blank:
            payment.dismiss_refund(refund, now=LATER, note=" ")
        assert blank.value.fields == ("note",)
        payment.dismiss_refund(refund, now=LATER, note="booked by hand in the ledger")
        assert refund.status is RefundStatus.DISMISSED
        assert refund.completed_at == LATER
        assert (refund.failure_reason or "").startswith("dismissed: booked by hand")
        assert (payment.refunded_amount, payment.pending_refund_amount) == (
            Money("0", "INR"),
            Money("0", "INR"),
        )
        with pytest.raises(InvalidTransitionError):
            payment.reconcile_refund(refund, now=LATER)

    def test_what_the_provider_reports_moves_forward_only(self, make: Builder) -> None:
        payment = _payment(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("400", "INR"),
            now=LATER,
            provider_reference="re",
            status="pending",
        )
        assert (refund.status, refund.provider_status) == (
            RefundStatus.UNRECONCILED,
            RefundStatus.PENDING,
        )
        assert not payment.report_refund(refund, "pending", now=LATER)  # a repeat
        version = refund.version
        assert payment.report_refund(refund, RefundStatus.FAILED, now=LATER)
        assert (refund.provider_status, refund.version) == (RefundStatus.FAILED, version + 1)
        for back in ("pending", "succeeded", "failed"):
            assert not payment.report_refund(refund, back, now=LATER)
        assert refund.provider_status is RefundStatus.FAILED
        with pytest.raises(ValidationError) as refused:
            payment.report_refund(refund, "unreconciled", now=LATER)
        assert refused.value.fields == ("status",)

    def test_a_refund_settled_before_reports_were_kept_goes_back_on_nothing(
        self, make: Builder
    ) -> None:
        payment = _captured(make)
        refund = payment.start_refund(
            refund_id=RefundId(uuid4()), amount=Money("100", "INR"), now=LATER
        )
        payment.settle_refund(refund, now=LATER)
        assert refund.provider_status is None
        assert not payment.report_refund(refund, "pending", now=LATER)
        assert not payment.report_refund(refund, "succeeded", now=LATER)
        assert refund.provider_status is None
        # Its bank returning it later is news, as for any settled refund.
        assert payment.report_refund(refund, "failed", now=LATER)
        assert refund.provider_status is RefundStatus.FAILED

    def test_a_settled_refund_that_fails_afterwards_is_refundable_again(
        self, make: Builder
    ) -> None:
        payment = _captured(make)
        refunds = [
            payment.start_refund(refund_id=RefundId(uuid4()), amount=Money(n, "INR"), now=LATER)
            for n in ("300", "700")
        ]
        for refund in refunds:
            payment.settle_refund(refund, now=LATER)
        assert payment.status is PaymentStatus.REFUNDED
        first = refunds[0]
        with pytest.raises(InvalidTransitionError):  # refunds go back only through a report
            payment.fail_refund(first, now=LATER)
        assert not payment.report_refund(first, "succeeded", now=LATER)  # as settled
        assert payment.report_refund(first, "failed", now=LATER)
        version = payment.version
        payment.reverse_refund(first, now=LATER, reason="expired_or_canceled_card")
        assert (first.status, first.failure_reason) == (
            RefundStatus.FAILED,
            "expired_or_canceled_card",
        )
        assert (payment.status, payment.refunded_amount) == (
            PaymentStatus.PARTIALLY_REFUNDED,
            Money("700", "INR"),
        )
        assert payment.refundable_amount == Money("300", "INR")
        assert payment.version == version + 1
        payment.reverse_refund(refunds[1], now=LATER)
        assert (payment.status, payment.refunded_amount) == (
            PaymentStatus.CAPTURED,
            Money("0", "INR"),
        )
        with pytest.raises(InvalidTransitionError):  # once
            payment.reverse_refund(first, now=LATER)
        pending = payment.start_refund(
            refund_id=RefundId(uuid4()), amount=Money("100", "INR"), now=LATER
        )
        with pytest.raises(InvalidTransitionError):  # only a settled refund is reversed
            payment.reverse_refund(pending, now=LATER)
        assert payment.refunded_amount == Money("0", "INR")

    def test_an_unreconciled_refund_reported_failed_fails_and_frees_nothing(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("400", "INR"),
            now=LATER,
            provider_reference="re",
        )
        payment.fail_refund(refund, now=LATER, reason="refund.failed")
        assert (refund.status, refund.completed_at) == (RefundStatus.FAILED, LATER)
        payment.capture(now=LATER)
        assert payment.refundable_amount == payment.captured_amount
        with pytest.raises(InvalidTransitionError):
            payment.reconcile_refund(refund, now=LATER)

    def test_a_provider_refund_first_reported_failed_is_kept_failed(self, make: Builder) -> None:
        payment = _captured(make)
        refund = payment.record_provider_refund(
            refund_id=RefundId(uuid4()),
            amount=Money("400", "INR"),
            now=LATER,
            provider_reference="re",
            status=RefundStatus.FAILED,
        )
        assert (refund.status, refund.provider_status, refund.completed_at) == (
            RefundStatus.FAILED,
            RefundStatus.FAILED,
            LATER,
        )
        assert (payment.refunded_amount, payment.pending_refund_amount) == (
            Money("0", "INR"),
            Money("0", "INR"),
        )
        with pytest.raises(ValidationError):
            payment.record_provider_refund(
                refund_id=RefundId(uuid4()),
                amount=Money("1", "INR"),
                now=LATER,
                provider_reference="re_2",
                status="dismissed",
            )

    def test_amounts_keep_the_currency_precision(self, make: Builder) -> None:
        payment = _captured(make, "0.03")
        for _ in range(3):
            refund = payment.start_refund(
                refund_id=RefundId(uuid4()), amount=Money(Decimal("0.01"), "INR"), now=LATER
            )
            payment.settle_refund(refund, now=LATER)
        assert (payment.status, payment.refunded_amount) == (
            PaymentStatus.REFUNDED,
            Money("0.03", "INR"),
        )


class TestAttention:
    """One open item per reason; each closes on its own."""

    def test_two_reasons_stay_open_and_close_one_at_a_time(self, make: Builder) -> None:
        payment = _payment(make)
        assert payment.attention_since is None
        late = payment.flag("late_payment", "captured after it was cancelled", now=T0)
        later = T0 + timedelta(hours=1)
        refund = payment.flag(AttentionReason.UNRECONCILED_REFUND, "refund re_1", now=later)
        assert payment.attention == (late, refund)
        assert payment.attention_since == T0
        assert payment.resolve_attention("late_payment") == late
        assert payment.attention == (refund,)
        assert payment.attention_since == later
        assert not payment.needs_attention("late_payment")
        assert payment.needs_attention()

    def test_flagging_one_reason_again_keeps_its_first_time_and_its_latest_text(
        self, make: Builder
    ) -> None:
        payment = _payment(make)
        payment.flag("unreconciled_refund", "refund re_1", now=T0)
        again = payment.flag("unreconciled_refund", "refund re_2", now=T0 + timedelta(days=1))
        assert payment.attention == (again,)
        assert (again.text, again.since) == ("refund re_2", T0)

    def test_closing_an_item_that_is_not_open_is_refused(self, make: Builder) -> None:
        payment = _payment(make)
        payment.flag("overpaid", "captured 10.00 INR more", now=T0)
        with pytest.raises(InvalidTransitionError):
            payment.resolve_attention("late_payment")
        with pytest.raises(ValidationError) as caught:
            payment.flag("nonsense", "x", now=T0)
        assert caught.value.errors[0].field == "reason_code"
        with pytest.raises(ValidationError):
            payment.flag("overpaid", "  ", now=T0)
        assert [i.code for i in payment.attention] == [AttentionReason.OVERPAID]

    def test_a_payment_holds_one_item_per_reason(self, make: Builder) -> None:
        item = AttentionItem("overpaid", "captured 10.00 INR more", T0)
        with pytest.raises(ValidationError) as caught:
            _payment(make, attention=(item, item))
        assert caught.value.errors[0].code == "duplicate"
        with pytest.raises(ValidationError):
            _payment(make, attention=("overpaid",))
