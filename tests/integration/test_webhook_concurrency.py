"""On PostgreSQL, two worker processes running ``core.webhooks.deliver_due()`` at once never
send the same attempt twice: every webhook reaches the partner exactly once, with one
attempt logged."""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta
from typing import Any

import pytest
from tests.adapters._webhook_receiver import webhook_receiver
from tests.integration._partner_webhooks import ADMIN, webhook_world

from bookingcore import BookingCore, Settings
from bookingcore._clock import SystemClock
from bookingcore.domain import WebhookDeliveryStatus, WebhookRetryPolicy
from bookingcore.domain.queries import PageRequest
from bookingcore.services import WebhookSettings
from bookingcore.testing import RecordingWebhookSender
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.webhooks import HttpxWebhookSender

WEBHOOKS = 30


def _deliver_until_done(url: str, schema: str, start: Any, results: Any) -> None:
    """In a worker process: run deliver_due in small batches until nothing is due."""
    store = SqlStore(url, connect_args={"options": f"-csearch_path={schema}"})
    with HttpxWebhookSender(timeout=5) as sender:
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=SystemClock(),
            webhook_sender=sender,
            webhook_settings=WebhookSettings(batch=3, allow_private_addresses=True),
        )
        start.wait()
        delivered = 0
        while True:
            report = core.webhooks.deliver_due()
            delivered += report.delivered
            if report.claimed == 0:
                break
    store.dispose()
    results.put(delivered)


@pytest.mark.postgres
def test_two_worker_processes_deliver_every_webhook_exactly_once(
    pg_store: SqlStore, postgres_url: str, postgres_schema: str
) -> None:
    with webhook_receiver(delay=0.02) as receiver:
        # The app server: schedules webhooks as it books; only the workers send them.
        core = BookingCore(
            uow_factory=pg_store.unit_of_work,
            clock=SystemClock(),
            settings=Settings(default_region="IN"),
            webhook_sender=RecordingWebhookSender(),
            webhook_settings=WebhookSettings(allow_private_addresses=True),
        )
        world = webhook_world(core, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        for _ in range(WEBHOOKS):
            world.book()

        context = multiprocessing.get_context("spawn")
        start, results = context.Barrier(2), context.Queue()
        workers = [
            context.Process(
                target=_deliver_until_done, args=(postgres_url, postgres_schema, start, results)
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        counts = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
            assert worker.exitcode == 0

        ids = receiver.ids()
        assert len(ids) == WEBHOOKS
        assert len(set(ids)) == WEBHOOKS
        assert all(r.verified for r in receiver.received)
        assert sum(counts) == WEBHOOKS
        assert min(counts) > 0  # both workers took a share

        page = core.webhooks.list(principal=ADMIN, page=PageRequest(limit=100))
        assert len(page.items) == WEBHOOKS
        for delivery in page.items:
            assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 1)
            assert len(core.webhooks.attempts(delivery.id, principal=ADMIN)) == 1


def _deliver_once(url: str, schema: str, lease_seconds: float) -> None:
    """In a worker process: one deliver_due run (the test kills it mid-send)."""
    store = SqlStore(url, connect_args={"options": f"-csearch_path={schema}"})
    with HttpxWebhookSender(timeout=30) as sender:
        core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=SystemClock(),
            webhook_sender=sender,
            webhook_settings=WebhookSettings(
                lease=timedelta(seconds=lease_seconds), allow_private_addresses=True
            ),
        )
        core.webhooks.deliver_due()


@pytest.mark.postgres
def test_a_worker_process_killed_mid_send_leaves_the_webhook_to_the_next_after_its_lease(
    pg_store: SqlStore, postgres_url: str, postgres_schema: str
) -> None:
    """The worker's request reached the partner, then the worker got SIGKILL before it
    could write the answer down: once the claim's lease ends the unanswered attempt is
    logged as lost (a failure), and after the backoff another worker sends the webhook
    again, with the same webhook-id (the receiver drops the copy), and logs it."""
    lease = timedelta(seconds=8)  # long enough to look before it ends on a busy machine
    retry = WebhookRetryPolicy(first_delay=timedelta(seconds=1), jitter=0)
    with webhook_receiver() as receiver:
        core = BookingCore(
            uow_factory=pg_store.unit_of_work,
            clock=SystemClock(),
            settings=Settings(default_region="IN"),
            webhook_sender=RecordingWebhookSender(),
            webhook_settings=WebhookSettings(allow_private_addresses=True),
        )
        world = webhook_world(core, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        receiver.script = ["hang"]
        world.book()

        context = multiprocessing.get_context("spawn")
        worker = context.Process(
            target=_deliver_once, args=(postgres_url, postgres_schema, lease.total_seconds())
        )
        worker.start()
        deadline = time.monotonic() + 60
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.received, "the worker never sent the webhook"
        killed_at = time.monotonic()
        worker.kill()  # SIGKILL while the partner has not answered yet
        worker.join(timeout=30)

        with HttpxWebhookSender(timeout=5) as sender:
            after = BookingCore(
                uow_factory=pg_store.unit_of_work,
                clock=SystemClock(),
                webhook_sender=sender,
                webhook_settings=WebhookSettings(
                    lease=lease, retry=retry, allow_private_addresses=True
                ),
            )
            assert after.webhooks.deliver_due().claimed == 0  # the dead worker's lease holds
            wait = lease + retry.first_delay  # then the lost attempt's backoff
            time.sleep(max(0.0, wait.total_seconds() + 0.2 - (time.monotonic() - killed_at)))
            report = after.webhooks.deliver_due()
        assert (report.lost, report.claimed, report.delivered) == (1, 1, 1)

        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.verified
        assert second.verified
        [delivery] = core.webhooks.list(principal=ADMIN).items
        assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 2)
        attempts = core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert [(a.number, a.status_code) for a in attempts] == [(1, None), (2, 200)]
        assert attempts[0].error is not None
        assert "never reported back" in attempts[0].error
