"""Delivery reports find the message by the provider id of its latest send, on every
backend: a message that failed (the provider reported it undelivered) and was sent again
is known by the id the provider gave the new send."""

from __future__ import annotations

import pytest
from tests.integration._worlds import ADMIN

from bookingcore import BookingCore, NotFoundError, Principal, Settings
from bookingcore.domain import CommunicationType
from bookingcore.domain.communications import CommunicationStatus
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

GATEWAY = Principal.webhook("gateway")


def test_a_message_sent_again_is_found_by_its_new_provider_id(
    any_store: MemoryStore | SqlStore,
) -> None:
    notifier = RecordingNotifier()
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        notifier=notifier,
    )
    mira = core.customers.register("+919812345670", name="Mira", principal=ADMIN).customer

    def follow_up() -> object:
        return core.communications.send_text(
            mira.id,
            CommunicationType.FOLLOW_UP,
            subject="How was the trek?",
            body="Tell us about it.",
            principal=ADMIN,
            idempotency_key="follow-up-1",
        )

    follow_up()
    [first] = core.communications.for_customer(mira.id, principal=ADMIN)
    assert first.provider_message_id == "msg-1"
    undelivered = core.communications.record_callback(
        "msg-1", "failed", principal=GATEWAY, reason="undelivered (30003)"
    )
    assert undelivered.status is CommunicationStatus.FAILED

    follow_up()  # the keyed repeat sends the failed message again: the same record
    [again] = core.communications.for_customer(mira.id, principal=ADMIN)
    assert (again.id, again.status) == (first.id, CommunicationStatus.SENT)
    assert again.provider_message_id == "msg-2"  # the provider's id of this send

    delivered = core.communications.record_callback("msg-2", "delivered", principal=GATEWAY)
    assert (delivered.id, delivered.status) == (first.id, CommunicationStatus.DELIVERED)
    # The first send's reports no longer find it (a late repeat of its failure
    # cannot fail the message that went out since).
    with pytest.raises(NotFoundError):
        core.communications.record_callback("msg-1", "failed", principal=GATEWAY)
    assert core.communications.get(first.id, principal=ADMIN).status is (
        CommunicationStatus.DELIVERED
    )
