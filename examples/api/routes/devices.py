"""The signed-in customer's devices for push notifications (real-time booking
updates on the mobile app), and staff's view of a customer's devices.

The app registers the token its platform gave it after sign-in (again whenever the
platform hands it a new one) and unregisters it at sign-out.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Response, status

from bookingcore import AuthenticationError, CustomerId, NotFoundError, PermissionDeniedError
from bookingcore.domain import PushDeviceId
from examples.api.deps import Core, CustomerPrincipal, StaffPrincipal, customer_id_of
from examples.api.errors import problem_responses
from examples.api.schemas_devices import DeviceIn, DeviceOut

__all__ = ["router"]

router = APIRouter()

_TAGS: list[str | Enum] = ["customer devices"]


@router.post(
    "/api/v1/customer/devices",
    tags=_TAGS,
    operation_id="customer_register_device",
    responses={
        **problem_responses(AuthenticationError),
        201: {"model": DeviceOut, "description": "The token was new: a device was registered."},
    },
)
def register_device(
    body: DeviceIn, core: Core, me: CustomerPrincipal, response: Response
) -> DeviceOut:
    """Register the app's push token for this customer (201), or register it again (200):
    the same device, active again, with this platform and label. A token another
    customer registered before moves to this one.

    422 names the field: ``token`` (empty, too long, with spaces), ``platform`` (not
    ``android``, ``ios`` or ``web``), ``label``.
    """
    registration = core.devices.register(
        customer_id_of(me), body.platform, body.token, principal=me, label=body.label
    )
    if registration.created:
        response.status_code = status.HTTP_201_CREATED
    return DeviceOut.of(registration.device)


@router.get(
    "/api/v1/customer/devices",
    tags=_TAGS,
    operation_id="customer_list_devices",
    responses=problem_responses(AuthenticationError),
)
def list_devices(core: Core, me: CustomerPrincipal) -> list[DeviceOut]:
    """The customer's devices, oldest first; a device whose token the push service
    refused is listed inactive, with the reason."""
    return [DeviceOut.of(d) for d in core.devices.list(customer_id_of(me), principal=me)]


@router.delete(
    "/api/v1/customer/devices/{device_id}",
    tags=_TAGS,
    operation_id="customer_unregister_device",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def unregister_device(device_id: UUID, core: Core, me: CustomerPrincipal) -> Response:
    """Forget the device (at sign-out): nothing is pushed to it any more. Another
    customer's device, or one unregistered already, answers 404."""
    core.devices.unregister(customer_id_of(me), PushDeviceId(device_id), principal=me)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/admin/customers/{customer_id}/devices",
    tags=["customers"],
    operation_id="admin_customer_devices",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def customer_devices(customer_id: UUID, core: Core, staff: StaffPrincipal) -> list[DeviceOut]:
    """A customer's push devices, for staff who see every customer (why did pushes stop?)."""
    return [DeviceOut.of(d) for d in core.devices.list(CustomerId(customer_id), principal=staff)]


@router.delete(
    "/api/admin/customers/{customer_id}/devices/{device_id}",
    tags=["customers"],
    operation_id="admin_unregister_customer_device",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def unregister_customer_device(
    customer_id: UUID, device_id: UUID, core: Core, staff: StaffPrincipal
) -> Response:
    """Unregister a customer's device (a lost phone), for staff who change everything."""
    core.devices.unregister(CustomerId(customer_id), PushDeviceId(device_id), principal=staff)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
