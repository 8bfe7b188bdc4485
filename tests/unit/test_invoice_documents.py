"""Invoice documents: issued invoices and credit notes rendered with their lines, discounts,
taxes (where configured, prices including tax), what was paid and what is due; behind the
policy; HTML escaped."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    DiscountTier,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, DocumentKind, Invoice, InvoiceLine, TaxRates
from bookingcore.domain.invoices import priced_lines
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.memory import MemoryStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


def _inr(amount: str) -> Money:
    return Money(amount, "INR")


class World:
    def __init__(self, taxes: TaxRates | None = None, *, renderer: bool = True) -> None:
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(taxes=taxes or TaxRates(), business_name="Treks & Trails"),
            renderer=PlainRenderer() if renderer else None,
            payment_providers=[FakePaymentProvider("manual")],
        )
        customer = self.core.customers.register(
            "+919876543210", name="Asha <Rao>", principal=ADMIN
        ).customer
        self.me = Principal.customer(customer.id)

    def slot(self, code: str, price: Money, discounts: bool = True) -> object:
        location = self.core.catalog.add_location(code, f"{code} camp", principal=ADMIN)
        return self.core.catalog.create_slot(
            location_id=location.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=price,
            capacity=9,
            group_discounts=[DiscountTier(3, Decimal("10"))] if discounts else [],
            principal=ADMIN,
        )

    def book(self, slot: object, travelers: int) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                slot.id,  # type: ignore[attr-defined]
                [
                    NewTraveler(TravelerDetails(f"Guest {n}"), is_primary=n == 0)
                    for n in range(travelers)
                ],
            ),
            principal=self.me,
        )

    def pay(self, booking: Booking, amount: Money, reference: str) -> None:
        self.core.payments.record_manual_payment(
            booking.id, amount, principal=ADMIN, reference=reference
        )

    def invoices(self, booking: Booking) -> list[Invoice]:
        return list(self.core.payments.invoices_for(booking.id, principal=ADMIN))


def _cells(row: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"


class TestTaxedInvoices:
    """18 % GST at CAMP, prices including it: three seats of 4,000 less 10 % is 10,800 paid."""

    @pytest.fixture
    def world(self) -> World:
        return World(TaxRates(default=Decimal("5"), by_location={"camp": Decimal("18")}))

    def test_an_invoice_splits_each_price_into_amount_discount_and_the_tax_it_holds(
        self, world: World
    ) -> None:
        booking = world.book(world.slot("CAMP", _inr("4000")), travelers=3)
        world.pay(booking, _inr("4000"), "CASH-1")
        (invoice,) = world.invoices(booking)
        line = invoice.lines[0]
        assert (line.unit_price, line.discount, line.tax_rate, line.tax, line.total) == (
            _inr("3389.83"),
            _inr("338.98"),
            Decimal("18"),
            _inr("549.15"),
            _inr("3600"),
        )
        assert (invoice.subtotal, invoice.discount, invoice.tax, invoice.total) == (
            _inr("10169.49"),
            _inr("1016.94"),
            _inr("1647.45"),
            booking.total,
        )
        assert (invoice.paid, invoice.due) == (_inr("4000"), _inr("6800"))

    def test_the_rendered_invoice_shows_the_lines_totals_paid_and_due(self, world: World) -> None:
        booking = world.book(world.slot("CAMP", _inr("4000")), travelers=3)
        world.pay(booking, _inr("4000"), "CASH-1")
        (invoice,) = world.invoices(booking)
        document = world.core.invoices.render(invoice.id, principal=world.me)
        assert document.filename == "invoice-INV-2026-CAMP-000001.html"
        assert document.media_type == "text/html; charset=utf-8"
        html = document.content
        assert "<h1>Invoice INV-2026-CAMP-000001</h1>" in html
        for n in range(3):
            row = [f"Booking {booking.reference}: Guest {n}", "1", "3,389.83 INR", "338.98 INR"]
            assert _cells([*row, "18%", "549.15 INR", "3,600.00 INR"]) in html
        for label, amount in [
            ("Subtotal", "10,169.49 INR"),
            ("Discount", "1,016.94 INR"),
            ("Tax", "1,647.45 INR"),
            ("Total", "10,800.00 INR"),
            ("Paid", "4,000.00 INR"),
            ("Due", "6,800.00 INR"),
        ]:
            assert f"<th>{label}</th><td>{amount}</td>" in html

    def test_a_credit_note_shows_the_refund_and_the_tax_it_gives_back(self, world: World) -> None:
        booking = world.book(world.slot("CAMP", _inr("4000")), travelers=3)
        world.pay(booking, booking.total, "CASH-1")
        (payment,) = world.core.payments.for_booking(booking.id, principal=ADMIN)
        world.core.payments.refund(payment.id, _inr("1180"), principal=ADMIN, idempotency_key="r")
        invoice, credit = world.invoices(booking)
        assert (credit.subtotal, credit.tax, credit.total) == (
            _inr("-1000"),
            _inr("-180"),
            _inr("-1180"),
        )
        data = world.core.invoices.document_data(credit.id, principal=ADMIN)
        assert (data.kind, data.credited) == (DocumentKind.CREDIT_NOTE, invoice)
        html = world.core.invoices.render(credit.id, principal=ADMIN).content
        assert "<h1>Credit note CN-2026-CAMP-000002</h1>" in html
        assert "<tr><th>Credits</th><td>INV-2026-CAMP-000001</td></tr>" in html
        refund = [f"Refund of {invoice.number}", "1", "-1,000.00 INR", "", "18%", "-180.00 INR"]
        assert _cells([*refund, "-1,180.00 INR"]) in html
        assert "<th>Refunded</th><td>-1,180.00 INR</td>" in html
        assert "<th>Due</th><td>1,180.00 INR</td>" in html

    def test_the_default_rate_applies_where_no_location_rate_is_set(self, world: World) -> None:
        booking = world.book(world.slot("LAKE", _inr("1050"), discounts=False), travelers=1)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        assert (invoice.lines[0].tax_rate, invoice.tax, invoice.subtotal) == (
            Decimal("5"),
            _inr("50"),
            _inr("1000"),
        )

    def test_the_text_rendering_shows_the_same_numbers(self, world: World) -> None:
        booking = world.book(world.slot("CAMP", _inr("4000")), travelers=3)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        text = PlainRenderer("text").render(
            world.core.invoices.document_data(invoice.id, principal=ADMIN)
        )
        assert text.filename == "invoice-INV-2026-CAMP-000001.txt"
        lines = text.content.splitlines()
        assert lines[0] == "Invoice INV-2026-CAMP-000001"
        collapsed = [" ".join(line.split()) for line in lines]
        row = f"Booking {booking.reference}: Guest 0 1 3,389.83 INR 338.98 INR 18% 549.15 INR"
        assert f"{row} 3,600.00 INR" in collapsed
        assert "Tax       1,647.45 INR" in lines
        assert "Due       0.00 INR" in lines


class TestCurrencies:
    @pytest.mark.parametrize(
        ("price", "net", "tax"),
        [
            (Money("1000", "JPY"), Money("909", "JPY"), Money("91", "JPY")),
            (Money("10.5", "KWD"), Money("9.545", "KWD"), Money("0.955", "KWD")),
            (Money("99.99", "USD"), Money("90.9", "USD"), Money("9.09", "USD")),
        ],
    )
    def test_tax_rounds_to_the_currencys_minor_unit_and_the_total_is_the_price(
        self, price: Money, net: Money, tax: Money
    ) -> None:
        world = World(TaxRates(default=Decimal("10")))
        booking = world.book(world.slot("CAMP", price, discounts=False), travelers=1)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        assert (invoice.subtotal, invoice.tax, invoice.total) == (net, tax, price)
        html = world.core.invoices.render(invoice.id, principal=ADMIN).content
        assert f"<th>Tax</th><td>{tax}</td>" in html

    def test_lines_add_up_to_the_prices_less_the_discount_whatever_the_split(self) -> None:
        prices = [_inr("333.33"), _inr("0.01"), _inr("1999.99"), _inr("0.05")]
        for rate in (None, Decimal("0"), Decimal("5"), Decimal("12.5"), Decimal("18")):
            for discount in ("0", "0.01", "0.03", "100", "2333.38"):
                lines = priced_lines([("x", p) for p in prices], _inr(discount), rate)
                total = sum((line.total for line in lines), _inr("0"))
                assert total == _inr("2333.38") - _inr(discount), (rate, discount)


class TestUntaxedInvoices:
    def test_without_rates_the_lines_carry_the_discount_and_no_tax(self) -> None:
        world = World()
        booking = world.book(world.slot("CAMP", _inr("4000")), travelers=3)
        world.pay(booking, _inr("4000"), "CASH-1")
        (invoice,) = world.invoices(booking)
        assert [(x.unit_price, x.discount, x.tax_rate) for x in invoice.lines] == [
            (_inr("4000"), _inr("400"), None)
        ] * 3
        html = world.core.invoices.render(invoice.id, principal=world.me).content
        row = [f"Booking {booking.reference}: Guest 0", "1", "4,000.00 INR", "400.00 INR"]
        assert _cells([*row, "", "", "3,600.00 INR"]) in html
        assert "<th>Tax</th><td>0.00 INR</td>" in html

    def test_values_from_the_booking_are_escaped(self) -> None:
        world = World()
        booking = world.book(world.slot("CAMP", _inr("4000"), discounts=False), travelers=1)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        html = world.core.invoices.render(invoice.id, principal=world.me).content
        assert "Asha &lt;Rao&gt;" in html
        assert "<Rao>" not in html
        assert "<p>Treks &amp; Trails</p>" in html


class TestWhoMayRender:
    def test_only_those_who_see_the_booking_and_its_customer_get_the_document(self) -> None:
        world = World()
        booking = world.book(world.slot("CAMP", _inr("4000"), discounts=False), travelers=1)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        for allowed in (world.me, ADMIN, Principal.staff(StaffId(booking.id), StaffRole.EDITOR)):
            assert world.core.invoices.render(invoice.id, principal=allowed).content
        stranger = world.core.customers.register("+919876543219", principal=ADMIN).customer
        advisor = Principal.staff(StaffId(booking.id), StaffRole.ADVISOR)
        for refused in (Principal.customer(stranger.id), advisor):
            with pytest.raises(NotFoundError):
                world.core.invoices.render(invoice.id, principal=refused)
        with pytest.raises(NotFoundError):
            world.core.invoices.render(booking.id, principal=ADMIN)  # type: ignore[arg-type]

    def test_rendering_needs_a_renderer_wired_or_given(self) -> None:
        world = World(renderer=False)
        booking = world.book(world.slot("CAMP", _inr("4000"), discounts=False), travelers=1)
        world.pay(booking, booking.total, "CASH-1")
        (invoice,) = world.invoices(booking)
        with pytest.raises(ValidationError) as caught:
            world.core.invoices.render(invoice.id, principal=world.me)
        assert caught.value.errors[0].field == "renderer"
        given = world.core.invoices.render(invoice.id, principal=world.me, renderer=PlainRenderer())
        assert "<th>Paid</th><td>4,000.00 INR</td>" in given.content


class TestInvoiceLines:
    def test_a_discount_or_tax_that_does_not_fit_its_line_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            InvoiceLine("Seat", 1, _inr("100"), _inr("100"), discount=_inr("100.01"))
        assert caught.value.errors[0].code == "invalid_discount"
        with pytest.raises(ValidationError) as caught:
            InvoiceLine("Seat", 1, _inr("100"), _inr("100"), tax_amount=_inr("18"))
        assert caught.value.errors[0].code == "tax_without_rate"
        with pytest.raises(ValidationError) as caught:
            InvoiceLine("Refund", 1, _inr("-100"), _inr("-100"), discount=_inr("1"))
        assert caught.value.errors[0].code == "invalid_discount"

    def test_a_tax_rate_must_be_a_decimal_percentage(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TaxRates(default=Decimal("101"))
        assert caught.value.errors[0].field == "taxes.default"
        with pytest.raises(ValidationError) as caught:
            TaxRates(by_location={"goa": 5})  # type: ignore[dict-item]
        assert caught.value.errors[0].field == "taxes.by_location.GOA"
        assert TaxRates(default=Decimal("5"), by_location={"goa": Decimal("0")}).rate_for(
            "GOA"
        ) == Decimal("0")
