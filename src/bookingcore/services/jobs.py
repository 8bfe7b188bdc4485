"""Jobs: what each job name does, how a change defers one, and the jobs the library ships.

:class:`JobCatalog` maps names to handlers (service calls) and schedules; an
engine (:class:`~bookingcore.ports.JobQueue`) runs them. :class:`JobService`
(``core.jobs``) defers a job *in the transaction of the change that causes
it*: the request goes to the outbox as a
:class:`~bookingcore.domain.JobRequested` event, with the change, and is
handed to the engine right after commit by the ``jobs.enqueue`` event
handler. A process that dies between commit and hand-over loses nothing: the
``events.dispatch`` job (every few seconds on any worker) hands over what is
left. Hand-over is at least once, so every job is safe to run twice.

Why the outbox and not the engine's own transactional defer: the
:class:`~bookingcore.ports.UnitOfWork` port does not expose a database
connection (memory and SQLite stores have none to share with procrastinate),
and one path that works for every store and every engine keeps the port
small. See ``docs/jobs.md``.

The library's jobs (registered by :class:`~bookingcore.BookingCore` when a
queue is wired):

=========================  ====================================================  ==========
name                       what it calls                                         schedule
=========================  ====================================================  ==========
``events.dispatch``        ``core.events.run_pending()``: catch-up, retries and  10 s
                           follow-up messages of :mod:`.automations`
``reminders.send_due``     ``core.communications.send_due_reminders()``          5 min
``auth.cleanup``           ``core.auth.cleanup()``: expired codes and sessions   15 min
``outbox.prune``           ``core.events.prune()`` until a batch is short:       1 h
                           messages done with for ``Settings.outbox_retention``
                           (not registered when it is ``None``)
``outbox.relay``           ``OutboxRelay.relay()`` (after :meth:`JobService.     5 s
                           relay_outbox_to`)
``imports.run``            ``core.imports.run(job, source)`` (after              on upload
                           :meth:`JobService.enable_imports`)
``imports.purge_files``    ``core.imports.purge_files()``: uploaded files of     1 h
                           imports finished longer ago than
                           ``Settings.import_file_retention`` (registered when
                           the core has ``import_files`` and a retention)
=========================  ====================================================  ==========

Every 30 s, ``waitlists.expire_offers`` (``core.waitlists.expire_offers(now)``:
offers that ran out go to the next entry) and, when a webhook sender is wired,
``webhooks.deliver_due`` (``core.webhooks.deliver_due()``).

Once a day, when ``Settings.archive_after`` is set, ``bookings.archive``
(``core.archive.archive_due()``: bookings in a final state whose slot ended
longer ago than that, in batches of ``batch_size`` (200) until none is left;
args ``batch_size`` and ``limit`` are optional).

Every 5 minutes, unless ``Settings.stalled_message_after`` is ``None``,
``communications.resend_stalled`` (``core.communications.resend_stalled()``:
messages pending longer than that after they were handed over for sending,
sent once more each; arg ``limit`` (100) optional).

Once a day, ``certificates.renewal_reminders``
(``core.certificates.due_renewal_reminders(now)``: one reminder per
certificate and expiry date; args ``lead_days`` and ``channel`` are optional).

Jobs of your own: :meth:`JobService.register` (a name, a handler, a schedule).

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from datetime import timedelta
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain.imports import ImportJob
from bookingcore.domain.jobs import JobRequest, JobRequested, Schedule, json_args
from bookingcore.domain.policy import Principal
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.imports import RowSource
from bookingcore.ports.jobs import JobHandler, JobQueue, JobRun
from bookingcore.ports.messaging import EventPublisher, SerializedEventPublisher
from bookingcore.ports.observability import Observer
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services._observing import GuardedObserver, error_name
from bookingcore.services.archiving import ArchiveService
from bookingcore.services.auth import AuthService
from bookingcore.services.certificates import CertificateService
from bookingcore.services.communications import CommunicationService
from bookingcore.services.events import EventDispatcher, HandlerContext, OutboxRelay
from bookingcore.services.imports import ImportService, ImportSettings
from bookingcore.services.waitlists import WaitlistService
from bookingcore.services.webhooks import WebhookService

__all__ = [
    "JobAttempt",
    "JobCatalog",
    "JobCounters",
    "JobService",
    "JobsNotConfiguredError",
]

_log = logging.getLogger("bookingcore.jobs")

#: Who the library's jobs act as, in audit entries and communications.
JOBS = Principal.system("jobs")

#: How often ``certificates.renewal_reminders`` runs: certificates expire by the day.
_CERTIFICATE_REMINDERS_EVERY = timedelta(days=1)

#: How often ``bookings.archive`` runs: ``Settings.archive_after`` is days or months.
_ARCHIVE_EVERY = timedelta(days=1)

#: How often ``communications.resend_stalled`` runs: a stalled message waits
#: ``Settings.stalled_message_after`` (15 minutes by default), then up to this long.
_STALLED_MESSAGES_EVERY = timedelta(minutes=5)


class JobsNotConfiguredError(ValidationError):
    """``core.jobs`` was asked to defer or list jobs, but no queue was wired.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        from bookingcore.errors import FieldError  # noqa: PLC0415 - keeps the tree's import small

        msg = "no job queue is configured: pass jobs=... to BookingCore"
        super().__init__([FieldError("jobs", msg, "not_configured")], msg)


@attrs.frozen
class JobAttempt:
    """One attempt of one job (:class:`~bookingcore.ports.JobRun`), made by an engine.

    .. versionadded:: 0.1
    """

    job_id: str
    name: str
    attempt: int = 1


class JobCounters:
    """Counts of job outcomes by name, for a host to export (Prometheus, StatsD, logs).

    ``snapshot()`` gives ``{(job name, outcome): count}`` with outcomes
    ``started``, ``succeeded`` and ``failed``; thread-safe.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, outcome: str) -> None:
        """Count one ``outcome`` of job ``name``."""
        with self._lock:
            self._counts[(name, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """A copy of every count."""
        with self._lock:
            return dict(self._counts)

    def total(self, outcome: str) -> int:
        """How many jobs, of any name, had ``outcome``."""
        with self._lock:
            return sum(n for (_, seen), n in self._counts.items() if seen == outcome)


def _log_fields(name: str, args: Mapping[str, Any], run: JobRun) -> dict[str, Any]:
    return {
        "job": name,
        "job_id": run.job_id,
        "attempt": run.attempt,
        "booking": args.get("booking_id"),
        "partner": args.get("partner_id"),
    }


class JobCatalog:
    """Job names, their handlers and their schedules (:class:`~bookingcore.ports.JobRegistry`).

    ``observer`` (a :class:`~bookingcore.ports.Observer`) is told of every run
    (``Observer.job_finished``); ``BookingCore`` passes its own.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``observer``.
    """

    def __init__(
        self, counters: JobCounters | None = None, *, observer: Observer | None = None
    ) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._schedules: dict[str, Schedule] = {}
        self.counters = counters or JobCounters()
        self._observer = (
            observer
            if observer is None or isinstance(observer, GuardedObserver)
            else GuardedObserver(observer)
        )

    def register(
        self,
        name: str,
        handler: JobHandler,
        *,
        every: timedelta | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        """Run ``handler`` for jobs called ``name`` (and every ``every``, with ``args``).

        Registering a name again replaces its handler (a host overriding a
        library job).

        Raises:
            ValidationError: an empty name, ``every`` under a second, or ``args`` not JSON.
        """
        request = JobRequest(name, args)
        self._handlers[name] = handler
        if every is not None:
            self._schedules[name] = Schedule(name, every, request.args)
        else:
            self._schedules.pop(name, None)

    def reschedule(self, name: str, every: timedelta | None) -> None:
        """Run the registered job ``name`` every ``every`` instead (``None``: on demand
        only), keeping its handler and arguments; e.g. expire waiting-list offers
        every few seconds when offers last minutes.

        Raises:
            NotFoundError: nothing is registered under ``name``.
            ValidationError: ``every`` under a second.

        .. versionadded:: 0.2
        """
        if name not in self._handlers:
            raise NotFoundError("job", name)
        current = self._schedules.get(name)
        if every is None:
            self._schedules.pop(name, None)
            return
        self._schedules[name] = Schedule(name, every, current.args if current else {})

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def names(self) -> Sequence[str]:
        """Every registered name, sorted."""
        return sorted(self._handlers)

    def schedules(self) -> Sequence[Schedule]:
        """The periodic jobs, by name."""
        return [self._schedules[name] for name in sorted(self._schedules)]

    def run(self, name: str, args: Mapping[str, Any], run: JobRun) -> object:
        """Run job ``name`` once, logged (fields ``job``, ``job_id``, ``attempt``,
        ``booking``, ``partner``) and counted; re-raises the handler's error.

        Raises:
            NotFoundError: nothing is registered under ``name``.
        """
        handler = self._handlers.get(name)
        if handler is None:
            raise NotFoundError("job", name)
        fields = _log_fields(name, args, run)
        self.counters.add(name, "started")
        observed = nullcontext() if self._observer is None else self._observer.use_case("job")
        with observed:
            started = time.perf_counter()
            try:
                result = handler(json_args(args), run)
            except Exception as exc:
                self.counters.add(name, "failed")
                if self._observer is not None:
                    self._observer.job_finished(
                        name=name,
                        outcome="failed",
                        error=error_name(exc),
                        seconds=time.perf_counter() - started,
                    )
                _log.warning(
                    "job %s %s failed (attempt %d): %s: %s",
                    name,
                    run.job_id,
                    run.attempt,
                    type(exc).__name__,
                    exc,
                    extra={**fields, "error": f"{type(exc).__name__}: {exc}"},
                )
                raise
            self.counters.add(name, "succeeded")
            if self._observer is not None:
                seconds = time.perf_counter() - started
                self._observer.job_finished(
                    name=name, outcome="succeeded", error=None, seconds=seconds
                )
            _log.info(
                "job %s %s done in %.3fs: %s",
                name,
                run.job_id,
                time.perf_counter() - started,
                result,
                extra={**fields, "seconds": time.perf_counter() - started},
            )
        return result


class JobService:
    """``core.jobs``: defer jobs (in the caller's transaction) and register more.

    .. versionadded:: 0.1
    """

    def __init__(
        self, context: ServiceContext, queue: JobQueue | None, catalog: JobCatalog | None = None
    ) -> None:
        self._ctx = context
        self._queue = queue
        self.catalog = catalog or JobCatalog(observer=context.observer)

    @property
    def queue(self) -> JobQueue:
        """The engine jobs go to.

        Raises:
            JobsNotConfiguredError: no queue was wired.
        """
        if self._queue is None:
            raise JobsNotConfiguredError
        return self._queue

    @property
    def counters(self) -> JobCounters:
        """Outcome counts of the jobs run in this process."""
        return self.catalog.counters

    def register(
        self,
        name: str,
        handler: JobHandler,
        *,
        every: timedelta | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`JobCatalog.register`: add a job of your own (before workers start)."""
        self.catalog.register(name, handler, every=every, args=args)

    def reschedule(self, name: str, every: timedelta | None) -> None:
        """:meth:`JobCatalog.reschedule`: change how often a registered job runs
        (before workers start), e.g. ``core.jobs.reschedule("webhooks.deliver_due",
        timedelta(seconds=5))``.

        .. versionadded:: 0.2
        """
        self.catalog.reschedule(name, every)

    def defer(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        lock: str | None = None,
        tx: Transaction | None = None,
    ) -> UUID:
        """Ask for job ``name`` with ``args``; returns the request's event id.

        With ``tx`` the request commits (or rolls back) with that transaction;
        without, it is committed before this returns. Either way the engine
        gets it right after commit.

        Raises:
            NotFoundError: no job is registered under ``name``.
            ValidationError: ``args`` are not JSON.
            JobsNotConfiguredError: no queue is wired, so nothing would hand the
                request to an engine (it would wait in the outbox for good).

        .. versionchanged:: 0.4
           Refused without a queue; before, the request was written and never run.
        """
        request = JobRequest(name, args, lock)
        if name not in self.catalog:
            raise NotFoundError("job", name)
        if self._queue is None:  # the request would wait in the outbox for good
            raise JobsNotConfiguredError
        event = JobRequested(
            id=self._ctx.ids.new_id(),
            occurred_at=self._ctx.now(),
            job=request.name,
            args=request.args,
            lock=request.lock,
        )
        if tx is not None:
            tx.emit(event)
            return event.id
        with self._ctx.transaction() as own:
            own.emit(event)
            own.commit()
        return event.id

    def enqueue(self, event: JobRequested, context: HandlerContext) -> None:
        """The ``jobs.enqueue`` event handler: hand a committed request to the engine."""
        job_id = self.queue.defer(event.request())
        _log.info(
            "job %s queued as %s",
            event.job,
            job_id or "(already queued)",
            extra={"job": event.job, "job_id": job_id, "attempt": context.attempt},
        )

    # ------------------------------------------------------------------ the library's jobs

    def install_standard(
        self,
        *,
        events: EventDispatcher,
        communications: CommunicationService,
        auth: AuthService,
        waitlists: WaitlistService,
        webhooks: WebhookService,
        imports: ImportService,
        archive: ArchiveService,
        certificates: CertificateService,
    ) -> None:
        """Register the library's jobs over these services (see the module).

        Called once by :class:`~bookingcore.BookingCore` with its own services;
        jobs that depend on a setting or a wired port are registered only when
        it is there. A job of your own: :meth:`register`.

        .. versionchanged:: 0.4
           ``certificates.renewal_reminders``, daily.
        .. versionchanged:: 0.4
           ``imports.purge_files``, hourly, when ``core.imports`` has a file store
           and ``Settings.import_file_retention`` is set.
        .. versionchanged:: 0.4
           ``bookings.archive``, daily, when ``Settings.archive_after`` is set.
        .. versionchanged:: 0.4
           ``communications.resend_stalled``, every 5 minutes, unless
           ``Settings.stalled_message_after`` is ``None``.
        .. versionchanged:: 0.4
           Takes the services by name, typed, instead of the core; the table of
           optional jobs looked up on the core is gone (register such a job with
           :meth:`register`).
        """
        settings = self._ctx.settings

        def dispatch(args: Mapping[str, Any], run: JobRun) -> object:
            return attrs.asdict(events.run_pending(limit=int(args.get("limit", 200))))

        def cleanup(args: Mapping[str, Any], run: JobRun) -> object:
            return auth.cleanup()

        def expire_offers(args: Mapping[str, Any], run: JobRun) -> object:
            return len(waitlists.expire_offers(self._ctx.now(), principal=JOBS))

        def deliver_webhooks(args: Mapping[str, Any], run: JobRun) -> object:
            # No time given: each attempt is recorded (and backs off) from when it ended.
            return attrs.asdict(webhooks.deliver_due())

        self.register("events.dispatch", dispatch, every=timedelta(seconds=10))
        self._install_messages(communications)
        self.register("auth.cleanup", cleanup, every=timedelta(minutes=15))
        self.register("waitlists.expire_offers", expire_offers, every=timedelta(seconds=30))
        if settings.outbox_retention is not None:

            def prune_outbox(args: Mapping[str, Any], run: JobRun) -> object:
                limit = int(args.get("limit", 1000))
                total = 0
                while (pruned := events.prune(limit=limit)) > 0:
                    total += pruned
                    if pruned < limit:
                        break
                return total

            self.register("outbox.prune", prune_outbox, every=timedelta(hours=1))
        if imports.files is not None and settings.import_file_retention is not None:

            def purge_import_files(args: Mapping[str, Any], run: JobRun) -> object:
                return imports.purge_files(principal=JOBS, limit=int(args.get("limit", 100)))

            self.register("imports.purge_files", purge_import_files, every=timedelta(hours=1))
        if settings.archive_after is not None:

            def archive_bookings(args: Mapping[str, Any], run: JobRun) -> object:
                limit = args.get("limit")
                done = archive.archive_due(
                    principal=JOBS,
                    batch_size=int(args.get("batch_size", 200)),
                    limit=None if limit is None else int(limit),
                )
                return {
                    "ended_before": done.ended_before.isoformat(),
                    "archived": done.archived,
                    "batches": done.batches,
                    "kept": dict(done.kept),
                }

            self.register("bookings.archive", archive_bookings, every=_ARCHIVE_EVERY)
        if webhooks.sending:
            self.register("webhooks.deliver_due", deliver_webhooks, every=timedelta(seconds=30))

        def certificate_reminders(args: Mapping[str, Any], run: JobRun) -> object:
            lead = args.get("lead_days")
            sent = certificates.due_renewal_reminders(
                self._ctx.now(),
                principal=JOBS,
                lead=None if lead is None else timedelta(days=float(lead)),
                channel=args.get("channel"),
            )
            return len(sent)

        self.register(
            "certificates.renewal_reminders",
            certificate_reminders,
            every=_CERTIFICATE_REMINDERS_EVERY,
        )
        if self._queue is not None:
            events.subscribe(JobRequested, self.enqueue, name="jobs.enqueue")

    def _install_messages(self, communications: CommunicationService) -> None:
        """``reminders.send_due``, and ``communications.resend_stalled`` unless
        ``Settings.stalled_message_after`` is ``None``."""

        def reminders(args: Mapping[str, Any], run: JobRun) -> object:
            within = timedelta(seconds=float(args.get("within_seconds", 24 * 3600)))
            return len(communications.send_due_reminders(principal=JOBS, within=within))

        def resend_stalled(args: Mapping[str, Any], run: JobRun) -> object:
            limit = int(args.get("limit", 100))
            return len(communications.resend_stalled(principal=JOBS, limit=limit))

        self.register("reminders.send_due", reminders, every=timedelta(minutes=5))
        if self._ctx.settings.stalled_message_after is not None:
            every = _STALLED_MESSAGES_EVERY
            self.register("communications.resend_stalled", resend_stalled, every=every)

    def relay_outbox_to(
        self,
        publisher: EventPublisher | SerializedEventPublisher,
        *,
        every: timedelta = timedelta(seconds=5),
    ) -> None:
        """Register ``outbox.relay``: publish unpublished outbox events to ``publisher``.

        Each run claims up to ``limit`` (default 500) events at a time until
        none is left; two workers claim different events.

        Raises:
            ValidationError: on ``outbox_relayed`` unless the core's settings say
                it relays (``Settings(outbox_relayed=True)``; see :class:`OutboxRelay`).

        .. versionchanged:: 0.4 refused unless ``Settings.outbox_relayed``.
        """
        relay = OutboxRelay(self._ctx, publisher)

        def relay_outbox(args: Mapping[str, Any], run: JobRun) -> object:
            limit = int(args.get("limit", 500))
            total = 0
            while (sent := relay.relay(limit=limit)) > 0:
                total += sent
            return total

        self.register("outbox.relay", relay_outbox, every=every)

    def enable_imports(
        self, imports: ImportService, open_source: Callable[[str], RowSource]
    ) -> None:
        """Register ``imports.run``: ``{"import_id", "path"}`` -> run (or resume) that import.

        ``open_source`` opens the uploaded file the job names (the CLI passes
        ``bookingcore_adapters.importers.open_rows``). Running it again, or on
        another worker after a crash, resumes after the last committed chunk;
        running it for a finished import answers its status without opening the
        file (which ``imports.purge_files`` may have deleted).

        .. versionchanged:: 0.4 a finished import's file is not opened again.
        """

        def run_import(args: Mapping[str, Any], run: JobRun) -> object:
            job_id = UUID(str(args["import_id"]))
            done = imports.get(job_id, principal=JOBS)
            if done.status.is_final:  # a repeated hand-over: its file may be purged already
                return f"{done.status.value}: {done.processed_rows}/{done.total_rows} rows"
            source = open_source(str(args["path"]))
            job = imports.run(job_id, source, principal=JOBS)
            return f"{job.status.value}: {job.processed_rows}/{job.total_rows} rows"

        self.register("imports.run", run_import)

    def start_import(
        self,
        imports: ImportService,
        source: RowSource,
        path: str,
        *,
        principal: Principal,
        settings: ImportSettings | None = None,
        idempotency_key: str | None = None,
    ) -> ImportJob:
        """Record an import of the uploaded file at ``path`` and defer its ``imports.run``
        job in the same transaction; returns the :class:`~bookingcore.domain.ImportJob`.

        Progress shows on the import job (``core.imports.get``) as chunks commit. A
        retry with the same ``idempotency_key`` and the same file and settings (another
        ``path`` is no other request) returns the first call's job and defers nothing.

        Raises:
            NotFoundError: ``imports.run`` is not registered (see :meth:`enable_imports`).
            JobsNotConfiguredError: no queue is wired (nothing is recorded).
            ValidationError, PermissionDeniedError, IdempotencyConflictError: as
                ``core.imports.start``.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        if "imports.run" not in self.catalog:
            raise NotFoundError("job", "imports.run")
        if self._queue is None:  # refused before anything is recorded
            raise JobsNotConfiguredError

        def then(tx: Transaction, job: ImportJob) -> None:
            self.defer(
                "imports.run",
                {"import_id": str(job.id), "path": path},
                lock=f"import:{job.id}",
                tx=tx,
            )

        return imports.start(
            source,
            principal=principal,
            settings=settings,
            then=then,
            idempotency_key=idempotency_key,
        )
