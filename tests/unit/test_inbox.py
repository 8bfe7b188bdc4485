"""The webhook inbox's receipts: settled once, failures retried, bad input refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore import InvalidTransitionError, ValidationError
from bookingcore.domain import ReceiptStatus
from bookingcore.testing.builders import T0, Builder


class TestReceipt:
    def test_a_receipt_is_applied_once(self) -> None:
        receipt = Builder().webhook_receipt()
        assert receipt.status is ReceiptStatus.RECEIVED
        later = T0 + timedelta(seconds=2)
        receipt.mark_applied(now=later)
        assert (receipt.status, receipt.applied_at, receipt.attempts) == (
            ReceiptStatus.APPLIED,
            later,
            1,
        )
        assert receipt.is_settled
        assert receipt.version == 2
        with pytest.raises(InvalidTransitionError):
            receipt.mark_applied(now=later)
        with pytest.raises(InvalidTransitionError):
            receipt.mark_failed("again", now=later)

    def test_a_failed_receipt_keeps_its_reason_and_may_be_applied_later(self) -> None:
        receipt = Builder().webhook_receipt()
        receipt.mark_failed("provider timed out", now=T0)
        assert receipt.status is ReceiptStatus.FAILED
        assert receipt.error == "provider timed out"
        assert not receipt.is_settled
        receipt.mark_applied(now=T0)
        assert receipt.error is None
        assert receipt.attempts == 2

    def test_a_postponed_receipt_stays_received_with_its_reason_until_applied(self) -> None:
        receipt = Builder().webhook_receipt()
        receipt.postpone("stripe: the provider could not be reached", now=T0)
        assert (receipt.status, receipt.attempts, receipt.version, receipt.applied_at) == (
            ReceiptStatus.RECEIVED,
            1,
            2,
            None,
        )
        assert receipt.error == "stripe: the provider could not be reached"
        assert not receipt.is_settled
        receipt.postpone("again", now=T0)
        receipt.mark_applied(now=T0)
        assert (receipt.status, receipt.error, receipt.attempts) == (ReceiptStatus.APPLIED, None, 3)
        with pytest.raises(InvalidTransitionError):
            receipt.postpone("too late", now=T0)

    def test_an_event_the_library_does_not_act_on_is_ignored_and_kept(self) -> None:
        receipt = Builder().webhook_receipt(kind="customer.created", payment_reference=None)
        receipt.mark_ignored(now=T0)
        assert receipt.status is ReceiptStatus.IGNORED
        assert receipt.is_settled

    @pytest.mark.parametrize(
        ("field", "value"),
        [("event_id", ""), ("kind", "  "), ("provider", "not a provider!"), ("event_id", "a\x00b")],
    )
    def test_bad_fields_are_refused_by_name(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Builder().webhook_receipt(**{field: value})
        assert caught.value.errors[0].field == field

    def test_provider_names_are_normalised(self) -> None:
        assert Builder().webhook_receipt(provider=" Stripe ").provider == "stripe"


class TestErasure:
    def test_a_razorpay_payload_keeps_ids_amounts_and_statuses_only(self) -> None:
        payload = {
            "entity": "event",
            "event": "payment.captured",
            "payload": {
                "payment": {
                    "entity": {
                        "id": "pay_1",
                        "entity": "payment",
                        "amount": 150000,
                        "currency": "INR",
                        "status": "captured",
                        "order_id": "order_1",
                        "method": "upi",
                        "vpa": "asha@okbank",
                        "email": "asha@example.com",
                        "contact": "+919812345678",
                        "notes": {"name": "Asha Rao"},
                        "captured": True,
                        "created_at": 1767225600,
                    }
                }
            },
        }
        receipt = Builder().webhook_receipt(provider="razorpay", payload=payload)

        assert receipt.erase("[erased]")

        entity = receipt.payload["payload"]["payment"]["entity"]
        assert entity == {
            "id": "pay_1",
            "entity": "payment",
            "amount": 150000,
            "currency": "INR",
            "status": "captured",
            "order_id": "order_1",
            "method": "[erased]",
            "vpa": "[erased]",
            "email": "[erased]",
            "contact": "[erased]",
            "notes": {"name": "[erased]"},
            "captured": True,
            "created_at": 1767225600,
        }
        assert receipt.payload["event"] == "payment.captured"
        assert receipt.version == 2
        assert not receipt.erase("[erased]")
        assert receipt.version == 2
