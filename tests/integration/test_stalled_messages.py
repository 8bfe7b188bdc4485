"""Messages a crash left pending are sent once more by ``communications.resend_stalled``.

A message is logged pending and handed to the notifier after commit; a process that
dies before the notifier answers leaves it pending. Once it has been pending longer
than ``Settings.stalled_message_after`` after it was handed over, the job claims it
in storage and sends it again, once, with the same ``communication_id``.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from tests._threads import at_once
from tests.integration._worlds import ADMIN

from bookingcore import (
    BookingCore,
    DeliveryError,
    Settings,
    ValidationError,
)
from bookingcore.domain import Communication, CommunicationType
from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.domain.events import CommunicationStatusChanged
from bookingcore.domain.values import Actor, CommunicationId
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore.services.jobs import JobAttempt
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._events import CommunicationRepository as SqlCommunications

JOB = "communications.resend_stalled"


class Crash(BaseException):
    """The process dying while the notifier has the message (no answer is logged)."""


class CrashingNotifier(RecordingNotifier):
    """A :class:`RecordingNotifier` whose next ``crashes`` sends never answer, and whose
    next send, with ``meanwhile`` set, runs it before answering (a slow gateway: what
    happens elsewhere while the sender waits), then answers ``late`` (``None``: as
    told by ``fail_next``; a reason: that failure)."""

    def __init__(self) -> None:
        super().__init__()
        self.crashes = 0
        self.meanwhile: Callable[[], object] | None = None
        self.late: str | None = None

    def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.crashes:
            self.crashes -= 1
            raise Crash
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            late, self.late = self.late, None
            meanwhile()
            if late is not None:
                self.fail_next(1, late)
        return super().send(message)


class Shop:
    def __init__(self, store: MemoryStore | SqlStore, **settings: Any) -> None:
        self.store = store
        self.clock = FixedClock()
        self.notifier = CrashingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(default_region="IN", **settings),
            notifier=self.notifier,
        )
        self.customer = self.core.customers.register(
            "+919812345670", principal=ADMIN, name="Mira"
        ).customer
        self.runs = 0

    def send(self, *, key: str | None = None, crash: bool = False) -> Communication:
        """A follow-up to Mira; with ``crash``, the process dies inside the send."""
        self.notifier.crashes = int(crash)
        call = self.core.communications.send_text
        args: dict[str, Any] = {
            "subject": "How was the trek?",
            "body": "Tell us about it.",
            "principal": ADMIN,
            "idempotency_key": key,
        }
        if not crash:
            return call(self.customer.id, CommunicationType.FOLLOW_UP, **args)
        with pytest.raises(Crash):
            call(self.customer.id, CommunicationType.FOLLOW_UP, **args)
        (logged,) = [c for c in self.messages() if c.status is CommunicationStatus.PENDING]
        return logged

    def messages(self) -> Sequence[Communication]:
        return self.core.communications.for_customer(self.customer.id, principal=ADMIN)

    def get(self, communication_id: CommunicationId) -> Communication:
        return self.core.communications.get(communication_id, principal=ADMIN)

    def job(self) -> object:
        self.runs += 1
        return self.core.jobs.catalog.run(JOB, {}, JobAttempt(str(self.runs), JOB))

    def stalled_job_meanwhile(self, *, resend_fails: bool = False) -> None:
        """While the next send waits on the gateway, 16 minutes pass and the job runs
        (it finds the message stalled and takes it over); with ``resend_fails`` the
        job's send is refused."""

        def run() -> None:
            self.clock.advance(minutes=16)
            if resend_fails:
                self.notifier.fail_next(1, "resend refused")
            assert self.job() == 1

        self.notifier.meanwhile = run

    def status_events(self, communication_id: CommunicationId) -> list[str]:
        """The ``communication.status_changed`` events of the message, oldest first."""
        with self.store.unit_of_work() as uow:
            logged = uow.outbox.list_unpublished(1000)
        return [
            m.event.status
            for m in logged
            if isinstance(m.event, CommunicationStatusChanged)
            and m.event.communication_id == communication_id
        ]


def test_a_message_a_crash_left_pending_is_sent_once_after_the_threshold(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    logged_at = shop.clock.now()
    stuck = shop.send(crash=True)
    assert (stuck.status, stuck.sending_since) == (CommunicationStatus.PENDING, logged_at)
    assert shop.notifier.sent == []
    assert shop.job() == 0  # it may still be on its way
    shop.clock.advance(minutes=15)
    assert shop.job() == 0  # pending exactly as long as the threshold: not yet
    shop.clock.advance(seconds=1)
    assert shop.job() == 1
    (resent,) = shop.notifier.sent
    assert resent.communication_id == stuck.id  # a gateway's idempotency key drops a repeat
    sent = shop.get(stuck.id)
    assert (sent.status, sent.sending_since) == (CommunicationStatus.SENT, None)
    shop.clock.advance(hours=1)
    assert shop.job() == 0
    assert len(shop.notifier.sent) == 1
    assert [m.id for m in shop.messages()] == [stuck.id]


def test_a_failed_message_claimed_again_then_lost_in_a_crash_is_sent_after_the_threshold(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The keyed resend of a failed message hands it over anew (``requeue_failed``):
    the threshold counts from that claim, not from the first logging."""
    shop = Shop(any_store)
    shop.notifier.fail_next(1)
    failed = shop.send(key="follow-up-1")
    assert failed.status is CommunicationStatus.FAILED
    assert failed.sending_since is None
    shop.clock.advance(hours=2)
    claimed_at = shop.clock.now()
    again = shop.send(key="follow-up-1", crash=True)
    assert (again.id, again.sending_since) == (failed.id, claimed_at)
    shop.clock.advance(minutes=10)
    assert shop.job() == 0
    shop.clock.advance(minutes=6)
    assert shop.job() == 1
    assert [m.communication_id for m in shop.notifier.sent] == [failed.id]
    assert shop.get(failed.id).status is CommunicationStatus.SENT
    assert shop.send(key="follow-up-1").id == failed.id  # answered as it is
    assert len(shop.notifier.sent) == 1


def test_a_resend_the_notifier_refuses_is_logged_failed_and_not_swept_again(
    any_store: MemoryStore | SqlStore,
) -> None:
    shop = Shop(any_store)
    stuck = shop.send(crash=True)
    shop.clock.advance(minutes=20)
    shop.notifier.fail_next(1, "gateway down")
    (answered,) = shop.core.communications.resend_stalled(principal=ADMIN)
    assert (answered.id, answered.status) == (stuck.id, CommunicationStatus.FAILED)
    assert answered.failed_reason == "gateway down"
    shop.clock.advance(hours=1)
    assert shop.job() == 0  # failed: the keyed senders and the dispatcher resend it


def test_pending_messages_not_handed_over_are_left_alone(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A pending message without ``sending_since`` (logged before 0.4, or one a host's
    own handler sends) is not the job's."""
    shop = Shop(any_store)
    manual = Communication(
        id=CommunicationId(uuid4()),
        customer_id=shop.customer.id,
        type=CommunicationType.FOLLOW_UP,
        channel=Channel.SMS,
        recipient=shop.customer.phone.e164,
        content="Call Mira back",
        created_at=shop.clock.now(),
        created_by=Actor.system("host"),
    )
    with any_store.unit_of_work() as uow:
        uow.communications.add(manual)
        uow.commit()
    shop.clock.advance(days=2)
    assert shop.job() == 0
    assert shop.notifier.sent == []
    assert shop.get(manual.id).status is CommunicationStatus.PENDING


def test_the_threshold_is_a_setting_and_none_turns_the_job_off() -> None:
    shop = Shop(MemoryStore(), stalled_message_after=timedelta(hours=1))
    (schedule,) = [s for s in shop.core.jobs.catalog.schedules() if s.name == JOB]
    assert schedule.every == timedelta(minutes=5)
    stuck = shop.send(crash=True)
    shop.clock.advance(minutes=30)
    assert shop.job() == 0
    shop.clock.advance(minutes=31)
    assert shop.job() == 1
    assert shop.get(stuck.id).status is CommunicationStatus.SENT
    off = Shop(MemoryStore(), stalled_message_after=None)
    assert JOB not in off.core.jobs.catalog.names()
    with pytest.raises(ValidationError) as refused:
        Settings(stalled_message_after=timedelta(0))
    assert refused.value.errors[0].field == "stalled_message_after"
    with pytest.raises(ValidationError) as no_threshold:
        off.core.communications.resend_stalled(principal=ADMIN)
    assert no_threshold.value.errors[0].field == "older_than"
    assert (
        off.core.communications.resend_stalled(principal=ADMIN, older_than=timedelta(minutes=1))
        == []
    )


@pytest.mark.postgres
def test_two_sweepers_at_once_send_a_stalled_message_once(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sweepers list the message before either claims it (a barrier after each
    one's listing): storage lets one of them send it, not both."""
    shop = Shop(pg_store)
    stuck = shop.send(crash=True)
    shop.clock.advance(minutes=16)

    barrier = threading.Barrier(2, timeout=30)
    original = SqlCommunications.list_stalled

    def list_then_wait(
        self: SqlCommunications, before: datetime, limit: int
    ) -> Sequence[Communication]:
        found = original(self, before, limit)
        assert [m.id for m in found] == [stuck.id]
        barrier.wait()  # the other sweeper has listed it too
        return found

    monkeypatch.setattr(SqlCommunications, "list_stalled", list_then_wait)
    results = at_once(2, lambda _: shop.core.communications.resend_stalled(principal=ADMIN))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results if isinstance(r, list)) == [0, 1]
    assert [m.communication_id for m in shop.notifier.sent] == [stuck.id]
    assert shop.get(stuck.id).status is CommunicationStatus.SENT


# --------------------------------------------------------------------------- slow senders


def test_a_late_success_of_a_slow_sender_changes_nothing_the_resender_recorded(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The first sender waits on the gateway longer than the threshold: the job takes
    the message over and sends it (the same ``communication_id``, which a gateway with
    idempotency keys drops). The resender's answer is recorded; the first sender's
    late success neither overwrites its time and provider id nor reports it again."""
    shop = Shop(any_store)
    start = shop.clock.now()
    shop.stalled_job_meanwhile()
    message = shop.send()
    assert [m.communication_id for m in shop.notifier.sent] == [message.id, message.id]
    stored = shop.get(message.id)
    assert stored.status is CommunicationStatus.SENT
    assert stored.provider_message_id == "msg-1"  # the resender's, answered first
    assert stored.sent_at == start + timedelta(minutes=16)
    assert (stored.sending_since, stored.sending_claim) == (None, None)
    assert shop.status_events(message.id) == ["sent"]
    shop.clock.advance(hours=1)
    assert shop.job() == 0


def test_a_late_failure_of_a_slow_sender_is_dropped(any_store: MemoryStore | SqlStore) -> None:
    """A failure that arrives after another sender took the message over cannot mark
    it failed (a keyed send would then send it a third time): the holder's answer
    decides, and the slow caller gets the message as the holder left it."""
    shop = Shop(any_store)
    shop.stalled_job_meanwhile()
    shop.notifier.late = "timed out"
    message = shop.send(key="follow-up-1")
    assert (message.status, message.failed_reason) == (CommunicationStatus.SENT, None)
    assert shop.status_events(message.id) == ["sent"]
    assert shop.send(key="follow-up-1").id == message.id  # answered as it is
    assert len(shop.notifier.sent) == 1


def test_a_late_success_over_the_resenders_failure_keeps_its_provider_id(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Forward only, by the status order: ``failed`` ranks above ``sent``, so the
    message stays failed, but the late success fills in its send time and provider
    id, and the provider's delivery report (``delivered`` ranks above ``failed``)
    then finds it and moves it on."""
    shop = Shop(any_store)
    start = shop.clock.now()
    shop.stalled_job_meanwhile(resend_fails=True)
    message = shop.send(key="follow-up-1")
    stored = shop.get(message.id)
    assert (stored.status, stored.failed_reason) == (CommunicationStatus.FAILED, "resend refused")
    assert stored.provider_message_id == "msg-1"  # the slow sender's
    assert stored.sent_at == start + timedelta(minutes=16)
    assert shop.status_events(message.id) == ["failed"]
    delivered = shop.core.communications.record_callback("msg-1", "delivered", principal=ADMIN)
    assert (delivered.id, delivered.status) == (message.id, CommunicationStatus.DELIVERED)
    assert shop.status_events(message.id) == ["failed", "delivered"]


def test_a_sender_that_loses_the_claim_does_not_hand_the_message_over(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A message the job holds at the gateway is not sent again by a late
    ``deliver_logged`` (the logging use case's sender, running late): it answers the
    message as it is. Once the job's answer is in, it still sends nothing."""
    shop = Shop(any_store)
    stuck = shop.send(crash=True)
    assert stuck.sending_claim is not None  # the crashed sender had claimed it
    # Held by the crashed sender, not stalled yet: nobody else sends it.
    assert shop.core.communications.deliver_logged(stuck.id).status is CommunicationStatus.PENDING
    assert shop.notifier.sent == []
    shop.clock.advance(minutes=16)
    seen: list[Communication] = []

    def late_sender() -> None:
        seen.append(shop.core.communications.deliver_logged(stuck.id))

    shop.notifier.meanwhile = late_sender
    assert shop.job() == 1
    (while_held,) = seen
    assert while_held.status is CommunicationStatus.PENDING
    assert [m.communication_id for m in shop.notifier.sent] == [stuck.id]
    assert shop.core.communications.deliver_logged(stuck.id).status is CommunicationStatus.SENT
    assert len(shop.notifier.sent) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("first_answer", ["sent", "refused"])
def test_a_slow_sender_and_the_resender_on_two_connections_record_one_send(
    pg_store: SqlStore, first_answer: str
) -> None:
    """Two threads, two connections: the first sender blocks inside the gateway past
    the threshold; the job (another thread) takes the message over and is itself at the
    gateway when the first sender's answer comes back. A late success is recorded (the
    message did go out) and the job's answer then changes nothing; a late refusal is
    dropped and the job's success is recorded. Either way: sent, one event."""
    shop = Shop(pg_store)
    first_at_gateway = threading.Event()
    release_first = threading.Event()
    resender_at_gateway = threading.Event()
    release_resender = threading.Event()
    calls: list[str] = []
    original = RecordingNotifier.send

    def gateway(notifier: RecordingNotifier, message: OutgoingMessage) -> SendReceipt:
        who = threading.current_thread().name
        calls.append(who)
        if who == "first":
            first_at_gateway.set()
            assert release_first.wait(30)
            if first_answer == "refused":
                raise DeliveryError("timed out", channel=message.channel.value)
        else:
            resender_at_gateway.set()
            assert release_resender.wait(30)
        return original(notifier, message)

    shop.notifier.send = types.MethodType(gateway, shop.notifier)  # type: ignore[method-assign]
    results: dict[str, object] = {}

    def first() -> None:
        try:
            results["first"] = shop.send()
        except Exception as exc:  # reported by the assertion below
            results["first"] = exc

    def resender() -> None:
        try:
            results["resender"] = shop.core.communications.resend_stalled(principal=ADMIN)
        except Exception as exc:  # reported by the assertion below
            results["resender"] = exc

    one = threading.Thread(target=first, name="first")
    one.start()
    assert first_at_gateway.wait(30)
    shop.clock.advance(minutes=16)
    two = threading.Thread(target=resender, name="resender")
    two.start()
    assert resender_at_gateway.wait(30)
    release_first.set()
    one.join(30)
    release_resender.set()
    two.join(30)
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    answered = results["first"]
    assert isinstance(answered, Communication)
    assert sorted(calls) == ["first", "resender"]
    stored = shop.get(answered.id)
    assert (stored.status, stored.sending_claim) == (CommunicationStatus.SENT, None)
    assert stored.failed_reason is None
    assert stored.provider_message_id == "msg-1"  # the first success to come back
    assert shop.status_events(stored.id) == ["sent"]
    (resent,) = cast("list[Communication]", results["resender"])
    assert resent.status is CommunicationStatus.SENT


@pytest.mark.postgres
def test_two_senders_of_one_pending_message_on_two_connections_send_it_once(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the message pending and nobody holding it (a barrier after each one's
    read), then both claim it: storage lets one of them hand it to the gateway."""
    shop = Shop(pg_store)
    stuck = shop.send(crash=True)
    with pg_store.unit_of_work() as uow:  # the crashed sender's claim, given back
        assert uow.communications.settle_claim(stuck.id, _claim_of(shop, stuck.id))
        uow.commit()
    barrier = threading.Barrier(2, timeout=30)
    claim = SqlCommunications.claim_for_sending

    def wait_then_claim(
        self: SqlCommunications, communication_id: CommunicationId, **kwargs: Any
    ) -> bool:
        barrier.wait()  # the other sender is about to claim it too
        return claim(self, communication_id, **kwargs)

    monkeypatch.setattr(SqlCommunications, "claim_for_sending", wait_then_claim)
    results = at_once(2, lambda _: shop.core.communications.deliver_logged(stuck.id))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [m.communication_id for m in shop.notifier.sent] == [stuck.id]
    assert shop.get(stuck.id).status is CommunicationStatus.SENT
    assert shop.status_events(stuck.id) == ["sent"]


def _claim_of(shop: Shop, communication_id: CommunicationId) -> UUID:
    claim = shop.get(communication_id).sending_claim
    assert claim is not None
    return claim
