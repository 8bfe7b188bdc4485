"""Where a booking or a customer came from.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum

from bookingcore.domain._validation import parse_choice

__all__ = ["BookingSource"]


class BookingSource(enum.StrEnum):
    """The channel a booking or customer came through.

    Older booking systems name the same channels several ways; :meth:`parse` accepts those
    aliases (``website`` is ``direct``, ``bulk_import`` is ``import``,
    ``walk-in`` is ``walk_in``, ``manual`` is a staff entry and so ``direct``).

    .. versionadded:: 0.1
    """

    DIRECT = "direct"
    PARTNER = "partner"
    WALK_IN = "walk_in"
    PHONE = "phone"
    EMAIL = "email"
    IMPORT = "import"
    API = "api"
    MOBILE = "mobile"

    @classmethod
    def parse(cls, value: str | BookingSource, *, field: str = "source") -> BookingSource:
        """Read a source name or one of its aliases, case-insensitively.

        Raises:
            ValidationError: the name is not a known channel.
        """
        return parse_choice(cls, value, field, aliases=_ALIASES, what="a booking source")


_ALIASES = {
    "website": "direct",
    "web": "direct",
    "manual": "direct",
    "bulk_import": "import",
    "walkin": "walk_in",
    "third_party": "partner",
}
