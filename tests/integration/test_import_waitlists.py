"""Imports and waiting lists: as on the booking path, on every store.

A row that books a waiting customer ends their entry in the row's unit of work
(seats an offer held for them are theirs); seats a row frees go to the slot's
waiting list once the import's rows are all applied, so no offer changes what a
later row of the file does and the dry run still predicts every row.
"""

from __future__ import annotations

import pytest
from tests.integration._sources import ListSource
from tests.integration.test_waitlists import ADMIN, World

from bookingcore import ImportSettings
from bookingcore.domain import ImportStatus, WaitlistOffered, WaitlistStatus
from bookingcore.domain.values import CustomerId, WaitlistEntryId
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

HEADER = ("customer_name", "customer_phone", "dealer_code", "booking_date", "slot_id",
          "external_id", "status")  # fmt: skip
SETTINGS = ImportSettings(lifecycle="reservation")


def _row(
    world: World,
    customer_id: CustomerId,
    external_id: str = "",
    status: str = "",
    *,
    name: str | None = None,
) -> tuple[str, ...]:
    customer = world.core.customers.get(customer_id, principal=ADMIN)
    return (
        name or customer.name or "Someone",
        customer.phone.e164,
        "BASE",
        world.slot.starts_at.isoformat(),
        str(world.slot.id),
        external_id,
        status,
    )


def _status(world: World, entry_id: WaitlistEntryId) -> WaitlistStatus:
    return world.core.waitlists.get(entry_id, principal=ADMIN).status


def _run(world: World, source: ListSource) -> tuple[int, int, int]:
    job = world.core.imports.run_file(source, principal=ADMIN, settings=SETTINGS)
    assert job.status is ImportStatus.COMPLETED
    return job.created, job.updated, job.failed


def _dry(world: World, source: ListSource) -> tuple[int, int, int]:
    plan = world.core.imports.dry_run(source, principal=ADMIN, settings=SETTINGS)
    return plan.would_create, plan.would_update, plan.failed


def test_seats_an_import_cancel_frees_are_offered_to_the_waiting_list(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = World(any_store, capacity=2)
    imported = world.customer("Imported")
    world.core.imports.run_file(
        ListSource(HEADER, [_row(world, imported, "OLD-1")]), principal=ADMIN, settings=SETTINGS
    )
    world.book(world.customer("Walk in"), 1)
    waiting = world.customer("Waiting")
    entry = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=waiting)
    assert _status(world, entry.id) is WaitlistStatus.WAITING

    cancel = ListSource(HEADER, [_row(world, imported, "OLD-1", "cancelled")])
    assert _dry(world, cancel) == (0, 1, 0)
    assert _status(world, entry.id) is WaitlistStatus.WAITING  # the dry run offered nothing
    assert _run(world, cancel) == (0, 1, 0)

    assert _status(world, entry.id) is WaitlistStatus.OFFERED
    assert [e.entry_id for e in world.events if isinstance(e, WaitlistOffered)] == [entry.id]
    assert world.slot_now().seats_held == 2  # 1 booked + 1 offered
    world.check_invariant()


def test_seats_freed_by_a_row_stay_free_for_later_rows_of_the_file(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Offers follow the whole file: a later row (in a later chunk, too) books the freed
    seat, as the dry run says, and the waiting list is offered what is left."""
    world = World(any_store, capacity=1)
    imported = world.customer("Imported")
    world.core.imports.run_file(
        ListSource(HEADER, [_row(world, imported, "OLD-1")]), principal=ADMIN, settings=SETTINGS
    )
    entry = world.core.waitlists.join(
        world.slot.id, principal=ADMIN, customer_id=world.customer("Waiting")
    )
    source = ListSource(
        HEADER,
        [_row(world, imported, "OLD-1", "cancelled"), _row(world, world.customer("Late"), "N-1")],
    )
    assert _dry(world, source) == (1, 1, 0)
    job = world.core.imports.run_file(
        source, principal=ADMIN, settings=ImportSettings(lifecycle="reservation", chunk_size=1)
    )
    assert (job.created, job.updated, job.failed) == (1, 1, 0)
    assert _status(world, entry.id) is WaitlistStatus.WAITING
    world.check_invariant()


class CrashError(Exception):
    pass


def test_a_run_that_stops_after_freeing_seats_offers_them_when_it_ends(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The slots to offer are kept on the job with each chunk: a resumed run offers them;
    a cancelled one offers what its committed chunks freed."""
    world = World(any_store, capacity=2)
    imported = [world.customer(f"Imported {n}") for n in range(2)]
    first = ListSource(HEADER, [_row(world, c, f"OLD-{n}") for n, c in enumerate(imported)])
    world.core.imports.run_file(first, principal=ADMIN, settings=SETTINGS)
    entry = world.core.waitlists.join(
        world.slot.id, principal=ADMIN, customer_id=world.customer("Waiting")
    )
    cancels = ListSource(
        HEADER,
        [_row(world, imported[0], "OLD-0", "cancelled"), _row(world, imported[0], "OLD-0")],
    )
    settings = ImportSettings(lifecycle="reservation", chunk_size=1)
    job = world.core.imports.start(cancels, principal=ADMIN, settings=settings)

    def crash(current: object) -> None:
        raise CrashError

    with pytest.raises(CrashError):
        world.core.imports.run(job.id, cancels, principal=ADMIN, progress=crash)
    assert _status(world, entry.id) is WaitlistStatus.WAITING  # not before the run ends
    done = world.core.imports.run(job.id, cancels, principal=ADMIN)
    assert (done.status, done.updated, done.failed) == (ImportStatus.COMPLETED, 1, 1)
    assert _status(world, entry.id) is WaitlistStatus.OFFERED
    world.check_invariant()

    other = world.customer("Waiting too")
    later = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=other)
    stop = ListSource(
        HEADER,
        [_row(world, imported[1], "OLD-1", "cancelled"), _row(world, other, "NEW-1")],
    )
    job = world.core.imports.start(stop, principal=ADMIN, settings=settings)

    def cancel_after_first(current: object) -> None:
        if current.status is ImportStatus.PROCESSING:  # type: ignore[attr-defined]
            world.core.imports.cancel(job.id, principal=ADMIN)

    stopped = world.core.imports.run(job.id, stop, principal=ADMIN, progress=cancel_after_first)
    assert (stopped.status, stopped.updated, stopped.created) == (ImportStatus.CANCELLED, 1, 0)
    assert _status(world, later.id) is WaitlistStatus.OFFERED
    world.check_invariant()


def test_an_import_booking_a_waiting_customer_ends_their_entry_and_books_their_offer(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = World(any_store, capacity=2)
    freed = world.book(world.customer("First"), 1)
    world.book(world.customer("Second"), 1)
    me, nxt = world.customer("Me"), world.customer("Next")
    mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me)
    theirs = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=nxt)
    world.core.bookings.cancel(freed.id, principal=ADMIN)
    assert _status(world, mine.id) is WaitlistStatus.OFFERED  # the slot is full but for it

    source = ListSource(HEADER, [_row(world, me, "OLD-7")])
    assert _dry(world, source) == (1, 0, 0)  # the dry run sees the offer's seats are mine
    assert _status(world, mine.id) is WaitlistStatus.OFFERED
    assert _run(world, source) == (1, 0, 0)

    assert _status(world, mine.id) is WaitlistStatus.CANCELLED
    assert _status(world, theirs.id) is WaitlistStatus.WAITING
    with any_store.unit_of_work() as uow:
        trail = uow.audit.list_for("waitlist entry", mine.id)
    assert trail[-1].new_values == {"status": "cancelled"}
    assert "import" in (trail[-1].reason or "")
    assert world.slot_now().seats_held == 2
    world.check_invariant()


def test_an_import_booking_a_customer_whose_entry_waits_ends_it(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = World(any_store, capacity=3)
    world.book(world.customer("First"), 2)
    me = world.customer("Me")
    mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me, seats=2)
    assert _status(world, mine.id) is WaitlistStatus.WAITING  # 1 seat free: too few for 2
    assert _run(world, ListSource(HEADER, [_row(world, me)])) == (1, 0, 0)
    assert _status(world, mine.id) is WaitlistStatus.CANCELLED
    assert world.slot_now().seats_held == 3
    world.check_invariant()


def test_a_row_moving_a_booking_into_a_seat_holding_state_ends_the_customer_s_entry(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = World(any_store, capacity=2, lifecycle="appointment")
    settings = ImportSettings(lifecycle="appointment")
    me = world.customer("Me")
    first = ListSource(HEADER, [_row(world, me, "OLD-9", "waitlisted")])  # holds no seat
    assert world.core.imports.run_file(first, principal=ADMIN, settings=settings).created == 1
    freed = world.book(world.customer("First"), 1)
    world.book(world.customer("Second"), 1)
    mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me)
    world.core.bookings.cancel(freed.id, principal=ADMIN)
    assert _status(world, mine.id) is WaitlistStatus.OFFERED

    move = ListSource(HEADER, [_row(world, me, "OLD-9", "pending")])
    plan = world.core.imports.dry_run(move, principal=ADMIN, settings=settings)
    assert (plan.would_update, plan.failed) == (1, 0)
    job = world.core.imports.run_file(move, principal=ADMIN, settings=settings)
    assert (job.updated, job.failed) == (1, 0)
    assert _status(world, mine.id) is WaitlistStatus.CANCELLED
    assert world.slot_now().seats_held == 2
    world.check_invariant()


def test_a_row_that_fails_leaves_the_customer_s_entry_and_offer_as_they_were(
    any_store: MemoryStore | SqlStore,
) -> None:
    world = World(any_store, capacity=3)
    me = world.customer("Me")
    world.book(me, 1)
    freed = world.book(world.customer("First"), 1)
    world.book(world.customer("Second"), 1)
    mine = world.core.waitlists.join(world.slot.id, principal=ADMIN, customer_id=me)
    world.core.bookings.cancel(freed.id, principal=ADMIN)
    assert _status(world, mine.id) is WaitlistStatus.OFFERED
    # The row's traveler already holds a booking of the slot: a duplicate, refused.
    source = ListSource(HEADER, [_row(world, me, name=f"T0 of {me}")])
    assert _dry(world, source) == (0, 0, 1)
    job = world.core.imports.run_file(source, principal=ADMIN, settings=SETTINGS)
    assert (job.created, job.failed) == (0, 1)
    (error,) = world.core.imports.errors(job.id, principal=ADMIN)
    assert error.problems[0].code == "duplicate"
    assert _status(world, mine.id) is WaitlistStatus.OFFERED
    assert world.slot_now().seats_held == 3
    world.check_invariant()
