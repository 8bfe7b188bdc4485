"""A local Firebase Cloud Messaging (HTTP v1) server with Google's OAuth token endpoint.

``POST /token`` takes the JWT bearer grant (form ``grant_type``, ``assertion``), checks
the RS256 signature with the service account's public key and its claims, and answers
``{"access_token", "expires_in", "token_type": "Bearer"}``, or ``400 {"error":
"invalid_grant", "error_description": "Invalid JWT Signature."}``.

``POST /v1/projects/{project}/messages:send`` takes ``Authorization: Bearer <token>`` and
``{"message": {...}}``, answers ``{"name": "projects/{project}/messages/{n}"}``, or FCM's
error bodies: ``UNREGISTERED`` (404) for tokens in ``unregistered``, ``INVALID_ARGUMENT``
(400, a ``BadRequest`` on ``message.token``) for tokens in ``invalid``, ``UNAUTHENTICATED``
(401) for an unknown or revoked access token, or whatever a test queues.

The assertion is checked as Google checks it: PyJWT verifies the RS256 signature with
the account's public key (``cryptography``) and the audience; then the key id, the
issuer, the scope, and ``iat``/``exp`` (at most one hour apart, ``exp`` still ahead and
``iat`` not ahead of the server's clock, with a minute of skew) are checked. The server's
clock is the test's, so a fixed clock drives both sides.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import attrs
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from tests.adapters._local_server import serve_locally

from bookingcore import SystemClock
from bookingcore.ports.clock import Clock

PROJECT = "trails-app"
CLIENT_EMAIL = "fcm-sender@trails-app.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef0123456789abcdef01234567"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

# ------------------------------------------------------------------ keys


def rsa_key(bits: int = 2048) -> RSAPrivateKey:
    """A new RSA private key (a service account's are 2048-bit)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pem(key: PrivateKeyTypes) -> str:
    """The key in PKCS #8 PEM, as a service account file holds it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def service_account_info(key: RSAPrivateKey, token_uri: str) -> dict[str, str]:
    """A service account file's fields, as the Firebase console writes them."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": pem(key),
        "client_email": CLIENT_EMAIL,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


# ------------------------------------------------------------------ the server


#: how far ``iat`` may be ahead of the server's clock
SKEW = 60


@attrs.define
class FakeFcm:
    public_key: RSAPublicKey
    clock: Clock = attrs.Factory(SystemClock)
    url: str = ""
    token_requests: list[dict[str, Any]] = attrs.Factory(list)
    sends: list[dict[str, Any]] = attrs.Factory(list)
    issued: list[str] = attrs.Factory(list)
    revoked: set[str] = attrs.Factory(set)
    unregistered: set[str] = attrs.Factory(set)
    invalid: set[str] = attrs.Factory(set)
    #: queued answers to sends: (status, JSON body)
    answers: list[tuple[int, dict[str, Any]]] = attrs.Factory(list)
    expires_in: int = 3599
    sent: int = 0

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def check_assertion(self, assertion: str) -> str | None:
        """Why the assertion is refused, or None: Google's checks on a JWT bearer grant."""
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                # exp and iat are checked below against the server's (the test's) clock
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            return "Invalid JWT Signature."
        except jwt.InvalidAudienceError:
            return "Invalid JWT: aud"
        except jwt.InvalidTokenError as exc:
            return f"Invalid JWT: {type(exc).__name__}"
        if header.get("kid") != KEY_ID or claims["iss"] != CLIENT_EMAIL:
            return "Invalid grant: account not found"
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: scope"
        issued, expires = claims["iat"], claims["exp"]
        if not 0 < expires - issued <= 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)"
        now = self.clock.now().timestamp()
        if issued > now + SKEW or expires <= now:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        return None


def fcm_error(code: int, status: str, message: str, **detail: Any) -> dict[str, Any]:
    """An FCM v1 error body."""
    details: list[dict[str, Any]] = []
    if "error_code" in detail:
        details.append(
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": detail["error_code"],
            }
        )
    if "field" in detail:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": detail["field"], "description": message}],
            }
        )
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


@contextmanager
def fake_fcm(key: RSAPrivateKey, clock: Clock | None = None) -> Iterator[FakeFcm]:
    """The server, trusting ``key``'s public half, on ``clock`` (the system's by default)."""
    fake = FakeFcm(key.public_key(), clock or SystemClock())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, document: dict[str, Any]) -> None:
            reply = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                if self.path == "/token":
                    self._token(body)
                elif self.path == f"/v1/projects/{PROJECT}/messages:send":
                    self._send(body)
                else:
                    self._answer(
                        404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.")
                    )

        def _token(self, body: bytes) -> None:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            fake.token_requests.append(form)
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                self._answer(400, {"error": "unsupported_grant_type"})
                return
            refused = fake.check_assertion(form.get("assertion", ""))
            if refused is not None:
                self._answer(400, {"error": "invalid_grant", "error_description": refused})
                return
            token = f"ya29.fake-access-token-{len(fake.issued) + 1}"
            fake.issued.append(token)
            self._answer(
                200, {"access_token": token, "expires_in": fake.expires_in, "token_type": "Bearer"}
            )

        def _send(self, body: bytes) -> None:
            authorization = self.headers.get("Authorization", "")
            token = authorization.removeprefix("Bearer ")
            document = json.loads(body)
            fake.sends.append({"authorization": authorization, "body": document})
            if token not in fake.issued or token in fake.revoked:
                message = "Request had invalid authentication credentials."
                self._answer(401, fcm_error(401, "UNAUTHENTICATED", message))
                return
            device = document["message"]["token"]
            if device in fake.unregistered:
                self._answer(
                    404,
                    fcm_error(
                        404,
                        "NOT_FOUND",
                        "Requested entity was not found.",
                        error_code="UNREGISTERED",
                    ),
                )
                return
            if device in fake.invalid:
                message = "The registration token is not a valid FCM registration token"
                self._answer(
                    400,
                    fcm_error(
                        400,
                        "INVALID_ARGUMENT",
                        message,
                        error_code="INVALID_ARGUMENT",
                        field="message.token",
                    ),
                )
                return
            if fake.answers:
                self._answer(*fake.answers.pop(0))
                return
            fake.sent += 1
            self._answer(
                200, {"name": f"projects/{PROJECT}/messages/0:{1700000000000 + fake.sent}"}
            )

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve_locally(Handler) as url:
        fake.url = url
        yield fake
