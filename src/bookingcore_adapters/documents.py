"""A plain :class:`~bookingcore.ports.DocumentRenderer`: invoices, vouchers and
itineraries as HTML or plain text, with no template engine and no dependencies.

Every value taken from a booking is HTML-escaped in HTML output. PDFs come
from :class:`~bookingcore_adapters.pdf.PdfRenderer` (the ``pdf`` extra), which
prints the same rows; hosts that want branded documents implement the same
one-method port.

An issued invoice or credit note (``DocumentData.invoice``) is rendered with its
number, a table of its lines (description, quantity, unit price, discount, tax
rate, tax, total) and its totals: subtotal, discount, tax, total, paid (refunded
on a credit note) and due. The amounts are the invoice's own, printed as stored.

A document the core worded itself (``DocumentData.body``: a quotation, voucher
or itinerary made on demand) is its title and those lines, as they are.

.. versionadded:: 0.1
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Literal

from bookingcore.domain.documents import DocumentData, DocumentKind, RenderedDocument
from bookingcore.domain.invoices import Invoice, InvoiceLine
from bookingcore.domain.values import Money

__all__ = ["PlainRenderer"]

_TITLES = {
    DocumentKind.INVOICE: "Invoice",
    DocumentKind.VOUCHER: "Voucher",
    DocumentKind.ITINERARY: "Itinerary",
    DocumentKind.CERTIFICATE: "Certificate",
    DocumentKind.CREDIT_NOTE: "Credit note",
    DocumentKind.DEBIT_NOTE: "Debit note",
    DocumentKind.QUOTATION: "Quotation",
}

#: The columns of an invoice's lines.
_LINE_COLUMNS = ("Description", "Qty", "Unit price", "Discount", "Tax rate", "Tax", "Total")


class PlainRenderer:
    """Renders booking documents as ``"html"`` (the default) or ``"text"``.

    .. versionadded:: 0.1
    """

    def __init__(self, format: Literal["html", "text"] = "html") -> None:
        if format not in ("html", "text"):
            msg = "format must be 'html' or 'text'"
            raise ValueError(msg)
        self.format = format

    def render(self, data: DocumentData) -> RenderedDocument:
        """The document ``data.kind`` for ``data.booking`` (or for ``data.invoice``, when set)."""
        if data.invoice is not None:
            return self._invoice(data, data.invoice)
        title = document_title(data)
        stem = f"{data.kind.value}-{data.booking.reference}"
        if data.body:
            return self._worded(title, stem, data)
        rows = document_rows(data)
        if self.format == "text":
            width = max(len(label) for label, _ in rows)
            lines = [title, "=" * len(title), ""]
            lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
            lines += ["", data.business_name]
            return RenderedDocument(
                "\n".join(lines) + "\n", "text/plain; charset=utf-8", f"{stem}.txt"
            )
        cells = "\n".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in rows
        )
        body = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n<table>\n{cells}\n</table>\n"
            f"<p>{html.escape(data.business_name)}</p>\n</body></html>\n"
        )
        return RenderedDocument(body, "text/html; charset=utf-8", f"{stem}.html")

    def _worded(self, title: str, stem: str, data: DocumentData) -> RenderedDocument:
        if self.format == "text":
            text = "\n".join([title, "=" * len(title), "", *data.body]) + "\n"
            return RenderedDocument(text, "text/plain; charset=utf-8", f"{stem}.txt")
        e = html.escape
        lines = "\n".join(f"<p>{e(line)}</p>" for line in data.body)
        body = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{e(title)}</title></head>\n<body>\n"
            f"<h1>{e(title)}</h1>\n{lines}\n</body></html>\n"
        )
        return RenderedDocument(body, "text/html; charset=utf-8", f"{stem}.html")

    # ------------------------------------------------------------------ invoices

    def _invoice(self, data: DocumentData, invoice: Invoice) -> RenderedDocument:
        title, stem, details, lines, totals = invoice_parts(data, invoice)
        if self.format == "text":
            return RenderedDocument(
                _invoice_text(title, details, lines, totals, data.business_name),
                "text/plain; charset=utf-8",
                f"{stem}.txt",
            )
        return RenderedDocument(
            _invoice_html(title, details, lines, totals, data.business_name),
            "text/html; charset=utf-8",
            f"{stem}.html",
        )


def document_title(data: DocumentData) -> str:
    """The heading of a booking's own document: its kind and the booking's reference."""
    return f"{_TITLES[data.kind]} {data.booking.reference}"


def document_rows(data: DocumentData) -> list[tuple[str, str]]:
    """The (label, value) rows of a booking's own document (no issued invoice).

    Shared by every renderer of this package, so an HTML, text and PDF
    document of one booking say the same.
    """
    booking = data.booking
    rows = [
        ("Reference", booking.reference),
        ("Issued", data.time_text(data.issued_at)),
        ("Customer", data.customer.name or data.customer.phone.e164),
        ("Starts", data.time_text(booking.starts_at)),
    ]
    if data.location is not None:
        rows.append(("Location", data.location.name))
    if data.product is not None:
        rows.append(("Product", data.product.name))
    by_id = {t.id: t for t in data.travelers}
    for index, entry in enumerate(booking.travelers, start=1):
        traveler = by_id.get(entry.traveler_id)
        name = traveler.name if traveler else str(entry.traveler_id)
        label = f"Traveler {index}" + (" (primary)" if entry.is_primary else "")
        if data.kind is DocumentKind.INVOICE:
            rows.append((label, f"{name}: {entry.price}"))
        else:
            rows.append((label, name))
    if data.kind is DocumentKind.INVOICE:
        rows += [
            ("Subtotal", str(booking.subtotal)),
            ("Discount", str(booking.discount)),
        ]
        if booking.loyalty_tier is not None and booking.loyalty_discount is not None:
            # Part of the discount above: the loyalty tier the booking was made in.
            label = f"Loyalty {booking.loyalty_tier} ({booking.loyalty_percent}%)"
            rows.append((label, str(booking.loyalty_discount)))
        if booking.voucher_code is not None and booking.voucher_discount is not None:
            # Part of the discount above: which code took off how much.
            rows.append((f"Voucher {booking.voucher_code}", str(booking.voucher_discount)))
        rows.append(("Total", str(booking.total)))
    return rows


#: An issued invoice's parts: title, file stem, details, line cells and totals.
InvoiceParts = tuple[
    str, str, list[tuple[str, str]], list[tuple[str, ...]], list[tuple[str, Money]]
]

#: The column headings of an invoice's lines, for renderers of this package.
LINE_COLUMNS = _LINE_COLUMNS


def invoice_parts(data: DocumentData, invoice: Invoice) -> InvoiceParts:
    """What an issued invoice, credit note or debit note shows, as printed by every
    renderer here."""
    title = f"{_TITLES[data.kind]} {invoice.number}"
    stem = f"{data.kind.value}-{invoice.number}"
    details = [
        ("Number", invoice.number),
        ("Booking", data.booking.reference),
        ("Issued", data.time_text(invoice.issued_at)),
        ("Customer", data.customer.name or data.customer.phone.e164),
    ]
    if data.location is not None:
        details.append(("Location", data.location.name))
    if data.credited is not None:
        details.append(("Reverses" if invoice.is_debit_note else "Credits", data.credited.number))
    lines = [_line_cells(line) for line in invoice.lines]
    totals = [
        ("Subtotal", invoice.subtotal),
        ("Discount", invoice.discount),
        ("Tax", invoice.tax),
        ("Total", invoice.total),
        ("Refunded" if invoice.is_credit_note else "Paid", invoice.paid),
        ("Due", invoice.due),
    ]
    return title, stem, details, lines, totals


def _rate(rate: Decimal | None) -> str:
    return "" if rate is None else f"{format(rate.normalize(), 'f')}%"


def _line_cells(line: InvoiceLine) -> tuple[str, ...]:
    discount = "" if line.discount is None else str(line.discount)
    tax = "" if line.tax_rate is None else str(line.tax)
    return (
        line.description,
        str(line.quantity),
        str(line.unit_price),
        discount,
        _rate(line.tax_rate),
        tax,
        str(line.total),
    )


def _invoice_text(
    title: str,
    details: list[tuple[str, str]],
    lines: list[tuple[str, ...]],
    totals: list[tuple[str, Money]],
    business_name: str,
) -> str:
    width = max(len(label) for label, _ in [*details, *totals])
    out = [title, "=" * len(title), ""]
    out += [f"{label.ljust(width)}  {value}" for label, value in details]
    table = [_LINE_COLUMNS, *lines]
    widths = [max(len(row[i]) for row in table) for i in range(len(_LINE_COLUMNS))]
    out.append("")
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    out.append("")
    out += [f"{label.ljust(width)}  {amount}" for label, amount in totals]
    out += ["", business_name]
    return "\n".join(out) + "\n"


def _invoice_html(
    title: str,
    details: list[tuple[str, str]],
    lines: list[tuple[str, ...]],
    totals: list[tuple[str, Money]],
    business_name: str,
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(column)}</th>" for column in _LINE_COLUMNS)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in lines
    )
    facts = "\n".join(
        f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in details
    )
    sums = "\n".join(
        f'<tr class="{e(label.lower())}"><th>{e(label)}</th><td>{e(str(amount))}</td></tr>'
        for label, amount in totals
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head>\n<body>\n"
        f"<h1>{e(title)}</h1>\n"
        f'<table class="details">\n{facts}\n</table>\n'
        f'<table class="lines">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>\n"
        f'<table class="totals">\n{sums}\n</table>\n'
        f"<p>{e(business_name)}</p>\n</body></html>\n"
    )
