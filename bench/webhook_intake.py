"""Webhook intake on PostgreSQL: ``core.payments.handle_webhook`` against raw psycopg.

For each process count (1 and 4 by default) both sides take the same signed
deliveries, one per pending payment, each event capturing its payment; 10 % of
the events are delivered twice (shuffled among the others, so with several
processes a duplicate may race its twin). The *library* verifies, stores in the
webhook inbox, applies (the payment is captured and its booking confirmed
through the one booking path) and commits, over ``SqlStore`` with
:class:`~bookingcore.testing.FakePaymentProvider`; the *baseline* does the same
work by hand: the same HMAC check, ``INSERT ... ON CONFLICT DO NOTHING`` into a
minimal inbox table of its own, an ``UPDATE`` of its own payment row, ``COMMIT``.
``--statements`` adds a third side: the library's own SQL for each delivery,
recorded once and replayed by raw psycopg (the ceiling for any code that writes
what the library writes); ``--series N`` spreads the bookings over N invoice
series. After each run the database is checked: every payment captured exactly
once, one inbox row per event, and the duplicates changed nothing. bench/README.md
says what runs, how to read the output and the exit status. From the
repository root, as a script (spawned workers re-import this file by path)::

    .venv/bin/python bench/webhook_intake.py
    .venv/bin/python bench/webhook_intake.py --processes 1,4 --deliveries 2000 --json out.json
    .venv/bin/python bench/webhook_intake.py --quick  # a few seconds, for smoke tests
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import random
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID, uuid4

from psycopg.types.json import Jsonb
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select
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
)
from bookingcore import (
    BookingRequest,
    Money,
    NewTraveler,
    PaymentId,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import (
    InvoiceKind,
    InvoiceSeries,
    PaymentStatus,
    ReceiptStatus,
    invoice_number,
    series_key,
)
from bookingcore.domain.invoices import series_id
from bookingcore.testing import FakePaymentProvider
from bookingcore_adapters.sql import SqlStore, metadata

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from sqlalchemy import Engine

Side = Literal["baseline", "library", "statements"]
SIDES: tuple[Side, ...] = ("baseline", "library")

DEFAULT_PROCESSES = (1, 4)
DEFAULT_DELIVERIES = 1000
QUICK_DELIVERIES = 40
DEFAULT_WARMUP = 10
QUICK_WARMUP = 2
#: The share of events delivered a second time.
DUPLICATE_SHARE = 0.10
#: The webhook secret both sides verify with.
SECRET = "bench-webhook-secret"
PROVIDER = "fake"
PRICE = Money("2500", "INR")

#: The ratio library / baseline the issue asks for (issue 18).
TARGET_RATIO = 0.5

RUN_TIMEOUT = 900.0
MAX_ERROR_SAMPLES = 5

Delivery = tuple[dict[str, str], bytes]


# --------------------------------------------------------------------------- the plan of a run


@dataclass(frozen=True)
class RunPlan:
    """One side at one process count: the deliveries each process makes, in order."""

    side: Side
    processes: int
    events: int
    per_process: tuple[tuple[Delivery, ...], ...]
    warmups: tuple[tuple[Delivery, ...], ...] = ()

    @property
    def deliveries(self) -> int:
        """Every timed delivery, duplicates included."""
        return sum(len(mine) for mine in self.per_process)

    @property
    def payments(self) -> int:
        """Every payment of the run: one per event, and one per warm-up delivery."""
        return self.events + sum(len(mine) for mine in self.warmups)


def planned(
    side: Side, processes: int, events: int, warmup: int, signed: Sequence[Delivery], seed: int
) -> RunPlan:
    """The plan of a run: the first ``events`` of ``signed`` timed, the rest warm-ups."""
    spare = signed[events:]
    return RunPlan(
        side,
        processes,
        events,
        deal(signed[:events], processes, seed),
        tuple(tuple(spare[w * warmup : (w + 1) * warmup]) for w in range(processes)),
    )


def deal(events: Sequence[Delivery], processes: int, seed: int) -> tuple[tuple[Delivery, ...], ...]:
    """``events`` plus a second delivery of 10 % of them, shuffled and dealt to ``processes``."""
    chooser = random.Random(seed)
    twice = chooser.sample(list(events), round(len(events) * DUPLICATE_SHARE))
    everything = [*events, *twice]
    chooser.shuffle(everything)
    return tuple(tuple(everything[worker::processes]) for worker in range(processes))


@dataclass(frozen=True)
class WorkerTask:
    """What one worker process is asked to do."""

    plan: RunPlan
    worker: int
    target: Database


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did: deliveries taken, failures, elapsed time and latencies."""

    worker: int
    taken: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: tuple[float, ...] = ()
    errors: tuple[str, ...] = ()
    crash: str | None = None


# --------------------------------------------------------------------------- worker processes


class Intake(Protocol):
    """One worker's way to take a delivery."""

    def take(self, headers: dict[str, str], body: bytes) -> None:
        """Verify, store once, apply and commit one delivery."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class BaselineIntake:
    """Raw psycopg 3: verify the HMAC, insert into the inbox once, capture the payment, commit."""

    STORE = (
        "INSERT INTO bench_inbox (provider, event_id, payment_reference, payload, received_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id"
    )
    CAPTURE = (
        "UPDATE bench_payments SET status = 'captured', captured_minor = %s,"
        " captures = captures + 1, updated_at = %s"
        " WHERE reference = %s AND status <> 'captured'"
    )

    def __init__(self, task: WorkerTask) -> None:
        self._secret = SECRET.encode()
        self._connection = task.target.connect()
        self._cursor = self._connection.cursor()

    def take(self, headers: dict[str, str], body: bytes) -> None:
        lowered = {key.lower(): value for key, value in headers.items()}
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(lowered.get("x-fake-signature", ""), expected):
            msg = "the signature does not match"
            raise PermissionError(msg)
        event = json.loads(body)
        cursor = self._cursor
        try:
            stored = cursor.execute(
                self.STORE,
                (PROVIDER, event["id"], event["payment"], Jsonb(event), _now()),
            ).fetchone()
            if stored is not None:
                units = event["amount"]["units"] if "amount" in event else None
                cursor.execute(self.CAPTURE, (units, _now(), event["payment"]))
            self._connection.commit()
        except BaseException:
            self._connection.rollback()
            raise

    def close(self) -> None:
        self._cursor.close()
        self._connection.close()


class LibraryIntake:
    """bookingcore over the SQL adapter: each delivery is one ``core.payments.handle_webhook``.

    ``log_parameters``: the store logs the statements it sends straight to psycopg with
    their parameters (what :class:`StatementsIntake` records them from).
    """

    def __init__(self, task: WorkerTask, *, log_parameters: bool = False) -> None:
        self._engine = task.target.engine()
        store = SqlStore(self._engine, log_parameters=log_parameters)
        self._core = library_core(
            store.unit_of_work,
            dispatch="deferred",
            payment_providers=[FakePaymentProvider(PROVIDER, secret=SECRET)],
        )

    @property
    def engine(self) -> Engine:
        """The engine the library's store runs on."""
        return self._engine

    def take(self, headers: dict[str, str], body: bytes) -> None:
        self._core.payments.handle_webhook(PROVIDER, headers, body)

    def close(self) -> None:
        self._engine.dispose()


Parameters = Any  # a statement's parameters as recorded: a dict, or a list of dicts


@dataclass(frozen=True)
class Recorded:
    """One statement the library sent, with its parameters and whether it went in one
    pipeline with the statement before it."""

    sql: str
    parameters: Parameters
    with_previous: bool = False

    @property
    def verb(self) -> str:
        return self.sql.split(None, 1)[0].upper()

    @property
    def reads(self) -> bool:
        """A statement whose rows the replay reads before the writes: a SELECT, the
        receipt's ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, the invoice number's
        ``UPDATE ... RETURNING`` (an outbox event's ``INSERT ... RETURNING`` is a write:
        it goes in the write pipeline)."""
        if self.verb == "SELECT":
            return True
        if " RETURNING " not in self.sql:
            return False
        return self.verb == "UPDATE" or " ON CONFLICT " in self.sql


class StatementsIntake:
    """The library's own SQL for a delivery, sent by raw psycopg with no library code running.

    The first warm-up delivery goes through the library (it may store the
    invoice series); the second goes through it while every statement
    it sends is recorded as it reaches the driver (the ``bookingcore.sql``
    logger, at DEBUG, names the statements the adapter sends straight to
    psycopg, with their parameters as the store is built with
    ``log_parameters=True``; SQLAlchemy's ``before_cursor_execute`` the
    others); the same
    delivery is then taken again and recorded as the duplicate path. Every
    later delivery is verified with the same HMAC check and then replayed: the
    receipt's ``INSERT ... ON CONFLICT DO NOTHING RETURNING``; when it found a
    receipt already stored,
    the duplicate's read and a ``COMMIT``; otherwise the same reads, grouped in
    round trips as the library groups them (the payment locked by reference,
    with its booking's payments, its booking locked and the booking's
    travelers, all four found by the payment's reference, in one round trip;
    the invoice number taken from its series by ``UPDATE ... RETURNING``, which
    locks it), with the delivery's event, payment, booking and travelers, and
    the same writes (outbox event, receipt, booking, audit entries, history
    entry, payment, invoice) with fresh ids, the versions read under the locks
    and the number taken, in one pipeline with ``COMMIT``, as the library
    sends them. Library / statements is what the library's own Python costs;
    statements / baseline what the rows a capture writes cost.
    """

    def __init__(self, task: WorkerTask) -> None:
        self._secret = SECRET.encode()
        self._library = LibraryIntake(task, log_parameters=True)
        try:
            self._connection = task.target.connect()
        except BaseException:
            self._library.close()
            raise
        self._capture: list[Recorded] = []
        self._duplicate: list[Recorded] = []
        self._recorded: dict[str, Any] = {}  # what the recorded capture was about
        self._warm = False

    def take(self, headers: dict[str, str], body: bytes) -> None:
        if self._capture:
            self._replay(headers, body)
        elif not self._warm:
            # The first capture may find no invoice series yet and store it: not recorded.
            self._library.take(headers, body)
            self._warm = True
        else:
            self._record(headers, body)

    # ------------------------------------------------------------------ recording

    def _statements_of(self, headers: dict[str, str], body: bytes) -> list[Recorded]:
        sent: list[tuple[str, Parameters]] = []

        class Listener(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if isinstance(record.args, tuple) and len(record.args) == 2:
                    sent.append((str(record.args[0]), record.args[1]))

        def before(*args: Any) -> None:
            sent.append((args[2], args[3]))

        log = logging.getLogger("bookingcore.sql")
        listener, level = Listener(), log.level
        log.addHandler(listener)
        log.setLevel(logging.DEBUG)
        engine = self._library.engine
        sqlalchemy_event.listen(engine, "before_cursor_execute", before)
        try:
            self._library.take(headers, body)
        finally:
            sqlalchemy_event.remove(engine, "before_cursor_execute", before)
            log.removeHandler(listener)
            log.setLevel(level)
        recorded: list[Recorded] = []
        for sql, parameters in sent:
            if sql.split(None, 1)[0].upper() not in ("SELECT", "INSERT", "UPDATE"):
                continue
            # The adapter locks a payment in one pipeline with its booking's payments, and
            # for a capture its booking and the booking's travelers, each found by the
            # payment's key (the same parameters); a booking locked by id with its travelers.
            previous = recorded[-1] if recorded else None
            paired = (
                previous is not None
                and sql.startswith("SELECT")
                and previous.sql.startswith("SELECT")
                and ("FROM booking_travelers" in sql or parameters == previous.parameters)
            )
            recorded.append(Recorded(sql, parameters, with_previous=paired))
        return recorded

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        capture = self._statements_of(headers, body)
        duplicate = self._statements_of(headers, body)
        event = json.loads(body)
        # The payment and the booking locked by a read, the series by taking its number.
        locks = [
            one
            for one in capture
            if one.reads and ("FOR UPDATE" in one.sql or one.sql.startswith("UPDATE invoice"))
        ]
        invoices = [one for one in capture if one.sql.startswith("INSERT INTO invoices ")]
        new_series = any(one.sql.startswith("INSERT INTO invoice_series") for one in capture)
        duplicate_read = bool(duplicate) and duplicate[0].reads
        if len(locks) != 3 or len(invoices) != 1 or new_series or not duplicate_read:
            shapes = [one.sql[:40] for one in capture]
            msg = f"the recorded capture is not the one this side replays: {shapes}"
            raise BenchError(msg)
        invoice = invoices[0].parameters
        self._recorded = {
            "event_id": event["id"],
            "reference": event["payment"],
            "receipt_id": capture[0].parameters["id"],
            "payment_id": invoice["payment_id"],
            "booking_id": invoice["booking_id"],
            "number": invoice["number"],
            "series_key": invoice["series_key"],
            # Each new row's id (an outbox event's is its event id).
            "fresh": [
                one.parameters.get("id") or one.parameters.get("event_id")
                for one in capture[1:]
                if one.verb == "INSERT" and isinstance(one.parameters, dict)
            ]
            + [
                row["id"]
                for one in capture
                if one.verb == "INSERT" and isinstance(one.parameters, list)
                for row in one.parameters
            ],
        }
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT reference FROM bookings WHERE id = %s", (self._recorded["booking_id"],)
            )
            (self._recorded["booking_reference"],) = cursor.fetchone() or ("",)
            cursor.execute(
                "SELECT bt.traveler_id, t.name FROM booking_travelers bt"
                " JOIN travelers t ON t.id = bt.traveler_id WHERE bt.booking_id = %s"
                " ORDER BY bt.position",
                (self._recorded["booking_id"],),
            )
            self._recorded["travelers"] = cursor.fetchall()
        self._connection.rollback()
        self._capture, self._duplicate = capture, duplicate

    # ------------------------------------------------------------------ replaying

    def _replay(self, headers: dict[str, str], body: bytes) -> None:
        lowered = {key.lower(): value for key, value in headers.items()}
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(lowered.get("x-fake-signature", ""), expected):
            msg = "the signature does not match"
            raise PermissionError(msg)
        event = json.loads(body)
        was = self._recorded
        swap: dict[Any, Any] = {
            was["event_id"]: event["id"],
            was["reference"]: event["payment"],
            was["receipt_id"]: uuid4(),
        }
        for old in was["fresh"]:
            swap[old] = uuid4()
        connection = self._connection
        try:
            stored = self._read(self._capture[:1], swap)
            if not stored[0]:
                for one in self._duplicate[1:]:
                    self._read([one], swap)
                connection.commit()  # as the library ends a redelivery: nothing changed
                return
            self._apply(swap, was)
        except BaseException:
            connection.rollback()
            raise

    def _apply(self, swap: dict[Any, Any], was: dict[str, Any]) -> None:
        """The capture's locked reads, then its writes and ``COMMIT`` in one pipeline."""
        texts: dict[str, str] = {was["reference"]: swap[was["reference"]]}
        versions: dict[str, int] = {}
        number = 0
        reads = [one for one in self._capture[1:] if one.reads]
        groups: list[list[Recorded]] = []
        for one in reads:
            if one.with_previous and groups:
                groups[-1].append(one)
            else:
                groups.append([one])
        for group in groups:
            for one, rows in zip(group, self._read(group, swap, texts), strict=True):
                sql = one.sql
                if sql.startswith("SELECT payments.") and "FOR UPDATE" in sql:
                    swap[was["payment_id"]] = rows[0]["id"]
                    swap[was["booking_id"]] = rows[0]["booking_id"]
                    versions["payments"] = rows[0]["version"]
                elif sql.startswith("SELECT bookings."):
                    versions["bookings"] = rows[0]["version"]
                    texts[was["booking_reference"]] = rows[0]["reference"]
                    # The invoice's series is the one of the booking's location (and year).
                    key = series_key(int(was["series_key"][:4]), rows[0]["code"])
                    swap[was["series_key"]] = key
                    swap[series_id(was["series_key"])] = series_id(key)
                elif "FROM booking_travelers" in sql:
                    for old, row in zip(was["travelers"], rows, strict=True):
                        swap[old[0]] = row["traveler_id"]
                        texts[old[1]] = row["name"]
                elif sql.startswith("UPDATE invoice_series"):
                    number = rows[0]["next_number"] - 1  # the row as the number left it
        key = swap.get(was["series_key"], was["series_key"])
        swap[was["number"]] = invoice_number(InvoiceKind.INVOICE, key, number)
        connection = self._connection
        cursors = []
        with connection.pipeline():
            for one in [one for one in self._capture if not one.reads]:
                values = _substituted(one.parameters, swap, texts)
                table = one.sql.split()[1] if one.verb == "UPDATE" else one.sql.split()[2]
                if one.verb == "UPDATE" and table in versions:
                    read = versions[table]
                    values |= {"read_version": read, "new_version": read + 1}
                elif table == "booking_lifecycle_events":
                    values["booking_version"] = versions["bookings"] + 1
                elif table == "invoices":
                    values["sequence"] = number
                cursor = connection.cursor()
                if isinstance(values, list):
                    cursor.executemany(one.sql, values)
                else:
                    cursor.execute(one.sql, values)
                cursors.append((one, cursor))
            connection.execute("COMMIT")
        for one, cursor in cursors:
            if one.verb == "UPDATE" and cursor.rowcount != 1:
                msg = f"the replayed update changed {cursor.rowcount} rows: {one.sql[:60]}"
                raise BenchError(msg)
            cursor.close()

    def _read(
        self, group: Sequence[Recorded], swap: dict[Any, Any], texts: dict[str, str] | None = None
    ) -> list[list[dict[str, Any]]]:
        """The rows each statement of ``group`` finds, the group sent in one round trip."""
        connection = self._connection
        cursors = []
        if len(group) == 1:
            cursor = connection.cursor()
            cursor.execute(group[0].sql, _substituted(group[0].parameters, swap, texts or {}))
            cursors.append(cursor)
        else:
            with connection.pipeline():
                for one in group:
                    cursor = connection.cursor()
                    cursor.execute(one.sql, _substituted(one.parameters, swap, texts or {}))
                    cursors.append(cursor)
        found = []
        for cursor in cursors:
            names = [column.name for column in cursor.description or ()]
            # A joined table's columns come after the table's own: the first of a name wins.
            found.append(
                [dict(reversed(list(zip(names, row, strict=True)))) for row in cursor.fetchall()]
            )
            cursor.close()
        return found

    def close(self) -> None:
        self._connection.close()
        self._library.close()


def _substituted(value: Any, swap: dict[Any, Any], texts: dict[str, str]) -> Any:
    """``value`` with every recorded id in ``swap`` replaced, inside JSON documents too;
    a text that names a recorded reference (``texts``) names the new one."""
    if isinstance(value, Jsonb):
        return Jsonb(_substituted(value.obj, swap, texts))
    if isinstance(value, dict):
        return {key: _substituted(item, swap, texts) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, swap, texts) for item in value]
    if isinstance(value, UUID):
        return swap.get(value, value)
    if isinstance(value, str):
        if value in swap:
            return swap[value]
        for old, new in texts.items():
            if old in value:
                value = value.replace(old, new)
        if len(value) == 36 and value.count("-") == 4:  # an id inside a JSON document
            try:
                return str(swap.get(UUID(value), value))
            except ValueError:
                return value
    return value


def _open_intake(task: WorkerTask) -> Intake:
    if task.plan.side == "baseline":
        return BaselineIntake(task)
    if task.plan.side == "statements":
        return StatementsIntake(task)
    return LibraryIntake(task)


def run_worker(task: WorkerTask, barrier: Barrier, results: Queue[WorkerResult]) -> None:
    """A worker process: connect, wait for the others, then take and time every delivery."""
    try:
        intake = _open_intake(task)
    except Exception:
        barrier.abort()
        results.put(WorkerResult(task.worker, crash=traceback.format_exc()))
        return
    try:
        for headers, body in task.plan.warmups[task.worker] if task.plan.warmups else ():
            intake.take(headers, body)
        barrier.wait()
        result = _timed(intake, task)
    except threading.BrokenBarrierError:
        result = WorkerResult(task.worker, crash=STOPPED)
    except Exception:
        barrier.abort()
        result = WorkerResult(task.worker, crash=traceback.format_exc())
    finally:
        intake.close()
    results.put(result)


def _timed(intake: Intake, task: WorkerTask) -> WorkerResult:
    taken = failed = 0
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    for headers, body in task.plan.per_process[task.worker]:
        one = time.perf_counter()
        try:
            intake.take(headers, body)
        except Exception as exc:
            failed += 1
            if len(errors) < MAX_ERROR_SAMPLES:
                errors.append(f"{type(exc).__name__}: {exc}")
        else:
            taken += 1
        latencies.append(time.perf_counter() - one)
    return WorkerResult(
        worker=task.worker,
        taken=taken,
        failed=failed,
        elapsed=time.perf_counter() - started,
        latencies=tuple(latencies),
        errors=tuple(errors),
    )


def run_workers(plan: RunPlan, target: Database) -> list[WorkerResult]:
    """Run ``plan`` with one spawned process per worker; their results by worker number."""
    tasks = [WorkerTask(plan, worker, target) for worker in range(plan.processes)]
    return run_processes(run_worker, tasks, label=plan.side, timeout=RUN_TIMEOUT)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- the two sides


@dataclass(frozen=True)
class Stored:
    """What the database holds after a run, in the terms of the checks."""

    payments: int
    captured_once: int
    inbox_rows: int
    applied_receipts: int
    confirmed_bookings: int


class Tables(Protocol):
    """A side's storage as the parent process sees it."""

    def prepare(self, processes: int, events: int, warmup: int, seed: int) -> RunPlan:
        """Empty the side's tables, add a pending payment per event and per warm-up delivery,
        and sign their events."""
        ...

    def stored(self) -> Stored:
        """What the side's tables hold now."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class BaselineTables:
    """The baseline's own two tables: by design the least a safe webhook intake stores."""

    SCHEMA = """
        CREATE TABLE bench_payments (
            id uuid PRIMARY KEY,
            reference text NOT NULL UNIQUE,
            status text NOT NULL,
            amount_minor bigint NOT NULL,
            captured_minor bigint,
            captures integer NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL
        );
        CREATE TABLE bench_inbox (
            id bigserial PRIMARY KEY,
            provider text NOT NULL,
            event_id text NOT NULL,
            payment_reference text,
            payload jsonb NOT NULL,
            received_at timestamptz NOT NULL,
            UNIQUE (provider, event_id)
        );
    """

    def __init__(self, target: Database) -> None:
        self._connection = target.connect(autocommit=True)
        self._connection.execute(self.SCHEMA)
        self._signer = FakePaymentProvider(PROVIDER, secret=SECRET)

    def prepare(self, processes: int, events: int, warmup: int, seed: int) -> RunPlan:
        references = [f"pi_base_{uuid4().hex}" for _ in range(events + processes * warmup)]
        with self._connection.transaction():
            self._connection.execute("TRUNCATE bench_inbox, bench_payments")
            with self._connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO bench_payments (id, reference, status, amount_minor, updated_at)"
                    " VALUES (%s, %s, 'pending', %s, %s)",
                    [(uuid4(), ref, PRICE.minor_units, _now()) for ref in references],
                )
        signed = [self._signer.webhook("captured", ref, amount=PRICE) for ref in references]
        return planned("baseline", processes, events, warmup, signed, seed)

    def stored(self) -> Stored:
        payments, once = self._connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'captured' AND captures = 1"
            " AND captured_minor = amount_minor) FROM bench_payments"
        ).fetchone() or (0, 0)
        (inbox,) = self._connection.execute("SELECT count(*) FROM bench_inbox").fetchone() or (0,)
        # The baseline keeps no receipt status nor booking: an inbox row counts as applied.
        return Stored(payments, once, inbox, inbox, once)

    def close(self) -> None:
        self._connection.close()


class LibraryTables:
    """bookingcore's tables: bookings and pending payments made through the library."""

    def __init__(self, target: Database, series: int = 1) -> None:
        self._series = series
        self._engine = target.engine()
        self._store = fresh_store(self._engine)
        self._provider = FakePaymentProvider(PROVIDER, secret=SECRET)
        self._core = library_core(self._store.unit_of_work, payment_providers=[self._provider])
        self._admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        self._payments: list[tuple[PaymentId, str]] = []  # id and provider reference

    def prepare(self, processes: int, events: int, warmup: int, seed: int) -> RunPlan:
        """Empty every table; a booking with a pending payment per delivery (not timed)."""
        empty_tables(self._engine)
        core, admin = self._core, self._admin
        codes = ["BENCH"] if self._series == 1 else [f"BENCH{n}" for n in range(self._series)]
        slots = []
        for code in codes:
            location = core.catalog.add_location(code, f"Bench base camp {code}", principal=admin)
            slots.append(
                core.catalog.create_slot(
                    location_id=location.id,
                    starts_at=_now() + timedelta(days=30),
                    price_per_traveler=PRICE,
                    capacity=None,
                    principal=admin,
                )
            )
        # Each location's invoice series of this year, stored up front, so every capture
        # takes a number from a series that exists (the first capture would store it).
        with self._store.unit_of_work() as uow:
            for code in codes:
                uow.invoice_series.add_if_new(InvoiceSeries(key=series_key(_now().year, code)))
            uow.commit()
        customer = core.customers.register("+919800000001", principal=admin).customer
        payer = Principal.customer(customer.id)
        self._payments = []
        signed: list[Delivery] = []
        for n in range(events + processes * warmup):
            booking = core.bookings.book(
                BookingRequest(
                    slots[n % len(slots)].id,
                    [NewTraveler(TravelerDetails(f"Guest {n}"), True)],
                ),
                principal=payer,
            )
            intent = core.payments.create_intent(
                booking.id, PROVIDER, principal=payer, idempotency_key=f"bench-{n}"
            )
            reference = intent.payment.provider_reference
            assert reference is not None
            self._payments.append((intent.payment.id, reference))
            signed.append(self._provider.webhook("captured", reference, amount=PRICE))
        return planned("library", processes, events, warmup, signed, seed)

    def stored(self) -> Stored:
        inbox = metadata.tables["webhook_inbox"]
        with self._engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(inbox)).scalar_one()
        once = applied = confirmed = 0
        with self._store.unit_of_work() as uow:
            captured = [uow.payments.get(payment_id) for payment_id, _ in self._payments]
            for payment in captured:
                if (
                    payment is None
                    or payment.status is not PaymentStatus.CAPTURED
                    or payment.captured_amount != PRICE
                    or len(payment.processed_event_ids) != 1
                ):
                    continue
                once += 1
                (event_id,) = payment.processed_event_ids
                receipt = uow.webhook_inbox.get_by_event(PROVIDER, event_id)
                applied += receipt is not None and receipt.status is ReceiptStatus.APPLIED
        for payment in captured:
            if payment is None:
                continue
            # The booking path moved each booking once, however often its event came.
            history = self._core.bookings.history(payment.booking_id, principal=self._admin)
            moves = [entry for entry in history if entry.to_status == "confirmed"]
            confirmed += len(moves) == 1
        return Stored(len(self._payments), once, int(rows), applied, confirmed)

    def close(self) -> None:
        self._store.dispose()


# --------------------------------------------------------------------------- figures and checks


@dataclass(frozen=True)
class SideFigures:
    """One side of one run: throughput, latency and the checks."""

    events: int
    payments: int
    deliveries: int
    taken: int
    failed: int
    seconds: float
    deliveries_per_second: float
    p50_ms: float
    p95_ms: float
    payments_captured_once: int
    inbox_rows: int
    applied_receipts: int
    confirmed_bookings: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @classmethod
    def of(cls, plan: RunPlan, results: Sequence[WorkerResult], stored: Stored) -> SideFigures:
        slowest = max(result.elapsed for result in results)
        taken = sum(result.taken for result in results)
        failed = sum(result.failed for result in results)
        millis = [s * 1000 for result in results for s in result.latencies]
        problems: list[str] = [error for result in results for error in result.errors]
        if taken != plan.deliveries:
            problems.append(f"{taken} of {plan.deliveries} deliveries taken ({failed} failed)")
        for what, count in (
            ("payments captured exactly once", stored.captured_once),
            ("inbox rows", stored.inbox_rows),
            ("applied receipts", stored.applied_receipts),
            ("bookings confirmed once", stored.confirmed_bookings),
        ):
            if count != plan.payments:
                problems.append(f"{count} {what}, expected {plan.payments} (one per event)")
        return cls(
            events=plan.events,
            payments=plan.payments,
            deliveries=plan.deliveries,
            taken=taken,
            failed=failed,
            seconds=slowest,
            deliveries_per_second=taken / slowest if slowest > 0 else 0.0,
            p50_ms=percentile(millis, 50),
            p95_ms=percentile(millis, 95),
            payments_captured_once=stored.captured_once,
            inbox_rows=stored.inbox_rows,
            applied_receipts=stored.applied_receipts,
            confirmed_bookings=stored.confirmed_bookings,
            problems=tuple(problems),
        )


@dataclass(frozen=True)
class RunFigures:
    """Both sides at one process count."""

    processes: int
    baseline: SideFigures
    library: SideFigures
    statements: SideFigures | None = None

    @property
    def ratio(self) -> float:
        """Library / baseline deliveries per second."""
        return ratio(self.library.deliveries_per_second, self.baseline.deliveries_per_second)

    @property
    def statements_ratio(self) -> float:
        """Statements / baseline: the most any code sending these statements could reach."""
        if self.statements is None:
            return math.nan
        return ratio(self.statements.deliveries_per_second, self.baseline.deliveries_per_second)

    @property
    def overhead_ratio(self) -> float:
        """Library / statements: the share of the statements' speed the library keeps."""
        if self.statements is None:
            return math.nan
        return ratio(self.library.deliveries_per_second, self.statements.deliveries_per_second)

    def sides(self) -> list[tuple[str, SideFigures]]:
        """Each side that ran, by name."""
        named = [("baseline", self.baseline), ("library", self.library)]
        return named if self.statements is None else [*named, ("statements", self.statements)]

    @property
    def verdict(self) -> str:
        return "target met" if self.ratio >= TARGET_RATIO else "BELOW the target"

    def as_json(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "processes": self.processes,
            "ratio": self.ratio,
            "verdict": self.verdict,
        }
        if self.statements is not None:
            figures["statements_ratio"] = self.statements_ratio
            figures["library_to_statements"] = self.overhead_ratio
        for name, side in self.sides():
            figures[name] = {**asdict(side), "ok": side.ok}
        return figures


def render(runs: Sequence[RunFigures]) -> str:
    """The results table, the checks table and one verdict line per process count."""
    replayed = any(run.statements is not None for run in runs)
    headers = [
        "processes",
        "baseline/s",
        "library/s",
        "ratio",
        "baseline ms p50 / p95",
        "library ms p50 / p95",
        "baseline",
        "library",
    ]
    if replayed:
        headers += ["statements/s", "statements ratio", "library/statements", "statements"]
    rows = []
    for run in runs:
        row = [
            str(run.processes),
            f"{run.baseline.deliveries_per_second:.1f}",
            f"{run.library.deliveries_per_second:.1f}",
            f"{run.ratio:.2f}",
            f"{run.baseline.p50_ms:5.1f} / {run.baseline.p95_ms:5.1f}",
            f"{run.library.p50_ms:5.1f} / {run.library.p95_ms:5.1f}",
            "OK" if run.baseline.ok else "MISMATCH",
            "OK" if run.library.ok else "MISMATCH",
        ]
        if run.statements is not None:
            row += [
                f"{run.statements.deliveries_per_second:.1f}",
                f"{run.statements_ratio:.2f}",
                f"{run.overhead_ratio:.2f}",
                "OK" if run.statements.ok else "MISMATCH",
            ]
        elif replayed:
            row += ["-"] * 4
        rows.append(row)
    results = table(headers, rows)
    checks = table(
        [
            "processes",
            "side",
            "events",
            "payments",
            "deliveries",
            "taken",
            "captured once",
            "inbox rows",
            "applied",
            "confirmed",
            "slowest s",
        ],
        [
            [
                str(run.processes),
                name,
                str(side.events),
                str(side.payments),
                str(side.deliveries),
                str(side.taken),
                str(side.payments_captured_once),
                str(side.inbox_rows),
                str(side.applied_receipts),
                str(side.confirmed_bookings),
                f"{side.seconds:.2f}",
            ]
            for run in runs
            for name, side in run.sides()
        ],
        left=2,
    )
    problems = [
        f"processes={run.processes}, {name}: {problem}"
        for run in runs
        for name, side in run.sides()
        for problem in side.problems
    ]
    parts = [
        "deliveries/s: deliveries taken (duplicates included) / elapsed time of the slowest"
        " process; ratio: library / baseline",
        *(
            [
                "statements: the library's own SQL for each delivery, replayed by raw psycopg;"
                " statements ratio: statements / baseline"
            ]
            if replayed
            else []
        ),
        results,
        "",
        f"checks: one event per payment (warm-ups included), {DUPLICATE_SHARE:.0%} of the timed"
        " events delivered twice",
        checks,
        "",
        f"target: ratio >= {TARGET_RATIO:.2f} (issue 18)",
        *(f"  processes={run.processes}: ratio {run.ratio:.2f}, {run.verdict}" for run in runs),
    ]
    return report_text(parts, problems)


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Options:
    """The command line, resolved."""

    url: URL
    processes: tuple[int, ...]
    deliveries: int
    warmup: int
    seed: int
    json: Path | None
    statements: bool = False
    series: int = 1

    @property
    def sides(self) -> tuple[Side, ...]:
        """The sides to run, in order."""
        return (*SIDES, "statements") if self.statements else SIDES


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (``argv`` without the program name)."""
    options = parser(
        "webhook_intake.py",
        "Webhook intake on PostgreSQL: core.payments.handle_webhook vs raw psycopg.",
        url="PostgreSQL",
    )
    options.add_argument(
        "--processes",
        type=lambda text: whole_numbers(text, most=64),
        default=DEFAULT_PROCESSES,
        help="process counts to run, e.g. 1,4 (the default)",
    )
    options.add_argument(
        "--deliveries",
        type=positive,
        help=f"distinct events (one per payment) per run (default {DEFAULT_DELIVERIES})",
    )
    options.add_argument(
        "--warmup",
        type=positive,
        help=f"untimed deliveries per process, each of its own event (default {DEFAULT_WARMUP})",
    )
    options.add_argument("--seed", type=int, default=18, help="the shuffle's seed")
    options.add_argument(
        "--series",
        type=positive,
        default=1,
        help="invoice series the library's bookings are spread over, one location each"
        " (default 1: every capture takes its number from the same series)",
    )
    options.add_argument(
        "--statements",
        action="store_true",
        help="also replay the library's own SQL for each delivery with raw psycopg"
        " (a third side: what the statements cost without the library's Python)",
    )
    args = options.parse_args(argv)
    try:
        url = postgres_url(args.url)
    except ValueError as exc:
        options.error(str(exc))
    events = args.deliveries or (QUICK_DELIVERIES if args.quick else DEFAULT_DELIVERIES)
    warmup = args.warmup or (QUICK_WARMUP if args.quick else DEFAULT_WARMUP)
    if args.statements and warmup < 2:
        options.error("--statements records the second warm-up delivery: --warmup 2 at least")
    return Options(
        url,
        args.processes,
        events,
        warmup,
        args.seed,
        args.json,
        statements=args.statements,
        series=args.series,
    )


def run(options: Options) -> list[RunFigures]:
    """Every process count, each side in turn, in a fresh schema's emptied tables."""
    runs: list[RunFigures] = []
    with bench_schema(conninfo(options.url), "bench_wh_") as schema:
        target = Database(options.url, schema)
        opened: list[Tables] = []
        try:
            sides: dict[Side, Tables] = {}
            sides["baseline"] = BaselineTables(target)
            opened.append(sides["baseline"])
            sides["library"] = LibraryTables(target, options.series)
            opened.append(sides["library"])
            for processes in options.processes:
                figures: dict[Side, SideFigures] = {}
                for name in options.sides:
                    say(f"{name}, {processes} processes: seeding {options.deliveries} payments")
                    storage = sides["library" if name == "statements" else name]
                    plan = storage.prepare(
                        processes, options.deliveries, options.warmup, options.seed
                    )
                    if name == "statements":
                        plan = replace(plan, side="statements")
                    say(f"{name}, {processes} processes: {plan.deliveries} deliveries ...")
                    results = run_workers(plan, target)
                    figures[name] = SideFigures.of(plan, results, storage.stored())
                runs.append(
                    RunFigures(
                        processes,
                        figures["baseline"],
                        figures["library"],
                        figures.get("statements"),
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
        ok = all(run.baseline.ok and run.library.ok for run in runs)
        return render(runs), {"ok": ok, "runs": [run.as_json() for run in runs]}

    return run_bench(
        f"bookingcore webhook intake: {options.deliveries} events, each capturing one pending"
        f" payment, {DUPLICATE_SHARE:.0%} delivered twice\n{database}: {server}",
        measure,
        settings={
            "processes": list(options.processes),
            "events": options.deliveries,
            "warmup_per_process": options.warmup,
            "duplicate_share": DUPLICATE_SHARE,
            "seed": options.seed,
            "target_ratio": TARGET_RATIO,
            "statements": options.statements,
            "invoice_series": options.series,
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
