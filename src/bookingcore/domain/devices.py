"""Customers' devices for push notifications (real-time booking updates on the mobile app).

A customer's mobile app (or web app) registers the push token its platform gave
it: a :class:`PushDevice` holds the token, the platform (``android``, ``ios``,
``web``) and an optional label ("Asha's phone"). A token is one device: it is
stored once, and a token registered again by another customer (a phone that
changed hands, or a second account signed in on it) moves to them.

A device is *active* until its customer unregisters it (the row goes) or the
push service answers that the token no longer exists (the app was uninstalled,
the token expired): then it is deactivated with the reason, kept so the customer
and staff can see why pushes stopped, and receives nothing until the app
registers the token again.

.. versionadded:: 0.4
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import NewType
from uuid import UUID

import attrs

from bookingcore.domain._validation import Problems, clean_text
from bookingcore.domain.values import CustomerId
from bookingcore.errors import ValidationError

__all__ = [
    "MAX_DEVICE_TOKEN_LENGTH",
    "DevicePlatform",
    "PushDevice",
    "PushDeviceId",
    "clean_device_token",
]

PushDeviceId = NewType("PushDeviceId", UUID)

#: The longest token accepted. FCM registration tokens are about 160 characters,
#: APNs device tokens 64 hex digits; the bound leaves room and keeps the unique
#: index small.
MAX_DEVICE_TOKEN_LENGTH = 1024

_MAX_LABEL = 100
_MAX_REASON = 300
#: A token is one printable word: no spaces, no control characters.
_TOKEN = re.compile(r"[\x21-\x7e]+")


class DevicePlatform(enum.StrEnum):
    """The platform a device's push token comes from.

    .. versionadded:: 0.4
    """

    ANDROID = "android"
    IOS = "ios"
    WEB = "web"

    @classmethod
    def parse(cls, value: DevicePlatform | str, field: str = "platform") -> DevicePlatform:
        """``value`` as a platform, in any case.

        Raises:
            ValidationError: on ``field`` (code ``invalid_choice``) for anything else.
        """
        if isinstance(value, DevicePlatform):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(member.value for member in cls)
            msg = f"{value!r} is not a platform; use one of: {known}"
            raise ValidationError.single(field, msg, "invalid_choice") from None


def clean_device_token(value: object, field: str = "token") -> str:
    """A push token as stored: stripped, one word of printable ASCII, at most
    :data:`MAX_DEVICE_TOKEN_LENGTH` characters.

    Raises:
        ValidationError: on ``field``: ``required`` when empty, ``too_long``,
            ``invalid`` when it holds spaces or characters no push service issues.

    .. versionadded:: 0.4
    """
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    token = value.strip()
    if not token:
        raise ValidationError.single(field, "is required", "required")
    if len(token) > MAX_DEVICE_TOKEN_LENGTH:
        msg = f"is longer than {MAX_DEVICE_TOKEN_LENGTH} characters"
        raise ValidationError.single(field, msg, "too_long")
    if _TOKEN.fullmatch(token) is None:
        msg = "must be one word of printable ASCII characters (as push services issue them)"
        raise ValidationError.single(field, msg, "invalid")
    return token


def _label(value: object) -> str | None:
    return clean_text(value, "label", max_length=_MAX_LABEL)


@attrs.define(kw_only=True)
class PushDevice:
    """One device a customer receives push notifications on.

    ``registered_at`` is when the token was last registered (by this customer);
    ``deactivated_at`` and ``deactivation_reason`` say when and why the push
    service stopped taking it. :meth:`masked_token` is what logs and audit
    entries show of the token.

    .. versionadded:: 0.4
    """

    id: PushDeviceId
    customer_id: CustomerId
    platform: DevicePlatform = attrs.field(converter=DevicePlatform)
    token: str
    label: str | None = None
    active: bool = True
    created_at: datetime
    registered_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None = None
    deactivation_reason: str | None = None

    @classmethod
    def register(
        cls,
        *,
        device_id: PushDeviceId,
        customer_id: CustomerId,
        platform: DevicePlatform | str,
        token: str,
        label: str | None = None,
        now: datetime,
    ) -> PushDevice:
        """A new active device.

        Raises:
            ValidationError: on ``token``, ``platform`` and ``label``, all named at once.
        """
        problems = Problems()
        clean = problems.capture(lambda: clean_device_token(token))
        kind = problems.capture(lambda: DevicePlatform.parse(platform))
        name = problems.capture(lambda: _label(label))
        problems.raise_if_any()
        assert clean is not None
        assert kind is not None
        return cls(
            id=device_id,
            customer_id=customer_id,
            platform=kind,
            token=clean,
            label=name,
            created_at=now,
            registered_at=now,
            updated_at=now,
        )

    def register_again(
        self,
        *,
        customer_id: CustomerId,
        platform: DevicePlatform | str,
        label: str | None,
        now: datetime,
    ) -> CustomerId | None:
        """The app registered this token again (perhaps for another customer): the
        device becomes ``customer_id``'s, active, with this platform and label.

        Returns the customer it moved from, or ``None`` when it stayed with them.

        Raises:
            ValidationError: on ``platform`` and ``label``.
        """
        problems = Problems()
        kind = problems.capture(lambda: DevicePlatform.parse(platform))
        name = problems.capture(lambda: _label(label))
        problems.raise_if_any()
        assert kind is not None
        moved_from = None if customer_id == self.customer_id else self.customer_id
        self.customer_id = customer_id
        self.platform = kind
        # The label named the previous owner's device: it does not move with the token.
        self.label = name if name is not None or moved_from is not None else self.label
        self.active = True
        self.deactivated_at = None
        self.deactivation_reason = None
        self.registered_at = now
        self.updated_at = now
        return moved_from

    def deactivate(self, reason: str, *, now: datetime) -> bool:
        """Stop sending to this device: the push service said the token is gone.

        Returns False (and changes nothing) when it was inactive already.
        """
        if not self.active:
            return False
        self.active = False
        self.deactivated_at = now
        self.deactivation_reason = reason.strip()[:_MAX_REASON] or "deactivated"
        self.updated_at = now
        return True

    def masked_token(self) -> str:
        """The token as logs and audit entries show it: its first and last characters."""
        if len(self.token) <= 12:
            return "…"
        return f"{self.token[:6]}…{self.token[-4:]}"
