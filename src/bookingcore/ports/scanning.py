"""Malware scanning of uploaded files (bulk import files) before they are accepted (optional).

.. versionadded:: 0.4
"""

from __future__ import annotations

import os
from typing import Protocol

import attrs

from bookingcore.errors import BookingError, FieldError, ValidationError

__all__ = ["FileScanError", "FileScanner", "InfectedFileError", "ScanResult"]


@attrs.frozen
class ScanResult:
    """What a scanner found: ``threat`` is the name of what it found, ``None`` when clean.

    .. versionadded:: 0.4
    """

    threat: str | None = None

    @property
    def clean(self) -> bool:
        """True when the scanner found nothing."""
        return self.threat is None


class FileScanner(Protocol):
    """Scans a file's content for malware (ClamAV's clamd, a vendor's API).

    ``bookingcore_adapters.scanning`` has ``NoScanner`` (every file clean: the
    default) and ``ClamdScanner``.

    .. versionadded:: 0.4
    """

    def scan(self, content: bytes | os.PathLike[str]) -> ScanResult:
        """Scan ``content`` (the bytes, or the path of a local file, read in chunks).

        Raises:
            FileScanError: the scanner could not be reached or could not scan.
        """


class FileScanError(BookingError):
    """The scanner could not be reached or answered an error: the file was not scanned.

    A host refuses the upload (it cannot tell whether it is clean) and may
    ask the user to try again.

    .. versionadded:: 0.4
    """

    code = "scan_failed"


class InfectedFileError(ValidationError):
    """A scanner found malware in an uploaded file (field ``file``, code ``infected``).

    A :class:`~bookingcore.ValidationError`: the upload is bad input, refused
    before anything is stored; ``threat`` is the name the scanner gave.

    .. versionadded:: 0.4
    """

    def __init__(self, threat: str, field: str = "file") -> None:
        self.threat = threat
        msg = f"was refused: the virus scanner found {threat}"
        super().__init__([FieldError(field, msg, "infected")], f"{field} {msg}")
