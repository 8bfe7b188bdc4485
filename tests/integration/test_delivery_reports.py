"""Delivery reports find the message by the provider id of its latest send, on every
backend: a message that failed (the provider reported it undelivered) and was sent again
is known by the id the provider gave the new send, and reports about the earlier send
change nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tests.integration._worlds import ADMIN

from bookingcore import (
    BookingCore,
    DeliveryError,
    NotFoundError,
    Principal,
    Settings,
    ValidationError,
)
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


class FailingAtOnceNotifier(RecordingNotifier):
    """A gateway that takes the message (``SM-failed``) and answers it failed at once."""

    def send(self, message: OutgoingMessage) -> SendReceipt:
        super().send(message)
        raise DeliveryError(
            "twilio 30008: Unknown error (message SM-failed)",
            channel="sms",
            provider_message_id="SM-failed",
        )


def test_a_message_the_gateway_answered_failed_keeps_its_id_for_the_later_reports(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Twilio's 201 may already say ``failed`` (or ``undelivered``): the message is
    logged failed with the sid, and Twilio's later callbacks for that sid find it
    (they were answered 404); forward only as ever."""
    core = BookingCore(
        uow_factory=any_store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        notifier=FailingAtOnceNotifier(),
    )
    mira = core.customers.register("+919812345670", name="Mira", principal=ADMIN).customer
    failed = core.communications.send_text(  # a failure is logged and returned
        mira.id,
        CommunicationType.FOLLOW_UP,
        subject="How was the trek?",
        body="Tell us about it.",
        principal=ADMIN,
    )
    assert (failed.status, failed.provider_message_id) == (CommunicationStatus.FAILED, "SM-failed")
    assert failed.failed_reason == "twilio 30008: Unknown error (message SM-failed)"
    reported = core.communications.record_callback(
        "SM-failed", "failed", principal=GATEWAY, reason="failed (30008)"
    )
    assert (reported.id, reported.status) == (failed.id, CommunicationStatus.FAILED)
    assert reported.failed_reason == "failed (30008)"
    stored = core.communications.get(failed.id, principal=ADMIN)
    assert (stored.status, stored.provider_message_id) == (
        CommunicationStatus.FAILED,
        "SM-failed",
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


class Fresh:
    """A follow-up to Mira sent once, with a report (naming the message by its own id)
    arriving while the send is at the gateway, before its answer is recorded."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.notifier = SlowNotifier()
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN"),
            notifier=self.notifier,
        )
        self.mira = self.core.customers.register(
            "+919812345670", name="Mira", principal=ADMIN
        ).customer

    def send(self) -> Communication:
        return self.core.communications.send_text(
            self.mira.id,
            CommunicationType.FOLLOW_UP,
            subject="How was the trek?",
            body="Tell us about it.",
            principal=ADMIN,
        )

    def at_the_gateway(self) -> Communication:
        [pending] = self.core.communications.for_customer(self.mira.id, principal=ADMIN)
        assert pending.status is CommunicationStatus.PENDING
        return pending

    def report(self, sid: str, status: str, communication: Communication | None) -> Communication:
        return self.core.communications.record_callback(
            sid,
            status,
            principal=GATEWAY,
            communication_id=None if communication is None else communication.id,
        )


def test_a_report_before_the_send_s_answer_finds_the_message_by_its_own_id(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The provider reports (delivered) before the sender records its answer: the
    report moves the message and gives it the provider id; the answer that follows
    does not move it back."""
    shop = Fresh(any_store)
    early: list[Communication] = []

    def report() -> None:
        pending = shop.at_the_gateway()
        with pytest.raises(NotFoundError):  # without the id: not found, as before
            shop.report("msg-1", "delivered", None)
        early.append(shop.report("msg-1", "delivered", pending))

    shop.notifier.meanwhile = report
    sent = shop.send()
    [reported] = early
    assert (reported.status, reported.provider_message_id) == (
        CommunicationStatus.DELIVERED,
        "msg-1",
    )
    assert (sent.id, sent.status, sent.provider_message_id) == (
        reported.id,
        CommunicationStatus.DELIVERED,
        "msg-1",
    )
    [stored] = shop.core.communications.for_customer(shop.mira.id, principal=ADMIN)
    assert (stored.status, stored.provider_message_id) == (CommunicationStatus.DELIVERED, "msg-1")
    assert (stored.sending_since, stored.sending_claim) == (None, None)
    # Later reports find it by the provider id, with or without the communication id.
    assert shop.report("msg-1", "opened", None).status is CommunicationStatus.OPENED
    assert shop.report("msg-1", "sent", stored).status is CommunicationStatus.OPENED


def test_a_report_heals_a_message_whose_sender_died_after_the_provider_took_it(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The sender died at the gateway (the provider took the message, its answer was
    never recorded): the message would stay pending; the report moves it on, and the
    stalled-message job no longer sends it again."""
    shop = Fresh(any_store)

    def die() -> None:
        raise SystemExit  # the process ends while the provider holds the message

    shop.notifier.meanwhile = die
    with pytest.raises(SystemExit):
        shop.send()
    pending = shop.at_the_gateway()
    assert pending.provider_message_id is None
    healed = shop.report("SM-taken", "delivered", pending)
    assert (healed.id, healed.status, healed.provider_message_id) == (
        pending.id,
        CommunicationStatus.DELIVERED,
        "SM-taken",
    )
    assert healed.sending_since is None
    assert shop.report("SM-taken", "sent", None).status is CommunicationStatus.DELIVERED
    shop.clock.advance(days=1)
    assert shop.core.communications.resend_stalled(principal=ADMIN) == []
    assert shop.notifier.sent == []


def test_a_report_naming_a_message_with_another_provider_id_is_not_applied(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The communication id names a message the provider answered with another id: the
    report is not about it, and it is not found (NotFoundError), the message unchanged."""
    shop = Fresh(any_store)
    sent = shop.send()
    assert (sent.status, sent.provider_message_id) == (CommunicationStatus.SENT, "msg-1")
    with pytest.raises(NotFoundError):
        shop.report("msg-other", "failed", sent)
    [stored] = shop.core.communications.for_customer(shop.mira.id, principal=ADMIN)
    assert (stored.status, stored.provider_message_id) == (CommunicationStatus.SENT, "msg-1")


def test_a_report_naming_a_message_sent_again_with_another_id_is_not_applied(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A failed message sent again keeps its earlier send's id until the new answer: a
    report naming it with another sid changes nothing (as before, the new send's
    reports find it once its answer is recorded)."""
    shop = Shop(any_store)
    refused: list[type[Exception]] = []

    def report() -> None:
        with pytest.raises(NotFoundError) as caught:
            shop.core.communications.record_callback(
                "msg-2", "delivered", principal=GATEWAY, communication_id=shop.first.id
            )
        refused.append(caught.type)

    shop.notifier.meanwhile = report
    shop.follow_up()
    assert refused == [NotFoundError]
    [again] = shop.messages()
    assert (again.status, again.provider_message_id) == (CommunicationStatus.SENT, "msg-2")


def test_a_communication_id_that_is_no_uuid_is_refused(any_store: MemoryStore | SqlStore) -> None:
    shop = Fresh(any_store)
    with pytest.raises(ValidationError) as caught:
        shop.core.communications.record_callback(
            "msg-1",
            "delivered",
            principal=GATEWAY,
            communication_id="not-a-uuid",  # type: ignore[arg-type]
        )
    assert caught.value.errors[0].field == "communication_id"


def test_a_late_report_reads_what_a_concurrent_one_wrote_never_writes_over_it(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Two reports about one message at once (two app servers taking the gateway's
    callbacks, or a report and the sender's answer): the message is locked while a
    report is applied, so the later one reads what the first committed, and a late
    failure report never overwrites a delivery (it read the message as sent, before)."""
    shop = Shop(any_store)
    shop.follow_up()  # the second send, msg-2: sent
    answers: list[Communication] = []
    with any_store.unit_of_work() as uow:
        held = uow.communications.get_for_update(shop.first.id)
        assert held is not None
        assert held.status is CommunicationStatus.SENT
        held.record(CommunicationStatus.DELIVERED, datetime.now(UTC))
        late = threading.Thread(
            target=lambda: answers.append(shop.report("msg-2", "failed", reason="30003"))
        )
        late.start()
        time.sleep(0.3)  # the late report is on its way meanwhile
        uow.commit()
    late.join(10)
    assert not late.is_alive()
    assert [a.status for a in answers] == [CommunicationStatus.DELIVERED]
    [stored] = shop.messages()
    assert stored.status is CommunicationStatus.DELIVERED
