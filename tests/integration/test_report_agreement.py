"""Every booking report gives the same lines on SQLite and PostgreSQL as in memory.

One seeded set of bookings, stored alike in a memory store and a SQL store: several
lifecycles (one no longer configured), every status, four currencies (JPY has no
minor unit, KWD three), partners, sources, assignees, archived bookings, and
creation times within hours of three months' ends. Each report, for every grouping,
in three zones and under several filters (periods whose bounds are local midnights,
a location, a partner with sources, start times, archived only), and as a partner
and an advisor see it, must be the same line for line on both stores.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from bookingcore import (
    BookingCore,
    BookingFilter,
    Money,
    Principal,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.domain import Booking, BookingSource, Grouping
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)

#: Statuses of each lifecycle the bookings are in; ``retired`` is configured nowhere.
STATUSES = {
    "reservation": ("pending", "confirmed", "completed", "cancelled", "no_show"),
    "travel": ("booking_created", "payment_confirmed", "completed", "cancelled", "refunded"),
    "appointment": ("PENDING", "ASSIGNED", "COMPLETED", "CANCELLED", "NO_SHOW", "WAITLISTED"),
    "retired": ("pending", "completed", "cancelled", "unknown"),
}
PRICES = (Money("100.05", "INR"), Money("1001", "JPY"), Money("3.335", "KWD"), Money("0.10", "USD"))


class World:
    """The seeded records, made once and stored in each store alike."""

    def __init__(self, seed: int) -> None:
        rnd = random.Random(seed)
        make = Builder()
        self.locations = [make.location() for _ in range(2)]
        self.products = [make.product() for _ in range(2)]
        self.partners = [make.partner() for _ in range(2)]
        self.customers = [make.customer() for _ in range(6)]
        self.travelers = {c.id: [make.traveler(c.id) for _ in range(3)] for c in self.customers}
        self.advisors = [StaffId(uuid4()), StaffId(uuid4())]
        self.slots = [
            make.slot(
                location.id,
                price_per_traveler=price,
                capacity=None,
                starts_at=datetime(2026, month, 1, 3, tzinfo=UTC) - timedelta(hours=back),
                product_id=rnd.choice([None, *(p.id for p in self.products)]),
            )
            for location in self.locations
            for price in PRICES
            for month, back in ((1, 0), (3, rnd.randint(1, 10)))
        ]
        self.bookings: list[Booking] = []
        for _ in range(60):
            customer = rnd.choice(self.customers)
            slot = rnd.choice(self.slots)
            lifecycle = rnd.choice(list(STATUSES))
            created = datetime(2026, rnd.choice((2, 3, 4)), 1, tzinfo=UTC) + timedelta(
                hours=rnd.randint(-14, 14), minutes=rnd.choice((0, 30, 59))
            )
            travelers = self.travelers[customer.id][: rnd.randint(1, 3)]
            self.bookings.append(
                make.booking(
                    customer.id,
                    slot,
                    [t.id for t in travelers],
                    lifecycle=lifecycle,
                    status=rnd.choice(STATUSES[lifecycle]),
                    created_at=created,
                    updated_at=created,
                    partner_id=rnd.choice([None, *(p.id for p in self.partners)]),
                    source=rnd.choice(list(BookingSource)),
                    assignee_id=rnd.choice([None, *self.advisors]),
                    product_id=slot.product_id,
                    archived_at=rnd.choice([None, None, None, created + timedelta(days=1)]),
                )
            )

    def store(self, store: MemoryStore | SqlStore) -> None:
        with store.unit_of_work() as uow:
            for location in self.locations:
                uow.locations.add(location)
            for product in self.products:
                uow.products.add(product)
            for partner in self.partners:
                uow.partners.add(partner)
            for customer in self.customers:
                uow.customers.add(customer)
                for traveler in self.travelers[customer.id]:
                    uow.travelers.add(traveler)
            for slot in self.slots:
                uow.slots.add(slot)
            for booking in self.bookings:
                uow.bookings.add(booking)
            uow.commit()


def _reports(world: World, core: BookingCore, zone: ZoneInfo) -> dict[str, Any]:
    reports = core.reports
    wheres = {
        "every": None,
        "march": BookingFilter(
            created_from=datetime(2026, 3, 1, tzinfo=zone),
            created_before=datetime(2026, 4, 1, tzinfo=zone),
        ),
        "location": BookingFilter(location_id=world.locations[0].id),
        "partner": BookingFilter(
            partner_id=world.partners[0].id,
            sources={BookingSource.PARTNER, BookingSource.DIRECT},
        ),
        "starts": BookingFilter(
            starts_from=datetime(2026, 2, 28, 20, tzinfo=UTC),
            starts_before=datetime(2026, 3, 1, tzinfo=UTC),
        ),
        "archived": BookingFilter(only_archived=True),
        "nothing": BookingFilter(created_from=datetime(2027, 1, 1, tzinfo=zone)),
    }
    found: dict[str, Any] = {}
    for name, where in wheres.items():
        for by in Grouping:
            found[f"revenue {name} {by}"] = reports.revenue(principal=ADMIN, by=by, where=where)
            found[f"cancellations {name} {by}"] = reports.cancellations(
                principal=ADMIN, by=by, where=where
            )
        found[f"workload {name}"] = reports.advisor_workload(principal=ADMIN, where=where)
        found[f"value {name}"] = reports.customer_value(principal=ADMIN, where=where)
        found[f"frequency {name}"] = reports.booking_frequency(principal=ADMIN, where=where)
        found[f"cohorts {name}"] = reports.cohort_retention(principal=ADMIN, where=where, months=3)
    for by in ("none", "location", "product", "starts_month"):
        found[f"capacity {by}"] = reports.capacity_utilisation(principal=ADMIN, by=by)
    found["sources"] = reports.source_conversion(principal=ADMIN)
    found["sources march"] = reports.source_conversion(
        principal=ADMIN,
        created_from=datetime(2026, 3, 1, tzinfo=zone),
        created_before=datetime(2026, 4, 1, tzinfo=zone),
    )
    partner = Principal.partner(world.partners[0].id)
    found["partner revenue"] = reports.revenue(principal=partner, by="source")
    found["partner value"] = reports.customer_value(principal=partner)
    advisor = Principal.staff(world.advisors[0], StaffRole.ADVISOR)
    found["advisor workload"] = reports.advisor_workload(principal=advisor)
    found["advisor cancellations"] = reports.cancellations(principal=advisor, by="created_day")
    return found


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_booking_report_is_the_same_in_sql_as_in_memory(
    sql_store: SqlStore, zone: str, seed: int
) -> None:
    world = World(seed)
    memory = MemoryStore()
    world.store(memory)
    world.store(sql_store)
    settings = Settings(timezone=zone)
    core: Callable[[MemoryStore | SqlStore], BookingCore] = lambda store: BookingCore(  # noqa: E731
        uow_factory=store.unit_of_work, settings=settings
    )
    expected = _reports(world, core(memory), settings.zone)
    found = _reports(world, core(sql_store), settings.zone)
    assert expected.keys() == found.keys()
    for name, lines in expected.items():
        assert found[name] == lines, name
    assert any(expected[f"revenue every {by}"] for by in Grouping)  # not all empty
