"""Partner webhooks: scheduled from booking events, delivered by a job, logged per attempt.

**Scheduling.** :class:`WebhookService` subscribes one handler,
``partner_webhooks``, to the :class:`~bookingcore.services.EventDispatcher`.
For each committed :class:`~bookingcore.domain.events.BookingCreated`,
:class:`~bookingcore.domain.events.BookingStatusChanged`,
:class:`~bookingcore.domain.events.BookingRescheduled` and
:class:`~bookingcore.domain.events.BookingPaid` of a partner's booking
it adds one :class:`~bookingcore.domain.partner_webhooks.WebhookDelivery` per
topic the partner subscribed to. The event sits in the outbox in the same
transaction as the booking change, and the dispatcher commits the handler's
deliveries together with its own delivery record, so every event schedules
its webhooks once: inline after the commit (``dispatch="inline"``), or when a
worker catches up on the outbox (``core.events.run_pending()``), also after a
process died between the commit and the dispatch. Nothing is sent in the
booking's transaction: no partner's slow endpoint holds up a booking.

**Sending.** :meth:`WebhookService.deliver_due` is the job: it claims due
deliveries (row locks with ``SKIP LOCKED`` on PostgreSQL, so two workers never
take the same one), commits the claim, sends each through the
:class:`~bookingcore.ports.WebhookSender`, and logs the attempt with its
outcome. A claim lasts ``lease``; a worker that dies mid-send leaves the
delivery to be claimed again when the lease ends (a second attempt with the
same ``webhook-id``: the receiver drops the copy). The claim it never answered
counts as a failed attempt, logged as lost, with the backoff after it: a
webhook that kills its worker every time ends dead after ``max_attempts``
like any other failure. Safe to run as often as you like, from as many
workers as you like.

.. versionadded:: 0.2
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import parse_choice
from bookingcore.domain.audit import AuditAction, audit_value
from bookingcore.domain.bookings import Booking
from bookingcore.domain.cancellation import CANCELLATION_METADATA_KEYS, recorded_refund
from bookingcore.domain.events import (
    BookingCreated,
    BookingPaid,
    BookingRescheduled,
    BookingStatusChanged,
    DomainEvent,
)
from bookingcore.domain.partner_webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookRetryPolicy,
    WebhookTopic,
    redact_url_password,
    topics_for,
)
from bookingcore.domain.policy import Principal
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import PartnerId
from bookingcore.errors import ConflictError, NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.ports.webhooks import OutgoingWebhook, WebhookResponse, WebhookSender
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_request,
    fingerprint,
    principal_key,
)
from bookingcore.services.events import EventDispatcher, HandlerContext

__all__ = ["WebhookRunReport", "WebhookService", "WebhookSettings"]

_log = logging.getLogger("bookingcore.webhooks")

#: The name of the dispatcher handler that schedules partner webhooks.
HANDLER_NAME = "partner_webhooks"

#: The answer that ends a delivery at once: the receiver is gone for good.
_GONE = 410

#: The events that may call for partner webhooks.
_SCHEDULING = (BookingCreated, BookingStatusChanged, BookingRescheduled, BookingPaid)


def _positive_time(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        msg = "must be a positive timedelta"
        raise ValidationError.single(attribute.name, msg, "not_positive")


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = "must be a whole number of at least 1"
        raise ValidationError.single(attribute.name, msg, "too_small")


@attrs.frozen
class WebhookSettings:
    """How partner webhooks are retried and sent.

    Args:
        retry: backoff, jitter and the number of attempts before a delivery is dead.
        lease: how long a worker holds the deliveries it claimed (two minutes
            by default). One run sends its claims one after the other, so keep
            ``batch`` times the sender's timeout below it; a claim whose lease
            ran out before its turn is left for the next run, unsent.
        batch: how many deliveries one :meth:`WebhookService.deliver_due` run
            claims at most (10 by default).
        jitter_source: draws the jitter of each retry delay, a float in
            ``[0, 1)`` (``random.random`` by default; tests pass a fixed one,
            e.g. ``lambda: 0.5`` for the plain exponential delays).
        allow_private_addresses: send webhooks to loopback, private, link-local
            and other non-public addresses too (False by default, against
            server-side request forgery: a partner's URL could otherwise reach
            the host's own network or its cloud's metadata service). For tests
            and on-premises hosts whose partners sit on the local network. It
            decides which ``webhook_url`` the partners service accepts, and is
            passed to the sender on each webhook
            (:attr:`~bookingcore.ports.OutgoingWebhook.allow_private_addresses`).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``allow_private_addresses``.
    """

    retry: WebhookRetryPolicy = attrs.Factory(WebhookRetryPolicy)
    lease: timedelta = attrs.field(default=timedelta(minutes=2), validator=_positive_time)
    batch: int = attrs.field(default=10, validator=_positive)
    jitter_source: Callable[[], float] = attrs.field(default=random.random, eq=False)
    allow_private_addresses: bool = False


@attrs.define
class WebhookRunReport:
    """What one :meth:`WebhookService.deliver_due` run did.

    .. versionadded:: 0.2
    """

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    #: attempts whose outcome came after the claim was lost (logged, status untouched)
    late: int = 0
    #: claims not sent because the run's earlier sends outlasted the lease
    expired: int = 0
    #: earlier claims found unanswered after their lease (the worker died), each
    #: logged as a failed attempt; those that made the delivery dead count in ``dead`` too
    #:
    #: .. versionadded:: 0.4
    lost: int = 0


@attrs.frozen
class _Claim:
    delivery_id: UUID
    attempt: int
    webhook: OutgoingWebhook | None
    problem: str | None
    until: datetime
    #: when the partner's previous webhook secret stops signing (None: none kept)
    previous_until: datetime | None = None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def booking_snapshot(booking: Booking) -> dict[str, Any]:
    """The booking as a webhook shows it to its partner (no internal notes)."""
    return {
        "id": str(booking.id),
        "reference": booking.reference,
        "status": booking.status,
        "lifecycle": booking.lifecycle,
        "source": booking.source.value,
        "partner_id": None if booking.partner_id is None else str(booking.partner_id),
        "external_id": booking.external_id,
        "customer_id": str(booking.customer_id),
        "slot_id": str(booking.slot_id),
        "location_id": str(booking.location_id),
        "product_id": None if booking.product_id is None else str(booking.product_id),
        "starts_at": _iso(booking.starts_at),
        "travelers": booking.total_travelers,
        "total": {"amount": str(booking.total.amount), "currency": booking.total.currency},
        "created_at": _iso(booking.created_at),
        "updated_at": _iso(booking.updated_at),
        "cancelled_at": None if booking.cancelled_at is None else _iso(booking.cancelled_at),
        "cancellation_reason": booking.cancellation_reason,
    }


def recorded_terms(metadata: Mapping[str, str]) -> dict[str, Any] | None:
    """The cancellation terms a cancellation's metadata recorded, as webhooks and the
    example host show them: ``{"refund_percent": "50", "refundable": [{"amount":
    "625.00", "currency": "INR"}]}``; None when it recorded none.

    .. versionadded:: 0.4
    """
    recorded = recorded_refund(metadata)
    if recorded is None:
        return None
    _, owed = recorded
    return {
        "refund_percent": metadata[CANCELLATION_METADATA_KEYS[0]],
        "refundable": [{"amount": str(m.amount), "currency": m.currency} for m in owed],
    }


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes sent for ``payload``: JSON with sorted keys, compact, UTF-8 (the same
    bytes on every attempt)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _redacted(response: WebhookResponse, url: str) -> WebhookResponse:
    """``response`` with the password of ``url`` masked in its error and excerpt
    (a sender's error may quote the URL it was given)."""
    error = response.error
    excerpt = response.response_excerpt
    return attrs.evolve(
        response,
        error=None if error is None else redact_url_password(error, url),
        response_excerpt=None if excerpt is None else redact_url_password(excerpt, url),
    )


class WebhookService:
    """Schedule, deliver, list and re-send partner webhooks.

    Args:
        context: the shared :class:`~bookingcore.services.ServiceContext`.
        sender: signs and POSTs webhooks (``HttpxWebhookSender``); without one
            :meth:`deliver_due` refuses to run (and :class:`~bookingcore.BookingCore`
            does not :meth:`install` the scheduling handler).
        settings: retries, lease, batch size and the jitter source.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        context: ServiceContext,
        sender: WebhookSender | None = None,
        *,
        settings: WebhookSettings | None = None,
    ) -> None:
        self._ctx = context
        self._sender = sender
        self.settings = settings or WebhookSettings()

    @property
    def sending(self) -> bool:
        """Whether a sender is wired, so that :meth:`deliver_due` can send (and its job runs)."""
        return self._sender is not None

    # ------------------------------------------------------------------ scheduling

    def install(self, dispatcher: EventDispatcher) -> None:
        """Subscribe the scheduling handler (named ``partner_webhooks``) to ``dispatcher``."""
        dispatcher.subscribe(
            DomainEvent,
            self._handle,
            name=HANDLER_NAME,
            # Only partners' bookings: a direct booking costs the dispatcher nothing here.
            when=lambda event: isinstance(event, _SCHEDULING) and event.partner_id is not None,
        )

    def _handle(self, event: DomainEvent, context: HandlerContext) -> None:
        self.schedule(event, context)

    def schedule(self, event: DomainEvent, context: HandlerContext) -> list[WebhookDelivery]:
        """Add the webhooks ``event`` calls for to ``context.uow``; returns them.

        Nothing for a booking without a partner, an inactive partner, a
        partner without a webhook URL or whose webhook endpoint is disabled
        (it answered ``410 Gone``), or topics it did not subscribe to. A
        delivery scheduled before (a repeated event) is not scheduled again.

        .. versionchanged:: 0.4
           Nothing for a partner whose webhook endpoint is disabled.
        """
        if not isinstance(event, _SCHEDULING):
            return []
        uow = context.uow
        booking = uow.bookings.get(event.booking_id)
        if booking is None or booking.partner_id is None:
            return []
        partner = uow.partners.get(booking.partner_id)
        if partner is None or not partner.is_active or partner.webhooks_disabled:
            return []
        try:
            cancelled = self._ctx.settings.lifecycle(booking.lifecycle).cancelled
        except ValidationError:
            cancelled = None
        wanted = partner.webhook_topics()
        scheduled: list[WebhookDelivery] = []
        for topic in topics_for(event, cancelled_state=cancelled):
            if topic not in wanted:
                continue
            if uow.webhook_deliveries.get(WebhookDelivery.key(event.id, partner.id, topic)):
                continue
            delivery = WebhookDelivery.schedule(
                event_id=event.id,
                partner_id=partner.id,
                topic=topic,
                payload=self._payload(event, topic, booking, Principal.partner(partner.id)),
                now=context.now,
                booking_id=booking.id,
            )
            uow.webhook_deliveries.add(delivery)
            scheduled.append(delivery)
            _log.info(
                "webhook %s scheduled for partner %s (%s)",
                delivery.webhook_id,
                partner.id,
                topic.value,
                extra={"partner": str(partner.id), "booking": str(booking.id)},
            )
        return scheduled

    @staticmethod
    def _payload(
        event: DomainEvent, topic: WebhookTopic, booking: Booking, reader: Principal
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"event_id": str(event.id), "booking": booking_snapshot(booking)}
        if isinstance(event, BookingStatusChanged):
            data["from_status"] = event.from_status
            data["to_status"] = event.to_status
            # Staff notes stay with staff: the partner reads the notes of its own moves only.
            if event.note and policy.sees_move_note(reader, event.actor):
                data["note"] = event.note
            # What the customer is owed, whoever cancelled: the terms the cancellation recorded.
            terms = recorded_terms(event.metadata)
            if terms is not None:
                data["cancellation"] = terms
        elif isinstance(event, BookingRescheduled):
            data["from_slot_id"] = str(event.from_slot_id)
            data["to_slot_id"] = str(event.to_slot_id)
            data["from_starts_at"] = _iso(event.from_starts_at)
            data["to_starts_at"] = _iso(event.to_starts_at)
            if event.note and policy.sees_move_note(reader, event.actor):
                data["note"] = event.note
        elif isinstance(event, BookingPaid):
            data["payment_id"] = str(event.payment_id)
        return {"type": topic.value, "timestamp": _iso(event.occurred_at), "data": data}

    # ------------------------------------------------------------------ delivering

    def deliver_due(
        self, now: datetime | None = None, *, limit: int | None = None
    ) -> WebhookRunReport:
        """Send every webhook due at ``now`` (the clock's time by default), up to ``limit``.

        The job a worker runs every few seconds. Each delivery is claimed in
        a short transaction first, so concurrent runs (threads, processes,
        servers) split the work and never send one attempt twice; then each is
        sent and its attempt logged, delivered, retried later or dead.

        Raises:
            ValidationError: on ``webhook_sender`` when no sender is configured;
                on ``limit`` when it is not a whole number of at least 1.
        """
        if self._sender is None:
            msg = "no webhook sender configured; pass webhook_sender= to BookingCore"
            raise ValidationError.single("webhook_sender", msg, "not_configured")
        given: object = limit  # callers may pass anything
        if given is not None and (
            isinstance(given, bool) or not isinstance(given, int) or given < 1
        ):
            raise ValidationError.single(
                "limit", "must be a whole number of at least 1", "too_small"
            )
        start = now or self._ctx.now()
        report = WebhookRunReport()
        claims = self._claim(start, limit or self.settings.batch, report)
        report.claimed = len(claims)
        gone: set[UUID] = set()  # partners whose endpoint answered 410 in this run
        for claim in claims:
            self._attempt(claim, now, report, gone)
        return report

    def _claim(self, now: datetime, limit: int, report: WebhookRunReport) -> list[_Claim]:
        claims: list[_Claim] = []
        changed = False
        with self._ctx.uow_factory() as uow:
            for delivery in uow.webhook_deliveries.claim_due(now, limit):
                lost = delivery.lost_attempt(now)
                if lost is not None:
                    changed = True
                    self._lost(uow, delivery, lost, report)
                    if not delivery.is_due(now):
                        continue  # dead, or waiting for its backoff
                number = delivery.claim(now, self.settings.lease)
                webhook, problem, previous_until = self._outgoing(uow, delivery, number)
                until = now + self.settings.lease
                claims.append(_Claim(delivery.id, number, webhook, problem, until, previous_until))
            if claims or changed:
                uow.commit()
        return claims

    def _lost(
        self, uow: UnitOfWork, delivery: WebhookDelivery, number: int, report: WebhookRunReport
    ) -> None:
        """Attempt ``number`` was claimed and never answered: log it and count it as failed.

        It failed when its lease ran out; its start is read back from this worker's lease.
        """
        ran_out = delivery.claimed_until
        assert ran_out is not None
        lease = self.settings.lease
        error = (
            "the worker never reported back: its lease ran out at "
            f"{_iso(ran_out)} without an answer recorded (killed, out of memory or "
            "crashed while sending?)"
        )
        partner = uow.partners.get(delivery.partner_id)
        logged = uow.webhook_attempts.list_for_delivery(delivery.id)
        if all(a.number != number for a in logged):  # else its answer came after all
            uow.webhook_attempts.add(
                WebhookAttempt(
                    id=WebhookAttempt.key(delivery.id, number),
                    delivery_id=delivery.id,
                    number=number,
                    started_at=ran_out - lease,
                    url=redact_url_password(partner.webhook_url or "")
                    if partner is not None
                    else "",
                    succeeded=False,
                    latency_ms=int(lease.total_seconds() * 1000),
                    error=error,
                )
            )
        delivery.fail(
            ran_out,
            error=error,
            status_code=None,
            policy=self.settings.retry,
            draw=self.settings.jitter_source(),
        )
        dead = delivery.status is WebhookDeliveryStatus.DEAD
        report.lost += 1
        report.dead += int(dead)
        _log.warning(
            "webhook %s attempt %d: lost, %s",
            delivery.webhook_id,
            number,
            "dead" if dead else "retrying",
            extra={
                "partner": str(delivery.partner_id),
                "booking": None if delivery.booking_id is None else str(delivery.booking_id),
                "attempt": number,
                "job": "webhooks.deliver_due",
            },
        )

    def _outgoing(
        self, uow: UnitOfWork, delivery: WebhookDelivery, attempt: int
    ) -> tuple[OutgoingWebhook | None, str | None, datetime | None]:
        """The webhook to send, or why none can be; and until when a kept previous
        signing secret signs too."""
        partner = uow.partners.get(delivery.partner_id)
        if partner is None:
            return None, "the partner no longer exists", None
        if not partner.is_active:
            return None, "the partner is inactive", None
        if not partner.webhook_url:
            return None, "the partner has no webhook URL", None
        if partner.webhook_disabled_at is not None:
            since = _iso(partner.webhook_disabled_at)
            why = partner.webhook_disabled_reason or "disabled"
            return None, f"the partner's webhook endpoint is disabled since {since}: {why}", None
        if delivery.topic not in partner.webhook_topics():
            return None, f"the partner no longer subscribes to {delivery.topic.value}", None
        if not partner.webhook_secret:
            return None, "the partner has no webhook signing secret; rotate it", None
        previous = partner.previous_webhook_secret_at(self._ctx.now())
        return (
            OutgoingWebhook(
                webhook_id=delivery.webhook_id,
                url=partner.webhook_url,
                body=webhook_body(delivery.payload),
                timestamp=self._ctx.now(),
                secret=partner.webhook_secret,
                scheme=partner.webhook_scheme(),
                partner_id=partner.id,
                topic=delivery.topic.value,
                attempt=attempt,
                previous_secret=previous,
                allow_private_addresses=self.settings.allow_private_addresses,
            ),
            None,
            None if previous is None else partner.previous_webhook_secret_expires_at,
        )

    def _attempt(
        self, claim: _Claim, now: datetime | None, report: WebhookRunReport, gone: set[UUID]
    ) -> None:
        sending_at: datetime | None = None
        if claim.webhook is None:
            response = WebhookResponse(None, 0, error=claim.problem, retryable=False)
            url = ""
        elif claim.webhook.partner_id in gone:
            # Claimed before the endpoint answered 410 Gone earlier in this run.
            error = "the partner's webhook endpoint is disabled: it answered 410 Gone"
            response = WebhookResponse(None, 0, error=error, retryable=False)
            url = ""
        else:
            assert self._sender is not None
            # Sent to the URL as configured; logged with its password masked.
            url = redact_url_password(claim.webhook.url)
            sending_at = self._ctx.now()
            if sending_at >= claim.until:
                # Earlier sends of this run used up the lease: another worker may hold it now.
                report.expired += 1
                self._release(claim)
                return
            # Signed now, not at the claim: receivers check webhook-timestamp against their clock.
            webhook = attrs.evolve(claim.webhook, timestamp=sending_at)
            if claim.previous_until is not None and sending_at >= claim.previous_until:
                # The previous secret's grace period ended while this claim waited its turn.
                webhook = attrs.evolve(webhook, previous_secret=None)
            try:
                response = self._sender.send(webhook)
            except Exception as exc:  # a sender's bug must not lose the attempt's record
                text = f"{type(exc).__name__}: {exc}"
                shown = redact_url_password(text, webhook.url)
                # The traceback is left out when the error quotes the URL's password.
                _log.error(
                    "webhook sender failed on %s: %s",
                    webhook.webhook_id,
                    shown,
                    exc_info=exc if shown == text else None,
                )
                response = WebhookResponse(None, 0, error=text)
            response = _redacted(response, webhook.url)
            if response.status_code == _GONE and webhook.partner_id is not None:
                gone.add(webhook.partner_id)
        # The caller's time when it gave one; else the clock's, after the send (and
        # the attempt's start: when the send began).
        at = now or self._ctx.now()
        started = now or sending_at or at
        for _ in range(2):
            try:
                outcome = self._settle(claim, at, url, response, started)
            except ConflictError:
                continue  # someone re-sent or re-claimed it meanwhile: read it again
            break
        else:  # pragma: no cover - two conflicts in a row
            outcome = "late"
        setattr(report, outcome, getattr(report, outcome) + 1)

    def _release(self, claim: _Claim) -> None:
        """Give back a claim left unsent, unless another worker took it over meanwhile
        (which then logs it as a lost attempt)."""
        try:
            with self._ctx.uow_factory() as uow:
                delivery = uow.webhook_deliveries.get(claim.delivery_id)
                if delivery is not None and delivery.release(claim.attempt):
                    uow.commit()
        except ConflictError:
            pass  # taken over meanwhile

    def _settle(
        self,
        claim: _Claim,
        now: datetime,
        url: str,
        response: WebhookResponse,
        started: datetime,
    ) -> str:
        with self._ctx.transaction() as tx:
            uow = tx.uow
            delivery = uow.webhook_deliveries.get(claim.delivery_id)
            if delivery is None:  # pragma: no cover - deliveries are never deleted
                return "late"
            attempt = WebhookAttempt(
                id=WebhookAttempt.key(delivery.id, claim.attempt),
                delivery_id=delivery.id,
                number=claim.attempt,
                started_at=started,
                url=url,
                succeeded=response.succeeded,
                latency_ms=response.latency_ms,
                status_code=response.status_code,
                error=None if response.succeeded else (response.error or "failed"),
                response_excerpt=response.response_excerpt,
            )
            held = delivery.holds_claim(claim.attempt)
            # A late answer finds its attempt logged as lost by the worker that took
            # over: what really happened replaces that guess (the delivery stays as it is).
            logged = None
            if not held:
                logged = next(
                    (
                        a
                        for a in uow.webhook_attempts.list_for_delivery(delivery.id)
                        if a.number == claim.attempt
                    ),
                    None,
                )
            if logged is None:
                uow.webhook_attempts.add(attempt)
            else:
                for field in attrs.fields(WebhookAttempt):
                    setattr(logged, field.name, getattr(attempt, field.name))
            outcome = "late"
            if held:
                if response.succeeded:
                    assert response.status_code is not None
                    delivery.succeed(now, response.status_code)
                    outcome = "delivered"
                else:
                    delivery.fail(
                        now,
                        error=response.error or f"HTTP {response.status_code}",
                        status_code=response.status_code,
                        policy=self.settings.retry,
                        draw=self.settings.jitter_source(),
                        # 410 Gone: the receiver wants no more (Standard Webhooks).
                        retryable=response.retryable and response.status_code != _GONE,
                        retry_after=response.retry_after,
                    )
                    dead = delivery.status is WebhookDeliveryStatus.DEAD
                    outcome = "dead" if dead else "retrying"
                    if response.status_code == _GONE and claim.webhook is not None:
                        self._disable_endpoint(tx, delivery, claim.webhook.url, url, now)
            tx.commit()
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        _log.log(
            level,
            "webhook %s attempt %d: %s (%s, %d ms)",
            delivery.webhook_id,
            claim.attempt,
            outcome,
            response.status_code if response.status_code is not None else response.error,
            response.latency_ms,
            extra={
                "partner": str(delivery.partner_id),
                "booking": None if delivery.booking_id is None else str(delivery.booking_id),
                "attempt": claim.attempt,
                "job": "webhooks.deliver_due",
            },
        )
        return outcome

    def _disable_endpoint(
        self, tx: Transaction, delivery: WebhookDelivery, sent_to: str, shown: str, now: datetime
    ) -> None:
        """The receiver at ``sent_to`` answered 410 Gone: disable the partner's webhook
        endpoint, unless its URL changed since (the new one was not asked) or it is
        disabled already; audited as the system's doing."""
        partner = tx.uow.partners.get(delivery.partner_id)
        if partner is None or partner.webhook_url != sent_to:
            return
        reason = f"{shown} answered 410 Gone to webhook {delivery.webhook_id}"
        if not partner.disable_webhooks(now, reason):
            return
        partner.version += 1
        assert partner.webhook_disabled_at is not None
        tx.audit(
            Principal.system("webhooks"),
            entity="partner",
            entity_id=partner.id,
            action=AuditAction.UPDATED,
            old={"webhook_disabled_at": None, "webhook_disabled_reason": None},
            new={
                "webhook_disabled_at": audit_value(partner.webhook_disabled_at),
                "webhook_disabled_reason": partner.webhook_disabled_reason,
            },
            reason="webhook endpoint disabled: it answered 410 Gone",
        )
        _log.warning(
            "partner %s: webhook endpoint disabled, %s",
            partner.id,
            reason,
            extra={"partner": str(partner.id), "job": "webhooks.deliver_due"},
        )

    # ------------------------------------------------------------------ staff and partners

    def resend(
        self, delivery_id: UUID, *, principal: Principal, idempotency_key: str | None = None
    ) -> WebhookDelivery:
        """Send a delivered or dead webhook again, with a fresh budget of attempts.

        It is due at once; the next :meth:`deliver_due` sends it, with the
        same ``webhook-id``. The re-send leaves an audit entry (entity
        ``webhook_delivery``, the delivery's id; old and new status, reason
        ``re-sent``, who asked).

        A retry with the same ``idempotency_key`` and the same request (the
        delivery) returns the delivery as it is now and re-sends nothing more:
        not a ``ValidationError`` while it is still pending, nor a second
        redelivery once the first went out. The key's claim, written with the
        re-send, is all that remembers it.

        Raises:
            PermissionDeniedError: only staff who manage partners or change
                every booking (and the system) re-send webhooks.
            NotFoundError: no such delivery.
            ValidationError: on ``status`` when it is still pending; on
                ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; the re-send is audited.
        """
        policy.require(
            policy.may_resend_partner_webhooks(principal),
            f"{principal} may not re-send partner webhooks",
        )
        key = principal_key(principal, idempotency_key)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            fresh = True
            if key is not None:
                asked = fingerprint("webhook_resend", principal, delivery_id=delivery_id)
                _, fresh = claim_request(uow, key, "webhook_resend", self._ctx.now(), asked)
            delivery = uow.webhook_deliveries.get(delivery_id)
            if delivery is None:
                raise NotFoundError("webhook_delivery", delivery_id)
            if not fresh:
                return delivery
            before = delivery.status.value
            delivery.resend(self._ctx.now())
            tx.audit(
                principal,
                entity="webhook_delivery",
                entity_id=delivery.id,
                action=AuditAction.UPDATED,
                old={"status": before},
                new={"status": delivery.status.value},
                reason="re-sent",
            )
            tx.commit()
        _log.info(
            "webhook %s re-sent by %s",
            delivery.webhook_id,
            principal,
            extra={"partner": str(delivery.partner_id)},
        )
        return delivery

    def list(
        self,
        *,
        principal: Principal,
        partner_id: PartnerId | None = None,
        status: WebhookDeliveryStatus | str | None = None,
        page: PageRequest | None = None,
    ) -> Page[WebhookDelivery]:
        """Webhook deliveries newest first: staff see every partner's (or one's), a
        partner only its own (whatever ``partner_id`` it asks for).

        Raises:
            PermissionDeniedError: ``principal`` is neither a partner nor staff
                who see all bookings or manage partners.
            ValidationError: an unknown ``status``.
        """
        if principal.is_partner():
            partner_id = PartnerId(_partner_id(principal))
        policy.require(
            policy.can_view_partner_webhooks(principal),
            f"{principal} may not list partner webhooks",
        )
        wanted = (
            None
            if status is None
            else parse_choice(WebhookDeliveryStatus, status, "status", what="a delivery status")
        )
        with self._ctx.uow_factory() as uow:
            return uow.webhook_deliveries.list(
                page or PageRequest(), partner_id=partner_id, status=wanted
            )

    def get(self, delivery_id: UUID, *, principal: Principal) -> WebhookDelivery:
        """One delivery, for staff who see all or its own partner.

        Raises:
            NotFoundError: no such delivery visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            delivery = uow.webhook_deliveries.get(delivery_id)
        if delivery is None or not policy.can_view_partner_webhooks(principal, delivery.partner_id):
            raise NotFoundError("webhook_delivery", delivery_id)
        return delivery

    def attempts(self, delivery_id: UUID, *, principal: Principal) -> Sequence[WebhookAttempt]:
        """A delivery's attempt log, first attempt first.

        Raises:
            NotFoundError: no such delivery visible to ``principal``.
        """
        self.get(delivery_id, principal=principal)
        with self._ctx.uow_factory() as uow:
            return uow.webhook_attempts.list_for_delivery(delivery_id)


def _partner_id(principal: Principal) -> UUID:
    """The principal's id (partners always have one)."""
    assert principal.id is not None
    return principal.id
