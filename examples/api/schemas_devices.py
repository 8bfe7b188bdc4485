"""The pydantic models of the push device routes (a customer's devices for push notifications)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from bookingcore.domain import PushDevice
from examples.api.schemas import StrictIn

__all__ = ["DeviceIn", "DeviceOut"]


class DeviceIn(StrictIn):
    """A push token the app got from its platform; the library checks each field and
    names the bad ones (``token``, ``platform``, ``label``)."""

    platform: str = Field(max_length=40, examples=["android"])
    token: str = Field(max_length=4096, examples=["dGVzdC1mY20tdG9rZW4:APA91bH..."])
    label: str | None = Field(default=None, max_length=400, examples=["Asha's phone"])


class DeviceOut(BaseModel):
    """A device the customer gets push notifications on; its token is shown masked."""

    id: UUID
    platform: str
    token_hint: str
    label: str | None
    active: bool
    registered_at: datetime
    deactivated_at: datetime | None
    deactivation_reason: str | None

    @classmethod
    def of(cls, device: PushDevice) -> DeviceOut:
        """The device's fields, the token masked."""
        return cls(
            id=device.id,
            platform=device.platform.value,
            token_hint=device.masked_token(),
            label=device.label,
            active=device.active,
            registered_at=device.registered_at,
            deactivated_at=device.deactivated_at,
            deactivation_reason=device.deactivation_reason,
        )
