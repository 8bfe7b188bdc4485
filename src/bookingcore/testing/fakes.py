"""Deterministic stand-ins for the clock, id, notifier and publisher ports, for your tests and ours.

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from bookingcore.domain.events import OutboxMessage
from bookingcore.errors import DeliveryError, RecipientGoneError
from bookingcore.ports.messaging import OutgoingMessage, SendReceipt
from bookingcore.ports.webhooks import OutgoingWebhook, WebhookResponse

__all__ = [
    "FixedClock",
    "RecordingNotifier",
    "RecordingPublisher",
    "RecordingWebhookSender",
    "SequentialIds",
]


class FixedClock:
    """A clock that stands still until you move it.

    .. versionadded:: 0.1
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            msg = "FixedClock needs a timezone-aware start"
            raise ValueError(msg)

    def now(self) -> datetime:
        """The time the clock was set to."""
        return self._now

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**units)``; return the new time."""
        self._now += delta if delta is not None else timedelta(**units)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware)."""
        self._now = moment


class SequentialIds:
    """Ids that count up: ``00000000-...-000000000001``, ``BK-000001``, ``pk_000001``.

    Thread-safe, so concurrent tests still get unique values.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _next(self) -> int:
        with self._lock:
            return next(self._counter)

    def new_id(self) -> UUID:
        """The next UUID in sequence."""
        return UUID(int=self._next())

    def new_reference(self) -> str:
        """The next reference, ``BK-`` and six digits."""
        return f"BK-{self._next():06d}"

    def new_token(self, prefix: str) -> str:
        """The next token, ``prefix`` and six digits."""
        return f"{prefix}{self._next():06d}"


class RecordingNotifier:
    """A :class:`~bookingcore.ports.Notifier` that keeps what it was asked to send.

    ``fail_next(n, reason)`` makes the next ``n`` sends raise
    :class:`~bookingcore.errors.DeliveryError` (retryable, as a gateway timeout is;
    ``retryable=False`` for a refusal that cannot work later); provider ids are
    ``msg-1``, ``msg-2``...
    A send to a recipient in :attr:`gone` (a push token the push service
    forgot) raises :class:`~bookingcore.errors.RecipientGoneError`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       :attr:`gone`.
    .. versionchanged:: 0.4
       ``fail_next(retryable=...)``.
    """

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.attempts = 0
        #: recipients the channel no longer knows (push tokens of uninstalled apps)
        self.gone: set[str] = set()
        self._failures: list[tuple[str, bool]] = []
        self._lock = threading.Lock()

    def fail_next(
        self, times: int = 1, reason: str = "gateway unavailable", *, retryable: bool = True
    ) -> None:
        """Make the next ``times`` sends fail with ``reason``: a
        :class:`~bookingcore.errors.DeliveryError` that may work later
        (``retryable``, the default), or one that cannot (an invalid number).

        .. versionchanged:: 0.4
           ``retryable``.
        """
        with self._lock:
            self._failures.extend([(reason, retryable)] * times)

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Record ``message`` (or fail, if told to)."""
        with self._lock:
            self.attempts += 1
            if self._failures:
                reason, retryable = self._failures.pop(0)
                raise DeliveryError(reason, channel=message.channel.value, retryable=retryable)
            if message.recipient in self.gone:
                raise RecipientGoneError("UNREGISTERED", channel=message.channel.value)
            self.sent.append(message)
            return SendReceipt(provider_message_id=f"msg-{len(self.sent)}")


class RecordingPublisher:
    """An :class:`~bookingcore.ports.EventPublisher` that keeps what it published.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self.published: list[OutboxMessage] = []
        self.fail = False

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Record ``messages`` in order, or raise ``ConnectionError`` when ``fail`` is set."""
        if self.fail:
            msg = "broker unavailable"
            raise ConnectionError(msg)
        self.published.extend(messages)


class RecordingWebhookSender:
    """A :class:`~bookingcore.ports.WebhookSender` that keeps every webhook and answers 200.

    ``answer_next(*codes)`` scripts the next answers: an HTTP status, or
    ``None`` for "no answer" (a timeout); they are used up in order, then 200
    again. Nothing is signed or sent.

    .. versionadded:: 0.2
    """

    def __init__(self) -> None:
        self.sent: list[OutgoingWebhook] = []
        self._answers: list[int | None] = []
        self._lock = threading.Lock()

    def answer_next(self, *codes: int | None) -> None:
        """Answer the next sends with ``codes`` (``None``: a timeout), in order."""
        with self._lock:
            self._answers.extend(codes)

    def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
        """Record ``webhook`` and give the next scripted answer (200 by default)."""
        with self._lock:
            self.sent.append(webhook)
            code = self._answers.pop(0) if self._answers else 200
        if code is None:
            return WebhookResponse(None, 10_000, error="timed out")
        error = None if 200 <= code < 300 else f"HTTP {code}"
        return WebhookResponse(code, 1, error=error)
