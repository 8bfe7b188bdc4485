"""Handing outbox events to handlers, and relaying them to a broker.

:class:`EventDispatcher` is the in-process default. Each handler is subscribed
under a stable name; for every event and handler there is at most one
:class:`~bookingcore.domain.events.Delivery`. A handler runs inside its own
unit of work, and its writes commit together with its delivery record, so a
handler's changes to storage are applied exactly once even when two
dispatchers race. A handler that raises is recorded, retried later with
backoff, and never rolls back the change that raised the event or stops other
handlers. Side effects outside storage (an email, an HTTP call) are at least
once: use the event id as their idempotency key.

:class:`OutboxRelay` publishes the same outbox to a broker through an
:class:`~bookingcore.ports.EventPublisher`, for handlers in other processes.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import attrs

from bookingcore.domain._validation import bounded_count
from bookingcore.domain.events import (
    Delivery,
    DeliveryStatus,
    DomainEvent,
    RetryPolicy,
)
from bookingcore.errors import ConflictError, DuplicateError, NotFoundError, ValidationError
from bookingcore.ports.messaging import EventPublisher, SerializedEventPublisher
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext

__all__ = [
    "MAX_BATCH",
    "DispatchReport",
    "EventDispatcher",
    "HandlerContext",
    "OutboxRelay",
    "Subscription",
]

_log = logging.getLogger("bookingcore.events")

#: The most events one :meth:`EventDispatcher.run_pending` or
#: :meth:`OutboxRelay.relay` call takes on (its ``limit``).
#:
#: .. versionadded:: 0.4
MAX_BATCH = 10_000

E = TypeVar("E", bound=DomainEvent)

#: How storage names a delivery record in a :class:`~bookingcore.errors.DuplicateError`.
_DELIVERY = "delivery"


@attrs.define
class HandlerContext:
    """What a handler gets besides the event.

    Write through ``uow`` (do not commit it: the dispatcher commits your
    writes together with the delivery record). ``attempt`` is 1 on the first
    try. Events passed to :meth:`emit` go to the outbox with your writes.

    .. versionadded:: 0.1
    """

    uow: UnitOfWork
    now: datetime
    attempt: int
    emitted: list[DomainEvent] = attrs.field(factory=list)

    def emit(self, event: DomainEvent) -> None:
        """Raise a follow-up event, written with the handler's changes."""
        self.uow.outbox.add(event)
        self.emitted.append(event)


@attrs.frozen
class Subscription:
    """One handler subscribed to one event type.

    .. versionadded:: 0.1
    """

    name: str
    event_type: type[DomainEvent]
    handler: Callable[[Any, HandlerContext], None]
    when: Callable[[Any], bool] | None = None

    def wants(self, event: DomainEvent) -> bool:
        """True when this subscription should receive ``event``.

        Raises what ``when`` raises; the dispatcher counts that as the handler's
        failure on the event (recorded and retried, never the caller's).

        .. versionchanged:: 0.4
           A ``when`` that raises is the handler's failure on the event.
        """
        return isinstance(event, self.event_type) and (self.when is None or self.when(event))


def _may_want(subscription: Subscription, event: DomainEvent) -> bool:
    """:meth:`Subscription.wants`, but True when ``when`` raises: the attempt asks it
    again and records the error as the handler's failure."""
    try:
        return subscription.wants(event)
    except Exception:
        return isinstance(event, subscription.event_type)


@attrs.define
class DispatchReport:
    """What one dispatcher run did, by delivery.

    .. versionadded:: 0.1
    """

    events: int = 0
    applied: int = 0
    failed: int = 0
    gave_up: int = 0
    skipped: int = 0

    def add(self, outcome: str) -> None:
        """Count one delivery outcome."""
        setattr(self, outcome, getattr(self, outcome) + 1)


class EventDispatcher:
    """Delivers committed events to subscribed handlers, once per handler.

    :class:`~bookingcore.BookingCore` dispatches right after each commit
    (``dispatch="inline"``, the default) and a host's worker calls
    :meth:`run_pending` now and then to retry failures and catch up on events
    written by other processes (``dispatch="deferred"`` leaves everything to it).

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext, *, retry: RetryPolicy | None = None) -> None:
        self._ctx = context
        self.retry_policy = retry or RetryPolicy()
        self._subscriptions: dict[str, Subscription] = {}

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E, HandlerContext], None],
        *,
        name: str,
        when: Callable[[E], bool] | None = None,
    ) -> Subscription:
        """Call ``handler`` for every committed ``event_type`` event (that ``when`` accepts).

        ``name`` identifies the handler in delivery records: keep it stable
        across deployments, or the handler will see old events again.

        Raises:
            ValidationError: on field ``name`` when it is empty or already subscribed.
        """
        if not name or not name.strip():
            raise ValidationError.single("name", "a handler needs a name", "required")
        if name in self._subscriptions:
            msg = f"a handler named {name!r} is already subscribed"
            raise ValidationError.single("name", msg, "duplicate")
        subscription = Subscription(name, event_type, handler, when)
        self._subscriptions[name] = subscription
        return subscription

    @property
    def subscriptions(self) -> Sequence[Subscription]:
        """Every subscription, in the order they were made (the order handlers run in)."""
        return tuple(self._subscriptions.values())

    # ------------------------------------------------------------------ running

    def dispatch(self, events: Sequence[DomainEvent]) -> DispatchReport:
        """Hand just-committed ``events`` (and what their handlers raise) to the handlers."""
        report = DispatchReport()
        queue = deque(events)
        while queue:
            event = queue.popleft()
            queue.extend(self._first_delivery(event, report))
        return report

    def run_pending(self, *, limit: int = 100) -> DispatchReport:
        """Catch up: undelivered outbox events in outbox order, then retries that are due.

        Call it from a worker or a scheduler; it never raises for a handler's error.

        Raises:
            ValidationError: on ``limit`` when it is not a whole number from 1 to
                :data:`MAX_BATCH`.

        The retries are those of the handlers subscribed here: deliveries left to a
        handler since renamed or removed keep waiting (and keep their message from
        :meth:`prune`) without holding up the others.

        .. versionchanged:: 0.4
           Reported to the core's observer (``Observer.outbox_relayed``), if any.
           Retries of handlers not subscribed here are passed over.
        """
        limit = bounded_count(limit, "limit", minimum=1, maximum=MAX_BATCH)
        report = DispatchReport()
        with self._ctx.uow_factory() as uow:
            waiting = [m.event for m in uow.outbox.list_undispatched(limit)]
        for event in waiting:
            self.dispatch_one(event, report)
        with self._ctx.uow_factory() as uow:
            # Only this dispatcher's handlers: those of a handler no longer subscribed
            # would fill every batch and hold up the retries it can make.
            due = uow.deliveries.list_due(self._ctx.now(), limit, handlers=self._subscriptions)
        for delivery in due:
            subscription = self._subscriptions.get(delivery.handler)
            if subscription is None:
                continue
            with self._ctx.uow_factory() as uow:
                message = uow.outbox.get(delivery.event_id)
            if message is None:  # pragma: no cover - messages waiting for a retry are kept
                continue
            report.events += 1
            emitted = self._deliver(message.event, subscription, report)
            self.dispatch(emitted)
        return report

    def prune(self, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` outbox messages that are done with, oldest first, with
        their handlers' delivery records, in one unit of work; returns how many.

        Done with: dispatched, every handler's delivery finished (done, or given
        up after its last attempt; not one waiting for a retry), and, when the
        core relays its outbox (``Settings.outbox_relayed``), published; all of
        it longer than ``Settings.outbox_retention`` ago (30 days by default;
        ``None`` keeps everything and this returns 0). A message a relay or a
        dispatcher holds at the moment is skipped. The ``outbox.prune`` job calls
        this until a batch comes back short. An operator's :meth:`retry` and a
        keyed reschedule's retry find their event only while it is kept.

        Raises:
            ValidationError: on ``limit`` when it is not a whole number from 1 to
                :data:`MAX_BATCH`.

        .. versionadded:: 0.4
        """
        limit = bounded_count(limit, "limit", minimum=1, maximum=MAX_BATCH)
        settings = self._ctx.settings
        if settings.outbox_retention is None:
            return 0
        before = self._ctx.now() - settings.outbox_retention
        with self._ctx.uow_factory() as uow:
            pruned = uow.outbox.delete_finished(
                before, published=settings.outbox_relayed, limit=limit
            )
            uow.commit()
        return pruned

    def dispatch_one(self, event: DomainEvent, report: DispatchReport | None = None) -> None:
        """Give one event its first delivery to every handler (used by :meth:`run_pending`)."""
        follow_ups = self._first_delivery(event, report or DispatchReport())
        self.dispatch(follow_ups)

    def retry(self, event_id: UUID, handler: str) -> DispatchReport:
        """Try a delivery again now (an operator's replay): one that gave up, or one
        waiting for a retry that is not due yet. A delivery that is done is not
        applied again (the report counts it skipped).

        Raises:
            NotFoundError: no such event, or no handler subscribed under ``handler``
                (``entity`` ``"event"``, ``"handler"``); or a handler that does not
                take this event, its type or its ``when`` (``"delivery"``), which is
                never handed it.

        .. versionchanged:: 0.4
           A delivery waiting for its retry runs now; a handler that does not take
           the event is refused.
        """
        subscription = self._subscriptions.get(handler)
        if subscription is None:
            raise NotFoundError("handler", handler)
        with self._ctx.uow_factory() as uow:
            message = uow.outbox.get(event_id)
            if message is None:
                raise NotFoundError("event", event_id)
            if not _may_want(subscription, message.event):
                msg = f"handler {handler!r} does not take event {event_id} ({message.name})"
                raise NotFoundError("delivery", f"{event_id}:{handler}", msg)
            delivery = uow.deliveries.get(event_id, handler)
            if delivery is not None and (
                delivery.status is DeliveryStatus.GAVE_UP or delivery.next_attempt_at is not None
            ):
                if delivery.status is DeliveryStatus.GAVE_UP:
                    delivery.status = DeliveryStatus.RETRYING
                    delivery.completed_at = None
                delivery.next_attempt_at = None
                uow.commit()
        report = DispatchReport(events=1)
        self.dispatch(self._deliver(message.event, subscription, report))
        return report

    # ------------------------------------------------------------------ internals

    def _first_delivery(self, event: DomainEvent, report: DispatchReport) -> list[DomainEvent]:
        report.events += 1
        follow_ups: list[DomainEvent] = []
        for subscription in self._subscriptions.values():
            if _may_want(subscription, event):
                follow_ups += self._deliver(event, subscription, report)
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            message = uow.outbox.get(event.id)
            if message is not None and message.dispatched_at is None:
                message.dispatched_at = now
                # Another dispatcher may have marked it first; either way it is marked.
                with contextlib.suppress(ConflictError):
                    uow.commit()
        return follow_ups

    def _deliver(
        self, event: DomainEvent, subscription: Subscription, report: DispatchReport
    ) -> list[DomainEvent]:
        """One attempt of one handler; returns the events the handler raised."""
        now = self._ctx.now()
        error: str | None = None
        with self._ctx.uow_factory() as uow:
            delivery = uow.deliveries.get(event.id, subscription.name)
            if delivery is not None and not delivery.is_due(now):
                report.add("skipped")
                return []
            attempts = delivery.attempts if delivery else 0
            context = HandlerContext(uow, now, attempts + 1)
            try:
                # A retry asks ``when`` again: an event it now leaves out is done with.
                if subscription.wants(event):
                    subscription.handler(event, context)
            except Exception as exc:  # a handler's failure is recorded, never propagated
                error = f"{type(exc).__name__}: {exc}"
                _log.warning(
                    "handler %s failed on %s %s (attempt %d): %s",
                    subscription.name,
                    event.name,
                    event.id,
                    context.attempt,
                    error,
                )
            if error is None:
                if delivery is None:
                    delivery = Delivery(event.id, subscription.name)
                    uow.deliveries.add(delivery)
                else:
                    # A dispatcher retrying it at the same time may have stored its
                    # outcome first: then this one's writes are dropped.
                    delivery = uow.deliveries.claim_retry(
                        event.id, subscription.name, attempts=attempts
                    )
                    if delivery is None:
                        report.add("skipped")
                        return []
                delivery.succeed(now)
                try:
                    uow.commit()
                except DuplicateError as exc:
                    if exc.entity != _DELIVERY:
                        error = f"{type(exc).__name__}: {exc}"
                    else:  # Another dispatcher made the first attempt at the same time.
                        report.add("skipped")
                        return []
                except ConflictError as exc:
                    # The handler's own writes clash with what is stored (a stale
                    # version, say): its failure, retried like any other.
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    report.add("applied")
                    return context.emitted
        assert error is not None
        self._record_failure(event, subscription, error, now, report, attempts=attempts)
        return []

    def _record_failure(
        self,
        event: DomainEvent,
        subscription: Subscription,
        error: str,
        now: datetime,
        report: DispatchReport,
        *,
        attempts: int,
    ) -> None:
        """Count the failed attempt, unless another dispatcher's outcome of the same
        attempt was stored first."""
        with self._ctx.uow_factory() as uow:
            if attempts:
                delivery = uow.deliveries.claim_retry(
                    event.id, subscription.name, attempts=attempts
                )
            elif uow.deliveries.get(event.id, subscription.name) is None:
                delivery = Delivery(event.id, subscription.name)
                uow.deliveries.add(delivery)
            else:  # another dispatcher stored the first attempt's outcome first
                delivery = None
            if delivery is None:
                report.add("skipped")
                return
            delivery.fail(error, now, self.retry_policy)
            try:
                uow.commit()
            except ConflictError:  # pragma: no cover - a racing dispatcher recorded it
                report.add("skipped")
                return
        report.add("gave_up" if delivery.status is DeliveryStatus.GAVE_UP else "failed")


class OutboxRelay:
    """Publishes outbox events to a broker, in outbox order, each once it is accepted.

    A publisher that is also a :class:`~bookingcore.ports.SerializedEventPublisher`
    gets the messages as stored (``publish_serialized``), with no typed event
    rebuilt in between; any other gets :class:`~bookingcore.domain.OutboxMessage` s.

    Raises:
        ValidationError: on field ``outbox_relayed`` when the core's settings do not
            say it relays (``Settings(outbox_relayed=True)``): pruning would
            otherwise delete messages the relay has not published yet.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 refused unless ``Settings.outbox_relayed``.
    """

    def __init__(
        self, context: ServiceContext, publisher: EventPublisher | SerializedEventPublisher
    ) -> None:
        if not context.settings.outbox_relayed:
            msg = (
                "this core is not set up to relay its outbox: pass "
                "Settings(outbox_relayed=True) in every process, so that pruning keeps "
                "unpublished messages"
            )
            raise ValidationError.single("outbox_relayed", msg, "not_relayed")
        self._ctx = context
        self._publisher = publisher

    def relay(self, *, limit: int = 100) -> int:
        """Publish up to ``limit`` unpublished events; returns how many.

        If the publisher raises, nothing is marked published and the error
        propagates; the next run sends the same events again (consumers
        deduplicate by event id). Relays running at once claim different
        events (on stores with row locks).

        Raises:
            ValidationError: on ``limit`` when it is not a whole number from 1 to
                :data:`MAX_BATCH`.
        """
        limit = bounded_count(limit, "limit", minimum=1, maximum=MAX_BATCH)
        observer = self._ctx.observer
        if observer is None:
            return self._relay(limit)
        started = time.perf_counter()
        try:
            published = self._relay(limit)
        except Exception:
            observer.outbox_relayed(
                outcome="failed", messages=0, seconds=time.perf_counter() - started
            )
            raise
        observer.outbox_relayed(
            outcome="published", messages=published, seconds=time.perf_counter() - started
        )
        return published

    def _relay(self, limit: int) -> int:
        publisher = self._publisher
        with self._ctx.uow_factory() as uow:
            if isinstance(publisher, SerializedEventPublisher):
                # The broker takes JSON: the rows' JSON, claimed and marked in one step.
                serialized = uow.outbox.claim_to_publish(limit, self._ctx.now())
                if not serialized:
                    return 0
                publisher.publish_serialized(serialized)  # raises: the rollback unmarks them
                uow.commit()
                return len(serialized)
            messages = uow.outbox.claim_unpublished(limit)
            if not messages:
                return 0
            publisher.publish(messages)
            uow.outbox.mark_published([message.id for message in messages], self._ctx.now())
            uow.commit()
            return len(messages)
