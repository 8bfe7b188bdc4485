"""FcmNotifier and GoogleAccessTokens against a local FCM HTTP v1 server and token
endpoint that check the service account's RS256 signature and answer in FCM's shapes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from tests.adapters._fake_fcm import (
    CLIENT_EMAIL,
    FCM_SCOPE,
    KEY_ID,
    PROJECT,
    FakeFcm,
    fake_fcm,
    fcm_error,
    pem,
    rsa_key,
    service_account_info,
)

import bookingcore_adapters
from bookingcore import (
    BookingCore,
    BookingRequest,
    DeliveryError,
    Money,
    NewTraveler,
    Principal,
    RecipientGoneError,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Channel, CommunicationStatus
from bookingcore.domain.values import CommunicationId
from bookingcore.ports.messaging import OutgoingMessage
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.notifications import ChannelNotifier
from bookingcore_adapters.push import FcmNotifier, GoogleAccessTokens, ServiceAccount

PHONE = "cGhvbmUtdG9rZW4:APA91bHphone"
TABLET = "dGFibGV0LXRva2Vu:APA91bHtablet"


@pytest.fixture(scope="session")
def key() -> RSAPrivateKey:
    """The service account's key (2048-bit, as Google issues them), made once."""
    return rsa_key()


@pytest.fixture(scope="session")
def impostor() -> RSAPrivateKey:
    """Another key, which the token endpoint does not know."""
    return rsa_key()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fcm(key: RSAPrivateKey, clock: FixedClock) -> Iterator[FakeFcm]:
    with fake_fcm(key, clock) as fake:
        yield fake


def notifier_for(
    fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock, **options: object
) -> FcmNotifier:
    return FcmNotifier(
        service_account_info(key, fcm.token_uri),
        base_url=fcm.url,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


def push(token: str = PHONE, **fields: object) -> OutgoingMessage:
    return OutgoingMessage(
        communication_id=CommunicationId(uuid4()),
        channel=Channel.PUSH,
        recipient=token,
        subject=str(fields.pop("subject", "Booking confirmed")),
        body=str(fields.pop("body", "BK-000001 at Base camp on 2026-01-11 is confirmed.")),
        data=fields.pop("data", {"booking_id": "b-1", "type": "confirmation"}),  # type: ignore[arg-type]
    )


def _segment(part: str) -> object:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class TestSending:
    def test_a_push_goes_to_fcm_in_its_v1_shape_with_a_bearer_token(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        with notifier_for(fcm, key, clock) as notifier:
            receipt = notifier.send(push())
        assert receipt.provider_message_id == f"projects/{PROJECT}/messages/0:1700000000001"
        assert receipt.status is CommunicationStatus.SENT
        (sent,) = fcm.sends
        assert sent["authorization"] == "Bearer ya29.fake-access-token-1"
        assert sent["body"] == {
            "message": {
                "token": PHONE,
                "notification": {
                    "title": "Booking confirmed",
                    "body": "BK-000001 at Base camp on 2026-01-11 is confirmed.",
                },
                "data": {"booking_id": "b-1", "type": "confirmation"},
            }
        }

    def test_the_token_request_is_a_jwt_bearer_grant_signed_by_the_service_account(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        with notifier_for(fcm, key, clock) as notifier:
            notifier.send(push())
        (request,) = fcm.token_requests
        assert request["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert fcm.check_assertion(request["assertion"]) is None
        header, claims, _ = request["assertion"].split(".")
        assert _segment(header) == {
            "alg": "RS256",
            "kid": KEY_ID,
            "typ": "JWT",
        }
        now = int(clock.now().timestamp())
        assert _segment(claims) == {
            "iss": CLIENT_EMAIL,
            "scope": FCM_SCOPE,
            "aud": fcm.token_uri,
            "iat": now,
            "exp": now + 3600,
        }

    def test_the_access_token_is_reused_until_shortly_before_it_expires(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        with notifier_for(fcm, key, clock) as notifier:
            notifier.send(push())
            clock.advance(minutes=50)  # 3599 s minus 5 minutes is not reached yet
            notifier.send(push())
            assert len(fcm.token_requests) == 1
            clock.advance(minutes=5)  # within five minutes of expiry: a new token
            notifier.send(push())
        assert len(fcm.token_requests) == 2
        assert [s["authorization"][-1] for s in fcm.sends] == ["1", "1", "2"]

    def test_a_revoked_access_token_is_replaced_once_and_the_push_goes_out(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        with notifier_for(fcm, key, clock) as notifier:
            notifier.send(push())
            fcm.revoked.add(fcm.issued[0])
            receipt = notifier.send(push())
        assert receipt.provider_message_id
        assert [s["authorization"] for s in fcm.sends][1:] == [
            "Bearer ya29.fake-access-token-1",
            "Bearer ya29.fake-access-token-2",
        ]

    def test_a_message_on_another_channel_is_refused_without_a_request(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        with notifier_for(fcm, key, clock) as notifier, pytest.raises(DeliveryError) as caught:
            notifier.send(
                OutgoingMessage(CommunicationId(uuid4()), Channel.SMS, "+919876543210", "hi")
            )
        assert caught.value.retryable is False
        assert fcm.sends == []
        assert fcm.token_requests == []


class TestErrors:
    def test_an_unregistered_token_is_gone_and_not_retryable(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        fcm.unregistered.add(PHONE)
        with notifier_for(fcm, key, clock) as notifier, pytest.raises(RecipientGoneError) as caught:
            notifier.send(push(PHONE))
        assert caught.value.retryable is False
        assert caught.value.reason == "fcm 404 UNREGISTERED: Requested entity was not found."

    def test_an_invalid_token_is_gone_but_another_invalid_argument_is_not(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        fcm.invalid.add("not-a-token")
        bad_data = fcm_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid value at 'message.data[0].value'",
            error_code="INVALID_ARGUMENT",
            field="message.data[0].value",
        )
        fcm.answers.append((400, bad_data))
        with notifier_for(fcm, key, clock) as notifier:
            with pytest.raises(RecipientGoneError):
                notifier.send(push("not-a-token"))
            with pytest.raises(DeliveryError) as caught:
                notifier.send(push(PHONE))
        assert not isinstance(caught.value, RecipientGoneError)
        assert caught.value.retryable is False
        assert "INVALID_ARGUMENT" in caught.value.reason

    @pytest.mark.parametrize(
        ("code", "status", "fcm_code"),
        [(503, "UNAVAILABLE", "UNAVAILABLE"), (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")],
    )
    def test_overload_and_quota_are_retryable(
        self,
        fcm: FakeFcm,
        key: RSAPrivateKey,
        clock: FixedClock,
        code: int,
        status: str,
        fcm_code: str,
    ) -> None:
        fcm.answers.append((code, fcm_error(code, status, "try later", error_code=fcm_code)))
        with notifier_for(fcm, key, clock) as notifier:
            with pytest.raises(DeliveryError) as caught:
                notifier.send(push())
            assert caught.value.retryable is True
            assert caught.value.reason == f"fcm {code} {fcm_code}: try later"
            assert notifier.send(push()).provider_message_id  # the next try goes out

    def test_a_key_the_token_endpoint_cannot_verify_is_refused_and_nothing_is_sent(
        self, fcm: FakeFcm, impostor: RSAPrivateKey, clock: FixedClock
    ) -> None:
        # signs as the account, with another private key
        with notifier_for(fcm, impostor, clock) as notifier, pytest.raises(DeliveryError) as caught:
            notifier.send(push())
        assert caught.value.retryable is False
        assert caught.value.reason == (
            "google token endpoint invalid_grant: Invalid JWT Signature."
        )
        assert fcm.issued == []
        assert fcm.sends == []
        assert "PRIVATE KEY" not in caught.value.reason

    def test_an_unreachable_fcm_is_retryable(self, key: RSAPrivateKey, clock: FixedClock) -> None:
        with fake_fcm(key, clock) as fcm:
            token_uri = fcm.token_uri
            notifier = FcmNotifier(
                service_account_info(key, token_uri),
                base_url="http://127.0.0.1:9",  # discard port: nobody listens
                clock=clock,
            )
            with pytest.raises(DeliveryError) as caught:
                notifier.send(push())
            notifier.close()
        assert caught.value.retryable is True
        assert caught.value.reason.startswith("fcm unreachable: ConnectError")


class TestConfiguration:
    def test_a_service_account_file_is_read_and_its_key_kept_out_of_repr(
        self, tmp_path: Path, key: RSAPrivateKey
    ) -> None:
        path = tmp_path / "service-account.json"
        path.write_text(
            json.dumps(service_account_info(key, "https://oauth2.googleapis.com/token"))
        )
        account = ServiceAccount.from_file(path)
        assert (account.project_id, account.client_email, account.private_key_id) == (
            PROJECT,
            CLIENT_EMAIL,
            KEY_ID,
        )
        assert "PRIVATE KEY" not in repr(account)
        notifier = FcmNotifier(account)
        assert "PRIVATE KEY" not in repr(notifier) + repr(notifier.tokens)
        notifier.close()

    def test_a_broken_service_account_names_each_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ServiceAccount.from_info({"type": "authorized_user", "token_uri": "ftp://x"})
        assert {e.field for e in caught.value.errors} == {
            "type",
            "project_id",
            "client_email",
            "private_key",
            "token_uri",
        }

    def test_a_bad_base_url_is_refused(self, key: RSAPrivateKey) -> None:
        with pytest.raises(ValidationError) as caught:
            FcmNotifier(
                service_account_info(key, "https://oauth2.googleapis.com/token"),
                base_url="fcm.googleapis.com",
            )
        assert caught.value.errors[0].field == "base_url"

    @pytest.mark.parametrize(
        "private_key",
        [
            "not a key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            pem(ec.generate_private_key(ec.SECP256R1())),
        ],
        ids=["not-pem", "broken-pem", "ec-key"],
    )
    def test_a_private_key_rs256_cannot_sign_with_is_refused_when_built(
        self, key: RSAPrivateKey, private_key: str
    ) -> None:
        info = service_account_info(key, "https://oauth2.googleapis.com/token")
        with pytest.raises(ValidationError) as caught:
            FcmNotifier({**info, "private_key": private_key})
        (error,) = caught.value.errors
        assert error.field == "private_key"
        assert "PRIVATE KEY" not in error.message

    def test_an_encrypted_private_key_is_refused_when_built(self, key: RSAPrivateKey) -> None:
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ).decode()
        info = service_account_info(key, "https://oauth2.googleapis.com/token")
        with pytest.raises(ValidationError) as caught:
            GoogleAccessTokens({**info, "private_key": encrypted})
        assert caught.value.errors[0].field == "private_key"

    def test_pyjwt_rs256_signs_what_the_token_endpoint_accepts_for_one_hour(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        tokens = GoogleAccessTokens(service_account_info(key, fcm.token_uri), clock=clock)
        assertion = tokens.assertion(clock.now())
        tokens.close()
        claims = jwt.decode(
            assertion,
            key.public_key(),
            algorithms=["RS256"],
            audience=fcm.token_uri,
            options={"verify_exp": False},
        )
        assert claims["iss"] == CLIENT_EMAIL
        assert fcm.check_assertion(assertion) is None
        clock.advance(minutes=59)
        assert fcm.check_assertion(assertion) is None
        clock.advance(minutes=1)
        assert fcm.check_assertion(assertion) == (
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        )

    def test_without_cryptography_importing_the_adapter_names_the_push_extra(self) -> None:
        script = (
            "import sys\n"
            "sys.modules['cryptography'] = None  # as if it were not installed\n"
            "try:\n"
            "    import bookingcore_adapters.push\n"
            "except ImportError as exc:\n"
            "    print(exc)\n"
        )
        src = Path(bookingcore_adapters.__file__).parents[1]  # this checkout's sources
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONPATH": str(src)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == (
            "bookingcore_adapters.push signs with RS256, which needs cryptography: "
            "pip install 'bookingcore[push]'"
        )


class TestThroughTheCore:
    def test_a_customers_devices_get_the_push_and_a_gone_one_is_deactivated(
        self, fcm: FakeFcm, key: RSAPrivateKey, clock: FixedClock
    ) -> None:
        admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        with httpx.Client() as client:
            core = BookingCore(
                uow_factory=MemoryStore().unit_of_work,
                clock=clock,
                ids=SequentialIds(),
                settings=Settings(default_region="IN"),
                notifier=ChannelNotifier({"push": notifier_for(fcm, key, clock, client=client)}),
            )
            asha = core.customers.register("+919876543210", principal=admin).customer
            me = Principal.customer(asha.id)
            phone = core.devices.register(asha.id, "android", PHONE, principal=me).device
            tablet = core.devices.register(asha.id, "ios", TABLET, principal=me).device
            camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
            slot = core.catalog.create_slot(
                location_id=camp.id,
                starts_at=clock.now() + timedelta(days=10),
                price_per_traveler=Money("2500", "INR"),
                principal=admin,
            )
            booking = core.bookings.book(
                BookingRequest(
                    slot.id,
                    [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                    customer_id=asha.id,
                ),
                principal=admin,
            )
            fcm.unregistered.add(TABLET)
            logged = core.communications.send(
                booking.id, "confirmation", channel="push", principal=admin
            )
            assert logged.status is CommunicationStatus.SENT
            assert logged.provider_message_id == f"projects/{PROJECT}/messages/0:1700000000001"
            assert [s["body"]["message"]["token"] for s in fcm.sends] == [PHONE, TABLET]
            assert fcm.sends[0]["body"]["message"]["data"] == {
                "communication_id": str(logged.id),
                "type": "confirmation",
                "booking_id": str(booking.id),
            }
            devices = {d.id: d for d in core.devices.list(asha.id, principal=me)}
            assert devices[phone.id].active is True
            assert devices[tablet.id].active is False
            assert devices[tablet.id].deactivation_reason == (
                "fcm 404 UNREGISTERED: Requested entity was not found."
            )
