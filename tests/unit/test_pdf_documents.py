"""The PDF renderer (``pdf`` extra): invoices, credit notes, vouchers, itineraries and
quotations as PDF files that open, read back with pypdf, and carry the same numbers and
names (accents and the rupee sign included) as the HTML renderer."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, DocumentKind, TaxRates
from bookingcore.domain.documents import DocumentData, RenderedDocument
from bookingcore.services import QuotationRequest, QuoteLine
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.pdf import DEFAULT_FONT_PATHS, PdfRenderer

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
BUSINESS = "Yātrā Holidays"


def _text(document: RenderedDocument | bytes) -> str:
    """The PDF's text read back with pypdf, runs of white space as one space (table cells
    wrap); the file must open and start as a PDF."""
    data = document if isinstance(document, bytes) else document.to_bytes()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _inr(amount: str) -> Money:
    return Money(amount, "INR")


@pytest.fixture(scope="module")
def renderer() -> PdfRenderer:
    """The PDF renderer over the system's DejaVu Sans.

    Like a database server, the font is the machine's: without it these tests are
    skipped and say what to install (the missing-font refusal is tested anyway).
    """
    if not any(Path(path).is_file() for path in DEFAULT_FONT_PATHS):
        pytest.skip("PDF tests need DejaVu Sans (Debian/Ubuntu: apt install fonts-dejavu-core)")
    return PdfRenderer()


class Shop:
    """A core with the PDF renderer wired, a taxed camp and a customer with accents."""

    def __init__(self, renderer: PdfRenderer, tmp_path: Path) -> None:
        self.clock = FixedClock()
        self.files = FileSystemDocumentStore(tmp_path)
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(
                default_region="IN",
                taxes=TaxRates(by_location={"camp": Decimal("18")}),
                business_name=BUSINESS,
            ),
            renderer=renderer,
            payment_providers=[FakePaymentProvider("manual")],
            exchange_rates=FixedExchangeRates({("EUR", "INR"): Decimal("90")}),
            document_store=self.files,
        )
        self.customer = self.core.customers.register(
            "+919876543210", name="Zoë Ésprit", principal=ADMIN
        ).customer
        location = self.core.catalog.add_location("CAMP", "Pahalgām camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=_inr("4000"),
            capacity=9,
            principal=ADMIN,
        )

    def book(self) -> Booking:
        party = [
            NewTraveler(TravelerDetails("Zoë Ésprit"), is_primary=True),
            NewTraveler(TravelerDetails("Renée Müller")),
        ]
        return self.core.bookings.book(
            BookingRequest(self.slot.id, party, customer_id=self.customer.id), principal=ADMIN
        )


@pytest.fixture
def shop(renderer: PdfRenderer, tmp_path: Path) -> Shop:
    return Shop(renderer, tmp_path)


class TestInvoices:
    def test_an_issued_invoice_is_a_pdf_with_its_lines_and_totals(self, shop: Shop) -> None:
        booking = shop.book()
        shop.core.payments.record_manual_payment(
            booking.id, _inr("3000"), principal=ADMIN, reference="CASH-1"
        )
        (invoice,) = shop.core.payments.invoices_for(booking.id, principal=ADMIN)
        document = shop.core.invoices.render(invoice.id, principal=ADMIN)
        assert (document.filename, document.media_type) == (
            f"invoice-{invoice.number}.pdf",
            "application/pdf",
        )
        text = _text(document)
        assert f"Invoice {invoice.number}" in text
        assert "Zoë Ésprit" in text
        assert "Pahalgām camp" in text
        row = f"Booking {booking.reference}: Zoë Ésprit 1 3,389.83 INR 18% 610.17 INR 4,000.00 INR"
        assert row in text
        for label, amount in [
            ("Subtotal", "6,779.66 INR"),
            ("Tax", "1,220.34 INR"),
            ("Total", "8,000.00 INR"),
            ("Paid", "3,000.00 INR"),
            ("Due", "5,000.00 INR"),
        ]:
            assert f"{label} {amount}" in text
        assert BUSINESS in text

    def test_a_credit_note_is_a_pdf_with_the_refund(self, shop: Shop) -> None:
        booking = shop.book()
        shop.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="CASH-1"
        )
        (payment,) = shop.core.payments.for_booking(booking.id, principal=ADMIN)
        shop.core.payments.refund(payment.id, _inr("1180"), principal=ADMIN, idempotency_key="r")
        invoice, credit = shop.core.payments.invoices_for(booking.id, principal=ADMIN)
        text = _text(shop.core.invoices.render(credit.id, principal=ADMIN))
        assert f"Credit note {credit.number}" in text
        assert f"Credits {invoice.number}" in text
        assert f"Refund of {invoice.number} 1 -1,000.00 INR 18% -180.00 INR -1,180.00 INR" in text
        assert "Refunded -1,180.00 INR" in text

    def test_the_same_document_renders_to_the_same_bytes(
        self, shop: Shop, renderer: PdfRenderer
    ) -> None:
        booking = shop.book()
        shop.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="CASH-1"
        )
        (invoice,) = shop.core.payments.invoices_for(booking.id, principal=ADMIN)
        data = shop.core.invoices.document_data(invoice.id, principal=ADMIN)
        assert renderer.render(data) == renderer.render(data)


class TestBookingDocuments:
    def test_a_voucher_and_an_itinerary_show_the_booking_and_its_travelers(
        self, shop: Shop, renderer: PdfRenderer
    ) -> None:
        booking = shop.book()
        for kind in (DocumentKind.VOUCHER, DocumentKind.ITINERARY, DocumentKind.INVOICE):
            data = DocumentData(
                kind=kind,
                booking=booking,
                customer=shop.customer,
                travelers=shop.core.travelers.list(shop.customer.id, principal=ADMIN),
                location=None,
                product=None,
                issued_at=shop.clock.now(),
                business_name=BUSINESS,
            )
            rendered = renderer.render(data)
            assert rendered.filename == f"{kind.value}-{booking.reference}.pdf"
            text = _text(rendered)
            assert f"Reference {booking.reference}" in text
            assert "Traveler 1 (primary) Zoë Ésprit" in text
            assert "Renée Müller" in text
        assert "Total 8,000.00 INR" in text  # the pro-forma invoice, last

    def test_a_missing_font_is_refused_on_font_path(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError) as caught:
            PdfRenderer(tmp_path / "missing.ttf")
        assert caught.value.fields == ("font_path",)
        with pytest.raises(ValidationError) as caught:
            PdfRenderer(bold_font_path=tmp_path / "missing-bold.ttf")
        assert caught.value.fields == ("bold_font_path",)


class TestTravelDocuments:
    def _booked(self, shop: Shop) -> Booking:
        core = shop.core
        hotel = core.catalog.add_supplier("HB", "Hôtel Lidder Ésprit", principal=ADMIN)
        quotation = core.quotations.create(
            QuotationRequest(
                customer_id=shop.customer.id,
                slot_id=shop.slot.id,
                travelers=2,
                lines=[
                    QuoteLine(
                        kind="hotel",
                        description="Houseboat, 2 nights (₹2,500 deposit held)",
                        quantity=2,
                        unit_price=Money("80", "EUR"),
                        supplier_id=hotel.id,
                        service_starts_on=shop.slot.starts_at.date(),
                        service_ends_on=shop.slot.starts_at.date() + timedelta(days=2),
                    )
                ],
                valid_until=shop.clock.now().date() + timedelta(days=5),
            ),
            principal=ADMIN,
        )
        core.quotations.send(quotation.id, principal=ADMIN)
        party = [
            NewTraveler(TravelerDetails("Zoë Ésprit"), is_primary=True),
            NewTraveler(TravelerDetails("Renée Müller")),
        ]
        return core.quotations.approve(quotation.id, party, principal=ADMIN)

    def test_quotation_voucher_and_itinerary_are_generated_as_pdf(self, shop: Shop) -> None:
        booking = self._booked(shop)
        generate = shop.core.travel_documents.generate
        (quote,) = generate(booking.id, "quotation", principal=ADMIN)
        (voucher,) = generate(booking.id, "voucher", principal=ADMIN)
        (plan,) = generate(booking.id, "itinerary", principal=ADMIN)
        assert [d.filename for d in (quote, voucher, plan)] == [
            "quotation-v1.pdf",
            "voucher-1-v1.pdf",
            "itinerary-v1.pdf",
        ]
        assert {d.media_type for d in (quote, voucher, plan)} == {"application/pdf"}
        quoted = _text(quote.to_bytes())
        assert f"Quotation {booking.reference}" in quoted
        assert "Houseboat, 2 nights (₹2,500 deposit held): 2 x 80.00 EUR at 90" in quoted
        assert "= 14,400.00 INR" in quoted
        assert "Total: 22,400.00 INR" in quoted
        vouchered = _text(voucher.to_bytes())
        assert "Supplier: Hôtel Lidder Ésprit" in vouchered
        assert "guest Zoë Ésprit" in vouchered
        assert BUSINESS in vouchered
        assert "Houseboat" in _text(plan.to_bytes())
        kept = shop.files.get(f"{booking.reference}/voucher-1-v1.pdf")
        assert kept == voucher.to_bytes()
        (again,) = generate(booking.id, "voucher", principal=ADMIN)
        assert again.filename == "voucher-1-v2.pdf"


class TestPlainRendererWordedDocuments:
    def test_the_html_renderer_prints_a_worded_quotation_escaped(self, shop: Shop) -> None:
        booking = shop.book()
        data = DocumentData(
            kind=DocumentKind.QUOTATION,
            booking=booking,
            customer=shop.customer,
            travelers=(),
            location=None,
            product=None,
            issued_at=shop.clock.now(),
            body=["Seats <2> at ₹4,000", "Total: 8,000.00 INR"],
        )
        html = PlainRenderer().render(data)
        assert html.filename == f"quotation-{booking.reference}.html"
        assert f"<h1>Quotation {booking.reference}</h1>" in html.content
        assert "<p>Seats &lt;2&gt; at ₹4,000</p>" in html.content
        text = PlainRenderer("text").render(data).content.splitlines()
        assert text[-2:] == ["Seats <2> at ₹4,000", "Total: 8,000.00 INR"]
