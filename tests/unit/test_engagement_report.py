"""The communication engagement report: per message type or channel, messages sent,
delivered, opened, clicked and failed with their open and click rates, over memory and
SQLite (the storage counts; PostgreSQL in the contract suite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerId,
    DeliveryError,
    Money,
    NewTraveler,
    PermissionDeniedError,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking
from bookingcore.services import EngagementLine
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
HOOK = Principal.webhook("mailgun")


class Desk:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            automations=False,
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("4000", "INR"),
            capacity=None,
            principal=ADMIN,
        )
        customer = self.core.customers.register(
            "+919876543210", email="asha@example.com", principal=ADMIN
        ).customer
        self.booking: Booking = self.core.bookings.book(
            BookingRequest(
                slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer_id=customer.id,
            ),
            principal=ADMIN,
        )

    def send(self, kind: str, channel: str = "email", *events: str) -> None:
        sent = self.core.communications.send(
            self.booking.id, kind, principal=ADMIN, channel=channel
        )
        assert sent.provider_message_id is not None
        for event in events:
            self.core.communications.record_callback(
                sent.provider_message_id, event, principal=HOOK
            )


@pytest.fixture(params=["memory", "sqlite"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    if request.param == "memory":
        yield Desk(MemoryStore())
        return
    store = sqlite_file_store(tmp_path / "engagement.db")
    try:
        yield Desk(store)
    finally:
        store.dispose()


def _figures(line: EngagementLine) -> tuple[object, ...]:
    return (
        line.key,
        line.channel,
        line.sent,
        line.delivered,
        line.opened,
        line.clicked,
        line.failed,
        line.open_rate,
        line.click_rate,
    )


def test_rates_are_of_the_delivered_messages_per_type_and_channel(desk: Desk) -> None:
    desk.send("confirmation", "email", "delivered", "opened", "clicked")
    desk.send("confirmation", "email", "delivered", "clicked")  # a click without an open
    desk.send("confirmation", "email", "delivered")
    desk.send("confirmation", "email", "failed")  # bounced
    desk.send("reminder", "email", "delivered", "opened")
    desk.send("reminder", "sms", "delivered")
    desk.notifier.fail_next()
    with pytest.raises(DeliveryError):
        desk.send("reminder", "sms")  # refused outright: failed, never sent
    now = desk.clock.now()

    by_type = desk.core.reports.communication_engagement(principal=ADMIN)
    assert [_figures(line) for line in by_type] == [
        ("confirmation", None, 4, 3, 1, 2, 1, Decimal("0.3333"), Decimal("0.6667")),
        ("reminder", None, 2, 2, 1, 0, 1, Decimal("0.5000"), Decimal("0.0000")),
    ]
    by_channel = desk.core.reports.communication_engagement(principal=ADMIN, by="channel")
    assert [_figures(line)[:7] for line in by_channel] == [
        ("email", None, 5, 4, 2, 2, 1),
        ("sms", None, 1, 1, 0, 0, 1),
    ]
    both = desk.core.reports.communication_engagement(principal=ADMIN, by="type_and_channel")
    assert [(line.key, line.channel, line.sent) for line in both] == [
        ("confirmation", "email", 4),
        ("reminder", "email", 1),
        ("reminder", "sms", 1),
    ]
    later = desk.core.reports.communication_engagement(
        principal=ADMIN, sent_from=now + timedelta(seconds=1)
    )
    assert later == []
    whole = desk.core.reports.communication_engagement(
        principal=ADMIN, sent_from=now, sent_before=now + timedelta(seconds=1)
    )
    assert whole == by_type


@pytest.mark.parametrize(
    "who",
    [
        Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR),
        Principal.customer(CustomerId(uuid4())),
        HOOK,
    ],
)
def test_only_staff_who_view_all_may_read_it(desk: Desk, who: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        desk.core.reports.communication_engagement(principal=who)


def test_a_naive_period_or_an_unknown_grouping_is_refused_naming_the_field(desk: Desk) -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the input under test
    for field in ("sent_from", "sent_before"):
        with pytest.raises(ValidationError) as caught:
            desk.core.reports.communication_engagement(principal=ADMIN, **{field: naive})
        assert caught.value.fields == (field,)
    with pytest.raises(ValidationError) as caught:
        desk.core.reports.communication_engagement(principal=ADMIN, by="recipient")
    assert caught.value.fields == ("by",)
