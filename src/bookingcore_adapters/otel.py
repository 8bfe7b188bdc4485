"""An :class:`~bookingcore.ports.Observer` that reports to OpenTelemetry (the ``otel`` extra).

It uses only ``opentelemetry-api``, the way the ``opentelemetry-instrumentation-*``
packages do: without an SDK installed by the application every call is a no-op.
The application chooses the exporters (OTLP, Prometheus, the console) by setting
up ``opentelemetry-sdk`` and either installing its providers globally
(``trace.set_tracer_provider(...)``) or passing them here::

    from bookingcore_adapters.otel import OpenTelemetryObserver

    core = BookingCore(uow_factory=store.unit_of_work, observer=OpenTelemetryObserver())

Spans are ``INTERNAL``, children of whatever span is current (the host's request
span, say). ``bookingcore.book``, ``bookingcore.payment_webhook``,
``bookingcore.otp.request``, ``bookingcore.otp.verify``, ``bookingcore.import`` and
``bookingcore.job`` are started when the use case starts and are current while it
runs (:meth:`OpenTelemetryObserver.use_case`), so the spans of what it does (the
SQL statements SQLAlchemy's instrumentation traces, an HTTP call to a gateway) are
their children; the outcome hook sets their attributes. ``bookingcore.outbox.relay``
is recorded after the fact, from its measured start, and only when the relay
published something (or failed): an idle relay records no span. A refusal (a
``BookingError``) sets ``error.type`` to its code and leaves the span's status
unset, as an expected answer; any other exception sets the status to ``ERROR``.

Metrics (:data:`METRICS` lists them) are counters and histograms whose
attributes are low-cardinality: outcomes, error codes, lifecycle, status, source,
provider, channel and job names. No customer data and no id is ever an
attribute; the core never hands one to an observer.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from time import time_ns

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter, Histogram, MeterProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue

import bookingcore
from bookingcore.ports.observability import (
    BookingOutcome,
    JobOutcome,
    OtpRequestOutcome,
    OtpVerifyOutcome,
    RelayOutcome,
    UseCase,
    WebhookOutcome,
)

__all__ = ["DURATION_BUCKETS", "INSTRUMENTATION_NAME", "METRICS", "OpenTelemetryObserver"]

#: The instrumentation scope of the tracer and meter (its version is bookingcore's).
INSTRUMENTATION_NAME = "bookingcore"

#: Histogram boundaries for durations in seconds: those OpenTelemetry's semantic
#: conventions advise for HTTP durations, from a millisecond (the SDK's defaults are
#: made for milliseconds).
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

#: Every instrument: name -> (unit, description).
METRICS: Mapping[str, tuple[str, str]] = {
    "bookingcore.booking.requests": ("{request}", "Requests to book, by outcome and error code"),
    "bookingcore.booking.request.duration": ("s", "Wall time of a request to book"),
    "bookingcore.bookings.created": ("{booking}", "Bookings committed, by any path"),
    "bookingcore.booking.status_changes": ("{change}", "Committed moves of bookings' status"),
    "bookingcore.payment.webhooks": ("{delivery}", "Payment providers' webhook deliveries"),
    "bookingcore.payment.webhook.duration": ("s", "Wall time of a webhook delivery"),
    "bookingcore.otp.requests": ("{request}", "Requests for a sign-in code"),
    "bookingcore.otp.verifications": ("{attempt}", "Verifications of a sign-in code"),
    "bookingcore.import.runs": ("{run}", "Runs of import jobs, by final status"),
    "bookingcore.import.rows": ("{row}", "Rows import runs handled, imported or refused"),
    "bookingcore.import.throughput": ("{row}/s", "Rows per second of an import run"),
    "bookingcore.job.runs": ("{run}", "Runs of background jobs, by name and outcome"),
    "bookingcore.job.duration": ("s", "Wall time of a background job's run"),
    "bookingcore.outbox.relayed": ("{message}", "Outbox messages published to the broker"),
    "bookingcore.outbox.relay.duration": ("s", "Wall time of an outbox relay"),
}

_Attributes = dict[str, AttributeValue]


def _with_error(attributes: _Attributes, error: str | None) -> _Attributes:
    if error is not None:
        attributes["error.type"] = error
    return attributes


class OpenTelemetryObserver:
    """Turns the core's observer calls into OpenTelemetry spans and metrics.

    Args:
        tracer_provider: where spans go; the global one by default (a no-op until
            the application installs an SDK's).
        meter_provider: where metrics go; the global one by default.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        version = bookingcore.__version__
        self._tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, version, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(INSTRUMENTATION_NAME, version, meter_provider=meter_provider)
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        for name, (unit, description) in METRICS.items():
            if unit == "s":
                self._histograms[name] = meter.create_histogram(
                    name, unit, description, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
                )
            elif name == "bookingcore.import.throughput":
                self._histograms[name] = meter.create_histogram(name, unit, description)
            else:
                self._counters[name] = meter.create_counter(name, unit, description)
        # The spans use_case() opened in this context (thread, task), innermost last.
        self._open: ContextVar[tuple[tuple[str, Span], ...]] = ContextVar(
            f"bookingcore_otel_open_{id(self)}", default=()
        )

    @contextmanager
    def use_case(self, name: UseCase) -> Iterator[None]:
        """Span ``bookingcore.<name>``, current while the use case runs.

        Its attributes and status are set by the use case's outcome hook; it ends
        when the use case has ended. An exception leaving the use case is neither
        recorded on the span nor changes its status here: the outcome hook has
        already told a refusal from a fault.
        """
        span_name = f"bookingcore.{name}"
        with self._tracer.start_as_current_span(
            span_name,
            kind=SpanKind.INTERNAL,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            token = self._open.set((*self._open.get(), (span_name, span)))
            try:
                yield
            finally:
                self._open.reset(token)

    # ------------------------------------------------------------------ helpers

    def _span(
        self, name: str, seconds: float, attributes: _Attributes, *, failed: bool = False
    ) -> None:
        """Describe span ``name``: the one :meth:`use_case` opened, if it is the
        innermost open here, else a span recorded now that ended after ``seconds``."""
        opened = self._open.get()
        if opened and opened[-1][0] == name:
            span = opened[-1][1]
            span.set_attributes(attributes)
            if failed:
                span.set_status(Status(StatusCode.ERROR))
            return
        end = time_ns()
        start = end - max(0, int(seconds * 1e9))
        span = self._tracer.start_span(
            name, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start
        )
        if failed:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)

    def _count(self, name: str, attributes: _Attributes, amount: int = 1) -> None:
        self._counters[name].add(amount, attributes)

    def _record(self, name: str, value: float, attributes: _Attributes) -> None:
        self._histograms[name].record(value, attributes)

    # ------------------------------------------------------------------ the hooks

    def booking_requested(
        self,
        *,
        outcome: BookingOutcome,
        lifecycle: str | None,
        source: str | None,
        error: str | None,
        seconds: float,
    ) -> None:
        """A request to book: span ``bookingcore.book``, its count and duration."""
        attributes = _with_error({"bookingcore.outcome": outcome}, error)
        if lifecycle is not None:
            attributes["bookingcore.lifecycle"] = lifecycle
        if source is not None:
            attributes["bookingcore.source"] = source
        self._span("bookingcore.book", seconds, attributes, failed=outcome == "failed")
        self._count("bookingcore.booking.requests", attributes)
        self._record("bookingcore.booking.request.duration", seconds, attributes)

    def booking_created(self, *, lifecycle: str, source: str, status: str) -> None:
        """A committed booking: ``bookingcore.bookings.created``."""
        attributes: _Attributes = {
            "bookingcore.lifecycle": lifecycle,
            "bookingcore.source": source,
            "bookingcore.status": status,
        }
        self._count("bookingcore.bookings.created", attributes)

    def booking_status_changed(self, *, lifecycle: str, from_status: str, to_status: str) -> None:
        """A committed move: ``bookingcore.booking.status_changes``."""
        attributes: _Attributes = {
            "bookingcore.lifecycle": lifecycle,
            "bookingcore.from_status": from_status,
            "bookingcore.status": to_status,
        }
        self._count("bookingcore.booking.status_changes", attributes)

    def payment_webhook_handled(
        self, *, provider: str, outcome: WebhookOutcome, error: str | None, seconds: float
    ) -> None:
        """A webhook delivery: span ``bookingcore.payment_webhook``, count and duration."""
        attributes = _with_error(
            {"bookingcore.payment.provider": provider, "bookingcore.outcome": outcome}, error
        )
        self._span("bookingcore.payment_webhook", seconds, attributes, failed=outcome == "error")
        self._count("bookingcore.payment.webhooks", attributes)
        self._record("bookingcore.payment.webhook.duration", seconds, attributes)

    def otp_requested(
        self, *, channel: str, outcome: OtpRequestOutcome, error: str | None, seconds: float
    ) -> None:
        """A request for a code: span ``bookingcore.otp.request`` and its count."""
        attributes = _with_error(
            {"bookingcore.channel": channel, "bookingcore.outcome": outcome}, error
        )
        self._span("bookingcore.otp.request", seconds, attributes, failed=outcome == "failed")
        self._count("bookingcore.otp.requests", attributes)

    def otp_verified(
        self, *, outcome: OtpVerifyOutcome, registered: bool, error: str | None, seconds: float
    ) -> None:
        """A code's verification: span ``bookingcore.otp.verify`` and its count."""
        attributes = _with_error(
            {"bookingcore.outcome": outcome, "bookingcore.registered": registered}, error
        )
        self._span("bookingcore.otp.verify", seconds, attributes, failed=outcome == "failed")
        self._count("bookingcore.otp.verifications", attributes)

    def import_finished(
        self, *, file_format: str, status: str, rows: int, failed_rows: int, seconds: float
    ) -> None:
        """An import run: span ``bookingcore.import``, its rows and throughput."""
        attributes: _Attributes = {
            "bookingcore.import.format": file_format,
            "bookingcore.status": status,
        }
        counts = {"bookingcore.import.rows": rows, "bookingcore.import.failed": failed_rows}
        failed = status == "failed"
        self._span("bookingcore.import", seconds, {**attributes, **counts}, failed=failed)
        self._count("bookingcore.import.runs", attributes)
        for row_outcome, amount in (("imported", rows - failed_rows), ("refused", failed_rows)):
            if amount > 0:
                row_attributes = {**attributes, "bookingcore.import.row_outcome": row_outcome}
                self._count("bookingcore.import.rows", row_attributes, amount)
        if rows and seconds > 0:
            self._record("bookingcore.import.throughput", rows / seconds, attributes)

    def job_finished(
        self, *, name: str, outcome: JobOutcome, error: str | None, seconds: float
    ) -> None:
        """A job's run: span ``bookingcore.job``, count and duration."""
        attributes = _with_error({"bookingcore.job": name, "bookingcore.outcome": outcome}, error)
        self._span("bookingcore.job", seconds, attributes, failed=outcome == "failed")
        self._count("bookingcore.job.runs", attributes)
        self._record("bookingcore.job.duration", seconds, attributes)

    def outbox_relayed(self, *, outcome: RelayOutcome, messages: int, seconds: float) -> None:
        """A relay: span ``bookingcore.outbox.relay`` (unless it found nothing) and counts."""
        attributes: _Attributes = {"bookingcore.outcome": outcome}
        if messages or outcome == "failed":
            self._span(
                "bookingcore.outbox.relay",
                seconds,
                {**attributes, "bookingcore.outbox.messages": messages},
                failed=outcome == "failed",
            )
        if messages:
            self._count("bookingcore.outbox.relayed", attributes, messages)
        self._record("bookingcore.outbox.relay.duration", seconds, attributes)
