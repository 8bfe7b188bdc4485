"""Import-file uploads, read as a stream and refused as soon as they are too big or not a sheet.

FastAPI's ``UploadFile`` reads the whole request body into a spooled file
before the endpoint runs, so a 2 GB upload is read in full just to be refused.
:func:`receive_upload` parses the ``multipart/form-data`` body as it arrives
(python-multipart's streaming parser) and stops reading at once when:

* the declared ``Content-Length`` is over the limit (nothing is read);
* the file part grows past ``max_bytes`` (answered 413, ``file_too_large``);
* the file part's first bytes are neither a ZIP archive (XLSX) nor text, or it
  declares a media type that no spreadsheet has (answered 415,
  ``unsupported_file_type``).

The file goes to a temporary file in the upload directory; the library's
:func:`~bookingcore_adapters.importers.open_rows` then makes its own checks
(archive safety, encoding, header) before any row is read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from bookingcore import FieldError, ValidationError

__all__ = [
    "ALLOWED_MEDIA_TYPES",
    "UnsupportedUploadError",
    "Upload",
    "UploadTooLargeError",
    "receive_upload",
]

#: Media types a browser or client may declare for a CSV or XLSX file part.
ALLOWED_MEDIA_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/octet-stream",
        "",
    }
)

#: Room for the multipart framing and the small text fields next to the file.
_FRAMING = 64 * 1024
_MAX_FIELD = 4096
_SNIFF = 8
# First bytes of common files that are not spreadsheets: PDF, PNG, GIF, JPEG, gzip, ELF, 7z.
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"\x7fELF", b"7z\xbc")


class UploadTooLargeError(ValidationError):
    """The upload is over the size limit; answered 413 (code ``file_too_large``)."""


class UnsupportedUploadError(ValidationError):
    """The upload is not a CSV or XLSX file; answered 415 (code ``unsupported_file_type``)."""


@attrs.frozen
class Upload:
    """A received upload: where its file part is on disk, and the form's text fields."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str]

    def discard(self) -> None:
        """Delete the temporary file."""
        self.path.unlink(missing_ok=True)


def _too_large(max_bytes: int) -> UploadTooLargeError:
    msg = f"is larger than the {max_bytes:,}-byte limit"
    return UploadTooLargeError(FieldError("file", msg, "file_too_large"))


def _unsupported(why: str) -> UnsupportedUploadError:
    return UnsupportedUploadError(FieldError("file", why, "unsupported_file_type"))


def _sniff(head: bytes) -> None:
    if head.startswith(b"PK\x03\x04"):
        return
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        msg = "is not a CSV or XLSX file (judged by its first bytes)"
        raise _unsupported(msg)


@attrs.define
class _Part:
    headers: dict[str, str] = attrs.field(factory=dict)
    header_name: bytearray = attrs.field(factory=bytearray)
    header_value: bytearray = attrs.field(factory=bytearray)
    name: str = ""
    filename: str | None = None
    text: bytearray = attrs.field(factory=bytearray)
    head: bytearray = attrs.field(factory=bytearray)
    sniffed: bool = False


class _Receiver:
    """The parser's callbacks: routes the file part to disk and text parts to ``fields``."""

    def __init__(self, field: str, max_bytes: int, out: Callable[[bytes], object]) -> None:
        self.field = field
        self.max_bytes = max_bytes
        self.out = out
        self.part = _Part()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.error: ValidationError | None = None

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.part = _Part()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def header_end(self) -> None:
        name = self.part.header_name.decode("latin-1").strip().lower()
        self.part.headers[name] = self.part.header_value.decode("latin-1").strip()
        self.part.header_name.clear()
        self.part.header_value.clear()

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        if self.part.name != self.field:
            return
        if self.filename is not None:
            # A second file part would be appended to the first on disk.
            msg = "takes one file; this upload has more than one"
            self.fail(ValidationError.single(self.field, msg, "too_many_files"))
            return
        self.part.filename = (
            "upload" if raw_filename is None else raw_filename.decode("utf-8", "replace")
        )
        self.filename = Path(self.part.filename).name or "upload"
        media, _ = parse_options_header(self.part.headers.get("content-type", ""))
        declared = media.decode("latin-1").lower()
        if declared not in ALLOWED_MEDIA_TYPES:
            self.fail(_unsupported(f"is declared as {declared!r}, not a CSV or XLSX file"))

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if self.part.name != self.field:
            self.part.text += chunk
            if len(self.part.text) > _MAX_FIELD:
                msg = f"is longer than {_MAX_FIELD} bytes"
                self.fail(ValidationError.single(self.part.name or "form", msg, "too_long"))
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.fail(_too_large(self.max_bytes))
            return
        if not self.part.sniffed:
            self.part.head += chunk[:_SNIFF]
            if len(self.part.head) >= _SNIFF:
                self.sniff()
        self.out(chunk)

    def part_end(self) -> None:
        if self.part.name == self.field and not self.part.sniffed and self.error is None:
            self.sniff()
        elif self.part.name and self.part.name != self.field:
            self.fields[self.part.name] = self.part.text.decode("utf-8", "replace")

    def sniff(self) -> None:
        self.part.sniffed = True
        try:
            _sniff(bytes(self.part.head))
        except ValidationError as exc:
            self.fail(exc)

    def fail(self, error: ValidationError) -> None:
        if self.error is None:
            self.error = error


async def receive_upload(
    request: Request, *, directory: Path, max_bytes: int, field: str = "file"
) -> Upload:
    """Stream the ``multipart/form-data`` body of ``request`` into ``directory``.

    Reading stops at the first refusal, so an oversized or foreign upload costs
    no more than the bytes read before it was recognised.

    Raises:
        UploadTooLargeError: ``Content-Length`` or the file part over the limit.
        UnsupportedUploadError: a file part that is no spreadsheet.
        ValidationError: not multipart, no ``field`` part, or an oversized text field.
    """
    media, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        msg = "must be sent as multipart/form-data"
        raise ValidationError.single(field, msg, "not_multipart")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + _FRAMING:
        raise _too_large(max_bytes)
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, suffix=".upload")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            receiver = _Receiver(field, max_bytes, out.write)
            parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > max_bytes + _FRAMING:
                    raise _too_large(max_bytes)
                try:
                    parser.write(chunk)
                except FormParserError as exc:
                    msg = "is not a well-formed multipart/form-data body"
                    raise ValidationError.single(field, msg, "malformed_multipart") from exc
                if receiver.error is not None:
                    raise receiver.error
            try:
                parser.finalize()
            except FormParserError as exc:
                msg = "is not a well-formed multipart/form-data body"
                raise ValidationError.single(field, msg, "malformed_multipart") from exc
        if receiver.error is not None:
            raise receiver.error
        if receiver.filename is None:
            raise ValidationError.single(field, "is required (a CSV or XLSX file)", "required")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Upload(path, receiver.filename, receiver.size, receiver.fields)
