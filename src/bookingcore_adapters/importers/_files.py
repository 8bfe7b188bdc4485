"""The file checks every import reader shares: limits, type by content, archive safety.

Nothing here parses rows. It answers, before any row is read: is the file too
big, what is it really (whatever its name says), is the archive a bomb, does
any XML part declare a DOCTYPE, and what are its SHA-256 digest and size.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, Final, Literal

import attrs

from bookingcore.errors import ValidationError

_MIB: Final = 1024 * 1024
_BLOCK: Final = 64 * 1024
HEAD_BYTES: Final = 8 * 1024

#: Members that inflate to less than this are never refused for their ratio:
#: highly repetitive small parts (styles, empty sheets) compress very well and
#: cannot hurt anyone; the total size limit still counts them.
_RATIO_FLOOR: Final = _MIB
#: The prolog of an XML part (declaration, comments) must end within this many bytes.
_PROLOG_LIMIT: Final = 64 * 1024
_XML_SUFFIXES: Final = (".xml", ".rels", ".vml")
_WORKBOOK_PART: Final = "xl/workbook.xml"

_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_EOCD_MAGIC: Final = b"PK\x05\x06"
_EOCD_SIZE: Final = 22
_BINARY_MAGIC: Final = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel .xls (or password-protected) file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"{\\rtf", "an RTF document"),
)

FileKind = Literal["zip", "text"]


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be positive, not {value}"
        raise ValueError(msg)


@attrs.frozen
class FileLimits:
    """How big and how compressed an import file may be before it is refused unread.

    Attributes:
        max_bytes: the largest file accepted, in bytes (default 10 MiB).
            Larger files are refused with code ``file_too_large``.
        max_uncompressed_bytes: the largest total an XLSX archive may inflate to
            (default 100 MiB); more is refused as ``zip_bomb``.
        max_compression_ratio: the largest uncompressed-to-compressed ratio of any
            one archive member (default 100; real workbooks stay well under 20).
            Members that inflate to under 1 MiB are not held to it. More is
            refused as ``zip_bomb``.
        max_archive_members: the most members an XLSX archive may hold (default
            1000); more is refused as ``zip_bomb``.

    Raises:
        ValueError: when a limit is not a positive number.

    .. versionadded:: 0.1
    """

    max_bytes: int = attrs.field(default=10 * _MIB, validator=_positive)
    max_uncompressed_bytes: int = attrs.field(default=100 * _MIB, validator=_positive)
    max_compression_ratio: int = attrs.field(default=100, validator=_positive)
    max_archive_members: int = attrs.field(default=1000, validator=_positive)


def refuse(message: str, code: str) -> ValidationError:
    """The error for a file that cannot be imported (field ``file``)."""
    return ValidationError.single("file", message, code)


def _megabytes(size: int) -> str:
    if size < _MIB:
        return f"{size:,} bytes"
    return f"{size / _MIB:.1f} MiB"


class SourceFile:
    """The bytes of an import file: a path opened anew for each pass, or bytes in memory.

    A path is checked on every :meth:`open`: if its size or modification time
    changed since it was first seen, reading stops with code ``file_changed``
    rather than mixing two versions of the file.
    """

    def __init__(self, file: str | os.PathLike[str] | bytes) -> None:
        self.path: Path | None
        self.data: bytes | None
        if isinstance(file, bytes):
            self.path, self.data = None, file
            self.size = len(file)
            self._stamp: tuple[int, int] | None = None
            return
        self.path, self.data = Path(os.fspath(file)), None
        self._stamp = self._stat(self.path)
        self.size = self._stamp[0]

    @staticmethod
    def _stat(path: Path) -> tuple[int, int]:
        try:
            stat = path.stat()
        except OSError as exc:
            msg = f"cannot read {path.name!r}: {exc.strerror or exc}"
            raise refuse(msg, "unreadable_file") from exc
        if not path.is_file():
            msg = f"{path.name!r} is not a regular file"
            raise refuse(msg, "unreadable_file")
        return stat.st_size, stat.st_mtime_ns

    @property
    def default_name(self) -> str:
        """The path's file name, or ``"upload"`` for bytes."""
        return self.path.name if self.path is not None else "upload"

    def open(self) -> BinaryIO:
        """A fresh binary stream positioned at the start of the file.

        Raises:
            ValidationError: ``file_changed`` when the file on disk changed,
                ``unreadable_file`` when it cannot be opened any more.
        """
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        if self._stat(self.path) != self._stamp:
            msg = f"{self.path.name!r} changed after it was opened; open it again"
            raise refuse(msg, "file_changed")
        try:
            return self.path.open("rb")
        except OSError as exc:
            msg = f"cannot read {self.path.name!r}: {exc.strerror or exc}"
            raise refuse(msg, "unreadable_file") from exc

    def blocks(self, limits: FileLimits) -> Iterator[bytes]:
        """The file's bytes in blocks, refusing it as soon as it outgrows ``limits.max_bytes``."""
        seen = 0
        with self.open() as stream:
            while block := stream.read(_BLOCK):
                seen += len(block)
                if seen > limits.max_bytes:
                    raise _too_large(seen, limits)
                yield block

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes."""
        with self.open() as stream:
            return stream.read(size)


def _too_large(size: int, limits: FileLimits) -> ValidationError:
    msg = f"the file is {_megabytes(size)}; the limit is {_megabytes(limits.max_bytes)}"
    return refuse(msg, "file_too_large")


def check_size(file: SourceFile, limits: FileLimits) -> None:
    """Refuse a file over ``limits.max_bytes`` (``file_too_large``) or of no bytes (``empty_file``).

    Raises:
        ValidationError: as above.
    """
    if file.size > limits.max_bytes:
        raise _too_large(file.size, limits)
    if file.size == 0:
        msg = "the file is empty"
        raise refuse(msg, "empty_file")


def file_kind(head: bytes) -> FileKind:
    """What the first bytes of a file say it is: a ZIP archive, or text worth decoding.

    Raises:
        ValidationError: ``unsupported_file_type`` for a known binary format
            (PDF, images, legacy ``.xls``, other archives).
    """
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            msg = f"the file is {what}; upload a CSV or XLSX file"
            raise refuse(msg, "unsupported_file_type")
    return "text"


def sha256_digest(blocks: Iterator[bytes]) -> tuple[str, int]:
    """The SHA-256 hex digest and byte count of a stream of blocks."""
    digest = hashlib.sha256()
    size = 0
    for block in blocks:
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def check_archive(file: SourceFile, limits: FileLimits) -> None:
    """Refuse a ZIP that is not a safe XLSX workbook, before any part is parsed.

    Reads only the archive's directory and the first bytes of each XML part.
    The sizes checked are the ones the archive declares, which is enough:
    :mod:`zipfile` (which openpyxl reads through) never inflates a member
    past its declared size, and python-calamine's reader refuses one that
    tries.

    Raises:
        ValidationError: ``zip_bomb`` (too many members, too large once
            inflated, or a member compressed beyond the ratio limit),
            ``unsupported_file_type`` (a ZIP without ``xl/workbook.xml``:
            an ODS or Word file, say), ``unsafe_xml`` (an XML part declares
            a DOCTYPE or entities), ``unreadable_file`` (a damaged archive).
    """
    with file.open() as stream:
        _check_member_count(stream, file.size, limits)
        stream.seek(0)
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            msg = "the file looks like a ZIP archive but is damaged"
            raise refuse(msg, "unreadable_file") from exc
        with archive:
            members = archive.infolist()
            _check_inflated_sizes(members, limits)
            names = [member.filename for member in members]
            if len(set(names)) != len(names):
                msg = "the archive holds two members with the same name"
                raise refuse(msg, "unreadable_file")
            if _WORKBOOK_PART not in names:
                msg = (
                    "the file is a ZIP archive but not an XLSX workbook; upload a CSV or XLSX file"
                )
                raise refuse(msg, "unsupported_file_type")
            for member in members:
                if member.filename.lower().endswith(_XML_SUFFIXES):
                    _check_xml_prolog(archive, member)


def _check_member_count(stream: IO[bytes], size: int, limits: FileLimits) -> None:
    # The end-of-directory record states the member count: refuse a huge
    # directory before zipfile builds an object for every entry.
    tail_size = min(size, _EOCD_SIZE + 0xFFFF)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(_EOCD_MAGIC)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        return  # zipfile reports the damage
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    if count != 0xFFFF and count > limits.max_archive_members:
        raise _too_many_members(count, limits)


def _too_many_members(count: int, limits: FileLimits) -> ValidationError:
    msg = f"the archive holds {count} members; the limit is {limits.max_archive_members}"
    return refuse(msg, "zip_bomb")


def _check_inflated_sizes(members: list[zipfile.ZipInfo], limits: FileLimits) -> None:
    if len(members) > limits.max_archive_members:
        raise _too_many_members(len(members), limits)
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        msg = (
            f"the archive inflates to {_megabytes(total)}; "
            f"the limit is {_megabytes(limits.max_uncompressed_bytes)}"
        )
        raise refuse(msg, "zip_bomb")
    for member in members:
        if member.file_size <= _RATIO_FLOOR:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            msg = (
                f"archive member {member.filename!r} is compressed {ratio:.0f} to 1; "
                f"the limit is {limits.max_compression_ratio} to 1"
            )
            raise refuse(msg, "zip_bomb")


def _check_xml_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse a part whose prolog declares a DOCTYPE (and with it, entities).

    A DOCTYPE (the only place entities can be declared) may only stand
    before the root element, so the part is read in small pieces up to its
    first element and no further.
    """
    unsafe = f"archive member {member.filename!r} declares a DOCTYPE or entities"
    raw = b""
    try:
        with archive.open(member) as part:
            while True:
                chunk = part.read(4096)
                raw += chunk
                text = _decode_prolog(raw)
                verdict = _prolog_verdict(text)
                if verdict == "safe" or (verdict == "more" and not chunk):
                    return  # a root element, or a part the parser will reject
                if verdict == "unsafe":
                    raise refuse(unsafe, "unsafe_xml")
                if len(raw) > _PROLOG_LIMIT:
                    msg = f"archive member {member.filename!r} has an oversized XML prolog"
                    raise refuse(msg, "unsafe_xml")
    except ValidationError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, encrypted members: all damage to us
        msg = f"archive member {member.filename!r} cannot be read"
        raise refuse(msg, "unreadable_file") from exc


def _decode_prolog(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"<\x00")):
        return raw.decode("utf-16-le", errors="replace")
    if raw.startswith((b"\xfe\xff", b"\x00<")):
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _prolog_verdict(text: str) -> Literal["safe", "unsafe", "more"]:
    """Walk the prolog: declarations, processing instructions, comments, whitespace."""
    position = 0
    text = text.lstrip("\ufeff")
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return "more"
        rest = text[position:]
        if rest.startswith("<?"):
            end = text.find("?>", position + 2)
            if end < 0:
                return "more"
            position = end + 2
        elif rest.startswith("<!--"):
            end = text.find("-->", position + 4)
            if end < 0:
                return "more"
            position = end + 3
        elif rest.startswith("<!"):
            if len(rest) < len("<!--") and "<!--".startswith(rest):
                return "more"  # a comment cut short by the chunk
            return "unsafe"  # <!DOCTYPE, <!ENTITY (or top-level junk)
        elif rest == "<":
            return "more"
        else:
            return "safe"  # the root element (or junk the parser will reject)


def unique_header(cells: list[str]) -> tuple[str, ...]:
    """Header names fit to key a row: stripped, trailing blanks dropped, blanks named, no twins.

    A blank name becomes ``column_<n>`` (``n`` counts from 1, so the blank in
    spreadsheet column E is ``column_5``); a repeated name gets ``_2``,
    ``_3``... (``phone``, ``phone_2``), never taking a name that the header
    spells out elsewhere.
    """
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    written = set(names)
    taken: set[str] = set()
    unique: list[str] = []
    for position, name in enumerate(names, start=1):
        base = name or f"column_{position}"
        candidate, suffix = base, 2
        while candidate in taken or (candidate != name and candidate in written):
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        unique.append(candidate)
    return tuple(unique)
