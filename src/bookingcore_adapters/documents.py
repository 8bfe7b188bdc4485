"""A plain :class:`~bookingcore.ports.DocumentRenderer`: invoices, vouchers and
itineraries as HTML or plain text, with no template engine and no dependencies.

Every value taken from a booking is HTML-escaped in HTML output. Hosts that
want branded PDFs implement the same one-method port.

.. versionadded:: 0.1
"""

from __future__ import annotations

import html
from typing import Literal

from bookingcore.domain.documents import DocumentData, DocumentKind, RenderedDocument

__all__ = ["PlainRenderer"]

_TITLES = {
    DocumentKind.INVOICE: "Invoice",
    DocumentKind.VOUCHER: "Voucher",
    DocumentKind.ITINERARY: "Itinerary",
    DocumentKind.CERTIFICATE: "Certificate",
}


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
        """The document ``data.kind`` for ``data.booking``."""
        rows = self._rows(data)
        title = f"{_TITLES[data.kind]} {data.booking.reference}"
        stem = f"{data.kind.value}-{data.booking.reference}"
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

    @staticmethod
    def _rows(data: DocumentData) -> list[tuple[str, str]]:
        booking = data.booking
        rows = [
            ("Reference", booking.reference),
            ("Issued", data.issued_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("Customer", data.customer.name or data.customer.phone.e164),
            ("Starts", booking.starts_at.strftime("%Y-%m-%d %H:%M UTC")),
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
                ("Total", str(booking.total)),
            ]
        return rows
