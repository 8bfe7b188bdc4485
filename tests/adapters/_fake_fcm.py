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

The RSA arithmetic here is a test's own (Python integers, PKCS #1 v1.5 with SHA-256),
independent of the adapter: ``cryptography`` is not needed to run these tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import attrs
from jwt.algorithms import Algorithm

PROJECT = "trails-app"
CLIENT_EMAIL = "fcm-sender@trails-app.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef0123456789abcdef01234567"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

# ------------------------------------------------------------------ RSA, for tests only

_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _probable_prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if all(candidate % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _miller(
            candidate
        ):
            return candidate


def _miller(n: int, rounds: int = 24) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _der(0x02, raw)


@attrs.frozen
class RsaKey:
    """An RSA key pair as plain integers, with its PKCS #8 PEM (as in a service account file)."""

    n: int
    e: int
    d: int
    p: int
    q: int

    @classmethod
    def generate(cls, bits: int = 2048) -> RsaKey:
        e = 65537
        while True:
            p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                return cls(n=p * q, e=e, d=pow(e, -1, phi), p=p, q=q)

    @property
    def pem(self) -> str:
        rsa_key = _der(
            0x30,
            b"".join(
                _der_int(v)
                for v in (
                    0,
                    self.n,
                    self.e,
                    self.d,
                    self.p,
                    self.q,
                    self.d % (self.p - 1),
                    self.d % (self.q - 1),
                    pow(self.q, -1, self.p),
                )
            ),
        )
        algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
        info = _der(0x30, _der_int(0) + algorithm + _der(0x04, rsa_key))
        body = base64.encodebytes(info).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return (
            "\n".join(["-----BEGIN PRIVATE KEY-----", *lines, "-----END PRIVATE KEY-----"]) + "\n"
        )

    def _encoded(self, message: bytes) -> int:
        size = (self.n.bit_length() + 7) // 8
        digest = _SHA256_PREFIX + hashlib.sha256(message).digest()
        padded = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
        return int.from_bytes(padded, "big")

    def sign(self, message: bytes) -> bytes:
        size = (self.n.bit_length() + 7) // 8
        return pow(self._encoded(message), self.d, self.n).to_bytes(size, "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        return pow(int.from_bytes(signature, "big"), self.e, self.n) == self._encoded(message)


class LocalRS256(Algorithm):
    """RS256 for PyJWT over :class:`RsaKey` (the adapter's ``algorithm=``), for a
    test environment without ``cryptography``. It signs only with the key it holds."""

    def __init__(self, key: RsaKey) -> None:
        self.key = key

    def prepare_key(self, key: Any) -> RsaKey:
        assert key == self.key.pem, "the adapter signs with the account's private key"
        return self.key

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self.key.sign(msg)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        return self.key.verify(msg, sig)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def service_account_info(key: RsaKey, token_uri: str) -> dict[str, str]:
    """A service account file's fields, as the Firebase console writes them."""
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": key.pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


# ------------------------------------------------------------------ the server


@attrs.define
class FakeFcm:
    public_key: RsaKey
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
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_b64(header_part))
            claims = json.loads(_b64(claims_part))
            signature = _b64(signature_part)
        except ValueError:
            return "Invalid JWT: malformed"
        signed = f"{header_part}.{claims_part}".encode()
        if header.get("alg") != "RS256" or not self.public_key.verify(signed, signature):
            return "Invalid JWT Signature."
        if header.get("kid") != KEY_ID or claims.get("iss") != CLIENT_EMAIL:
            return "Invalid grant: account not found"
        if claims.get("aud") != self.token_uri:
            return "Invalid JWT: aud"
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid JWT: scope"
        if not 0 < claims["exp"] - claims["iat"] <= 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)"
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
def fake_fcm(public_key: RsaKey) -> Iterator[FakeFcm]:
    fake = FakeFcm(public_key)
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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
