"""The port import readers implement: a file, checked, as a stream of rows.

``bookingcore_adapters.importers`` opens CSV and XLSX files behind it; a host
can read any other tabular source (a Google sheet export, an API page) the
same way.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from bookingcore.domain.imports import SourceRow

__all__ = ["RowSource"]


class RowSource(Protocol):
    """A tabular file whose first row is its header, read as many times as needed.

    Attributes:
        filename: the file's name as the user gave it (shown in reports).
        file_format: ``"csv"`` or ``"xlsx"`` (whatever the reader detected from content).
        size: the file's size in bytes.
        digest: the SHA-256 hex digest of the file's bytes; an import plan made
            from one digest is only replayed on a file with the same digest.
        header: the header cells as written in the file.
        has_cells: True when rows have spreadsheet cell names (``D17``), False for CSV.

    .. versionadded:: 0.1
    """

    filename: str
    file_format: str
    size: int
    digest: str
    header: tuple[str, ...]
    has_cells: bool

    def rows(self, *, skip: int = 0) -> Iterator[SourceRow]:
        """Stream the data rows in file order, skipping the first ``skip`` of them.

        Each call reads the file again from the start; memory does not grow
        with the file. Entirely empty rows are not yielded.

        Raises:
            ValidationError: on field ``file`` when the file turns out unreadable
                part-way (a broken archive, an encoding error).
        """
