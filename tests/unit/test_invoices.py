"""Invoices and their series: numbers made one way, totals that add up, bad input refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import ValidationError
from bookingcore.domain import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    invoice_number,
    series_key,
)
from bookingcore.domain.invoices import series_id
from bookingcore.domain.values import Money, TravelerId
from bookingcore.testing.builders import Builder


def _inr(amount: str) -> Money:
    return Money(amount, "INR")


def _invoice(**fields: Any) -> Invoice:
    make = Builder()
    booking = make.booking(make.customer().id, make.slot(make.location().id), [TravelerId(uuid4())])
    return make.invoice(make.payment(booking, amount=_inr("1000")), **fields)


class TestSeries:
    def test_the_key_is_year_and_location_code_and_the_id_follows_from_it(self) -> None:
        assert series_key(2026, " dl01 ") == "2026/DL01"
        series = InvoiceSeries(key="2026/dl01")
        expected = ("2026/DL01", 1, series_id("2026/DL01"))
        assert (series.key, series.next_number, series.id) == expected
        assert InvoiceSeries(key="2026/DL01").id == series.id
        assert InvoiceSeries(key="2027/DL01").id != series.id

    def test_numbers_are_taken_one_after_another(self) -> None:
        series = InvoiceSeries(key="2026/GOA")
        assert [series.take() for _ in range(3)] == [1, 2, 3]
        assert (series.next_number, series.version) == (4, 4)

    @pytest.mark.parametrize("key", ["", "DL01", "26/DL01", "2026/", "2026/DL 01", "2026/a/b"])
    def test_a_malformed_key_is_refused(self, key: str) -> None:
        with pytest.raises(ValidationError) as caught:
            InvoiceSeries(key=key)
        assert caught.value.fields == ("series_key",)

    def test_a_series_with_another_id_or_no_next_number_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            InvoiceSeries(key="2026/GOA", id=uuid4())
        assert caught.value.fields == ("id",)
        with pytest.raises(ValidationError) as caught:
            InvoiceSeries(key="2026/GOA", next_number=0)
        assert caught.value.fields == ("next_number",)


class TestNumbers:
    def test_invoices_and_credit_notes_are_numbered_in_their_series(self) -> None:
        assert invoice_number(InvoiceKind.INVOICE, "2026/DL01", 42) == "INV-2026-DL01-000042"
        assert invoice_number(InvoiceKind.CREDIT_NOTE, "2026/DL01", 43) == "CN-2026-DL01-000043"
        assert invoice_number(InvoiceKind.DEBIT_NOTE, "2026/DL01", 44) == "DN-2026-DL01-000044"

    @pytest.mark.parametrize("sequence", [0, -1, True])
    def test_a_sequence_below_one_is_refused(self, sequence: int) -> None:
        with pytest.raises(ValidationError):
            invoice_number(InvoiceKind.INVOICE, "2026/DL01", sequence)


class TestLines:
    def test_a_line_is_quantity_times_price_and_taxed_at_its_rate(self) -> None:
        line = InvoiceLine.of("Porter", _inr("250.50"), quantity=2, tax_rate=Decimal("5"))
        assert (line.amount, line.tax) == (_inr("501"), _inr("25.05"))
        assert InvoiceLine.of("Seat", _inr("100")).tax == _inr("0")

    def test_a_line_that_does_not_add_up_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="is not 2 x"):
            InvoiceLine("Porter", 2, _inr("100"), _inr("150"))
        with pytest.raises(ValidationError):
            InvoiceLine("Porter", 0, _inr("100"), _inr("0"))
        with pytest.raises(ValidationError):
            InvoiceLine.of(" ", _inr("100"))
        with pytest.raises(ValidationError):
            InvoiceLine.of("Seat", _inr("100"), tax_rate=0.18)  # type: ignore[arg-type]


class TestInvoice:
    def test_an_invoice_with_a_discount_and_part_paid_adds_up(self) -> None:
        lines = (InvoiceLine.of("Asha", _inr("600")), InvoiceLine.of("Ravi", _inr("600")))
        invoice = _invoice(
            lines=lines,
            subtotal=_inr("1200"),
            discount=_inr("200"),
            total=_inr("1000"),
            paid=_inr("400"),
            due=_inr("600"),
        )
        assert invoice.number == "INV-" + invoice.series_key.replace("/", "-") + "-000001"
        assert not invoice.is_credit_note

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"subtotal": _inr("900")}, "subtotal"),
            ({"total": _inr("900")}, "total"),
            ({"tax": _inr("1")}, "tax"),
            ({"due": _inr("-1")}, "due"),
            ({"paid": Money("1000", "USD")}, "paid"),
            ({"lines": ()}, "lines"),
            ({"number": "INV-2026-X-000002"}, "number"),
            ({"credited_invoice_id": uuid4()}, "credited_invoice_id"),
        ],
    )
    def test_an_invoice_that_breaks_a_rule_is_refused_naming_the_field(
        self, fields: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _invoice(**fields)
        assert caught.value.fields == (field,)

    def test_a_credit_note_is_negative_and_names_its_invoice(self) -> None:
        back = _inr("-300")
        credit = _invoice(
            kind=InvoiceKind.CREDIT_NOTE,
            lines=(InvoiceLine.of("Refund of INV-2026-DL01-000001", back),),
            subtotal=back,
            total=back,
            paid=back,
            credited_invoice_id=uuid4(),
        )
        assert credit.is_credit_note
        assert credit.number.startswith("CN-")
        with pytest.raises(ValidationError) as caught:
            _invoice(kind=InvoiceKind.CREDIT_NOTE)
        assert caught.value.fields == ("credited_invoice_id",)
        with pytest.raises(ValidationError) as caught:
            _invoice(kind=InvoiceKind.CREDIT_NOTE, credited_invoice_id=uuid4())
        assert caught.value.fields == ("lines",)

    def test_a_debit_note_is_positive_and_names_the_credit_note_and_refund(self) -> None:
        again = _inr("300")
        debit = _invoice(
            kind=InvoiceKind.DEBIT_NOTE,
            lines=(InvoiceLine.of("Reversal of CN-2026-DL01-000002", again),),
            subtotal=again,
            total=again,
            paid=again,
            credited_invoice_id=uuid4(),
            refund_id=uuid4(),
        )
        assert debit.is_debit_note
        assert not debit.is_credit_note
        assert debit.number.startswith("DN-")
        with pytest.raises(ValidationError) as caught:
            _invoice(kind=InvoiceKind.DEBIT_NOTE, refund_id=uuid4())
        assert caught.value.fields == ("credited_invoice_id",)
        with pytest.raises(ValidationError) as caught:
            _invoice(kind=InvoiceKind.DEBIT_NOTE, credited_invoice_id=uuid4())
        assert caught.value.fields == ("refund_id",)
        back = _inr("-300")
        with pytest.raises(ValidationError) as caught:
            _invoice(
                kind=InvoiceKind.DEBIT_NOTE,
                lines=(InvoiceLine.of("Reversal", back),),
                subtotal=back,
                total=back,
                paid=back,
                credited_invoice_id=uuid4(),
                refund_id=uuid4(),
            )
        assert caught.value.fields == ("lines",)
