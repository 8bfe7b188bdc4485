"""Time and identity: the two things a use case needs from the world besides storage.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

__all__ = ["Clock", "IdGenerator"]


class Clock(Protocol):
    """Tells the time. The core never calls ``datetime.now()`` itself.

    .. versionadded:: 0.1
    """

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class IdGenerator(Protocol):
    """Makes identifiers: entity ids, booking references, API keys.

    .. versionadded:: 0.1
    """

    def new_id(self) -> UUID:
        """A new, never repeated entity id."""

    def new_reference(self) -> str:
        """A short, human-readable, unique booking reference such as ``BK-7KQ2M9XD``."""

    def new_token(self, prefix: str) -> str:
        """An unguessable token (API keys), starting with ``prefix``."""
