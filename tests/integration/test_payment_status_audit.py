"""On every backend: every move of a payment's status leaves an audit entry on the payment,
naming what made it (the provider's webhook, or the staff member whose refund settled),
with the old and the new status."""

from __future__ import annotations

import pytest
from tests._payable import ADMIN, Payable

from bookingcore import Money
from bookingcore.domain import AuditAction, AuditEntry, Booking, Payment
from bookingcore.testing import FakePaymentProvider
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore


class Desk:
    """A booking of 5,000 INR with an intent at the fake provider."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.provider = FakePaymentProvider()
        payable = Payable(self.provider, store=store, price="5000", location="AUD1")
        self.clock, self.core = payable.clock, payable.core
        self.booking: Booking = payable.booking
        self.reference = payable.intent("fake")

    def deliver(self, delivery: tuple[dict[str, str], bytes]) -> None:
        self.clock.advance(minutes=1)  # the trail is in time order
        self.core.payments.handle_webhook("fake", *delivery)

    def payment(self) -> Payment:
        (payment,) = self.core.payments.for_booking(self.booking.id, principal=ADMIN)
        return payment

    def moves(self) -> list[AuditEntry]:
        trail = self.core.audit.trail("payment", self.payment().id, principal=ADMIN)
        return [e for e in trail if e.action is AuditAction.STATUS_CHANGED]


@pytest.fixture
def desk(any_store: MemoryStore | SqlStore) -> Desk:
    return Desk(any_store)


def _statuses(entries: list[AuditEntry]) -> list[tuple[str, str, str]]:
    return [(e.actor.kind.value, e.old_values["status"], e.new_values["status"]) for e in entries]


def test_each_status_a_webhook_moves_the_payment_to_is_audited_as_the_webhooks(
    desk: Desk,
) -> None:
    desk.deliver(desk.provider.webhook("requires_action", desk.reference))
    declined = desk.provider.webhook("failed", desk.reference)
    desk.deliver(declined)
    desk.deliver(desk.provider.webhook("captured", desk.reference))
    desk.deliver(declined)  # a redelivery moves nothing and audits nothing

    moves = desk.moves()
    assert _statuses(moves) == [
        ("webhook", "pending", "requires_action"),
        ("webhook", "requires_action", "failed"),
        ("webhook", "failed", "captured"),
    ]
    assert {e.actor.id for e in moves} == {"fake"}
    captured = moves[-1]
    assert captured.new_values["captured_amount"] == "5000.00 INR"
    assert captured.reason is not None
    assert "fake" in captured.reason
    assert captured.booking_id == desk.booking.id


def test_a_refund_settled_by_its_webhook_is_audited_as_the_webhooks(desk: Desk) -> None:
    desk.deliver(desk.provider.webhook("captured", desk.reference))
    desk.provider.refunds_settle_later = True
    refund = desk.core.payments.refund(
        desk.payment().id, Money("5000", "INR"), principal=ADMIN, idempotency_key="r"
    )
    assert refund.provider_reference is not None
    assert [m.new_values["status"] for m in desk.moves()] == ["captured"]  # still pending

    desk.deliver(
        desk.provider.refund_webhook(refund.provider_reference, desk.reference, "succeeded")
    )

    refunded = desk.moves()[-1]
    assert _statuses([refunded]) == [("webhook", "captured", "refunded")]
    assert refunded.new_values["refunded_amount"] == "5000.00 INR"
    assert refund.provider_reference in (refunded.reason or "")


def test_a_refund_made_at_the_provider_is_audited_as_the_webhooks(desk: Desk) -> None:
    desk.deliver(desk.provider.webhook("captured", desk.reference))
    desk.deliver(
        desk.provider.refund_webhook(
            "re_dash", desk.reference, "succeeded", amount=Money("1000", "INR")
        )
    )
    assert _statuses(desk.moves())[-1] == ("webhook", "captured", "partially_refunded")


def test_a_staff_refund_settled_at_once_is_audited_as_the_staff_members(desk: Desk) -> None:
    desk.deliver(desk.provider.webhook("captured", desk.reference))
    desk.core.payments.refund(
        desk.payment().id, Money("1000", "INR"), principal=ADMIN, idempotency_key="r"
    )
    last = desk.moves()[-1]
    assert _statuses([last]) == [("staff", "captured", "partially_refunded")]
    assert last.actor.id == str(ADMIN.id)
