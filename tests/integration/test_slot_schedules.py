"""CatalogService.create_slots on every backend: a schedule's slots open in one
transaction, on the business's clock, each (location, product, start) once, even when
schedules overlap or run at the same moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from tests._sqlite import sqlite_file_store
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    IdempotencyConflictError,
    Money,
    PageRequest,
    Principal,
    Settings,
    SlotFilter,
    SlotSchedule,
    StaffId,
    StaffRole,
    ValidationError,
)
from bookingcore.domain import ProductKind, Slot
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

NEW_YORK = ZoneInfo("America/New_York")
ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
PRICE = Money("90", "USD")


class Shop:
    """A dive shop in New York with a reef and a wreck product."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(timezone="America/New_York"),
        )
        catalog = self.core.catalog
        self.reef = catalog.add_location("REEF", "House reef", principal=ADMIN)
        self.dive = catalog.add_product("DIVE", "Boat dive", ProductKind.ACTIVITY, principal=ADMIN)
        self.wreck = catalog.add_product("WRECK", "Wreck", ProductKind.ACTIVITY, principal=ADMIN)

    def create(self, schedule: SlotSchedule, key: str | None = None, **fields: Any) -> Any:
        given: dict[str, Any] = {
            "location_id": self.reef.id,
            "product_id": self.dive.id,
            "price_per_traveler": PRICE,
            "capacity": 8,
            "principal": ADMIN,
            "idempotency_key": key,
            **fields,
        }
        return self.core.catalog.create_slots(schedule, **given)

    def slots(self) -> list[Slot]:
        page = PageRequest(limit=500)
        return list(self.core.catalog.list_slots(SlotFilter(), page, principal=ADMIN).items)

    def audited(self, slot: Slot) -> list[Any]:
        with self.store.unit_of_work() as uow:
            return list(uow.audit.list_for("slot", slot.id))


def saturdays(
    *times: time, starts_on: date = date(2026, 3, 1), ends_on: date = date(2026, 3, 31)
) -> SlotSchedule:
    return SlotSchedule(
        weekdays=[6],
        start_times=times or (time(7), time(13)),
        starts_on=starts_on,
        ends_on=ends_on,
        duration=timedelta(hours=3),
    )


@pytest.fixture
def shop(any_store: MemoryStore | SqlStore) -> Shop:
    return Shop(any_store)


def _local(slots: Any) -> list[str]:
    return [s.starts_at.astimezone(NEW_YORK).strftime("%m-%d %H:%M %Z") for s in slots]


def test_a_schedule_opens_its_slots_on_the_business_clock_and_audits_each(shop: Shop) -> None:
    made = shop.create(saturdays(), name="Reef trip")
    assert _local(made.slots) == [
        f"03-{d:02d} {h} {z}"
        for d, z in ((7, "EST"), (14, "EDT"), (21, "EDT"), (28, "EDT"))
        for h in ("07:00", "13:00")
    ]
    assert made.skipped == ()
    stored = shop.slots()
    assert [s.id for s in stored] == [s.id for s in made.slots]
    first = stored[0]
    assert first.ends_at == first.starts_at + timedelta(hours=3)
    assert (first.capacity, first.name) == (8, "Reef trip")
    assert (first.product_id, first.price_per_traveler) == (shop.dive.id, PRICE)
    (entry,) = shop.audited(first)
    assert (entry.action, entry.reason) == ("created", "schedule")
    assert entry.new_values["starts_at"] == "2026-03-07T12:00:00+00:00"
    assert all(len(shop.audited(s)) == 1 for s in stored)


def test_running_a_schedule_again_opens_nothing_and_says_what_it_skipped(shop: Shop) -> None:
    first = shop.create(saturdays())
    again = shop.create(saturdays())
    assert again.slots == ()
    assert again.skipped == tuple(s.starts_at for s in first.slots)
    assert len(shop.slots()) == 8


def test_overlapping_schedules_open_each_start_once(shop: Shop) -> None:
    """March's Saturdays at 07:00 and 13:00, then the second half of March and April at
    07:00 and 10:00: the second opens the new times only."""
    shop.create(saturdays())
    later = saturdays(time(7), time(10), starts_on=date(2026, 3, 15), ends_on=date(2026, 4, 30))
    made = shop.create(later)
    assert [t.astimezone(UTC).isoformat() for t in made.skipped] == [
        "2026-03-21T11:00:00+00:00",
        "2026-03-28T11:00:00+00:00",
    ]
    assert len(made.slots) == 6 * 2 - 2  # six Saturdays at two times, less the two taken
    starts = [(s.starts_at, s.product_id) for s in shop.slots()]
    assert len(starts) == len(set(starts)) == 8 + 10


def test_a_slot_of_another_product_or_place_does_not_take_the_start(shop: Shop) -> None:
    shop.create(saturdays(time(7)))
    wreck = shop.create(saturdays(time(7)), product_id=shop.wreck.id)
    no_product = shop.create(saturdays(time(7)), product_id=None)
    pier = shop.core.catalog.add_location("PIER", "Pier", principal=ADMIN)
    elsewhere = shop.create(saturdays(time(7)), location_id=pier.id)
    assert [len(r.slots) for r in (wreck, no_product, elsewhere)] == [4, 4, 4]


def test_a_slot_opened_by_hand_at_a_start_is_skipped(shop: Shop) -> None:
    by_hand = shop.core.catalog.create_slot(
        location_id=shop.reef.id,
        product_id=shop.dive.id,
        starts_at=datetime(2026, 3, 14, 11, tzinfo=UTC),  # 07:00 EDT
        price_per_traveler=PRICE,
        principal=ADMIN,
    )
    made = shop.create(saturdays(time(7)))
    assert made.skipped == (by_hand.starts_at,)
    assert len(made.slots) == 3


def test_a_refused_schedule_opens_nothing(shop: Shop) -> None:
    shop.core.catalog.set_product_active(shop.wreck.id, False, principal=ADMIN)
    with pytest.raises(ValidationError) as refused:
        shop.create(saturdays(), product_id=shop.wreck.id, capacity=0)
    assert {e.field for e in refused.value.errors} == {"product_id", "capacity"}
    with pytest.raises(ValidationError) as refused:
        shop.create("Saturdays at seven")  # type: ignore[arg-type]
    assert refused.value.fields == ("schedule",)
    shop.core.catalog.set_location_active(shop.reef.id, False, principal=ADMIN)
    with pytest.raises(ValidationError) as refused:
        shop.create(saturdays())
    assert refused.value.fields == ("location_id",)
    assert shop.slots() == []


def test_a_keyed_retry_answers_the_first_calls_slots_after_the_place_changed(shop: Shop) -> None:
    """The retry is recognised before the location is read: closed since, and with a
    slot of another schedule in between, it still answers what the first call did."""
    shop.create(saturdays(time(7), ends_on=date(2026, 3, 10)))
    first = shop.create(saturdays(), key="march")
    assert len(first.slots) == 7
    assert len(first.skipped) == 1
    shop.core.catalog.set_location_active(shop.reef.id, False, principal=ADMIN)
    count = len(shop.slots())
    again = shop.create(saturdays(), key="march")
    assert [s.id for s in again.slots] == [s.id for s in first.slots]
    assert again.skipped == first.skipped
    assert len(shop.slots()) == count
    with pytest.raises(IdempotencyConflictError):
        shop.create(saturdays(time(7)), key="march")


def test_one_read_finds_the_slots_already_there(tmp_path: Path) -> None:
    """However many starts a schedule has, the slots already there are one query
    (counted on SQLite, whose statements all pass the engine's events)."""
    sql_store = sqlite_file_store(tmp_path / "reads.db")
    shop = Shop(sql_store)
    shop.create(saturdays())
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    year = SlotSchedule(
        weekdays=[2, 4],
        start_times=[time(18), time(20)],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    event.listen(sql_store.engine, "before_cursor_execute", count)
    try:
        made = shop.create(year)
    finally:
        event.remove(sql_store.engine, "before_cursor_execute", count)
    assert len(made.slots) == (52 + 53) * 2  # 2026 has 52 Tuesdays and 53 Thursdays
    reads = [s for s in statements if "slots" in s and not s.startswith("INSERT")]
    assert len(reads) == 1, [s[:90] for s in statements]
    assert len([s for s in statements if s.startswith("INSERT INTO slots")]) <= 2  # batched
    sql_store.dispose()


@pytest.mark.postgres
def test_overlapping_schedules_at_the_same_moment_open_each_start_once(
    pg_store: SqlStore,
) -> None:
    """Four schedules over one reef at once (two of them the same): the location's lock
    makes them look one after the other; every start has one slot, and the slots each
    call says it opened are the ones stored."""
    shop = Shop(pg_store)
    schedules = [
        saturdays(),
        saturdays(time(7), time(10), starts_on=date(2026, 3, 15), ends_on=date(2026, 4, 30)),
        saturdays(),
        saturdays(time(13), starts_on=date(2026, 2, 1), ends_on=date(2026, 3, 20)),
    ]
    results = at_once(len(schedules), lambda i: shop.create(schedules[i]))
    assert not [r for r in results if isinstance(r, Exception)], results
    made = [s.id for r in results for s in r.slots]
    stored = shop.slots()
    assert sorted(made) == sorted(s.id for s in stored)
    starts = [(s.location_id, s.product_id, s.starts_at) for s in stored]
    assert len(starts) == len(set(starts))
    wanted = {t for schedule in schedules for t in schedule.occurrences(NEW_YORK)}
    assert {s.starts_at for s in stored} == wanted
    for schedule, result in zip(schedules, results, strict=True):
        opened = {s.starts_at for s in result.slots}
        assert opened | set(result.skipped) == set(schedule.occurrences(NEW_YORK))
        assert not opened & set(result.skipped)
