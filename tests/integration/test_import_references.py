"""An imported booking whose random reference is drawn again is made under a fresh one,
on every store: no row fails for it and no chunk is lost."""

from __future__ import annotations

from collections import deque

from tests.integration._sources import ListSource

from bookingcore import (
    BookingCore,
    BookingFilter,
    ImportSettings,
    PageRequest,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain import ImportStatus
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
HEADER = ("Customer Name", "customer_phone", "dealer_code", "booking_date", "external_id")


class RepeatingReferences(SequentialIds):
    """Sequential ids whose next references are the ones queued, then ``BK-`` and six digits."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: deque[str] = deque()
        self.drawn: list[str] = []

    def new_reference(self) -> str:
        reference = self.queued.popleft() if self.queued else super().new_reference()
        self.drawn.append(reference)
        return reference


def _desk(store: MemoryStore | SqlStore) -> tuple[BookingCore, RepeatingReferences]:
    ids = RepeatingReferences()
    core = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=ids)
    core.catalog.add_location("DL01", "Dealer One", principal=ADMIN)
    return core, ids


def _rows(first: int, count: int) -> ListSource:
    return ListSource(
        HEADER,
        [
            (f"Customer {n}", f"+9198{n:08d}", "DL01", "2026-03-05", f"EXT-{n}")
            for n in range(first, first + count)
        ],
    )


def _references(core: BookingCore) -> dict[str | None, str]:
    page = core.bookings.list(BookingFilter(), principal=ADMIN, page=PageRequest(limit=500))
    return {booking.external_id: booking.reference for booking in page.items}


def test_an_imported_reference_drawn_again_is_booked_under_a_fresh_one(
    any_store: MemoryStore | SqlStore,
) -> None:
    core, ids = _desk(any_store)
    core.imports.run_file(_rows(1, 2), principal=ADMIN)
    earlier = _references(core)
    # The second import's second and third rows draw references already stored.
    ids.queued.extend(["BK-900001", earlier["EXT-2"], earlier["EXT-1"]])

    job = core.imports.run_file(_rows(3, 5), principal=ADMIN, settings=ImportSettings(chunk_size=2))

    assert job.status is ImportStatus.COMPLETED
    assert (job.created, job.failed) == (5, 0)
    assert core.imports.errors(job.id, principal=ADMIN).items == []
    assert not ids.queued  # each taken reference was drawn, and refused
    stored = _references(core)
    assert len(stored) == 7
    assert len(set(stored.values())) == 7  # every booking under a reference of its own
    assert {k: stored[k] for k in earlier} == earlier  # the earlier bookings keep theirs
    for reference in stored.values():
        assert core.bookings.get_by_reference(reference, principal=ADMIN) is not None


def test_two_rows_of_a_chunk_drawing_one_reference_are_booked_under_fresh_ones(
    any_store: MemoryStore | SqlStore,
) -> None:
    core, ids = _desk(any_store)
    ids.queued.extend(["BK-900002", "BK-900002"])

    job = core.imports.run_file(_rows(1, 3), principal=ADMIN)

    assert (job.status, job.created, job.failed) == (ImportStatus.COMPLETED, 3, 0)
    stored = _references(core)
    assert len(set(stored.values())) == 3
    assert ids.drawn[:2] == ["BK-900002", "BK-900002"]
