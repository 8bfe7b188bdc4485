"""Where a booking or a customer came from.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum

from bookingcore.errors import ValidationError

__all__ = ["BookingSource"]


class BookingSource(enum.StrEnum):
    """The channel a booking or customer came through.

    The seeds name the same channels several ways; :meth:`parse` accepts those
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
        if isinstance(value, BookingSource):
            return value
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            msg = f"{value!r} is not a booking source (one of {known})"
            raise ValidationError.single(field, msg, "invalid_choice") from None


_ALIASES = {
    "website": "direct",
    "web": "direct",
    "manual": "direct",
    "bulk_import": "import",
    "walkin": "walk_in",
    "third_party": "partner",
}
