"""A partner never sees another partner's data, through any route of the app.

Partner A books through the partner API (a customer, a booking, a payment) and
staff import a file; then partner B calls every route of the route table, with
A's ids in the path and in the body where a route takes one (A's booking, customer,
payment, import job, traveler, waiting-list entry, group, webhook delivery, lead,
partner record),
and a period for the reports that take one (A earned a commission in it). No answer
may be a success about A's records, and no answer may carry any of A's ids
(its partner id too), references or phone numbers.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import PEPPER, SECRET, SETUP

from bookingcore import BookingCore, BookingId, CustomerId, Principal, StaffId, StaffRole
from bookingcore.domain import Slot, WebhookDelivery, WebhookTopic
from bookingcore.services import LeadRequest
from bookingcore.testing import FakePaymentProvider
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from examples.api import build_core, create_app


def _route_table() -> list[tuple[str, str, str]]:
    """Every operation of the app's OpenAPI document: (operation id, method, path)."""
    core = build_core(
        MemoryStore().unit_of_work, token_secret=SECRET, otp_pepper=PEPPER, sms=ConsoleSmsSender()
    )
    paths = create_app(core).openapi()["paths"]
    return [
        (operation["operationId"], method.upper(), path)
        for path, methods in paths.items()
        for method, operation in methods.items()
    ]


ROUTES = _route_table()


def _partner(api_core: BookingCore, client: ApiClient, slot: Slot, name: str) -> dict[str, str]:
    """A partner earning 10 % commission, signed in."""
    registered = api_core.partners.register(
        name=name,
        company_name=f"{name} Travel",
        contact_email=f"ops@{name.lower()}.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
        commission_rate="10",
    )
    answer = client.post(
        "/api/partner/auth/token",
        json={"api_key": registered.api_key, "api_secret": registered.api_secret},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def partner_a_data(
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    staff_headers: dict[str, str],
    provider: FakePaymentProvider,
) -> dict[str, str]:
    """What partner A made: a customer, a booking with a payment, a waiting-list entry,
    a group and a webhook delivery; and an import job."""
    a = _partner(api_core, client, slot, "Alpha")
    made = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001", "name": "Alpha Customer"},
            "travelers": [{"name": "Alpha Customer", "is_primary": True}],
            "external_id": "ALPHA-SECRET-1",
        },
        headers=a,
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    intent = client.post(
        "/api/payments/create-intent",
        json={"booking_id": booking["id"], "provider": "fake"},
        headers={**a, "Idempotency-Key": "alpha-pay"},
    )
    assert intent.status_code == 201, intent.text
    captured, raw = provider.webhook("captured", intent.json()["payment"]["provider_reference"])
    paid = client.post("/api/payments/webhook?provider=fake", content=raw, headers=captured)
    assert paid.status_code == 200, paid.text  # A earns a commission on it
    csv = b"customer_name,customer_phone,dealer_code,booking_date\nX,+919800000002,NO,2026-03-05\n"
    job = client.post(
        "/api/admin/bookings/import",
        files={"file": ("a.csv", csv, "text/csv")},
        headers=staff_headers,
    )
    assert job.status_code == 201, job.text
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    customer_id = CustomerId(UUID(booking["customer_id"]))
    entry = api_core.waitlists.join(slot.id, principal=admin, customer_id=customer_id)
    group = api_core.groups.create("ALPHA-GROUP-1", organizer_id=customer_id, principal=admin)
    stored = api_core.bookings.get(BookingId(UUID(booking["id"])), principal=admin)
    assert stored.partner_id is not None
    delivery = WebhookDelivery.schedule(
        event_id=uuid4(),
        partner_id=stored.partner_id,
        topic=WebhookTopic.BOOKING_CREATED,
        payload={"booking_id": booking["id"], "reference": booking["reference"]},
        now=api_core.context.now(),
        booking_id=BookingId(UUID(booking["id"])),
    )
    with api_core.context.uow_factory() as uow:
        uow.webhook_deliveries.add(delivery)
        uow.commit()
    lead = api_core.leads.capture(
        LeadRequest(source="partner", phone="+919800000003", destination="Alpha Secret Isle"),
        principal=Principal.partner(stored.partner_id),
    )
    return {
        "booking_id": booking["id"],
        "reference": booking["reference"],
        "customer_id": booking["customer_id"],
        "external_id": "ALPHA-SECRET-1",
        "phone": "+919800000001",
        "payment_id": intent.json()["payment"]["id"],
        "job_id": job.json()["id"],
        "traveler_id": booking["travelers"][0]["traveler_id"],
        "entry_id": str(entry.id),
        "group_id": str(group.id),
        "delivery_id": str(delivery.id),
        "lead_id": str(lead.id),
        "partner_id": str(stored.partner_id),
    }


class _Ids(dict[str, str]):
    """Path parameters: A's ids, the slot both partners sell, and unknown ids for the rest
    (a quotation, an item: records partner B reaches only through staff routes)."""

    def __missing__(self, key: str) -> str:
        return str(uuid4())


def _bodies(data: dict[str, str], slot_id: str) -> dict[str, Any]:
    """Bodies that aim at A's records, for the routes that take an id in the body."""
    travelers = {"travelers": [{"name": "Bravo Guest", "is_primary": True}]}
    return {
        "partner_join_waiting_list": {"slot_id": slot_id, "customer_id": data["customer_id"]},
        "partner_accept_waiting_list_offer": travelers,
        "customer_accept_waiting_list_offer": travelers,
        "admin_create_trip": {
            "customer_id": data["customer_id"],
            "name": "Bravo's trip",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-02",
            "booking_ids": [data["booking_id"]],
        },
        "admin_set_partner_active": {"active": False},
        "admin_convert_lead": {"slot_id": slot_id, "valid_until": "2026-12-31", "travelers": 1},
        "core_move_booking": {"bookingId": data["booking_id"], "toStatus": "cancelled"},
        "payments_create_intent": {"booking_id": data["booking_id"], "provider": "fake"},
        "partner_update_booking": {"external_id": "TAKEN-OVER"},
        "partner_replace_booking": {"external_id": "TAKEN-OVER"},
        "admin_assign_booking": {"advisor_id": None},
        "payments_refund": {"amount": {"amount": "1.00", "currency": "INR"}},
        "admin_transition_booking": {"to": "cancelled"},
        "advisor_update_status": {"status": "cancelled"},
        "admin_send_booking_message": {"type": "confirmation"},
        "portal_cancel_booking": {},
        "customer_cancel_booking": {},
    }


@pytest.mark.parametrize(("operation", "method", "path"), ROUTES, ids=[r[0] for r in ROUTES])
def test_partner_b_gets_nothing_of_partner_a(
    operation: str,
    method: str,
    path: str,
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    partner_a_data: dict[str, str],
    app: FastAPI,
) -> None:
    b = _partner(api_core, client, slot, "Bravo")
    url = path.format_map(_Ids(partner_a_data, slot_id=str(slot.id)))
    bodies = _bodies(partner_a_data, str(slot.id))
    body = bodies.get(operation, {})
    headers = {**b, "Idempotency-Key": f"bravo-{operation}"}
    now = api_core.context.now()
    params = {  # what some routes ask for; the others ignore them
        "provider": "fake",
        "start": (now - timedelta(days=1)).isoformat(),
        "end": (now + timedelta(days=1)).isoformat(),
    }
    answer = client.request(method, url, json=body, headers=headers, params=params)
    assert answer.status_code < 500, answer.text
    targets_a = any(f"{{{name}}}" in path for name in partner_a_data) or operation in bodies
    if targets_a:
        assert answer.status_code >= 400, (method, url, answer.text)
    sent = url + json.dumps(body)
    for name, secret in partner_a_data.items():
        if secret in sent:
            continue  # a refusal may echo the id the caller sent ("booking ... not found")
        assert secret not in answer.text, (name, method, url)
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    booking = api_core.bookings.get(BookingId(UUID(partner_a_data["booking_id"])), principal=admin)
    assert booking.status == "confirmed"  # as A's payment left it
    assert booking.external_id == "ALPHA-SECRET-1"
