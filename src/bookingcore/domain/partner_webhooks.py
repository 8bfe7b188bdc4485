"""Partner webhooks on booking events: what is sent, to whom, and how it went.

A partner subscribes, in its settings, to some of the booking topics of
:class:`WebhookTopic` (all of them unless :data:`WEBHOOK_EVENTS_SETTING` says
otherwise) and picks how its webhooks are signed (:data:`WEBHOOK_SCHEME_SETTING`:
the Standard Webhooks headers by default, the older ``X-Bookingcore-Signature``
header, or both).

For every committed booking event of a partner's booking and every topic the
partner subscribed to, one :class:`WebhookDelivery` is scheduled. Its id, and
its ``webhook_id`` (``msg_`` and 32 hex digits), derive from the event, the
partner and the topic, so scheduling it twice finds the first, and every
attempt carries the same ``webhook-id``: receivers drop duplicates by it. The
body is fixed when the delivery is scheduled; the URL, signing secret and
subscriptions are read from the partner at each attempt, so a changed URL or a
rotated secret applies to retries, and a topic the partner unsubscribed from
since is not sent any more.

Each attempt leaves a :class:`WebhookAttempt` (status code, latency, error).
Failures are retried with exponential backoff and jitter
(:class:`WebhookRetryPolicy`); after ``max_attempts`` failures the delivery is
``dead`` until staff re-send it.

Times are passed in and randomness too: nothing here reads a clock or a random source.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs

from bookingcore.domain.events import (
    BookingCreated,
    BookingPaid,
    BookingRescheduled,
    BookingStatusChanged,
    DomainEvent,
)
from bookingcore.domain.values import BookingId, PartnerId, Versioned
from bookingcore.errors import ValidationError

__all__ = [
    "PAYMENT_METADATA_KEY",
    "WEBHOOK_EVENTS_SETTING",
    "WEBHOOK_SCHEME_SETTING",
    "SignatureScheme",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookRetryPolicy",
    "WebhookTopic",
    "is_public_address",
    "literal_address",
    "parse_webhook_scheme",
    "parse_webhook_topics",
    "redact_url_password",
    "topics_for",
]

#: Partner setting: the topics it wants, comma-separated (``"booking.created, booking.paid"``);
#: unset, every topic; ``"none"``, none.
WEBHOOK_EVENTS_SETTING = "webhook_events"

#: Partner setting: how its webhooks are signed: ``standard`` (the default),
#: ``bookingcore`` (the ``X-Bookingcore-Signature`` header) or ``both``.
WEBHOOK_SCHEME_SETTING = "webhook_scheme"

#: The metadata key a payment's status change carries (the payment's id): it makes the
#: move a ``booking.paid``.
PAYMENT_METADATA_KEY = "payment_id"

_CONFIRMED_STATES = frozenset({"confirmed", "supplier_confirmed", "payment_confirmed"})
_RESCHEDULED_STATES = frozenset({"rescheduled"})
_MAX_TEXT = 2000


#: ``scheme://user:`` then the password up to the last ``@`` of the authority.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*:)(?P<password>[^/?#\s]*)@"
)
_MASK = "***"
#: Shorter passwords are only masked where they stand in a URL, not anywhere in a text.
_MIN_LOOSE_PASSWORD = 4


def redact_url_password(text: str, url: str | None = None) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    ``https://user:secret@host/hook`` reads ``https://user:***@host/hook``; a URL
    with no password, and any other text, stay as they are. When ``url`` is given
    (the URL sent to), its password is also masked wherever else it shows in
    ``text`` as it is or percent-decoded (an error message quoting it), unless it
    is shorter than four characters.

    What a partner's webhook attempts log, and the errors and log records about
    them, go through it: the webhook is sent to the URL as configured, but its
    password is shown to no one.

    .. versionadded:: 0.4
    """
    redacted = _URL_PASSWORD.sub(lambda m: f"{m['head']}{_MASK}@", text)
    if url is None:
        return redacted
    for match in _URL_PASSWORD.finditer(url):
        raw = match["password"]
        for password in {raw, unquote(raw)}:
            if len(password) >= _MIN_LOOSE_PASSWORD:
                redacted = redacted.replace(password, _MASK)
    return redacted


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` (a URL's host, brackets allowed) names literally, or
    ``None`` for a host name.

    Besides the usual forms (``203.0.113.7``, ``::1``) the older IPv4 forms that
    resolvers still accept count too, since a request to them reaches that address:
    ``127.1``, ``2130706433``, ``0x7f.0.0.1``, and a fully qualified
    ``169.254.169.254.`` (a trailing dot). Nothing is looked up.

    .. versionadded:: 0.4
    """
    text = host.strip().removeprefix("[").removesuffix("]")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]  # the root of the DNS: the same host
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if not text or not all(part.isalnum() for part in text.split(".")):
        return None
    try:  # the numbers-and-dots forms of inet_aton(3): parsing only, no lookup
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address on the public internet, the only kind partner webhooks
    are sent to unless the host allows others.

    False for loopback (``127.0.0.0/8``, ``::1``), private (RFC 1918: ``10/8``,
    ``172.16/12``, ``192.168/16``), shared (``100.64/10``), link-local
    (``169.254/16``, where clouds serve instance metadata at ``169.254.169.254``;
    ``fe80::/10``), unique-local IPv6 (``fc00::/7``), site-local, multicast,
    unspecified, reserved and documentation addresses. An IPv4-mapped or
    IPv4-compatible IPv6 address (``::ffff:127.0.0.1``) is judged by the IPv4
    address it carries.

    .. versionadded:: 0.4
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif int(address) >> 32 == 0:  # ::a.b.c.d, the deprecated IPv4-compatible form
            address = ipaddress.IPv4Address(int(address))
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


class WebhookTopic(enum.StrEnum):
    """The booking events a partner may subscribe to.

    .. versionadded:: 0.2
    """

    BOOKING_CREATED = "booking.created"
    BOOKING_CONFIRMED = "booking.confirmed"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_RESCHEDULED = "booking.rescheduled"
    BOOKING_PAID = "booking.paid"


class SignatureScheme(enum.StrEnum):
    """How a partner's webhooks are signed.

    ``standard``: the Standard Webhooks headers (``webhook-id``,
    ``webhook-timestamp``, ``webhook-signature``); ``bookingcore``: the
    ``X-Bookingcore-Signature`` header of :mod:`bookingcore.domain.webhooks`
    (and ``webhook-id``); ``both``: all of them.

    .. versionadded:: 0.2
    """

    STANDARD = "standard"
    BOOKINGCORE = "bookingcore"
    BOTH = "both"


def parse_webhook_topics(text: str | None) -> frozenset[WebhookTopic]:
    """The topics a :data:`WEBHOOK_EVENTS_SETTING` value names (every topic for ``None``).

    Raises:
        ValidationError: on ``settings.webhook_events`` for an unknown topic.
    """
    if text is None or not text.strip():
        return frozenset(WebhookTopic)
    if text.strip().lower() == "none":
        return frozenset()
    topics: set[WebhookTopic] = set()
    for part in text.split(","):
        name = part.strip().lower()
        try:
            topics.add(WebhookTopic(name))
        except ValueError:
            known = ", ".join(t.value for t in WebhookTopic)
            msg = f"{name!r} is not a webhook topic (one of {known}, or 'none')"
            raise ValidationError.single(
                f"settings.{WEBHOOK_EVENTS_SETTING}", msg, "invalid_choice"
            ) from None
    return frozenset(topics)


def parse_webhook_scheme(text: str | None) -> SignatureScheme:
    """The scheme a :data:`WEBHOOK_SCHEME_SETTING` value names (``standard`` for ``None``).

    Raises:
        ValidationError: on ``settings.webhook_scheme`` for an unknown scheme.
    """
    if text is None or not text.strip():
        return SignatureScheme.STANDARD
    try:
        return SignatureScheme(text.strip().lower())
    except ValueError:
        msg = "must be 'standard', 'bookingcore' or 'both'"
        raise ValidationError.single(
            f"settings.{WEBHOOK_SCHEME_SETTING}", msg, "invalid_choice"
        ) from None


def topics_for(event: DomainEvent, *, cancelled_state: str | None) -> tuple[WebhookTopic, ...]:
    """The webhook topics a booking event stands for (none for other events).

    A :class:`~bookingcore.domain.events.BookingCreated` is ``booking.created``.
    A :class:`~bookingcore.domain.events.BookingStatusChanged` is
    ``booking.cancelled`` when it moves to ``cancelled_state`` (the booking
    lifecycle's cancelled state), ``booking.paid`` when a payment moved it
    (its metadata has :data:`PAYMENT_METADATA_KEY`), ``booking.confirmed`` when
    it moves to ``confirmed``, ``supplier_confirmed`` or ``payment_confirmed``
    (any case), and ``booking.rescheduled`` when it moves to ``rescheduled``. A
    payment that confirms a booking is both paid and confirmed: two topics. A
    :class:`~bookingcore.domain.events.BookingRescheduled` (the booking moved to
    another slot, or its slot's departure moved) is ``booking.rescheduled``. A
    :class:`~bookingcore.domain.events.BookingPaid` (a payment covered the total
    of a booking that stayed where it was, confirmed before the money came) is
    ``booking.paid``.

    .. versionadded:: 0.2
    .. versionchanged:: 0.4
       ``BookingRescheduled`` is ``booking.rescheduled``; ``BookingPaid`` is
       ``booking.paid``.
    """
    if isinstance(event, BookingCreated):
        return (WebhookTopic.BOOKING_CREATED,)
    if isinstance(event, BookingPaid):
        return (WebhookTopic.BOOKING_PAID,)
    if isinstance(event, BookingRescheduled):
        return (WebhookTopic.BOOKING_RESCHEDULED,)
    if not isinstance(event, BookingStatusChanged):
        return ()
    target = event.to_status
    if cancelled_state is not None and target == cancelled_state:
        return (WebhookTopic.BOOKING_CANCELLED,)
    topics: list[WebhookTopic] = []
    if PAYMENT_METADATA_KEY in event.metadata:
        topics.append(WebhookTopic.BOOKING_PAID)
    if target.lower() in _CONFIRMED_STATES:
        topics.append(WebhookTopic.BOOKING_CONFIRMED)
    if target.lower() in _RESCHEDULED_STATES:
        topics.append(WebhookTopic.BOOKING_RESCHEDULED)
    return tuple(topics)


def _real(value: object) -> bool:
    """True for an int or float that is finite (never a bool)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not _real(value) or not 0 <= value <= 1:
        raise ValidationError.single(attribute.name, "must be between 0 and 1", "out_of_range")


@attrs.frozen
class WebhookRetryPolicy:
    """When a failed webhook is tried again, and when it is given up.

    The wait after the n-th failure is ``first_delay * factor ** (n - 1)``,
    capped at ``max_delay``, then spread by ``jitter``: multiplied by a factor
    drawn evenly from ``[1 - jitter, 1 + jitter]`` (still capped), so partners
    that were down together are not all retried in the same second. After
    ``max_attempts`` failed attempts the delivery is dead.

    The defaults (8 attempts, 30 s, factor 3, capped at 6 h) retry for about
    nine hours: 30 s, 1.5 min, 4.5 min, 13.5 min, 40.5 min, 2 h, 6 h.

    Raises:
        ValidationError: ``max_attempts`` not a whole number of at least 1,
            a delay that is not a positive ``timedelta``, a factor that is
            not a finite number of at least 1, or a jitter that is not a
            number in ``[0, 1]``.

    .. versionadded:: 0.2
    """

    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=30)
    factor: float = 3.0
    max_delay: timedelta = timedelta(hours=6)
    jitter: float = attrs.field(default=0.2, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        attempts: object = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            msg = "must be a whole number of at least 1"
            raise ValidationError.single("max_attempts", msg, "too_small")
        for name in ("first_delay", "max_delay"):
            if not isinstance(getattr(self, name), timedelta):
                raise ValidationError.single(name, "must be a timedelta", "invalid_type")
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            msg = "the first delay must be positive and no longer than the maximum delay"
            raise ValidationError.single("first_delay", msg, "invalid")
        if not _real(self.factor) or self.factor < 1:
            msg = "must be a finite number of at least 1"
            raise ValidationError.single("factor", msg, "too_small")

    def delay(self, failures: int, draw: float) -> timedelta:
        """The wait after the ``failures``-th failure, for a ``draw`` in ``[0, 1)``.

        ``draw`` 0.5 gives the plain exponential delay; 0 and 1 its jittered ends.
        """
        cap = self.max_delay.total_seconds()
        try:
            base = self.first_delay.total_seconds() * self.factor ** max(failures - 1, 0)
        except OverflowError:
            base = cap
        spread = 1 + self.jitter * (2 * min(max(draw, 0.0), 1.0) - 1)
        return timedelta(seconds=min(min(base, cap) * spread, cap))


class WebhookDeliveryStatus(enum.StrEnum):
    """Where a webhook delivery is.

    .. versionadded:: 0.2
    """

    #: waiting for its first attempt or a retry (or being sent right now)
    PENDING = "pending"
    DELIVERED = "delivered"
    #: failed ``max_attempts`` times, or could never succeed; staff may re-send it
    DEAD = "dead"


def _payload(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@attrs.define(slots=False, kw_only=True)
class WebhookDelivery(Versioned):
    """One webhook for one partner about one booking event and topic.

    ``attempts`` counts every attempt ever made (the attempt log's numbers);
    ``failures`` the failed attempts since it was scheduled or last re-sent,
    which decide the backoff and when it is dead. ``claimed_until`` is set
    while a worker sends it: nobody else takes it before then. A claim still
    set after its lease ran out was never answered (the worker died): it is
    a failed attempt too (:meth:`lost_attempt`), so a webhook that kills its
    worker every time still ends dead.

    .. versionadded:: 0.2
    """

    id: UUID
    webhook_id: str
    partner_id: PartnerId
    event_id: UUID
    topic: WebhookTopic = attrs.field(converter=WebhookTopic)
    payload: dict[str, Any] = attrs.field(converter=_payload)
    created_at: datetime
    next_attempt_at: datetime
    booking_id: BookingId | None = None
    status: WebhookDeliveryStatus = attrs.field(
        default=WebhookDeliveryStatus.PENDING, converter=WebhookDeliveryStatus
    )
    attempts: int = 0
    failures: int = 0
    claimed_until: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    dead_at: datetime | None = None
    version: int = 1

    entity_name = "webhook_delivery"

    @staticmethod
    def key(event_id: UUID, partner_id: PartnerId, topic: WebhookTopic | str) -> UUID:
        """The id of the delivery of ``event_id`` to ``partner_id`` under ``topic``."""
        return uuid5(NAMESPACE_URL, f"bookingcore:webhook:{event_id}:{partner_id}:{topic}")

    @classmethod
    def schedule(
        cls,
        *,
        event_id: UUID,
        partner_id: PartnerId,
        topic: WebhookTopic,
        payload: Mapping[str, Any],
        now: datetime,
        booking_id: BookingId | None = None,
    ) -> WebhookDelivery:
        """A new delivery, due at ``now``, with its stable ids."""
        ident = cls.key(event_id, partner_id, topic)
        return cls(
            id=ident,
            webhook_id=f"msg_{ident.hex}",
            partner_id=partner_id,
            event_id=event_id,
            topic=topic,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
            booking_id=booking_id,
        )

    def erase(self, placeholder: str) -> bool:
        """Replace the free text of the stored payload with ``placeholder`` (GDPR).

        The library's payloads carry free text in two places: the booking's
        ``cancellation_reason`` and a status change's ``note``; everything else
        is ids, statuses, times and amounts, kept. A re-send sends the erased
        payload. Returns whether anything changed.

        .. versionadded:: 0.3
        """
        data = self.payload.get("data")
        if not isinstance(data, Mapping):
            return False
        erased = dict(data)
        if erased.get("note"):
            erased["note"] = placeholder
        booking = erased.get("booking")
        if isinstance(booking, Mapping) and booking.get("cancellation_reason"):
            erased["booking"] = {**booking, "cancellation_reason": placeholder}
        if erased == data:
            return False
        self.payload = {**self.payload, "data": erased}
        self.version += 1
        return True

    def is_due(self, now: datetime) -> bool:
        """True when it waits for an attempt at ``now`` and nobody is sending it."""
        return (
            self.status is WebhookDeliveryStatus.PENDING
            and self.next_attempt_at <= now
            and (self.claimed_until is None or self.claimed_until <= now)
        )

    def claim(self, now: datetime, lease: timedelta) -> int:
        """Take it for one attempt until ``now + lease``; returns the attempt's number.

        Raises:
            ValidationError: on ``status`` when it is not due at ``now``.
        """
        if not self.is_due(now):
            msg = f"webhook {self.webhook_id} is not due ({self.status.value})"
            raise ValidationError.single("status", msg, "not_due")
        self.attempts += 1
        self.claimed_until = now + lease
        self.version += 1
        return self.attempts

    def lost_attempt(self, now: datetime) -> int | None:
        """The number of the attempt whose claim ran out at ``now`` unanswered, if any.

        A claim is answered by :meth:`succeed`, :meth:`fail` or :meth:`release`,
        which all clear ``claimed_until``; one still set once its lease ran out
        belongs to a worker that never reported back (killed, out of memory, a
        crash while sending). Such an attempt counts as failed
        (:meth:`fail` it) before the delivery is claimed again.

        .. versionadded:: 0.4
        """
        if (
            self.status is WebhookDeliveryStatus.PENDING
            and self.claimed_until is not None
            and self.claimed_until <= now
        ):
            return self.attempts
        return None

    def release(self, attempt: int) -> bool:
        """Give back the claim of attempt ``attempt`` unsent (its lease ran out before its
        turn): due again at once, and not an attempt at all (``attempts`` goes back,
        so the next claim takes the same number). Returns whether it was still the
        claim to give back.

        .. versionadded:: 0.4
        """
        if not self.holds_claim(attempt) or self.claimed_until is None:
            return False
        self.claimed_until = None
        self.attempts -= 1
        self.version += 1
        return True

    def holds_claim(self, attempt: int) -> bool:
        """True while attempt number ``attempt`` is the one that may settle it."""
        return self.attempts == attempt and self.status is WebhookDeliveryStatus.PENDING

    def succeed(self, now: datetime, status_code: int) -> None:
        """The partner answered 2xx."""
        self.status = WebhookDeliveryStatus.DELIVERED
        self.delivered_at = now
        self.last_attempt_at = now
        self.last_status_code = status_code
        self.last_error = None
        self.claimed_until = None
        self.version += 1

    def fail(
        self,
        now: datetime,
        *,
        error: str,
        status_code: int | None,
        policy: WebhookRetryPolicy,
        draw: float,
        retryable: bool = True,
        retry_after: timedelta | None = None,
    ) -> None:
        """An attempt failed: schedule the next one, or die after the last (or a final error).

        The next attempt waits the policy's delay, or ``retry_after`` (what the
        receiver asked for) when that is longer, never more than ``max_delay``.

        .. versionchanged:: 0.4
           ``retry_after``.
        """
        self.failures += 1
        self.last_attempt_at = now
        self.last_status_code = status_code
        self.last_error = error[:_MAX_TEXT]
        self.claimed_until = None
        if not retryable or self.failures >= policy.max_attempts:
            self.status = WebhookDeliveryStatus.DEAD
            self.dead_at = now
        else:
            wait = policy.delay(self.failures, draw)
            if retry_after is not None and retry_after > wait:
                wait = min(retry_after, policy.max_delay)
            self.next_attempt_at = now + wait
        self.version += 1

    def resend(self, now: datetime) -> None:
        """Send it again from now on, with a fresh budget of attempts (staff's re-send).

        A delivered webhook is sent again with the same ``webhook_id``: a
        receiver that kept it drops the copy.

        Raises:
            ValidationError: on ``status`` while it is pending (it will be sent anyway).
        """
        if self.status is WebhookDeliveryStatus.PENDING:
            msg = f"webhook {self.webhook_id} is still pending; it will be sent"
            raise ValidationError.single("status", msg, "pending")
        self.status = WebhookDeliveryStatus.PENDING
        self.failures = 0
        self.next_attempt_at = now
        self.claimed_until = None
        self.dead_at = None
        self.version += 1


@attrs.define(kw_only=True)
class WebhookAttempt:
    """One try at one webhook: when, where, what came back, how long it took.

    ``status_code`` is ``None`` when no HTTP answer came (a timeout, a refused
    connection); ``error`` then says what happened. ``succeeded`` is True for
    a 2xx answer.

    .. versionadded:: 0.2
    """

    id: UUID
    delivery_id: UUID
    number: int
    started_at: datetime
    url: str
    succeeded: bool
    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    @staticmethod
    def key(delivery_id: UUID, number: int) -> UUID:
        """The id of attempt ``number`` of ``delivery_id`` (one row per attempt number)."""
        return uuid5(NAMESPACE_URL, f"bookingcore:webhook-attempt:{delivery_id}:{number}")
