"""Concurrent bookings of a few hot slots on PostgreSQL: bookingcore against raw psycopg.

For each worker count (1, 2, 4 and 8 by default) each side books the seats of
the same shape of hot slots, one process per worker, in a schema made for the
run: the *baseline* is the least a safe booking does by hand (``SELECT ... FOR
UPDATE``, check, ``INSERT``, ``UPDATE``, ``COMMIT``), the *library* is
``core.bookings.book`` over ``SqlStore``, and ``--statements`` adds the
library's own SQL for a booking replayed by raw psycopg. The hot slots hold
about 10 % fewer seats than the attempts ask for; after each run the database
is checked for overbooking. bench/README.md says what runs, how to read the
output and the exit status. From the repository root, as a script (spawned
workers re-import this file by its path, so do not run it with ``-m``)::

    .venv/bin/python bench/booking_concurrency.py
    .venv/bin/python bench/booking_concurrency.py --workers 1,4 --attempts 400 --json out.json
    .venv/bin/python bench/booking_concurrency.py --quick  # a few seconds, for smoke tests
    .venv/bin/python bench/booking_concurrency.py --statements  # add the replayed-SQL side
"""

from __future__ import annotations

import math
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import URL

from _common import (
    STOPPED,
    BenchError,
    Database,
    bench_schema,
    conninfo,
    empty_tables,
    fresh_store,
    library_core,
    parser,
    percentile,
    positive,
    postgres_url,
    ratio,
    report_text,
    run_bench,
    run_processes,
    say,
    server_description,
    table,
    whole_numbers,
    zero_or_more,
)
from bookingcore import (
    BookingRequest,
    CapacityError,
    Money,
    Principal,
    SavedTraveler,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore_adapters.sql import SqlStore, metadata

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

Side = Literal["baseline", "library", "statements"]
Dispatch = Literal["deferred", "inline"]

SIDES: tuple[Side, ...] = get_args(Side)

DEFAULT_WORKERS = (1, 2, 4, 8)
DEFAULT_ATTEMPTS = 200
DEFAULT_WARMUP = 5
QUICK_ATTEMPTS = 16
QUICK_WARMUP = 2
DEFAULT_HOT_SLOTS = 4

#: Attempts per seat: the hot slots hold about 1/1.1 of the seats the attempts ask for.
OVERSUBSCRIPTION = 1.1
#: Travelers per booking attempt, on both sides.
TRAVELERS_PER_BOOKING = 1
#: Phone numbers of the library's customers: +91 98 and eight digits of a serial number.
MAX_CUSTOMERS_PER_RUN = 10**8

#: Issue 16's target: library / statements (the library's own SQL replayed by raw
#: psycopg) at every worker count. Library / baseline is shown, with no target: the
#: baseline writes two rows where a booking writes its history, audit entry and event too.
TARGET_RATIO = 0.6

#: How long a run's workers may take, setup included, before the bench gives up (seconds).
RUN_TIMEOUT = 900.0
#: How many messages of failed attempts a worker reports.
MAX_ERROR_SAMPLES = 5
#: The crash report of a worker that stopped because another one failed.


# --------------------------------------------------------------------------- the plan of a run


@dataclass(frozen=True)
class Target(Database):
    """Where the workers connect (the run's schema), and how the library dispatches events."""

    dispatch: Dispatch = "deferred"


@dataclass(frozen=True)
class RunPlan:
    """One side at one worker count: the slots, their capacity and the attempts."""

    side: Side
    workers: int
    attempts: int
    warmup: int
    hot_slots: tuple[UUID, ...]
    warmup_slot: UUID
    capacity: int

    @property
    def total_attempts(self) -> int:
        """Timed attempts over every worker."""
        return self.workers * self.attempts

    def slots_of(self, worker: int) -> list[UUID]:
        """The slot of each of ``worker``'s bookings: its warm-ups first, then its attempts."""
        hot = [self.hot_slots[(worker + i) % len(self.hot_slots)] for i in range(self.attempts)]
        return [self.warmup_slot] * self.warmup + hot


def hot_slot_capacity(total_attempts: int, slots: int) -> int:
    """Seats per hot slot: about 10 % fewer in all than the attempts, at least one each."""
    return max(1, math.floor(total_attempts * TRAVELERS_PER_BOOKING / (slots * OVERSUBSCRIPTION)))


def warmup_capacity(workers: int, warmup: int) -> int:
    """Seats on the warm-up slot: room for every warm-up booking, so none is refused."""
    return max(1, workers * warmup * TRAVELERS_PER_BOOKING)


@dataclass(frozen=True)
class WorkerTask:
    """What one worker process is asked to do."""

    plan: RunPlan
    worker: int
    target: Target


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did: its counts, its elapsed time and each attempt's latency."""

    worker: int
    booked: int = 0
    refused: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: tuple[float, ...] = ()
    errors: tuple[str, ...] = ()
    crash: str | None = None


# --------------------------------------------------------------------------- worker processes


class Booker(Protocol):
    """One worker's connection to a side, set up to make its planned bookings."""

    def book(self, index: int) -> bool:
        """Make booking ``index`` of the worker's plan; False when the slot is full."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class BaselineBooker:
    """Raw psycopg 3: lock the slot, check, insert, update, commit."""

    LOCK_SLOT = "SELECT capacity, seats_held FROM bench_slots WHERE id = %s FOR UPDATE"
    INSERT_BOOKING = (
        "INSERT INTO bench_bookings (id, slot_id, customer, travelers, created_at)"
        " VALUES (%s, %s, %s, %s, %s)"
    )
    HOLD_SEATS = "UPDATE bench_slots SET seats_held = seats_held + %s WHERE id = %s"

    def __init__(self, task: WorkerTask) -> None:
        self._slots = task.plan.slots_of(task.worker)
        self._customers = [uuid4() for _ in self._slots]
        self._connection = task.target.connect()
        self._cursor = self._connection.cursor()

    def book(self, index: int) -> bool:
        slot = self._slots[index]
        cursor = self._cursor
        try:
            locked = cursor.execute(self.LOCK_SLOT, (slot,)).fetchone()
            if locked is None:
                msg = f"no slot {slot}"
                raise LookupError(msg)
            capacity, seats_held = locked
            if seats_held + TRAVELERS_PER_BOOKING > capacity:
                self._connection.rollback()
                return False
            booking = (uuid4(), slot, self._customers[index], TRAVELERS_PER_BOOKING, _now())
            cursor.execute(self.INSERT_BOOKING, booking)
            cursor.execute(self.HOLD_SEATS, (TRAVELERS_PER_BOOKING, slot))
            self._connection.commit()
        except BaseException:
            self._connection.rollback()
            raise
        return True

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


class LibraryBooker:
    """bookingcore over the SQL adapter: each booking is one ``core.bookings.book`` call.

    Setup registers one customer per booking, each with one saved traveler, so
    every attempt books for its own customer (the library refuses the same
    customer booking the same travelers on a slot twice).
    """

    def __init__(self, task: WorkerTask, *, pipeline: bool = True) -> None:
        self._engine = task.target.engine()
        try:
            store = SqlStore(self._engine, pipeline=pipeline)
            self._core = library_core(store.unit_of_work, dispatch=task.target.dispatch)
            slots = task.plan.slots_of(task.worker)
            first_serial = task.worker * len(slots)
            self._bookings = [
                self._new_customer(first_serial + index, slot) for index, slot in enumerate(slots)
            ]
        except BaseException:
            self._engine.dispose()
            raise

    def _new_customer(self, serial: int, slot: UUID) -> tuple[BookingRequest, Principal]:
        """A customer with one saved traveler, and their request to book ``slot``."""
        registered = self._core.customers.register(
            f"+9198{serial:08d}", principal=Principal.system("bench"), name=f"Customer {serial}"
        )
        customer = Principal.customer(registered.customer.id)
        traveler = self._core.travelers.add(
            registered.customer.id, TravelerDetails(f"Traveler {serial}"), principal=customer
        )
        request = BookingRequest(SlotId(slot), [SavedTraveler(traveler.id, is_primary=True)])
        return request, customer

    @property
    def engine(self) -> Engine:
        """The engine the library books through."""
        return self._engine

    def attempt(self, index: int) -> tuple[BookingRequest, Principal]:
        """Booking ``index``'s request and the customer making it."""
        return self._bookings[index]

    def book(self, index: int) -> bool:
        request, customer = self._bookings[index]
        try:
            self._core.bookings.book(request, principal=customer)
        except CapacityError:
            return False
        return True

    def close(self) -> None:
        self._engine.dispose()


Parameters = dict[str, Any]


class StatementsBooker:
    """The library's own SQL for a booking, sent by raw psycopg with no library code running.

    Setup registers the worker's customers through the library, as
    :class:`LibraryBooker` does, and the first warm-up booking goes through the
    library while its statements are recorded as they reach the driver. Every
    later booking sends those statements again on a plain psycopg connection:
    the same reads with the attempt's customer, traveler and slot; a refusal
    when the locked slot has no seat left; otherwise the same writes, with
    fresh ids and the seats and version taken from the locked row, in one
    pipeline with ``COMMIT``, as the library sends them. Library / statements
    is then what the library's own Python costs; statements / baseline is what
    the rows a booking writes cost (its history, audit entry, outbox event and
    traveler rows, and their indexes).
    """

    def __init__(self, task: WorkerTask) -> None:
        # Pipelined writes skip the engine's cursor events; record them sent one by one.
        self._library = LibraryBooker(task, pipeline=False)
        try:
            self._connection = task.target.connect()
        except BaseException:
            self._library.close()
            raise
        self._cursor = self._connection.cursor()
        self._reads: list[tuple[str, Parameters]] = []
        self._writes: list[tuple[str, Parameters]] = []
        self._recorded: tuple[UUID, UUID, UUID] | None = None  # customer, traveler, slot
        self._fresh: list[Any] = []  # the recorded booking's own ids and reference

    def book(self, index: int) -> bool:
        if self._recorded is None:
            return self._record(index)
        return self._replay(index)

    def _keys(self, index: int) -> tuple[UUID, UUID, UUID]:
        request, customer = self._library.attempt(index)
        chosen = request.travelers[0]
        if customer.id is None or not isinstance(chosen, SavedTraveler):
            msg = "the statements side books one saved traveler for a customer"
            raise BenchError(msg)
        return customer.id, chosen.traveler_id, request.slot_id

    def _record(self, index: int) -> bool:
        """Book ``index`` through the library, recording its statements."""
        recorded: list[tuple[str, Any]] = []

        def listen(*args: Any) -> None:
            recorded.append((args[2], args[3]))

        engine = self._library.engine
        event.listen(engine, "before_cursor_execute", listen)
        try:
            booked = self._library.book(index)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        for sql, parameters in recorded:
            verb = sql.split(None, 1)[0].upper()
            if verb not in ("SELECT", "INSERT", "UPDATE"):
                continue
            if not isinstance(parameters, dict):
                msg = f"expected named parameters, got {type(parameters).__name__}: {sql[:60]}"
                raise BenchError(msg)
            (self._reads if verb == "SELECT" else self._writes).append((sql, parameters))
        if not booked or not any("FOR UPDATE" in sql for sql, _ in self._reads):
            msg = "the recorded booking did not lock its slot and book"
            raise BenchError(msg)
        self._recorded = self._keys(index)
        # What the booking made: each new row's id, and the booking's reference.
        for sql, parameters in self._writes:
            if not sql.startswith("INSERT"):
                continue
            for name in ("id", "event_id", "reference"):
                if name in parameters and parameters[name] not in self._fresh:
                    self._fresh.append(parameters[name])
        return booked

    def _replay(self, index: int) -> bool:
        assert self._recorded is not None
        swap: dict[Any, Any] = dict(zip(self._recorded, self._keys(index), strict=True))
        for old in self._fresh:
            swap[old] = uuid4() if isinstance(old, UUID) else f"BENCH-{uuid4().hex[:12]}"
        swap.update({str(old): str(new) for old, new in list(swap.items())})
        connection, cursor = self._connection, self._cursor
        try:
            locked: dict[str, Any] = {}
            for sql, parameters in self._reads:
                cursor.execute(sql, _substituted(parameters, swap))
                rows = cursor.fetchall()
                if "FOR UPDATE" in sql and rows:
                    names = [column.name for column in cursor.description or ()]
                    # The slot's columns keep their names; a joined table's clashes are renamed.
                    locked = dict(zip(names, rows[0], strict=True))
            seats_held, capacity = locked["seats_held"], locked["capacity"]
            if seats_held + TRAVELERS_PER_BOOKING > capacity:
                connection.rollback()
                return False
            cursors = []
            with connection.pipeline():
                for sql, parameters in self._writes:
                    values = _substituted(parameters, swap)
                    if sql.startswith("UPDATE slots"):
                        values |= {
                            "new_seats_held": seats_held + TRAVELERS_PER_BOOKING,
                            "new_version": locked["version"] + 1,
                            "read_version": locked["version"],
                        }
                    statement = connection.cursor()
                    statement.execute(sql, values)
                    cursors.append((sql, statement))
                connection.execute("COMMIT")
            for sql, statement in cursors:
                if sql.startswith("UPDATE") and statement.rowcount != 1:
                    msg = f"the replayed update changed {statement.rowcount} rows: {sql[:60]}"
                    raise BenchError(msg)
                if statement.description is not None:
                    statement.fetchall()
                statement.close()
        except BaseException:
            connection.rollback()
            raise
        return True

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()
        self._library.close()


def _substituted(value: Any, swap: dict[Any, Any]) -> Any:
    """``value`` with every recorded id in ``swap`` replaced, inside JSON documents too."""
    if isinstance(value, Jsonb):
        return Jsonb(_substituted(value.obj, swap))
    if isinstance(value, dict):
        return {key: _substituted(item, swap) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, swap) for item in value]
    if isinstance(value, UUID | str):
        return swap.get(value, value)
    return value


def _open_booker(task: WorkerTask) -> Booker:
    if task.plan.side == "baseline":
        return BaselineBooker(task)
    if task.plan.side == "statements":
        return StatementsBooker(task)
    return LibraryBooker(task)


def run_worker(task: WorkerTask, barrier: Barrier, results: Queue[WorkerResult]) -> None:
    """A worker process: set up, warm up, wait for the others, then time every attempt.

    The result always goes to ``results``. A worker that fails before the
    barrier breaks it, so the others stop instead of waiting for it.
    """
    try:
        booker = _open_booker(task)
    except Exception:
        barrier.abort()
        results.put(WorkerResult(task.worker, crash=traceback.format_exc()))
        return
    try:
        for index in range(task.plan.warmup):
            if not booker.book(index):
                msg = f"warm-up booking {index} was refused"
                raise BenchError(msg)
        barrier.wait()
        result = _timed_attempts(booker, task)
    except threading.BrokenBarrierError:
        result = WorkerResult(task.worker, crash=STOPPED)
    except Exception:
        barrier.abort()
        result = WorkerResult(task.worker, crash=traceback.format_exc())
    finally:
        booker.close()
    results.put(result)


def _timed_attempts(booker: Booker, task: WorkerTask) -> WorkerResult:
    plan = task.plan
    booked = refused = failed = 0
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    for index in range(plan.warmup, plan.warmup + plan.attempts):
        attempt_started = time.perf_counter()
        try:
            succeeded = booker.book(index)
        except Exception as exc:
            failed += 1
            if len(errors) < MAX_ERROR_SAMPLES:
                errors.append(f"{type(exc).__name__}: {exc}")
        else:
            if succeeded:
                booked += 1
            else:
                refused += 1
        latencies.append(time.perf_counter() - attempt_started)
    elapsed = time.perf_counter() - started
    return WorkerResult(
        worker=task.worker,
        booked=booked,
        refused=refused,
        failed=failed,
        elapsed=elapsed,
        latencies=tuple(latencies),
        errors=tuple(errors),
    )


def run_workers(plan: RunPlan, target: Target) -> list[WorkerResult]:
    """Run ``plan`` with one spawned process per worker; their results by worker number."""
    tasks = [WorkerTask(plan, worker, target) for worker in range(plan.workers)]
    return run_processes(run_worker, tasks, label=plan.side, timeout=RUN_TIMEOUT)


# --------------------------------------------------------------------------- the two sides


@dataclass(frozen=True)
class SlotSeats:
    """A slot as the database holds it after a run."""

    slot: UUID
    capacity: int | None
    seats_held: int
    travelers_holding: int
    bookings: int


class Tables(Protocol):
    """A side's storage as the parent process sees it."""

    def prepare(self, workers: int, attempts: int, warmup: int, slots: int) -> RunPlan:
        """Empty the side's tables, add the slots of a run, and return its plan."""
        ...

    def seats(self) -> list[SlotSeats]:
        """Every slot as stored after a run."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class BaselineTables:
    """The baseline's own two tables, reached with psycopg only.

    By design these are not bookingcore's tables: the baseline is the least a
    safe booking can store (a slot's seats and one booking row), so its minimal
    schema is part of what it measures.
    """

    SCHEMA = """
        CREATE TABLE bench_slots (
            id uuid PRIMARY KEY,
            capacity integer NOT NULL,
            seats_held integer NOT NULL DEFAULT 0
        );
        CREATE TABLE bench_bookings (
            id uuid PRIMARY KEY,
            slot_id uuid NOT NULL REFERENCES bench_slots (id),
            customer uuid NOT NULL,
            travelers integer NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE INDEX ON bench_bookings (slot_id);
    """
    SEATS = """
        SELECT s.id, s.capacity, s.seats_held, coalesce(sum(b.travelers), 0), count(b.id)
        FROM bench_slots AS s LEFT JOIN bench_bookings AS b ON b.slot_id = s.id
        GROUP BY s.id
    """

    def __init__(self, target: Target) -> None:
        self._connection = target.connect(autocommit=True)
        self._connection.execute(self.SCHEMA)

    def prepare(self, workers: int, attempts: int, warmup: int, slots: int) -> RunPlan:
        """Empty the tables and add the run's slots."""
        plan = RunPlan(
            side="baseline",
            workers=workers,
            attempts=attempts,
            warmup=warmup,
            hot_slots=tuple(uuid4() for _ in range(slots)),
            warmup_slot=uuid4(),
            capacity=hot_slot_capacity(workers * attempts, slots),
        )
        with self._connection.transaction():
            self._connection.execute("TRUNCATE bench_bookings, bench_slots")
            with self._connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO bench_slots (id, capacity) VALUES (%s, %s)",
                    [(slot, plan.capacity) for slot in plan.hot_slots]
                    + [(plan.warmup_slot, warmup_capacity(workers, warmup))],
                )
        return plan

    def seats(self) -> list[SlotSeats]:
        """Every slot's capacity, seats held, and the travelers and bookings on it."""
        rows = self._connection.execute(self.SEATS).fetchall()
        return [SlotSeats(*row) for row in rows]

    def close(self) -> None:
        self._connection.close()


class LibraryTables:
    """bookingcore's tables, set up through the library and read back with plain SQL."""

    def __init__(self, target: Target) -> None:
        self._engine = target.engine()
        self._core = library_core(fresh_store(self._engine).unit_of_work)
        self._admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)

    def prepare(self, workers: int, attempts: int, warmup: int, slots: int) -> RunPlan:
        """Empty every table, then add a location and the run's slots through the library."""
        empty_tables(self._engine)
        catalog = self._core.catalog
        location = catalog.add_location("BENCH", "Bench base camp", principal=self._admin)

        def slot(name: str, capacity: int) -> UUID:
            return catalog.create_slot(
                location_id=location.id,
                starts_at=_now() + timedelta(days=7),
                price_per_traveler=Money("1000", "INR"),
                capacity=capacity,
                name=name,
                principal=self._admin,
            ).id

        capacity = hot_slot_capacity(workers * attempts, slots)
        return RunPlan(
            side="library",
            workers=workers,
            attempts=attempts,
            warmup=warmup,
            hot_slots=tuple(slot(f"Hot slot {n}", capacity) for n in range(1, slots + 1)),
            warmup_slot=slot("Warm-up slot", warmup_capacity(workers, warmup)),
            capacity=capacity,
        )

    def seats(self) -> list[SlotSeats]:
        """Every slot's capacity and seats held, and the travelers holding seats on it.

        Travelers come from ``booking_travelers``, counted for bookings whose
        lifecycle says their status holds capacity.
        """
        slots = metadata.tables["slots"]
        bookings = metadata.tables["bookings"]
        booking_travelers = metadata.tables["booking_travelers"]
        per_status = (
            select(
                bookings.c.slot_id,
                bookings.c.lifecycle,
                bookings.c.status,
                func.count(booking_travelers.c.traveler_id),
                func.count(bookings.c.id.distinct()),
            )
            .join_from(bookings, booking_travelers, booking_travelers.c.booking_id == bookings.c.id)
            .group_by(bookings.c.slot_id, bookings.c.lifecycle, bookings.c.status)
        )
        with self._engine.connect() as connection:
            stored = connection.execute(
                select(slots.c.id, slots.c.capacity, slots.c.seats_held)
            ).all()
            statuses = connection.execute(per_status).all()
        holding: dict[UUID, int] = {}
        counted: dict[UUID, int] = {}
        for slot_id, lifecycle, status, travelers, booking_count in statuses:
            if self._core.settings.lifecycle(lifecycle).holds_capacity(status):
                holding[slot_id] = holding.get(slot_id, 0) + travelers
            counted[slot_id] = counted.get(slot_id, 0) + booking_count
        return [
            SlotSeats(slot_id, capacity, held, holding.get(slot_id, 0), counted.get(slot_id, 0))
            for slot_id, capacity, held in stored
        ]

    def close(self) -> None:
        self._engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- figures and checks


@dataclass(frozen=True)
class Latency:
    """Percentiles of the attempts' latencies, in milliseconds."""

    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        millis = [s * 1000 for s in seconds]
        return cls(percentile(millis, 50), percentile(millis, 95), percentile(millis, 99))

    def __str__(self) -> str:
        return f"{self.p50:6.1f} /{self.p95:6.1f} /{self.p99:6.1f}"


@dataclass(frozen=True)
class Check:
    """What the database says after a run; ``status`` is OK, OVERBOOKED or MISMATCH."""

    overbooked: bool
    problems: tuple[str, ...]

    @property
    def status(self) -> str:
        if self.overbooked:
            return "OVERBOOKED"
        return "MISMATCH" if self.problems else "OK"

    @property
    def ok(self) -> bool:
        return self.status == "OK"


def check_seats(
    plan: RunPlan, results: Sequence[WorkerResult], seats: Sequence[SlotSeats]
) -> Check:
    """Compare the stored seats and bookings with each other and with what the workers saw."""
    problems: list[str] = []
    overbooked = False
    hot = set(plan.hot_slots)
    for slot in seats:
        if (
            slot.capacity is not None
            and max(slot.seats_held, slot.travelers_holding) > slot.capacity
        ):
            overbooked = True
            problems.append(
                f"slot {slot.slot} holds {slot.seats_held} seats for {slot.travelers_holding}"
                f" travelers; its capacity is {slot.capacity}"
            )
        elif slot.seats_held != slot.travelers_holding:
            problems.append(
                f"slot {slot.slot} counts {slot.seats_held} seats held"
                f" but {slot.travelers_holding} travelers hold seats on it"
            )
        elif slot.slot in hot and slot.seats_held != plan.capacity:
            problems.append(
                f"slot {slot.slot} sold {slot.seats_held} of {plan.capacity} seats"
                " though more were asked for"
            )
    booked = sum(result.booked for result in results)
    refused = sum(result.refused for result in results)
    if booked + refused != plan.total_attempts:
        problems.append(
            f"{booked} booked + {refused} refused != {plan.total_attempts} attempts"
            f" ({sum(result.failed for result in results)} failed)"
        )
    stored = sum(slot.bookings for slot in seats if slot.slot in hot)
    if stored != booked:
        problems.append(f"{stored} bookings stored on the hot slots, {booked} reported booked")
    return Check(overbooked, tuple(problems))


@dataclass(frozen=True)
class SideFigures:
    """One side of one run: throughput, latency and the check."""

    attempts: int
    booked: int
    refused: int
    failed: int
    seats: int
    seconds: float
    bookings_per_second: float
    latency_ms: Latency
    check: Check
    errors: tuple[str, ...] = ()

    @classmethod
    def of(cls, plan: RunPlan, results: Sequence[WorkerResult], check: Check) -> SideFigures:
        slowest = max(result.elapsed for result in results)
        completed = sum(result.booked + result.refused for result in results)
        return cls(
            attempts=plan.total_attempts,
            booked=sum(result.booked for result in results),
            refused=sum(result.refused for result in results),
            failed=sum(result.failed for result in results),
            seats=plan.capacity * len(plan.hot_slots),
            seconds=slowest,
            bookings_per_second=completed / slowest if slowest > 0 else 0.0,
            latency_ms=Latency.of([s for result in results for s in result.latencies]),
            check=check,
            errors=tuple(error for result in results for error in result.errors),
        )

    def as_json(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["check"] = self.check.status
        figures["overbooked"] = self.check.overbooked
        figures["problems"] = list(self.check.problems)
        return figures


@dataclass(frozen=True)
class RunFigures:
    """Every side at one worker count; ``statements`` only when it was asked for."""

    workers: int
    baseline: SideFigures
    library: SideFigures
    statements: SideFigures | None = None

    @property
    def ratio(self) -> float:
        """Library / baseline: the figure the target is about."""
        return _ratio(self.library, self.baseline)

    @property
    def statements_ratio(self) -> float:
        """Statements / baseline: the most any library sending these statements could reach."""
        return math.nan if self.statements is None else _ratio(self.statements, self.baseline)

    @property
    def overhead_ratio(self) -> float:
        """Library / statements: the share of the statements' speed the library keeps."""
        return math.nan if self.statements is None else _ratio(self.library, self.statements)

    @property
    def verdict(self) -> str:
        """How library / statements compares with the target (needs ``--statements``)."""
        if self.statements is None:
            return "not judged: the target is on library / statements (run with --statements)"
        if self.overhead_ratio >= TARGET_RATIO:
            return "target met"
        return "MISSED"

    @property
    def sides(self) -> dict[Side, SideFigures]:
        """The sides that ran, by name."""
        sides: dict[Side, SideFigures] = {"baseline": self.baseline, "library": self.library}
        if self.statements is not None:
            sides["statements"] = self.statements
        return sides

    def side(self, name: Side) -> SideFigures:
        return self.sides[name]

    def as_json(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "workers": self.workers,
            "ratio": self.ratio,
            "verdict": self.verdict,
            **{name: side.as_json() for name, side in self.sides.items()},
        }
        if self.statements is not None:
            figures["statements_ratio"] = self.statements_ratio
            figures["library_to_statements"] = self.overhead_ratio
        return figures


def _ratio(side: SideFigures, reference: SideFigures) -> float:
    return ratio(side.bookings_per_second, reference.bookings_per_second)


# --------------------------------------------------------------------------- the report


def render(runs: Sequence[RunFigures]) -> str:
    """The results table, the seats table and one verdict line per worker count."""
    replayed = any(run.statements is not None for run in runs)
    headers = [
        "workers",
        "baseline/s",
        "library/s",
        "ratio",
        "baseline ms p50 /  p95 /  p99",
        "library ms p50 /  p95 /  p99",
        "baseline",
        "library",
    ]
    if replayed:
        headers += ["statements/s", "statements ratio", "library/statements", "statements"]
    rows = []
    for run in runs:
        row = [
            str(run.workers),
            f"{run.baseline.bookings_per_second:.1f}",
            f"{run.library.bookings_per_second:.1f}",
            f"{run.ratio:.2f}",
            str(run.baseline.latency_ms),
            str(run.library.latency_ms),
            run.baseline.check.status,
            run.library.check.status,
        ]
        if run.statements is not None:
            row += [
                f"{run.statements.bookings_per_second:.1f}",
                f"{run.statements_ratio:.2f}",
                f"{run.overhead_ratio:.2f}",
                run.statements.check.status,
            ]
        elif replayed:
            row += ["", "", "", ""]
        rows.append(row)
    results = table(headers, rows)
    seats = table(
        ["workers", "side", "attempts", "booked", "refused", "failed", "seats", "slowest s"],
        [
            [
                str(run.workers),
                name,
                str(figures.attempts),
                str(figures.booked),
                str(figures.refused),
                str(figures.failed),
                str(figures.seats),
                f"{figures.seconds:.2f}",
            ]
            for run in runs
            for name, figures in run.sides.items()
        ],
        left=2,
    )
    verdicts = [
        f"  workers={run.workers}: library/statements {run.overhead_ratio:.2f}, {run.verdict}"
        for run in runs
    ]
    problems = [
        f"workers={run.workers}, {name}: {problem}"
        for run in runs
        for name, figures in run.sides.items()
        for problem in (*figures.check.problems, *figures.errors)
    ]
    parts = [
        "bookings/s: (booked + refused) / elapsed time of the slowest worker;"
        " ratio: library / baseline",
    ]
    if replayed:
        parts.append(
            "statements: the library's own SQL for each booking, replayed by raw psycopg;"
            " statements ratio: statements / baseline"
        )
    parts += [
        results,
        "",
        "seats: hot-slot capacity in all (attempts exceed it by about 10 %)",
        seats,
        "",
        f"target (issue 16): library/statements >= {TARGET_RATIO:.2f} at every worker count",
        *verdicts,
    ]
    return report_text(parts, problems)


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Options:
    """The command line, resolved."""

    url: URL
    workers: tuple[int, ...]
    attempts: int
    warmup: int
    slots: int
    dispatch: Dispatch
    json: Path | None
    statements: bool = False

    @property
    def sides(self) -> tuple[Side, ...]:
        """The sides to run at each worker count, in order."""
        return SIDES if self.statements else ("baseline", "library")


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (``argv`` without the program name)."""
    options = parser(
        "booking_concurrency.py",
        "Concurrent bookings of hot slots on PostgreSQL: bookingcore vs raw psycopg.",
        url="PostgreSQL",
    )
    options.add_argument(
        "--workers",
        type=whole_numbers,
        default=DEFAULT_WORKERS,
        help="worker counts to run, e.g. 1,2,4,8 (the default)",
    )
    options.add_argument(
        "--attempts",
        type=positive,
        help=f"timed booking attempts per worker (default {DEFAULT_ATTEMPTS})",
    )
    options.add_argument(
        "--warmup",
        type=zero_or_more,
        help=f"untimed warm-up bookings per worker (default {DEFAULT_WARMUP})",
    )
    options.add_argument(
        "--slots",
        type=positive,
        default=DEFAULT_HOT_SLOTS,
        help=f"hot slots the attempts share (default {DEFAULT_HOT_SLOTS})",
    )
    options.add_argument(
        "--dispatch",
        choices=get_args(Dispatch),
        default="deferred",
        help="the library's event dispatch: deferred (default) or inline, after each commit",
    )
    options.add_argument(
        "--statements",
        action="store_true",
        help="also replay the library's own SQL for each booking with raw psycopg"
        " (a third side: what the statements cost without the library's Python)",
    )
    args = options.parse_args(argv)
    attempts = args.attempts or (QUICK_ATTEMPTS if args.quick else DEFAULT_ATTEMPTS)
    warmup = (
        args.warmup if args.warmup is not None else QUICK_WARMUP if args.quick else DEFAULT_WARMUP
    )
    if attempts < args.slots:
        options.error(f"--attempts must be at least --slots ({args.slots}), so every slot fills")
    if max(args.workers) * (attempts + warmup) > MAX_CUSTOMERS_PER_RUN:
        options.error(f"at most {MAX_CUSTOMERS_PER_RUN} bookings per run")
    try:
        url = postgres_url(args.url)
    except ValueError as exc:
        options.error(str(exc))
    return Options(
        url=url,
        workers=args.workers,
        attempts=attempts,
        warmup=warmup,
        slots=args.slots,
        dispatch=args.dispatch,
        json=args.json,
        statements=args.statements,
    )


def run(options: Options) -> list[RunFigures]:
    """Every worker count, each side in turn, each in a fresh schema's emptied tables.

    The statements side uses the library's tables, emptied again before it runs.
    """
    runs: list[RunFigures] = []
    with bench_schema(conninfo(options.url), "bench_") as schema:
        target = Target(options.url, schema, options.dispatch)
        opened: list[Tables] = []
        try:
            baseline = BaselineTables(target)
            opened.append(baseline)
            library = LibraryTables(target)
            opened.append(library)
            for workers in options.workers:
                figures: dict[Side, SideFigures] = {}
                for name in options.sides:
                    say(f"{name}, {workers} workers ...")
                    tables: Tables = baseline if name == "baseline" else library
                    plan = tables.prepare(workers, options.attempts, options.warmup, options.slots)
                    plan = replace(plan, side=name)
                    results = run_workers(plan, target)
                    check = check_seats(plan, results, tables.seats())
                    figures[name] = SideFigures.of(plan, results, check)
                runs.append(
                    RunFigures(
                        workers, figures["baseline"], figures["library"], figures.get("statements")
                    )
                )
        finally:
            for tables in opened:
                tables.close()
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when every check passes (see bench/README.md)."""
    options = parse_options(argv)
    database = options.url.render_as_string(hide_password=True)
    try:
        server = server_description(conninfo(options.url))
    except BenchError as exc:
        print(f"{database}: {exc}", file=sys.stderr)
        return 1

    def measure() -> tuple[str, dict[str, Any]]:
        runs = run(options)
        ok = all(side.check.ok for run in runs for side in run.sides.values())
        return render(runs), {"ok": ok, "runs": [run.as_json() for run in runs]}

    return run_bench(
        f"bookingcore booking concurrency: {options.slots} hot slots, {options.attempts} attempts"
        f" and {options.warmup} warm-ups per worker, dispatch={options.dispatch}\n"
        f"{database}: {server}",
        measure,
        settings={
            "workers": list(options.workers),
            "attempts_per_worker": options.attempts,
            "warmup_per_worker": options.warmup,
            "hot_slots": options.slots,
            "dispatch": options.dispatch,
            "statements": options.statements,
            "target_library_to_statements": TARGET_RATIO,
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
