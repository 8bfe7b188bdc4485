"""What the import tests share: a RowSource over rows held in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import attrs

from bookingcore.domain import SourceRow


@attrs.define
class ListSource:
    """A RowSource over rows held in memory (what the file readers produce).

    Row numbers start at 2, as in a sheet under its header; ``reads`` counts
    how often the rows were read.
    """

    header: tuple[str, ...]
    data: list[tuple[str, ...]]
    filename: str = "bookings.csv"
    file_format: str = "csv"
    has_cells: bool = False
    reads: int = 0

    @property
    def size(self) -> int:
        return len(repr(self.data))

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr((self.header, self.data)).encode()).hexdigest()

    def rows(self, *, skip: int = 0) -> Iterator[SourceRow]:
        self.reads += 1
        for index, values in enumerate(self.data):
            if index >= skip:
                yield SourceRow(index + 2, values)
