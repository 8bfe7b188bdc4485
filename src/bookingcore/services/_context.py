"""What every service needs: storage, time, ids and settings, wired explicitly."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

import attrs

from bookingcore.domain.lifecycle import PRESETS, Lifecycle
from bookingcore.errors import ValidationError
from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.uow import UnitOfWorkFactory

__all__ = ["ServiceContext", "Settings"]


def _lifecycles(value: Mapping[str, Lifecycle]) -> Mapping[str, Lifecycle]:
    return dict(value)


@attrs.frozen
class Settings:
    """Behaviour a host may tune. Every field has a documented default.

    Args:
        default_region: ISO 3166 region for phone numbers written without a
            country code (``"IN"`` reads ``098765 43210`` as ``+919876543210``).
            ``None`` (the default) insists on international format.
        lifecycles: the lifecycles bookings may follow, by name; the three
            presets by default. Add your own here.
        default_lifecycle: the lifecycle new bookings follow unless the request
            names another.

    .. versionadded:: 0.1
    """

    default_region: str | None = None
    lifecycles: Mapping[str, Lifecycle] = attrs.field(
        factory=lambda: dict(PRESETS), converter=_lifecycles
    )
    default_lifecycle: str = "reservation"

    def __attrs_post_init__(self) -> None:
        if self.default_lifecycle not in self.lifecycles:
            msg = f"{self.default_lifecycle!r} is not one of the configured lifecycles"
            raise ValidationError.single("default_lifecycle", msg, "invalid_choice")

    def lifecycle(self, name: str | None) -> Lifecycle:
        """The lifecycle called ``name`` (the default one for ``None``).

        Raises:
            ValidationError: on field ``lifecycle`` for an unknown name.
        """
        key = self.default_lifecycle if name is None else name
        try:
            return self.lifecycles[key]
        except KeyError:
            known = ", ".join(sorted(self.lifecycles))
            msg = f"{key!r} is not a configured lifecycle (one of {known})"
            raise ValidationError.single("lifecycle", msg, "invalid_choice") from None


@attrs.frozen
class ServiceContext:
    """The dependencies shared by every service of one :class:`~bookingcore.BookingCore`.

    .. versionadded:: 0.1
    """

    uow_factory: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    settings: Settings = attrs.Factory(Settings)

    def now(self) -> datetime:
        """The clock's time, checked to be timezone-aware."""
        now = self.clock.now()
        if now.tzinfo is None:
            msg = "the Clock port must return timezone-aware datetimes"
            raise TypeError(msg)
        return now


def fingerprint(*parts: object) -> str:
    """A stable digest of a request, to tell a retry from a different request."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()
