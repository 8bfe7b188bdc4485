"""A PDF :class:`~bookingcore.ports.DocumentRenderer` on fpdf2 (the ``pdf`` extra).

It prints what :class:`~bookingcore_adapters.documents.PlainRenderer` prints, in
the same order, as an A4 PDF: a booking's own documents (a voucher, an
itinerary, a pro-forma invoice) as a table of details; an issued invoice or
credit note with its details, a table of its lines (description, quantity, unit
price, discount, tax rate, tax, total) and its totals, amounts as stored; a
document the core worded itself (``DocumentData.body``: a quotation, voucher
or itinerary made on demand) as its lines. The result's ``content`` is the PDF
base64-encoded (media type ``application/pdf``); ``RenderedDocument.to_bytes()``
gives the file.

Text is drawn with an embedded TrueType font (only the glyphs used), so names
with accents, the rupee sign and other scripts the font covers come out right
and can be copied from the PDF. fpdf2 ships no such font: give ``font_path``,
or install DejaVu Sans (``fonts-dejavu-core`` on Debian and Ubuntu,
``dejavu-sans-fonts`` on Fedora), which is looked for at
:data:`DEFAULT_FONT_PATHS`. A bold face next to the regular one
(``DejaVuSans-Bold.ttf``) is used for headings when present.

.. versionadded:: 0.3
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from bookingcore.domain.documents import DocumentData, RenderedDocument
from bookingcore.domain.invoices import Invoice
from bookingcore.errors import ValidationError
from bookingcore_adapters.documents import (
    LINE_COLUMNS,
    document_rows,
    document_title,
    invoice_parts,
)

__all__ = ["DEFAULT_FONT_PATHS", "PdfRenderer"]

#: Where DejaVu Sans is looked for when no ``font_path`` is given, in order
#: (Debian and Ubuntu, Fedora, Arch, Homebrew and macOS user fonts).
DEFAULT_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/opt/homebrew/share/fonts/DejaVuSans.ttf",
    "~/Library/Fonts/DejaVuSans.ttf",
)

_FAMILY = "body"
#: Widths (mm) of an invoice's line columns on A4 with 15 mm margins: 180 mm.
_LINE_WIDTHS = (56, 12, 24, 20, 16, 22, 30)
_LINE_ALIGN = ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")


def _find_font(font_path: str | os.PathLike[str] | None) -> Path:
    if font_path is not None:
        path = Path(font_path).expanduser()
        if not path.is_file():
            msg = f"no TrueType font at {path}"
            raise ValidationError.single("font_path", msg, "not_found")
        return path
    for candidate in DEFAULT_FONT_PATHS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    msg = (
        "no DejaVu Sans font found (looked at "
        + ", ".join(DEFAULT_FONT_PATHS)
        + "); install it (fonts-dejavu-core on Debian and Ubuntu) or give font_path"
    )
    raise ValidationError.single("font_path", msg, "not_found")


class PdfRenderer:
    """Renders booking documents, invoices and credit notes as PDF.

    Args:
        font_path: a TrueType font covering the text to print; by default
            DejaVu Sans from :data:`DEFAULT_FONT_PATHS`.
        bold_font_path: the bold face for headings; by default the font's
            ``-Bold`` sibling when there is one, else the regular face.

    Raises:
        ValidationError: on ``font_path`` (or ``bold_font_path``) when the font
            file is missing, or no default font is installed.

    .. versionadded:: 0.3
    """

    media_type = "application/pdf"

    def __init__(
        self,
        font_path: str | os.PathLike[str] | None = None,
        *,
        bold_font_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.font_path = _find_font(font_path)
        if bold_font_path is not None:
            if not Path(bold_font_path).is_file():
                msg = f"no TrueType font at {bold_font_path}"
                raise ValidationError.single("bold_font_path", msg, "not_found")
            self.bold_font_path = Path(bold_font_path)
        else:
            sibling = self.font_path.with_name(f"{self.font_path.stem}-Bold.ttf")
            self.bold_font_path = sibling if sibling.is_file() else self.font_path

    def render(self, data: DocumentData) -> RenderedDocument:
        """The PDF of ``data.kind`` for ``data.booking`` (or for ``data.invoice``, when set)."""
        pdf = self._new(data)
        if data.invoice is not None:
            stem = self._invoice(pdf, data, data.invoice)
        else:
            title = document_title(data)
            stem = f"{data.kind.value}-{data.booking.reference}"
            self._heading(pdf, title)
            if data.body:
                self._paragraphs(pdf, data.body)
            else:
                self._details(pdf, document_rows(data))
        self._footer(pdf, data.business_name)
        content = base64.b64encode(bytes(pdf.output())).decode("ascii")
        return RenderedDocument(content, self.media_type, f"{stem}.pdf")

    # ------------------------------------------------------------------ layout

    def _new(self, data: DocumentData) -> FPDF:
        pdf = FPDF(format="A4")
        pdf.set_margins(15, 15, 15)
        pdf.set_auto_page_break(auto=True, margin=15)
        # Documents of one request are byte for byte the same: the issue time, not now.
        pdf.set_creation_date(data.issued_at)
        pdf.set_title(document_title(data))
        pdf.set_author(data.business_name)
        pdf.add_font(_FAMILY, "", str(self.font_path))
        pdf.add_font(_FAMILY, "B", str(self.bold_font_path))
        pdf.add_page()
        return pdf

    @staticmethod
    def _heading(pdf: FPDF, title: str) -> None:
        pdf.set_font(_FAMILY, "B", 16)
        pdf.multi_cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    @staticmethod
    def _details(pdf: FPDF, rows: Iterable[tuple[str, str]]) -> None:
        pdf.set_font(_FAMILY, "", 10)
        with pdf.table(
            col_widths=(50, 130),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            text_align=("LEFT", "LEFT"),
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        pdf.ln(4)

    @staticmethod
    def _paragraphs(pdf: FPDF, lines: Sequence[str]) -> None:
        pdf.set_font(_FAMILY, "", 10)
        for line in lines:
            pdf.multi_cell(0, 6, line or " ", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)

    def _invoice(self, pdf: FPDF, data: DocumentData, invoice: Invoice) -> str:
        title, stem, details, lines, totals = invoice_parts(data, invoice)
        self._heading(pdf, title)
        self._details(pdf, details)
        pdf.set_font(_FAMILY, "", 9)
        with pdf.table(
            col_widths=_LINE_WIDTHS,
            text_align=_LINE_ALIGN,
            borders_layout="SINGLE_TOP_LINE",
        ) as table:
            heading = table.row()
            for column in LINE_COLUMNS:
                heading.cell(column)
            for cells in lines:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        pdf.ln(4)
        pdf.set_font(_FAMILY, "", 10)
        for label, amount in totals:
            bold = label in {"Total", "Due"}
            pdf.set_font(_FAMILY, "B" if bold else "", 10)
            pdf.cell(150, 6, label, align=Align.R)
            pdf.cell(30, 6, str(amount), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)
        return stem

    @staticmethod
    def _footer(pdf: FPDF, business_name: str) -> None:
        pdf.set_font(_FAMILY, "", 9)
        pdf.multi_cell(0, 5, business_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
