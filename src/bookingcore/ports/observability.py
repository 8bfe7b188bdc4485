"""The observer port: what the library reports about its use cases, for metrics and traces.

The core calls an :class:`Observer` at a few use-case boundaries, after the fact,
with low-cardinality facts only (outcomes, error codes, lifecycle and status
names, counts and durations): never a customer's data and never an id. It knows
nothing of any telemetry system; ``bookingcore_adapters.otel.OpenTelemetryObserver``
turns the calls into OpenTelemetry spans and metrics, and a host may write its
own (Prometheus, StatsD, logs). Without one (the default) nothing is reported.

Every outcome hook is called after the use case decided, inside the context the
observer's :meth:`Observer.use_case` opened when the use case started (a tracing
observer opens its span there, so what the use case does, its database statements
and HTTP calls, is traced as that span's children). An observer that raises is
logged and ignored: observing never changes what a use case does or returns.

.. versionadded:: 0.4
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Literal, Protocol

__all__ = [
    "BookingOutcome",
    "JobOutcome",
    "NullObserver",
    "Observer",
    "OtpRequestOutcome",
    "OtpVerifyOutcome",
    "RelayOutcome",
    "UseCase",
    "WebhookOutcome",
]

#: The use cases the core opens with :meth:`Observer.use_case`, each ended by its
#: outcome hook: ``book`` (:meth:`~Observer.booking_requested`), ``payment_webhook``
#: (:meth:`~Observer.payment_webhook_handled`), ``otp.request``
#: (:meth:`~Observer.otp_requested`), ``otp.verify`` (:meth:`~Observer.otp_verified`),
#: ``import`` (:meth:`~Observer.import_finished`) and ``job``
#: (:meth:`~Observer.job_finished`). An outbox relay is not opened: most relays find
#: nothing to publish, and :meth:`~Observer.outbox_relayed` is told after the fact.
#:
#: .. versionadded:: 0.4
UseCase = Literal["book", "payment_webhook", "otp.request", "otp.verify", "import", "job"]

#: How a request to book ended: ``created`` (a retry returning the first booking
#: counts as created too), ``refused`` (a :class:`~bookingcore.errors.BookingError`,
#: its ``code`` given as ``error``) or ``failed`` (any other exception, its class
#: name given as ``error``).
BookingOutcome = Literal["created", "refused", "failed"]
#: How a payment provider's webhook delivery ended: the stored receipt's status
#: (``applied``, ``ignored``, ``failed``, ``received`` when it waits for the
#: provider), ``duplicate`` (a redelivery of a settled event, nothing changed),
#: ``refused`` (a ``BookingError``: a bad signature, an unknown provider) or
#: ``error`` (any other exception).
WebhookOutcome = Literal[
    "applied", "ignored", "failed", "received", "duplicate", "refused", "error"
]
#: How a request for a sign-in code ended: ``sent``, ``refused`` (rate limited,
#: a bad number, no sign-in ports), ``failed`` (the SMS could not be delivered:
#: a :class:`~bookingcore.errors.DeliveryError`, or any other exception).
OtpRequestOutcome = Literal["sent", "refused", "failed"]
#: How a code's verification ended: ``verified`` (signed in), ``refused`` (a wrong,
#: expired or used-up code, a rate limit: a ``BookingError``) or ``failed`` (any
#: other exception).
OtpVerifyOutcome = Literal["verified", "refused", "failed"]
#: How one run of a background job ended.
JobOutcome = Literal["succeeded", "failed"]
#: How one relay of the outbox to a broker ended.
RelayOutcome = Literal["published", "failed"]


class Observer(Protocol):
    """Told what the library's use cases did; wire one with ``BookingCore(observer=...)``.

    Every argument is low-cardinality and free of personal data, so it may be
    used as a metric attribute as it is. ``seconds`` is the use case's wall
    time (``time.perf_counter``), measured by the core. Subclass
    :class:`NullObserver` to implement only the hooks you need.

    .. versionadded:: 0.4
    """

    def use_case(self, name: UseCase) -> AbstractContextManager[object]:
        """A context the core enters when use case ``name`` starts and leaves when it
        has ended, after its outcome hook was called inside it.

        A tracing observer starts its span here and makes it current, so the spans
        of what the use case does (SQL statements, HTTP calls to a gateway) are its
        children, and the outcome hook sets the span's attributes; an observer that
        only counts returns :func:`contextlib.nullcontext`. Whatever the context
        does with an exception leaving the use case, the exception goes on.
        """

    def booking_requested(
        self,
        *,
        outcome: BookingOutcome,
        lifecycle: str | None,
        source: str | None,
        error: str | None,
        seconds: float,
    ) -> None:
        """``core.bookings.book`` (or ``book_claimed``) ended with ``outcome``.

        ``lifecycle`` and ``source`` are the booking's (``None`` when refused);
        ``error`` is the refusal's ``code`` (``capacity_exceeded``,
        ``validation_error``, ...) or the exception's class name.
        """

    def booking_created(self, *, lifecycle: str, source: str, status: str) -> None:
        """A booking was committed, by any path (a request, an import, an accepted
        waiting-list offer, an approved quotation), in ``status``."""

    def booking_status_changed(self, *, lifecycle: str, from_status: str, to_status: str) -> None:
        """A booking's move from ``from_status`` to ``to_status`` was committed
        (a cancellation, a completion, a payment confirming it, ...)."""

    def payment_webhook_handled(
        self, *, provider: str, outcome: WebhookOutcome, error: str | None, seconds: float
    ) -> None:
        """``core.payments.handle_webhook`` ended with ``outcome`` for ``provider``."""

    def otp_requested(
        self, *, channel: str, outcome: OtpRequestOutcome, error: str | None, seconds: float
    ) -> None:
        """``core.auth.request_otp`` ended with ``outcome``; ``channel`` is ``"sms"``."""

    def otp_verified(
        self, *, outcome: OtpVerifyOutcome, registered: bool, error: str | None, seconds: float
    ) -> None:
        """``core.auth.verify_otp`` ended with ``outcome``; ``registered`` is True when
        the verified number registered a new customer (phone-only registration)."""

    def import_finished(
        self, *, file_format: str, status: str, rows: int, failed_rows: int, seconds: float
    ) -> None:
        """A run of an import job ended in ``status`` (the job's
        :class:`~bookingcore.domain.ImportStatus` value: ``COMPLETED``, ``CANCELLED``,
        ``FAILED``) after ``rows`` rows (``failed_rows`` of them refused) in ``seconds``.

        ``rows`` counts this run's rows only (a resumed run does not count the
        rows an earlier run committed).
        """

    def job_finished(
        self, *, name: str, outcome: JobOutcome, error: str | None, seconds: float
    ) -> None:
        """One run of the background job registered as ``name`` ended; ``error`` is the
        exception's class name when it failed."""

    def outbox_relayed(self, *, outcome: RelayOutcome, messages: int, seconds: float) -> None:
        """An outbox relay published ``messages`` messages (0 when none were waiting,
        or when the broker refused them: ``outcome="failed"``)."""


class NullObserver:
    """An :class:`Observer` whose every hook does nothing: subclass it and override
    the hooks you need.

    .. versionadded:: 0.4
    """

    def use_case(self, name: UseCase) -> AbstractContextManager[object]:
        """An empty context (:func:`contextlib.nullcontext`)."""
        return nullcontext()

    def booking_requested(
        self,
        *,
        outcome: BookingOutcome,
        lifecycle: str | None,
        source: str | None,
        error: str | None,
        seconds: float,
    ) -> None:
        """Does nothing."""

    def booking_created(self, *, lifecycle: str, source: str, status: str) -> None:
        """Does nothing."""

    def booking_status_changed(self, *, lifecycle: str, from_status: str, to_status: str) -> None:
        """Does nothing."""

    def payment_webhook_handled(
        self, *, provider: str, outcome: WebhookOutcome, error: str | None, seconds: float
    ) -> None:
        """Does nothing."""

    def otp_requested(
        self, *, channel: str, outcome: OtpRequestOutcome, error: str | None, seconds: float
    ) -> None:
        """Does nothing."""

    def otp_verified(
        self, *, outcome: OtpVerifyOutcome, registered: bool, error: str | None, seconds: float
    ) -> None:
        """Does nothing."""

    def import_finished(
        self, *, file_format: str, status: str, rows: int, failed_rows: int, seconds: float
    ) -> None:
        """Does nothing."""

    def job_finished(
        self, *, name: str, outcome: JobOutcome, error: str | None, seconds: float
    ) -> None:
        """Does nothing."""

    def outbox_relayed(self, *, outcome: RelayOutcome, messages: int, seconds: float) -> None:
        """Does nothing."""
