"""Messages a crash left pending are sent once more by ``communications.resend_stalled``.

A message is logged pending and handed to the notifier after commit; a process that
dies before the notifier answers leaves it pending. Once it has been pending longer
than ``Settings.stalled_message_after`` after it was handed over, the job claims it
in storage and sends it again, once, with the same ``communication_id``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import BookingCore, Principal, Settings, StaffId, StaffRole, ValidationError
from bookingcore.domain import Communication, CommunicationType
from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.domain.values import Actor, CommunicationId
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore.services.jobs import JobAttempt
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._events import CommunicationRepository as SqlCommunications

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
JOB = "communications.resend_stalled"


class Crash(BaseException):
    """The process dying while the notifier has the message (no answer is logged)."""


class CrashingNotifier(RecordingNotifier):
    """A :class:`RecordingNotifier` whose next ``crashes`` sends never answer."""

    def __init__(self) -> None:
        super().__init__()
        self.crashes = 0

    def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.crashes:
            self.crashes -= 1
            raise Crash
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
    results: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            results[index] = shop.core.communications.resend_stalled(principal=ADMIN)
        except Exception as exc:  # reported by the assertion below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results if isinstance(r, list)) == [0, 1]
    assert [m.communication_id for m in shop.notifier.sent] == [stuck.id]
    assert shop.get(stuck.id).status is CommunicationStatus.SENT
