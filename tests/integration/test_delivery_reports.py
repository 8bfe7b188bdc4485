"""Delivery reports find the message by the provider id of its latest send, on every
backend: a message that failed (the provider reported it undelivered) and was sent again
is known by the id the provider gave the new send, and reports about the earlier send
change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.integration._worlds import ADMIN

from bookingcore import BookingCore, NotFoundError, Principal, Settings
from bookingcore.domain import Communication, CommunicationType
from bookingcore.domain.communications import CommunicationStatus
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

GATEWAY = Principal.webhook("gateway")


class SlowNotifier(RecordingNotifier):
    """Runs ``meanwhile`` (once) while the next message is at the gateway."""

    meanwhile: Callable[[], object] | None = None

    def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return super().send(message)


class Shop:
    """A follow-up to Mira, sent with a key: its first send (``msg-1``) reported failed."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.notifier = SlowNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=FixedClock(),
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            notifier=self.notifier,
        )
        self.mira = self.core.customers.register(
            "+919812345670", name="Mira", principal=ADMIN
        ).customer
        self.follow_up()
        [first] = self.messages()
        assert first.provider_message_id == "msg-1"
        failed = self.report("msg-1", "failed", reason="undelivered (30003)")
        assert failed.status is CommunicationStatus.FAILED
        self.first = first

    def follow_up(self) -> None:
        self.core.communications.send_text(
            self.mira.id,
            CommunicationType.FOLLOW_UP,
            subject="How was the trek?",
            body="Tell us about it.",
            principal=ADMIN,
            idempotency_key="follow-up-1",
        )

    def messages(self) -> list[Communication]:
        return list(self.core.communications.for_customer(self.mira.id, principal=ADMIN))

    def report(self, sid: str, status: str, reason: str | None = None) -> Communication:
        return self.core.communications.record_callback(
            sid, status, principal=GATEWAY, reason=reason
        )


def test_a_message_sent_again_is_found_by_its_new_provider_id(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    shop.follow_up()  # the keyed repeat sends the failed message again: the same record
    [again] = shop.messages()
    assert (again.id, again.status) == (shop.first.id, CommunicationStatus.SENT)
    assert again.provider_message_id == "msg-2"  # the provider's id of this send
    delivered = shop.report("msg-2", "delivered")
    assert (delivered.id, delivered.status) == (shop.first.id, CommunicationStatus.DELIVERED)
    # The first send's reports no longer find it.
    with pytest.raises(NotFoundError):
        shop.report("msg-1", "failed")
    assert shop.messages()[0].status is CommunicationStatus.DELIVERED


def test_a_report_about_the_earlier_send_changes_nothing_while_it_is_sent_again(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The gateway repeats its failure report of the first send while the second is on
    its way: the message stays pending, then takes the second send's answer."""
    shop = Shop(any_store)
    repeated: list[Communication] = []
    shop.notifier.meanwhile = lambda: repeated.append(shop.report("msg-1", "failed"))
    shop.follow_up()
    assert [m.status for m in repeated] == [CommunicationStatus.PENDING]
    [again] = shop.messages()
    assert (again.status, again.provider_message_id) == (CommunicationStatus.SENT, "msg-2")
    assert shop.report("msg-2", "delivered").status is CommunicationStatus.DELIVERED
    assert len(shop.notifier.sent) == 2


def test_a_failure_reason_with_control_characters_is_kept_readable(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A reason is the provider's text (a remote mail server's reply, a gateway's
    message): its status is recorded whatever it holds, with the characters no store
    can keep (NUL, a lone surrogate) shown as U+FFFD."""
    shop = Shop(any_store)
    shop.follow_up()
    reported = shop.report("msg-2", "failed", reason="550 no\x00such\ud800 mailbox\tat all")
    assert reported.status is CommunicationStatus.FAILED
    [stored] = shop.messages()
    assert stored.failed_reason == "550 no\ufffdsuch\ufffd mailbox\tat all"
