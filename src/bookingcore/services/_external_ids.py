"""The external ids an import has seen, in memory that does not grow with the file.

An import refuses a row that repeats an earlier row's external id, so it must
remember every external id of the file and the row that first held it. Kept in
a dict, that is about 135 bytes an id: 135 MB for a million-row file. The
register keeps the first :data:`SPILL_AFTER` ids in a dict, then moves them
into a private temporary SQLite database (stdlib ``sqlite3``; SQLite deletes the
file when the register closes), whose page cache is capped at
:data:`CACHE_KIB`: the memory then stays flat however long the file is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

__all__ = ["CACHE_KIB", "SPILL_AFTER", "ExternalIds"]

#: Ids kept in a dict before the register moves to a temporary database (~2.7 MB).
SPILL_AFTER = 20_000
#: The temporary database's page cache, in KiB.
CACHE_KIB = 2_048


class ExternalIds:
    """External id -> the number of the row that first held it."""

    def __init__(self, spill_after: int | None = None) -> None:
        self._spill_after = SPILL_AFTER if spill_after is None else spill_after
        self._recent: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, external_id: object) -> bool:
        return isinstance(external_id, str) and self.first(external_id) is not None

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """Every ``(external id, row)``, in no particular order."""
        if self._db is None:
            yield from list(self._recent.items())
            return
        yield from self._db.execute("SELECT external_id, row_number FROM seen").fetchall()

    def first(self, external_id: str) -> int | None:
        """The row that first held ``external_id``, or None if no row has."""
        if self._db is None:
            return self._recent.get(external_id)
        found = self._db.execute(
            "SELECT row_number FROM seen WHERE external_id = ?", (external_id,)
        ).fetchone()
        return None if found is None else int(found[0])

    def claim(self, external_id: str, row_number: int) -> int:
        """Record ``row_number`` as holding ``external_id`` unless a row already does.

        Returns the row that holds it now: ``row_number`` when the id is new.
        """
        if self._db is None:
            first = self._recent.get(external_id)
            if first is not None:
                return first
            self._recent[external_id] = row_number
            self._count += 1
            if self._count > self._spill_after:
                self._spill()
            return row_number
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO seen (external_id, row_number) VALUES (?, ?)",
            (external_id, row_number),
        ).rowcount
        if inserted:
            self._count += 1
            return row_number
        first = self.first(external_id)
        return row_number if first is None else first

    def release(self, external_id: str) -> None:
        """Forget ``external_id`` (its row's chunk is being redone)."""
        if self._db is None:
            if self._recent.pop(external_id, None) is not None:
                self._count -= 1
            return
        removed = self._db.execute("DELETE FROM seen WHERE external_id = ?", (external_id,))
        self._count -= removed.rowcount

    def close(self) -> None:
        """Drop the temporary database, if the register made one."""
        db, self._db = self._db, None
        if db is not None:
            db.close()
        self._recent = {}
        self._count = 0

    def _spill(self) -> None:
        # An empty file name: a private temporary database, deleted when closed.
        db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute(
            "CREATE TABLE seen (external_id TEXT PRIMARY KEY, row_number INTEGER NOT NULL)"
            " WITHOUT ROWID"
        )
        db.executemany("INSERT INTO seen VALUES (?, ?)", self._recent.items())
        self._db = db
        self._recent = {}
