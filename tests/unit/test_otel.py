"""bookingcore_adapters.otel: the core's outcomes as OpenTelemetry spans and metrics,
read back through the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from tests.integration._sources import ListSource

from bookingcore import (
    AuthSettings,
    BookingCore,
    BookingRequest,
    CapacityError,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.errors import AuthenticationError
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter, MemoryStore
from bookingcore_adapters.otel import METRICS, OpenTelemetryObserver
from bookingcore_adapters.sms import ConsoleSmsSender

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
PHONE = "+919876543210"


class Telemetry:
    """An SDK tracer and meter provider over in-memory exporters."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        #: a tracer of the same provider, as an instrumentation (SQLAlchemy's, httpx's) has
        self.tracer = tracer_provider.get_tracer("tests")
        self.reader = InMemoryMetricReader()
        self.observer = OpenTelemetryObserver(
            tracer_provider=tracer_provider,
            meter_provider=MeterProvider(metric_readers=[self.reader]),
        )

    def finished(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for seen in scope.metrics:
                    if seen.name == metric:
                        found += seen.data.data_points
        return found

    def value(self, metric: str, **attributes: object) -> int:
        """The counter's value for exactly these attributes (0 when never counted)."""
        wanted = {
            f"bookingcore.{k}" if k != "error_type" else "error.type": v
            for k, v in attributes.items()
        }
        points = self.points(f"bookingcore.{metric}")
        return sum(p.value for p in points if dict(p.attributes) == wanted)

    def every_attribute_value(self) -> Iterator[object]:
        for span in self.spans.get_finished_spans():
            yield from (span.attributes or {}).values()
        for name in METRICS:
            for point in self.points(name):
                yield from point.attributes.values()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


class Shop:
    def __init__(self, telemetry: Telemetry, **wiring: Any) -> None:
        self.sms = wiring.pop("sms", None) or ConsoleSmsSender()
        self.provider = FakePaymentProvider()
        self.core = BookingCore(
            uow_factory=wiring.pop("uow_factory", None) or MemoryStore().unit_of_work,
            clock=FixedClock(),
            ids=SequentialIds(),
            settings=Settings(outbox_relayed=True),
            payment_providers=[self.provider],
            otp_store=MemoryOtpStore(),
            rate_limiter=MemoryRateLimiter(),
            sms=self.sms,
            token_signer=JwtTokenSigner({"k1": "s" * 32}),
            auth_settings=AuthSettings(otp_pepper="p" * 32),
            observer=telemetry.observer,
            **wiring,
        )
        self.camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=self.camp.id,
            starts_at=self.core.context.clock.now() + timedelta(days=30),
            price_per_traveler=Money("4000", "INR"),
            capacity=2,
            principal=ADMIN,
        )
        customer = self.core.customers.register(PHONE, principal=ADMIN).customer
        self.me = Principal.customer(customer.id)

    def book(self, travelers: int = 1) -> Booking:
        people = [
            NewTraveler(TravelerDetails(f"Asha {n}"), is_primary=n == 0) for n in range(travelers)
        ]
        return self.core.bookings.book(BookingRequest(self.slot.id, people), principal=self.me)


class TestBookings:
    def test_a_booking_makes_a_span_and_counts(self, telemetry: Telemetry) -> None:
        booking = Shop(telemetry).book()
        (span,) = telemetry.finished("bookingcore.book")
        assert dict(span.attributes or {}) == {
            "bookingcore.outcome": "created",
            "bookingcore.lifecycle": booking.lifecycle,
            "bookingcore.source": "direct",
        }
        assert span.status.status_code is StatusCode.UNSET
        assert span.end_time is not None
        assert span.start_time is not None
        assert span.end_time >= span.start_time
        assert (
            telemetry.value(
                "booking.requests", outcome="created", lifecycle=booking.lifecycle, source="direct"
            )
            == 1
        )
        assert (
            telemetry.value(
                "bookings.created",
                lifecycle=booking.lifecycle,
                source="direct",
                status=booking.status,
            )
            == 1
        )
        (duration,) = telemetry.points("bookingcore.booking.request.duration")
        assert isinstance(duration, HistogramDataPoint)
        assert duration.count == 1

    def test_a_refused_booking_records_its_error_code(self, telemetry: Telemetry) -> None:
        with pytest.raises(CapacityError):
            Shop(telemetry).book(travelers=3)
        (span,) = telemetry.finished("bookingcore.book")
        assert span.attributes is not None
        assert span.attributes["error.type"] == "capacity_exceeded"
        assert span.attributes["bookingcore.outcome"] == "refused"
        assert span.status.status_code is StatusCode.UNSET  # an answer, not a fault
        assert (
            telemetry.value("booking.requests", outcome="refused", error_type="capacity_exceeded")
            == 1
        )
        assert telemetry.points("bookingcore.bookings.created") == []

    def test_a_cancellation_counts_as_a_move_to_cancelled(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        booking = shop.book()
        shop.core.bookings.cancel(booking.id, principal=shop.me)
        assert (
            telemetry.value(
                "booking.status_changes",
                lifecycle=booking.lifecycle,
                from_status=booking.status,
                status="cancelled",
            )
            == 1
        )


class TracedStore:
    """A memory store whose unit of work records a span each time one is opened, the
    way a database instrumentation records a span per statement."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.store = MemoryStore()
        self.tracer = telemetry.tracer

    def unit_of_work(self) -> Any:
        self.tracer.start_span("db.unit_of_work").end()
        return self.store.unit_of_work()


class TracedSms(ConsoleSmsSender):
    """An SMS gateway whose send is traced, as an HTTP client instrumentation would."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__()
        self.tracer = telemetry.tracer

    def send_sms(self, to: Any, body: str, *, reference: str | None = None) -> Any:
        with self.tracer.start_as_current_span("http.sms"):
            return super().send_sms(to, body, reference=reference)


class TestSpansNest:
    """What a use case does is traced inside its span; the span is inside the host's."""

    def children(self, telemetry: Telemetry, parent: ReadableSpan) -> list[str]:
        assert parent.context is not None
        return [
            span.name
            for span in telemetry.spans.get_finished_spans()
            if span.parent is not None and span.parent.span_id == parent.context.span_id
        ]

    def test_a_booking_s_database_work_is_inside_its_span_inside_the_request(
        self, telemetry: Telemetry
    ) -> None:
        traced = TracedStore(telemetry)
        shop = Shop(telemetry, uow_factory=traced.unit_of_work)
        with telemetry.tracer.start_as_current_span("POST /api/bookings") as request:
            booking = shop.book()
        (span,) = telemetry.finished("bookingcore.book")
        assert span.parent is not None
        assert span.parent.span_id == request.get_span_context().span_id
        assert "db.unit_of_work" in self.children(telemetry, span)
        assert span.attributes is not None
        assert span.attributes["bookingcore.lifecycle"] == booking.lifecycle
        # outside a use case, work is not attributed to one
        before = len(telemetry.finished("db.unit_of_work"))
        shop.core.bookings.get(booking.id, principal=ADMIN)
        (read,) = telemetry.finished("db.unit_of_work")[before:]
        assert read.parent is None

    def test_an_sms_sent_for_a_code_is_inside_the_code_s_span(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry, sms=TracedSms(telemetry))
        shop.core.auth.request_otp("+919876500003")
        (span,) = telemetry.finished("bookingcore.otp.request")
        assert self.children(telemetry, span) == ["http.sms"]
        assert span.attributes is not None
        assert span.attributes["bookingcore.outcome"] == "sent"

    def test_a_failing_job_s_span_holds_its_work_and_is_an_error(
        self, telemetry: Telemetry
    ) -> None:
        shop = Shop(telemetry)

        def broken(args: Mapping[str, Any], run: object) -> object:
            telemetry.tracer.start_span("job.step").end()
            raise RuntimeError("no")

        shop.core.jobs.register("broken", broken)
        with pytest.raises(RuntimeError, match=r"^no$"):
            shop.core.jobs.catalog.run("broken", {}, Run())
        (span,) = telemetry.finished("bookingcore.job")
        assert self.children(telemetry, span) == ["job.step"]
        assert span.status.status_code is StatusCode.ERROR
        assert span.events == ()  # the exception is the caller's to record, not a span event


class TestPaymentWebhooks:
    def test_applied_then_duplicate_then_refused(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        booking = shop.book()
        intent = shop.core.payments.create_intent(
            booking.id, "fake", principal=shop.me, idempotency_key="pay-1"
        )
        assert intent.payment.provider_reference is not None
        headers, body = shop.provider.webhook("captured", intent.payment.provider_reference)
        shop.core.payments.handle_webhook("fake", headers, body)
        shop.core.payments.handle_webhook("fake", headers, body)
        with pytest.raises(AuthenticationError):
            shop.core.payments.handle_webhook("fake", headers, body + b" ")
        counted = "payment.webhooks"
        assert telemetry.value(counted, **{"payment.provider": "fake", "outcome": "applied"}) == 1
        assert telemetry.value(counted, **{"payment.provider": "fake", "outcome": "duplicate"}) == 1
        refused = {
            "payment.provider": "fake",
            "outcome": "refused",
            "error_type": "authentication_failed",
        }
        assert telemetry.value(counted, **refused) == 1
        assert len(telemetry.finished("bookingcore.payment_webhook")) == 3
        # the capture confirmed the booking: a committed move like any other
        assert (
            telemetry.value(
                "booking.status_changes",
                lifecycle=booking.lifecycle,
                from_status=booking.status,
                status="confirmed",
            )
            == 1
        )


class TestSignIn:
    def test_codes_sent_verified_and_refused(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        shop.core.auth.request_otp("+919876500001")
        code = next(
            word for word in shop.sms.sent[-1][1].split() if word.isdigit() and len(word) == 6
        )
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        with pytest.raises(AuthenticationError):
            shop.core.auth.verify_otp("+919876500001", wrong)
        shop.core.auth.verify_otp("+919876500001", code)
        assert telemetry.value("otp.requests", channel="sms", outcome="sent") == 1
        assert telemetry.value("otp.verifications", outcome="verified", registered=True) == 1
        refused = {"outcome": "refused", "registered": False, "error_type": "authentication_failed"}
        assert telemetry.value("otp.verifications", **refused) == 1


class TestBackground:
    def test_an_import_run_counts_rows_imported_and_refused(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        header = ("Customer Name", "customer_phone", "dealer_code", "booking_date", "slot_id")
        day = f"{shop.slot.starts_at:%Y-%m-%d}"
        rows: list[tuple[str, ...]] = [
            ("Ravi Kumar", "+919876500002", "CAMP", day, str(shop.slot.id)),
            ("No Phone", "not a phone", "CAMP", day, str(shop.slot.id)),
        ]
        job = shop.core.imports.run_file(ListSource(header, rows), principal=ADMIN)
        assert (job.created, job.failed) == (1, 1)
        (span,) = telemetry.finished("bookingcore.import")
        assert span.attributes is not None
        assert (
            span.attributes["bookingcore.import.rows"],
            span.attributes["bookingcore.import.failed"],
        ) == (2, 1)
        base = {"import.format": job.file_format, "status": job.status.value}
        assert telemetry.value("import.runs", **base) == 1
        assert telemetry.value("import.rows", **base, **{"import.row_outcome": "imported"}) == 1
        assert telemetry.value("import.rows", **base, **{"import.row_outcome": "refused"}) == 1
        # an import writes no booking.created events unless told to (emit_events)
        assert telemetry.points("bookingcore.bookings.created") == []

    def test_jobs_and_the_outbox_relay(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        shop.book()

        def broken(args: Mapping[str, Any], run: object) -> object:
            raise RuntimeError("no")

        shop.core.jobs.register("broken", broken)
        with pytest.raises(RuntimeError):
            shop.core.jobs.catalog.run("broken", {}, Run())
        assert (
            telemetry.value("job.runs", job="broken", outcome="failed", error_type="RuntimeError")
            == 1
        )

        published: list[object] = []
        relayed = shop.core.relay(Publisher(published)).relay()
        assert relayed == len(published) > 0
        assert telemetry.value("outbox.relayed", outcome="published") == relayed
        assert len(telemetry.finished("bookingcore.outbox.relay")) == 1
        assert shop.core.relay(Publisher(published)).relay() == 0
        assert (
            len(telemetry.finished("bookingcore.outbox.relay")) == 1
        )  # nothing to publish, no span


class TestNoPersonalData:
    def test_no_attribute_carries_a_customer_s_data_or_an_id(self, telemetry: Telemetry) -> None:
        shop = Shop(telemetry)
        booking = shop.book()
        shop.core.auth.request_otp(PHONE)
        private = {
            PHONE,
            PHONE.lstrip("+"),
            "9876543210",
            "Asha",
            str(booking.id),
            booking.reference,
            str(booking.customer_id),
            str(shop.slot.id),
            str(shop.camp.id),
        }
        values = [str(value) for value in telemetry.every_attribute_value()]
        assert values
        leaks = [(v, p) for v in values for p in private if p in v]
        assert leaks == []


class Run:
    job_id = "job-1"
    name = "broken"
    attempt = 1


class Publisher:
    def __init__(self, into: list[object]) -> None:
        self.into = into

    def publish(self, messages: Any) -> None:
        self.into.extend(messages)
