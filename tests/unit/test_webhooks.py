"""Partner webhooks are signed so that a receiver can tell ours from forgeries and replays."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bookingcore.domain.webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    SignedWebhook,
    sign,
    signed_request,
    verify,
)
from bookingcore.errors import AuthenticationError, ValidationError

SECRET = "whsec_partner_one"
BODY = b'{"booking_id":"b-1","status":"confirmed"}'
SENT_AT = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)
SENT_AT_UNIX = 1767258000


def reference_signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``"<t>.<body>"``, hex, computed here without the module."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class TestSign:
    def test_known_answer(self) -> None:
        assert int(SENT_AT.timestamp()) == SENT_AT_UNIX
        expected = f"t={SENT_AT_UNIX},v1={reference_signature(SECRET, SENT_AT_UNIX, BODY)}"
        assert sign(SECRET, BODY, SENT_AT) == expected

    def test_bytes_and_str_secrets_sign_alike(self) -> None:
        assert sign(SECRET.encode(), BODY, SENT_AT) == sign(SECRET, BODY, SENT_AT)

    def test_sub_seconds_are_dropped_and_other_zones_mean_the_same_instant(self) -> None:
        later = SENT_AT + timedelta(microseconds=999_999)
        assert sign(SECRET, BODY, later) == sign(SECRET, BODY, SENT_AT)
        india = SENT_AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
        assert sign(SECRET, BODY, india) == sign(SECRET, BODY, SENT_AT)

    def test_a_rotation_adds_one_v1_per_secret_in_order(self) -> None:
        header = sign(["new-secret", "old-secret"], BODY, SENT_AT)
        assert header == (
            f"t={SENT_AT_UNIX}"
            f",v1={reference_signature('new-secret', SENT_AT_UNIX, BODY)}"
            f",v1={reference_signature('old-secret', SENT_AT_UNIX, BODY)}"
        )

    def test_naive_time_and_empty_secret_are_refused(self) -> None:
        with pytest.raises(ValidationError) as naive:
            sign(SECRET, BODY, datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001
        assert naive.value.fields == ("timestamp",)
        with pytest.raises(ValidationError) as empty:
            sign("", BODY, SENT_AT)
        assert empty.value.fields == ("secret",)
        with pytest.raises(ValidationError):
            sign([], BODY, SENT_AT)


class TestVerify:
    def test_round_trip(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        verify(SECRET, BODY, header, now=SENT_AT + timedelta(seconds=30))

    def test_a_tampered_body_is_refused(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        tampered = BODY.replace(b"confirmed", b"cancelled")
        with pytest.raises(AuthenticationError, match="does not match"):
            verify(SECRET, tampered, header, now=SENT_AT)

    def test_a_changed_timestamp_is_refused(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        moved = header.replace(f"t={SENT_AT_UNIX}", f"t={SENT_AT_UNIX + 60}")
        with pytest.raises(AuthenticationError, match="does not match"):
            verify(SECRET, BODY, moved, now=SENT_AT)

    def test_the_wrong_secret_is_refused(self) -> None:
        header = sign("someone-else", BODY, SENT_AT)
        with pytest.raises(AuthenticationError, match="does not match"):
            verify(SECRET, BODY, header, now=SENT_AT)

    def test_an_old_signature_is_refused_as_a_replay(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        verify(SECRET, BODY, header, now=SENT_AT + DEFAULT_TOLERANCE)
        with pytest.raises(AuthenticationError, match="too old"):
            verify(SECRET, BODY, header, now=SENT_AT + DEFAULT_TOLERANCE + timedelta(seconds=1))

    def test_a_signature_from_beyond_the_tolerance_in_the_future_is_refused(self) -> None:
        header = sign(SECRET, BODY, SENT_AT + timedelta(minutes=10))
        with pytest.raises(AuthenticationError, match="future"):
            verify(SECRET, BODY, header, now=SENT_AT)
        verify(SECRET, BODY, header, now=SENT_AT, tolerance=timedelta(minutes=10))

    def test_a_custom_tolerance_is_honoured(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        with pytest.raises(AuthenticationError, match="too old"):
            verify(
                SECRET,
                BODY,
                header,
                now=SENT_AT + timedelta(seconds=31),
                tolerance=timedelta(seconds=30),
            )

    @pytest.mark.parametrize(
        "header",
        [
            pytest.param("v1=" + "a" * 64, id="missing t"),
            pytest.param("t=soon,v1=" + "a" * 64, id="non-numeric t"),
            pytest.param("t=-5,v1=" + "a" * 64, id="negative t"),
            pytest.param("t=1767258000,t=1767258000,v1=" + "a" * 64, id="two t"),
            pytest.param("t=1767258000", id="no v1"),
            pytest.param("t=1767258000,v0=" + "a" * 64, id="only an unknown scheme"),
            pytest.param("garbage", id="garbage"),
            pytest.param("t=1767258000;v1=abc", id="wrong separator"),
            pytest.param(",,,", id="empty items"),
            pytest.param("t=" + "9" * 40 + ",v1=" + "a" * 64, id="absurd t"),
        ],
    )
    def test_malformed_headers_are_authentication_errors(self, header: str) -> None:
        with pytest.raises(AuthenticationError) as caught:
            verify(SECRET, BODY, header, now=SENT_AT)
        assert caught.value.code == "authentication_failed"

    @pytest.mark.parametrize("header", [None, ""])
    def test_a_missing_header_is_an_authentication_error(self, header: str | None) -> None:
        with pytest.raises(AuthenticationError, match=SIGNATURE_HEADER):
            verify(SECRET, BODY, header, now=SENT_AT)

    @pytest.mark.parametrize(
        "v1",
        ["not-hex", "é" * 64, "A" * 63, ""],
        ids=["not hex", "non-ascii", "too short", "empty"],
    )
    def test_junk_signature_values_do_not_match_and_do_not_crash(self, v1: str) -> None:
        with pytest.raises(AuthenticationError, match="does not match"):
            verify(SECRET, BODY, f"t={SENT_AT_UNIX},v1={v1}", now=SENT_AT)

    def test_a_sender_rotating_its_secret_passes_with_either_secret(self) -> None:
        header = sign(["new-secret", "old-secret"], BODY, SENT_AT)
        verify("old-secret", BODY, header, now=SENT_AT)
        verify("new-secret", BODY, header, now=SENT_AT)
        with pytest.raises(AuthenticationError):
            verify("other-secret", BODY, header, now=SENT_AT)

    def test_a_receiver_rotating_its_secret_accepts_any_it_holds(self) -> None:
        header = sign("old-secret", BODY, SENT_AT)
        verify(["new-secret", "old-secret"], BODY, header, now=SENT_AT)

    def test_a_header_written_by_hand_in_another_language_verifies(self) -> None:
        """What a partner's own implementation would produce, spaces and extras included."""
        v1 = reference_signature(SECRET, SENT_AT_UNIX, BODY)
        header = f" t={SENT_AT_UNIX} , v1={'0' * 64}, v2=future-scheme , v1={v1.upper()} "
        verify(SECRET, BODY, header, now=SENT_AT)

    def test_naive_now_and_negative_tolerance_are_validation_errors(self) -> None:
        header = sign(SECRET, BODY, SENT_AT)
        with pytest.raises(ValidationError) as naive:
            verify(SECRET, BODY, header, now=datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001
        assert naive.value.fields == ("now",)
        with pytest.raises(ValidationError) as negative:
            verify(SECRET, BODY, header, now=SENT_AT, tolerance=timedelta(seconds=-1))
        assert negative.value.fields == ("tolerance",)


class TestSignedRequest:
    def test_builds_a_canonical_json_body_with_a_verifiable_signature(self) -> None:
        payload = {"status": "confirmed", "booking": {"id": "b-1", "travelers": 2}, "note": "café"}
        request = signed_request("https://partner.example/hooks", payload, SECRET, SENT_AT)
        assert isinstance(request, SignedWebhook)
        assert request.url == "https://partner.example/hooks"
        assert (
            request.body
            == (
                '{"booking":{"id":"b-1","travelers":2},"note":"café","status":"confirmed"}'
            ).encode()
        )
        assert json.loads(request.body) == payload
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers[SIGNATURE_HEADER] == (
            f"t={SENT_AT_UNIX},v1={reference_signature(SECRET, SENT_AT_UNIX, request.body)}"
        )
        verify(SECRET, request.body, request.headers[SIGNATURE_HEADER], now=SENT_AT)

    def test_the_same_payload_in_another_key_order_gives_the_same_bytes(self) -> None:
        one = signed_request("https://p.example/h", {"a": 1, "b": [1, 2]}, SECRET, SENT_AT)
        two = signed_request("https://p.example/h", {"b": [1, 2], "a": 1}, SECRET, SENT_AT)
        assert one == two

    def test_headers_cannot_be_changed_after_signing(self) -> None:
        request = signed_request("https://p.example/h", {"a": 1}, SECRET, SENT_AT)
        with pytest.raises(TypeError):
            request.headers["Content-Type"] = "text/plain"  # type: ignore[index]

    @pytest.mark.parametrize(
        "payload", [{"amount": Decimal("1.50")}, {"ratio": float("nan")}, {"when": SENT_AT}]
    )
    def test_a_payload_that_is_not_json_is_a_validation_error(
        self, payload: dict[str, object]
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            signed_request("https://p.example/h", payload, SECRET, SENT_AT)
        assert caught.value.fields == ("payload",)

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://p.example/h",
            "partner.example/hooks",
            "https://",
            "https://[::1/h",  # urlsplit raised a bare ValueError
            "https://:443/h",  # no host
        ],
    )
    def test_a_url_that_is_not_http_is_a_validation_error(self, url: str) -> None:
        with pytest.raises(ValidationError) as caught:
            signed_request(url, {"a": 1}, SECRET, SENT_AT)
        assert caught.value.fields == ("url",)
