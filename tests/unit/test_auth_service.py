"""The auth service over memory adapters: phone codes, tokens, refresh families, staff sign-in."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest
from tests._threads import at_once

from bookingcore import (
    AuthenticationError,
    AuthNotConfiguredError,
    AuthSettings,
    BookingCore,
    CustomerId,
    DeliveryError,
    DuplicateError,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    PhoneNumber,
    Principal,
    PrincipalKind,
    RateLimit,
    RateLimitedError,
    RequestOrigin,
    Settings,
    StaffId,
    StaffRole,
    TokenLifetimes,
    ValidationError,
)
from bookingcore.domain.audit import AuditAction
from bookingcore.ports.messaging import SendReceipt
from bookingcore.services import SignedIn
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter, MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender

PHONE = "98765 43210"
E164 = "+919876543210"
SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"
PEPPER = b"pepper-pepper-pepper-pepper-pepper"
PASSWORD = "correct horse battery staple"


class FlakySms(ConsoleSmsSender):
    """A console sender whose next sends can be made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def send_sms(self, to: PhoneNumber, body: str, *, reference: str | None = None) -> SendReceipt:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("gateway timed out", channel="sms", retryable=True)
        return super().send_sms(to, body, reference=reference)


def cheap_hasher(time_cost: int = 1) -> Argon2PasswordHasher:
    """Argon2id with the smallest parameters, so tests stay fast."""
    return Argon2PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


@pytest.fixture
def sms() -> FlakySms:
    return FlakySms()


@pytest.fixture
def otp_store() -> MemoryOtpStore:
    return MemoryOtpStore()


@pytest.fixture
def auth_settings() -> AuthSettings:
    return AuthSettings(otp_pepper=PEPPER)


@pytest.fixture
def make_core(
    store: MemoryStore, clock: FixedClock, sms: FlakySms, otp_store: MemoryOtpStore
) -> Callable[..., BookingCore]:
    """Cores over one store, clock, OTP store and SMS sender; ports and settings overridable."""
    ids = SequentialIds()
    limiter = MemoryRateLimiter()

    def make(**overrides: Any) -> BookingCore:
        wiring: dict[str, Any] = {
            "otp_store": otp_store,
            "rate_limiter": limiter,
            "sms": sms,
            "token_signer": JwtTokenSigner({"k1": SECRET}),
            "password_hasher": cheap_hasher(),
            "auth_settings": AuthSettings(otp_pepper=PEPPER),
            **overrides,
        }
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=ids,
            settings=Settings(default_region="IN", business_name="Himalaya Trails"),
            **wiring,
        )

    return make


@pytest.fixture
def core(make_core: Callable[..., BookingCore]) -> BookingCore:
    return make_core()


def last_code(sms: ConsoleSmsSender) -> str:
    """The code in the last text sent."""
    match = re.search(r"\b(\d{6})\b", sms.sent[-1][1])
    assert match is not None, sms.sent[-1]
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def sign_in(core: BookingCore, sms: ConsoleSmsSender, phone: str = PHONE) -> SignedIn:
    core.auth.request_otp(phone)
    return core.auth.verify_otp(phone, last_code(sms))


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def tamper(token: str, **changes: object) -> str:
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


class TestRequestOtp:
    def test_texts_a_six_digit_code_and_stores_only_its_keyed_hash(
        self, core: BookingCore, sms: FlakySms, otp_store: MemoryOtpStore, clock: FixedClock
    ) -> None:
        requested = core.auth.request_otp(PHONE)

        code = last_code(sms)
        to, body, _ = sms.sent[-1]
        assert to == PhoneNumber(E164)
        assert body == f"Himalaya Trails: {code} is your sign-in code. It expires in 5 minutes."
        challenge = otp_store.get(PhoneNumber(E164))
        assert challenge is not None
        assert challenge.code_hash.startswith("hmac-sha256:")
        assert code not in challenge.code_hash
        assert challenge.expires_at == clock.now() + timedelta(minutes=5)
        assert challenge.max_attempts == 3
        assert requested.phone == PhoneNumber(E164)
        assert requested.expires_at == challenge.expires_at
        assert requested.resend_after == clock.now() + timedelta(seconds=60)

    def test_the_code_is_drawn_from_secrets(
        self, core: BookingCore, sms: FlakySms, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        drawn: list[int] = []

        def randbelow(bound: int) -> int:
            drawn.append(bound)
            return 42

        monkeypatch.setattr("bookingcore.services.auth.secrets.randbelow", randbelow)
        core.auth.request_otp(PHONE)
        assert drawn == [1_000_000]
        assert last_code(sms) == "000042"

    def test_the_same_code_hashes_differently_for_each_challenge(
        self, core: BookingCore, otp_store: MemoryOtpStore, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        first = otp_store.get(PhoneNumber(E164))
        clock.advance(seconds=61)
        core.auth.request_otp(PHONE)
        second = otp_store.get(PhoneNumber(E164))
        assert first is not None
        assert second is not None
        assert first.code_hash != second.code_hash

    def test_a_resend_within_the_cooldown_is_refused_with_the_seconds_left(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        clock.advance(seconds=20)
        with pytest.raises(RateLimitedError) as refused:
            core.auth.request_otp("+91 98765 43210")
        assert refused.value.retry_after == 40
        assert "wait 40 seconds" in refused.value.message
        assert len(sms.sent) == 1

    def test_a_new_code_after_the_cooldown_kills_the_old_one(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        old = last_code(sms)
        clock.advance(seconds=60)
        core.auth.request_otp(PHONE)
        new = last_code(sms)
        if new == old:  # one chance in a million: draw again
            clock.advance(seconds=60)
            core.auth.request_otp(PHONE)
            new = last_code(sms)
        with pytest.raises(AuthenticationError, match="the code is wrong"):
            core.auth.verify_otp(PHONE, old)
        assert core.auth.verify_otp(PHONE, new).created is True

    def test_requests_per_phone_are_rate_limited(
        self, make_core: Callable[..., BookingCore], clock: FixedClock
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER, otp_per_phone=RateLimit(2, timedelta(hours=1))
            )
        )
        core.auth.request_otp(PHONE)
        clock.advance(minutes=10)
        core.auth.request_otp(PHONE)
        clock.advance(minutes=10)
        with pytest.raises(RateLimitedError, match="for this phone number") as refused:
            core.auth.request_otp(PHONE)
        assert refused.value.retry_after == 40 * 60
        core.auth.request_otp("+91 98111 22233")  # another number is not affected
        clock.advance(minutes=40)
        core.auth.request_otp(PHONE)

    def test_requests_per_client_key_are_rate_limited_whatever_the_numbers(
        self, make_core: Callable[..., BookingCore]
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER, otp_per_client=RateLimit(2, timedelta(hours=1))
            )
        )
        core.auth.request_otp("+91 98111 00001", client_key="203.0.113.7")
        core.auth.request_otp("+91 98111 00002", client_key="203.0.113.7")
        with pytest.raises(RateLimitedError, match="from here") as refused:
            core.auth.request_otp("+91 98111 00003", client_key="203.0.113.7")
        assert refused.value.retry_after == 3600
        core.auth.request_otp("+91 98111 00003", client_key="198.51.100.1")

    @pytest.mark.parametrize(
        ("phone", "client_key", "fields"),
        [
            ("12345", None, ("phone",)),
            (PHONE, "  ", ("client_key",)),
            (PHONE, "x" * 257, ("client_key",)),
            ("", 7, ("phone", "client_key")),
        ],
    )
    def test_bad_input_names_each_field(
        self, core: BookingCore, sms: FlakySms, phone: str, client_key: Any, fields: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            core.auth.request_otp(phone, client_key=client_key)
        assert set(refused.value.fields) == set(fields)
        assert not sms.sent

    def test_a_failed_sms_is_a_delivery_error_and_leaves_no_usable_code(
        self,
        core: BookingCore,
        sms: FlakySms,
        otp_store: MemoryOtpStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        sms.failures = 1
        with (
            caplog.at_level(logging.WARNING, "bookingcore.auth"),
            pytest.raises(DeliveryError) as failed,
        ):
            core.auth.request_otp(PHONE)
        assert failed.value.retryable is True
        assert otp_store.get(PhoneNumber(E164)) is None
        assert "+91******3210" in caplog.text
        assert "gateway timed out" in caplog.text
        # Nothing was received, so asking again at once is not a resend in the cooldown.
        core.auth.request_otp(PHONE)
        assert core.auth.verify_otp(PHONE, last_code(sms)).created is True

    def test_a_failed_code_to_a_known_customer_is_logged_as_a_failed_communication(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock, admin: Principal
    ) -> None:
        core.auth.request_otp(PHONE)
        customer = core.auth.verify_otp(PHONE, last_code(sms)).customer
        assert customer is not None
        clock.advance(seconds=61)
        sms.failures = 1
        with pytest.raises(DeliveryError):
            core.auth.request_otp(PHONE)
        logged = core.communications.for_customer(customer.id, principal=admin)
        assert [(c.type.value, c.channel.value, c.status.value) for c in logged] == [
            ("sign_in_code", "sms", "failed")
        ]
        assert logged[0].failed_reason == "gateway timed out"
        assert logged[0].recipient == E164
        assert not any(ch.isdigit() for ch in logged[0].content)  # the code is never kept

    def test_a_failed_sms_after_an_earlier_code_leaves_no_usable_code_either(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        delivered = last_code(sms)
        clock.advance(seconds=61)
        sms.failures = 1
        with pytest.raises(DeliveryError):
            core.auth.request_otp(PHONE)
        with pytest.raises(AuthenticationError, match="no valid code"):
            core.auth.verify_otp(PHONE, delivered)

    def test_a_core_without_the_ports_says_which_one_is_missing(
        self, store: MemoryStore, clock: FixedClock
    ) -> None:
        bare = BookingCore(uow_factory=store.unit_of_work, clock=clock, ids=SequentialIds())
        with pytest.raises(AuthNotConfiguredError, match="otp_store=") as missing:
            bare.auth.request_otp(E164)
        assert missing.value.port == "otp_store"
        assert isinstance(missing.value, RuntimeError)
        assert missing.value.to_dict()["code"] == "not_configured"
        with pytest.raises(AuthNotConfiguredError, match="token_signer"):
            bare.auth.authenticate("a.b.c", expect="customer")


class TestVerifyOtp:
    def test_the_right_code_registers_a_new_customer_by_phone_alone(
        self, core: BookingCore, sms: FlakySms, admin: Principal
    ) -> None:
        signed = sign_in(core, sms)

        assert signed.created is True
        assert signed.customer is not None
        assert signed.customer.phone == PhoneNumber(E164)
        assert signed.customer.name is None
        assert signed.principal == Principal.customer(signed.customer.id)
        found = core.customers.find_by_phone(E164, principal=admin)
        assert found is not None
        assert found.id == signed.customer.id
        trail = core.audit.trail("customer", found.id, principal=admin)
        assert [entry.action for entry in trail] == [AuditAction.CREATED]

    def test_a_known_customer_signs_in_without_being_registered_again(
        self, core: BookingCore, sms: FlakySms, admin: Principal
    ) -> None:
        known = core.customers.register(E164, principal=admin, name="Asha Verma").customer
        signed = sign_in(core, sms, "098765 43210")
        assert signed.created is False
        assert signed.customer is not None
        assert signed.customer.id == known.id
        assert signed.customer.name == "Asha Verma"

    def test_brute_force_stops_at_the_attempt_limit(
        self, core: BookingCore, sms: FlakySms, otp_store: MemoryOtpStore
    ) -> None:
        core.auth.request_otp(PHONE)
        code = last_code(sms)
        guesses = [wrong(code), wrong(wrong(code)), wrong(wrong(wrong(code)))]
        messages = []
        for guess in guesses:
            with pytest.raises(AuthenticationError) as refused:
                core.auth.verify_otp(PHONE, guess)
            messages.append(refused.value.message)
        assert messages == [
            "the code is wrong; 2 attempts left",
            "the code is wrong; 1 attempt left",
            "the code is wrong and no attempts are left; ask for a new code",
        ]
        with pytest.raises(AuthenticationError, match="no valid code"):
            core.auth.verify_otp(PHONE, code)
        assert otp_store.get(PhoneNumber(E164)) is None

    def test_the_third_attempt_may_still_be_the_right_one(
        self, core: BookingCore, sms: FlakySms
    ) -> None:
        core.auth.request_otp(PHONE)
        code = last_code(sms)
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                core.auth.verify_otp(PHONE, wrong(code))
        assert core.auth.verify_otp(PHONE, code).created is True

    def test_the_code_is_compared_in_constant_time(
        self, core: BookingCore, sms: FlakySms, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        compared: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def compare_digest(a: bytes, b: bytes) -> bool:
            compared.append((a, b))
            return real(a, b)

        monkeypatch.setattr("bookingcore.services.auth.hmac.compare_digest", compare_digest)
        core.auth.request_otp(PHONE)
        core.auth.verify_otp(PHONE, last_code(sms))
        assert len(compared) == 1
        assert compared[0][0] == compared[0][1]

    def test_a_code_expires_after_five_minutes(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        clock.advance(minutes=5)
        with pytest.raises(AuthenticationError, match="no valid code"):
            core.auth.verify_otp(PHONE, last_code(sms))

    def test_a_code_works_until_just_before_it_expires(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        clock.advance(minutes=4, seconds=59)
        assert core.auth.verify_otp(PHONE, last_code(sms)).created is True

    def test_a_used_code_does_not_sign_in_twice(self, core: BookingCore, sms: FlakySms) -> None:
        core.auth.request_otp(PHONE)
        code = last_code(sms)
        core.auth.verify_otp(PHONE, code)
        with pytest.raises(AuthenticationError, match="no valid code"):
            core.auth.verify_otp(PHONE, code)

    def test_a_number_without_a_code_is_refused(self, core: BookingCore) -> None:
        with pytest.raises(AuthenticationError, match="ask for a new code"):
            core.auth.verify_otp(PHONE, "123456")

    @pytest.mark.parametrize(
        "code", ["12345", "1234567", "12a456", "\uff11\uff12\uff13\uff14\uff15\uff16", ""]
    )
    def test_a_malformed_code_names_the_field_and_costs_no_attempt(
        self, core: BookingCore, otp_store: MemoryOtpStore, code: str
    ) -> None:
        core.auth.request_otp(PHONE)
        with pytest.raises(ValidationError) as refused:
            core.auth.verify_otp(PHONE, code)
        assert refused.value.fields == ("code",)
        challenge = otp_store.get(PhoneNumber(E164))
        assert challenge is not None
        assert challenge.attempts == 0

    def test_phone_and_code_problems_are_reported_together(self, core: BookingCore) -> None:
        with pytest.raises(ValidationError) as refused:
            core.auth.verify_otp("555", "abc")
        assert refused.value.fields == ("phone", "code")

    def test_verifications_per_client_key_are_rate_limited(
        self, make_core: Callable[..., BookingCore], sms: FlakySms
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER, otp_verify_per_client=RateLimit(2, timedelta(hours=1))
            )
        )
        core.auth.request_otp(PHONE)
        code = last_code(sms)
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                core.auth.verify_otp(PHONE, wrong(code), client_key="203.0.113.7")
        with pytest.raises(RateLimitedError, match="tried from here"):
            core.auth.verify_otp(PHONE, code, client_key="203.0.113.7")
        assert core.auth.verify_otp(PHONE, code, client_key="198.51.100.1").created is True

    def test_concurrent_verifies_of_one_code_give_exactly_one_success(
        self, core: BookingCore, sms: FlakySms, store: MemoryStore
    ) -> None:
        for round_ in range(10):
            phone = f"+91 98111 {round_:05d}"
            core.auth.request_otp(phone)
            code = last_code(sms)
            outcomes = at_once(
                8, lambda _, p=phone, c=code: core.auth.verify_otp(p, c), switch_interval=1e-6
            )

            successes = [o for o in outcomes if isinstance(o, SignedIn)]
            failures = [o for o in outcomes if not isinstance(o, SignedIn)]
            assert len(successes) == 1, outcomes
            assert all(isinstance(f, AuthenticationError) for f in failures), failures
            customer = successes[0].customer
            assert customer is not None
            with store.unit_of_work() as uow:
                sessions = uow.auth_sessions.list_for_subject(PrincipalKind.CUSTOMER, customer.id)
            assert len(sessions) == 1

    def test_sign_in_is_audited_with_where_it_came_from(
        self, core: BookingCore, sms: FlakySms, admin: Principal, store: MemoryStore
    ) -> None:
        core.auth.request_otp(PHONE)
        signed = core.auth.verify_otp(
            PHONE, last_code(sms), origin=RequestOrigin("203.0.113.7", "trek-app/3.1")
        )
        with store.unit_of_work() as uow:
            (entry,) = uow.audit.list_for("session", signed.session_id)
        assert entry.action is AuditAction.CREATED
        assert entry.actor == signed.principal.actor
        assert (entry.ip_address, entry.user_agent) == ("203.0.113.7", "trek-app/3.1")
        assert entry.new_values["kind"] == "customer"


class TestTokens:
    def test_a_customer_token_decodes_to_the_customer_principal(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        signed = sign_in(core, sms)
        assert core.auth.authenticate(signed.tokens.access_token, expect="customer") == (
            signed.principal
        )
        assert signed.tokens.access_expires_at == clock.now() + timedelta(days=30)
        assert signed.tokens.refresh_expires_at == clock.now() + timedelta(days=90)
        claims = claims_of(signed.tokens.access_token)
        assert claims["typ"] == "customer"
        assert claims["use"] == "access"
        assert claims["sid"] == str(signed.session_id)
        assert jwt.get_unverified_header(signed.tokens.access_token)["kid"] == "k1"

    def test_tokens_stay_out_of_reprs(self, core: BookingCore, sms: FlakySms) -> None:
        signed = sign_in(core, sms)
        assert signed.tokens.access_token not in repr(signed)
        assert str(signed.tokens.refresh_token) not in repr(signed.tokens)

    @pytest.mark.parametrize(
        ("issued", "expected"),
        [
            ("customer", "staff"),
            ("customer", "partner"),
            ("staff", "customer"),
            ("staff", "partner"),
            ("partner", "customer"),
            ("partner", "staff"),
        ],
    )
    def test_a_token_of_one_kind_is_never_accepted_for_another(
        self,
        core: BookingCore,
        sms: FlakySms,
        admin: Principal,
        issued: str,
        expected: str,
    ) -> None:
        token = issue(core, sms, admin, issued)
        with pytest.raises(AuthenticationError, match=f"a {issued} token is not accepted here"):
            core.auth.authenticate(token, expect=expected)
        assert core.auth.authenticate(token, expect=issued).kind is PrincipalKind(issued)

    def test_a_token_whose_type_claim_is_rewritten_is_refused(
        self, core: BookingCore, sms: FlakySms
    ) -> None:
        token = sign_in(core, sms).tokens.access_token
        forged = tamper(token, typ="staff", role="admin")
        with pytest.raises(AuthenticationError, match="signature"):
            core.auth.authenticate(forged, expect="staff")

    def test_several_kinds_may_be_expected_at_once(
        self, core: BookingCore, sms: FlakySms, admin: Principal
    ) -> None:
        token = issue(core, sms, admin, "partner")
        principal = core.auth.authenticate(token, expect=["staff", PrincipalKind.PARTNER])
        assert principal.kind is PrincipalKind.PARTNER

    @pytest.mark.parametrize("expect", ["webhook", "system", "nobody", [], None, 5, [["customer"]]])
    def test_expecting_no_token_kind_names_the_field(
        self, core: BookingCore, sms: FlakySms, expect: Any
    ) -> None:
        token = sign_in(core, sms).tokens.access_token
        with pytest.raises(ValidationError) as refused:
            core.auth.authenticate(token, expect=expect)
        assert refused.value.fields == ("expect",)

    def test_a_refresh_token_is_not_an_access_token_and_the_other_way_round(
        self, core: BookingCore, sms: FlakySms
    ) -> None:
        tokens = sign_in(core, sms).tokens
        assert tokens.refresh_token is not None
        with pytest.raises(AuthenticationError, match="refresh token cannot be used here"):
            core.auth.authenticate(tokens.refresh_token, expect="customer")
        with pytest.raises(AuthenticationError, match="access token cannot be used here"):
            core.auth.refresh(tokens.access_token)

    @pytest.mark.parametrize(
        "change",
        [
            {"sub": str(uuid4())},
            {"exp": 4_102_444_800},
            {"sid": str(uuid4())},
        ],
    )
    def test_a_tampered_token_is_refused(
        self, core: BookingCore, sms: FlakySms, change: dict[str, object]
    ) -> None:
        token = sign_in(core, sms).tokens.access_token
        with pytest.raises(AuthenticationError, match="signature does not match"):
            core.auth.authenticate(tamper(token, **change), expect="customer")

    @pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "e30.e30.", "Bearer x"])
    def test_garbage_is_refused_as_an_authentication_failure(
        self, core: BookingCore, garbage: str
    ) -> None:
        with pytest.raises(AuthenticationError):
            core.auth.authenticate(garbage, expect="customer")

    def test_an_expired_access_token_is_refused(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        token = sign_in(core, sms).tokens.access_token
        clock.advance(days=30)  # the signer tolerates 30 s of clock skew
        assert core.auth.authenticate(token, expect="customer").kind is PrincipalKind.CUSTOMER
        clock.advance(seconds=30)
        with pytest.raises(AuthenticationError, match="expired"):
            core.auth.authenticate(token, expect="customer")

    def test_a_token_signed_with_another_secret_is_refused(
        self, make_core: Callable[..., BookingCore], sms: FlakySms
    ) -> None:
        impostor = make_core(token_signer=JwtTokenSigner({"k1": OTHER_SECRET}))
        token = sign_in(impostor, sms).tokens.access_token
        with pytest.raises(AuthenticationError, match="signature does not match"):
            make_core().auth.authenticate(token, expect="customer")

    def test_a_token_naming_an_unknown_key_is_refused(
        self, make_core: Callable[..., BookingCore], sms: FlakySms
    ) -> None:
        elsewhere = make_core(token_signer=JwtTokenSigner({"k9": SECRET}))
        token = sign_in(elsewhere, sms).tokens.access_token
        with pytest.raises(AuthenticationError, match="key this server does not hold"):
            make_core().auth.authenticate(token, expect="customer")

    def test_an_unsigned_token_is_refused(self, core: BookingCore, sms: FlakySms) -> None:
        claims = claims_of(sign_in(core, sms).tokens.access_token)
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
        with pytest.raises(AuthenticationError, match="signature"):
            core.auth.authenticate(unsigned, expect="customer")

    def test_keys_rotate_without_signing_anyone_out(
        self, make_core: Callable[..., BookingCore], sms: FlakySms
    ) -> None:
        before = sign_in(make_core(token_signer=JwtTokenSigner({"2026-01": SECRET})), sms)
        rotated = make_core(
            token_signer=JwtTokenSigner(
                {"2026-01": SECRET, "2026-02": OTHER_SECRET}, current_kid="2026-02"
            )
        )
        assert rotated.auth.authenticate(before.tokens.access_token, expect="customer") == (
            before.principal
        )
        assert before.tokens.refresh_token is not None
        renewed = rotated.auth.refresh(before.tokens.refresh_token)
        assert jwt.get_unverified_header(renewed.access_token)["kid"] == "2026-02"
        retired = make_core(token_signer=JwtTokenSigner({"2026-02": OTHER_SECRET}))
        assert retired.auth.authenticate(renewed.access_token, expect="customer") == (
            before.principal
        )
        with pytest.raises(AuthenticationError, match="key this server does not hold"):
            retired.auth.authenticate(before.tokens.access_token, expect="customer")

    def test_a_token_for_another_audience_is_refused(
        self, make_core: Callable[..., BookingCore], sms: FlakySms
    ) -> None:
        token = sign_in(make_core(), sms).tokens.access_token
        other = make_core(auth_settings=AuthSettings(otp_pepper=PEPPER, audience="back-office"))
        with pytest.raises(AuthenticationError, match="another service"):
            other.auth.authenticate(token, expect="customer")


def issue(core: BookingCore, sms: ConsoleSmsSender, admin: Principal, kind: str) -> str:
    """An access token of ``kind``."""
    if kind == "customer":
        return sign_in(core, sms).tokens.access_token
    if kind == "staff":
        member = core.staff.add("editor@example.com", "Eddie", principal=admin, role="editor")
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        return core.auth.sign_in_staff("editor@example.com", PASSWORD).tokens.access_token
    registered = core.partners.register(
        name="TrekMates",
        company_name="TrekMates Pvt Ltd",
        contact_email="ops@example.com",
        principal=admin,
    )
    return core.auth.sign_in_partner(registered.api_key, registered.api_secret).tokens.access_token


class TestRefreshAndLogout:
    def test_refresh_rotates_the_refresh_token(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        signed = sign_in(core, sms)
        clock.advance(days=10)
        assert signed.tokens.refresh_token is not None
        renewed = core.auth.refresh(signed.tokens.refresh_token)
        assert renewed.refresh_token not in (None, signed.tokens.refresh_token)
        assert renewed.access_expires_at == clock.now() + timedelta(days=30)
        assert renewed.refresh_expires_at == signed.tokens.refresh_expires_at  # the family's end
        assert core.auth.authenticate(renewed.access_token, expect="customer") == signed.principal
        assert renewed.refresh_token is not None
        core.auth.refresh(renewed.refresh_token)

    def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
        self, core: BookingCore, sms: FlakySms, store: MemoryStore
    ) -> None:
        signed = sign_in(core, sms)
        assert signed.tokens.refresh_token is not None
        renewed = core.auth.refresh(signed.tokens.refresh_token)

        with pytest.raises(AuthenticationError, match="already used; the session is revoked"):
            core.auth.refresh(signed.tokens.refresh_token)

        assert renewed.refresh_token is not None
        with pytest.raises(AuthenticationError, match="refresh_reused"):
            core.auth.refresh(renewed.refresh_token)
        for token in (signed.tokens.access_token, renewed.access_token):
            with pytest.raises(AuthenticationError, match="session was ended"):
                core.auth.authenticate(token, expect="customer")
        with store.unit_of_work() as uow:
            actions = [e.action for e in uow.audit.list_for("session", signed.session_id)]
            session = uow.auth_sessions.get(signed.session_id)
        assert actions == [
            AuditAction.CREATED,
            AuditAction.CREDENTIALS_ROTATED,
            AuditAction.DEACTIVATED,
        ]
        assert session is not None
        assert session.revoked_reason == "refresh_reused"

    def test_reuse_revokes_only_that_family(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        phone_session = sign_in(core, sms)
        clock.advance(seconds=61)
        tablet_session = sign_in(core, sms)
        assert phone_session.tokens.refresh_token is not None
        core.auth.refresh(phone_session.tokens.refresh_token)
        with pytest.raises(AuthenticationError):
            core.auth.refresh(phone_session.tokens.refresh_token)
        assert core.auth.authenticate(tablet_session.tokens.access_token, expect="customer")

    def test_a_session_ends_ninety_days_after_sign_in_however_often_it_refreshes(
        self, core: BookingCore, sms: FlakySms, clock: FixedClock
    ) -> None:
        token = sign_in(core, sms).tokens.refresh_token
        for _ in range(8):
            clock.advance(days=11)
            assert token is not None
            token = core.auth.refresh(token).refresh_token
        clock.advance(days=3)  # 91 days after signing in
        assert token is not None
        with pytest.raises(AuthenticationError, match="expired"):
            core.auth.refresh(token)

    def test_an_access_token_never_outlives_its_session(
        self, make_core: Callable[..., BookingCore], sms: FlakySms, clock: FixedClock
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER,
                customer_tokens=TokenLifetimes(timedelta(days=30), timedelta(days=40)),
            )
        )
        signed = sign_in(core, sms)
        clock.advance(days=20)
        assert signed.tokens.refresh_token is not None
        renewed = core.auth.refresh(signed.tokens.refresh_token)
        assert renewed.access_expires_at == signed.tokens.refresh_expires_at

    @pytest.mark.parametrize("which", ["access", "refresh"])
    def test_logout_revokes_every_token_of_the_session(
        self, core: BookingCore, sms: FlakySms, which: str
    ) -> None:
        tokens = sign_in(core, sms).tokens
        assert tokens.refresh_token is not None
        core.auth.logout(tokens.access_token if which == "access" else tokens.refresh_token)
        with pytest.raises(AuthenticationError, match=r"ended \(logout\)"):
            core.auth.authenticate(tokens.access_token, expect="customer")
        with pytest.raises(AuthenticationError, match=r"ended \(logout\)"):
            core.auth.refresh(tokens.refresh_token)

    def test_logging_out_twice_is_harmless_and_audited_once(
        self, core: BookingCore, sms: FlakySms, store: MemoryStore
    ) -> None:
        signed = sign_in(core, sms)
        core.auth.logout(signed.tokens.access_token)
        core.auth.logout(signed.tokens.access_token)
        with store.unit_of_work() as uow:
            actions = [e.action for e in uow.audit.list_for("session", signed.session_id)]
        assert actions == [AuditAction.CREATED, AuditAction.DEACTIVATED]

    def test_logout_with_a_forged_token_is_refused(self, core: BookingCore, sms: FlakySms) -> None:
        signed = sign_in(core, sms)
        with pytest.raises(AuthenticationError):
            core.auth.logout(tamper(signed.tokens.access_token, sid=str(uuid4())))
        assert core.auth.authenticate(signed.tokens.access_token, expect="customer")


class TestStaffSignIn:
    @pytest.fixture
    def member_id(self, core: BookingCore, admin: Principal) -> StaffId:
        member = core.staff.add("ravi@example.com", "Ravi", principal=admin, role="staff")
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        return member.id

    def test_a_staff_token_decodes_to_the_members_principal(
        self, core: BookingCore, member_id: StaffId, admin: Principal, clock: FixedClock
    ) -> None:
        signed = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        member = core.staff.get(member_id, principal=admin)
        assert signed.principal == member.principal
        assert signed.staff is not None
        assert signed.staff.id == member_id
        token = signed.tokens.access_token
        assert core.auth.authenticate(token, expect="staff") == member.principal
        assert claims_of(token)["role"] == "staff"
        assert signed.tokens.access_expires_at == clock.now() + timedelta(minutes=15)
        assert signed.tokens.refresh_expires_at == clock.now() + timedelta(hours=12)

    @pytest.mark.parametrize("role", list(StaffRole))
    def test_every_role_signs_in_with_its_role(
        self, core: BookingCore, admin: Principal, role: StaffRole
    ) -> None:
        member = core.staff.add(f"{role}@example.com", "Someone", principal=admin, role=role)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        token = core.auth.sign_in_staff(f"{role}@example.com", PASSWORD).tokens.access_token
        assert core.auth.authenticate(token, expect="staff").role is role

    def test_wrong_password_and_unknown_email_get_the_same_answer_after_the_same_work(
        self, make_core: Callable[..., BookingCore], admin: Principal
    ) -> None:
        hasher = CountingHasher()
        core = make_core(password_hasher=hasher)
        member = core.staff.add("ravi@example.com", "Ravi", principal=admin)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        hasher.verified = 0
        answers = []
        for email, password in [("ravi@example.com", "not the password"), ("x@example.com", "p")]:
            with pytest.raises(AuthenticationError) as refused:
                core.auth.sign_in_staff(email, password)
            answers.append(refused.value.message)
        assert answers == ["the email or password is wrong"] * 2
        assert hasher.verified == 2  # the unknown email was checked against a dummy hash

    def test_a_member_without_a_password_cannot_sign_in(
        self, core: BookingCore, admin: Principal
    ) -> None:
        core.staff.add("nopass@example.com", "Nopass", principal=admin)
        with pytest.raises(AuthenticationError, match="email or password is wrong"):
            core.auth.sign_in_staff("nopass@example.com", PASSWORD)

    @pytest.mark.parametrize(
        ("email", "password", "fields"),
        [
            ("not-an-email", PASSWORD, ("email",)),
            ("ravi@example.com", "", ("password",)),
            ("ravi@example.com", "p" * 1025, ("password",)),
            ("@", None, ("email", "password")),
        ],
    )
    def test_bad_input_names_each_field(
        self, core: BookingCore, member_id: StaffId, email: str, password: Any, fields: tuple[str]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            core.auth.sign_in_staff(email, password)
        assert refused.value.fields == fields

    def test_sign_in_attempts_are_rate_limited_per_email(
        self, make_core: Callable[..., BookingCore], admin: Principal
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER, sign_in_per_email=RateLimit(3, timedelta(minutes=15))
            )
        )
        member = core.staff.add("ravi@example.com", "Ravi", principal=admin)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                core.auth.sign_in_staff("ravi@example.com", "guess guess guess")
        with pytest.raises(RateLimitedError, match="for this email"):
            core.auth.sign_in_staff("ravi@example.com", PASSWORD)

    def test_the_email_signs_in_however_it_is_capitalised(
        self, core: BookingCore, admin: Principal
    ) -> None:
        member = core.staff.add("Ravi.Kumar@Example.com", "Ravi", principal=admin)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        for typed in ("ravi.kumar@example.com", "RAVI.KUMAR@EXAMPLE.COM"):
            signed = core.auth.sign_in_staff(typed, PASSWORD)
            assert signed.staff is not None
            assert signed.staff.id == member.id
            assert signed.staff.email.value == "Ravi.Kumar@example.com"  # as registered
        with pytest.raises(AuthenticationError):
            core.auth.sign_in_staff("ravi.kumar@example.com", "not the password")

    def test_a_member_whose_email_differs_only_in_case_is_refused(
        self, core: BookingCore, admin: Principal
    ) -> None:
        first = core.staff.add("Ravi@Example.com", "Ravi", principal=admin)
        with pytest.raises(DuplicateError) as refused:
            core.staff.add("RAVI@example.com", "Ravi again", principal=admin)
        assert refused.value.existing_id == first.id
        assert [m.id for m in core.staff.list(principal=admin)] == [first.id]

    def test_the_email_rate_limit_counts_every_capitalisation_together(
        self, make_core: Callable[..., BookingCore], admin: Principal
    ) -> None:
        core = make_core(
            auth_settings=AuthSettings(
                otp_pepper=PEPPER, sign_in_per_email=RateLimit(3, timedelta(minutes=15))
            )
        )
        member = core.staff.add("ravi@example.com", "Ravi", principal=admin)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        for typed in ("ravi@example.com", "Ravi@example.com", "RAVI@example.com"):
            with pytest.raises(AuthenticationError):
                core.auth.sign_in_staff(typed, "guess guess guess")
        with pytest.raises(RateLimitedError, match="for this email"):
            core.auth.sign_in_staff("rAvI@example.com", PASSWORD)

    def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(
        self, core: BookingCore, member_id: StaffId, admin: Principal
    ) -> None:
        signed = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        core.staff.set_active(member_id, False, principal=admin)
        with pytest.raises(AuthenticationError, match="deactivated"):
            core.auth.authenticate(signed.tokens.access_token, expect="staff")
        with pytest.raises(AuthenticationError, match="deactivated"):
            core.auth.sign_in_staff("ravi@example.com", PASSWORD)

    def test_a_password_change_ends_every_session_of_the_member(
        self, core: BookingCore, member_id: StaffId, admin: Principal
    ) -> None:
        first = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        second = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        core.staff.set_password(member_id, "a brand new passphrase", principal=admin)
        for signed in (first, second):
            with pytest.raises(AuthenticationError, match="credentials_changed"):
                core.auth.authenticate(signed.tokens.access_token, expect="staff")
        with pytest.raises(AuthenticationError):
            core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        assert core.auth.sign_in_staff("ravi@example.com", "a brand new passphrase")
        trail = core.audit.trail("staff", member_id, principal=admin)
        assert trail[-1].action is AuditAction.CREDENTIALS_ROTATED
        assert trail[-1].new_values == {"has_password": True}
        assert not any(PASSWORD in json.dumps(dict(e.new_values)) for e in trail)

    @pytest.mark.parametrize(
        ("password", "code"),
        [("short pass", "too_short"), ("p" * 1025, "too_long"), (" " * 20, "blank"), (7, "")],
    )
    def test_the_password_policy_names_the_field(
        self, core: BookingCore, member_id: StaffId, admin: Principal, password: Any, code: str
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            core.staff.set_password(member_id, password, principal=admin)
        assert refused.value.fields == ("password",)
        assert refused.value.errors[0].code == (code or "invalid_type")

    def test_only_the_member_themself_reads_their_record_not_another_kind_with_that_id(
        self, core: BookingCore, member_id: StaffId
    ) -> None:
        """ "Staff may read themselves": a customer, partner or webhook principal that
        happens to carry the member's id is not that member."""
        assert core.staff.get(member_id, principal=Principal.staff(member_id)).id == member_id
        for other in (
            Principal.customer(CustomerId(member_id)),
            Principal.partner(PartnerId(member_id)),
        ):
            with pytest.raises(NotFoundError):
                core.staff.get(member_id, principal=other)

    def test_members_change_their_own_password_with_the_current_one(
        self, core: BookingCore, member_id: StaffId, admin: Principal
    ) -> None:
        me = core.staff.get(member_id, principal=admin).principal
        with pytest.raises(AuthenticationError, match="current password"):
            core.staff.set_password(member_id, "my next passphrase", principal=me)
        with pytest.raises(AuthenticationError, match="current password"):
            core.staff.set_password(
                member_id, "my next passphrase", principal=me, current_password="wrong one"
            )
        core.staff.set_password(
            member_id, "my next passphrase", principal=me, current_password=PASSWORD
        )
        assert core.auth.sign_in_staff("ravi@example.com", "my next passphrase")

    def test_guessing_the_current_password_is_rate_limited_like_sign_in(
        self, core: BookingCore, member_id: StaffId, admin: Principal, clock: FixedClock
    ) -> None:
        """A stolen session cannot brute-force the password through set_password."""
        me = core.staff.get(member_id, principal=admin).principal
        limit = core.auth.settings.sign_in_per_email.limit
        for n in range(limit):
            with pytest.raises(AuthenticationError, match="current password"):
                core.staff.set_password(
                    member_id, "my next passphrase", principal=me, current_password=f"guess {n}"
                )
        with pytest.raises(RateLimitedError) as limited:
            core.staff.set_password(
                member_id, "my next passphrase", principal=me, current_password=PASSWORD
            )
        assert limited.value.retry_after > 0
        # The guesses count against the member's sign-in too: one limit per password.
        with pytest.raises(RateLimitedError):
            core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        assert core.staff.get(member_id, principal=admin).principal == me
        # Admins set passwords without the current one, so they are never limited.
        core.staff.set_password(member_id, "set by an admin", principal=admin)
        clock.advance(minutes=16)
        core.staff.set_password(
            member_id, "my next passphrase", principal=me, current_password="set by an admin"
        )
        assert core.auth.sign_in_staff("ravi@example.com", "my next passphrase")

    def test_guesses_made_at_sign_in_count_against_a_password_change(
        self, core: BookingCore, member_id: StaffId, admin: Principal
    ) -> None:
        me = core.staff.get(member_id, principal=admin).principal
        for n in range(core.auth.settings.sign_in_per_email.limit):
            with pytest.raises(AuthenticationError):
                core.auth.sign_in_staff("ravi@example.com", f"guess {n}")
        with pytest.raises(RateLimitedError):
            core.staff.set_password(
                member_id, "my next passphrase", principal=me, current_password=PASSWORD
            )

    def test_a_password_change_by_the_member_needs_a_rate_limiter(
        self, make_core: Callable[..., BookingCore], admin: Principal
    ) -> None:
        core = make_core(rate_limiter=None)
        member = core.staff.add("sita@example.com", "Sita", principal=admin)
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        with pytest.raises(AuthNotConfiguredError, match="rate_limiter"):
            core.staff.set_password(
                member.id,
                "my next passphrase",
                principal=member.principal,
                current_password=PASSWORD,
            )

    def test_other_staff_may_not_set_a_members_password(
        self, core: BookingCore, member_id: StaffId
    ) -> None:
        colleague = Principal.staff(StaffId(uuid4()), StaffRole.STAFF)
        with pytest.raises(PermissionDeniedError):
            core.staff.set_password(member_id, "taken over passphrase", principal=colleague)

    def test_a_hash_made_with_older_parameters_is_upgraded_at_sign_in(
        self, make_core: Callable[..., BookingCore], admin: Principal, store: MemoryStore
    ) -> None:
        old = make_core(password_hasher=cheap_hasher(time_cost=1))
        member = old.staff.add("ravi@example.com", "Ravi", principal=admin)
        old.staff.set_password(member.id, PASSWORD, principal=admin)
        stronger = cheap_hasher(time_cost=2)
        new = make_core(password_hasher=stronger)
        new.auth.sign_in_staff("ravi@example.com", PASSWORD)
        with store.unit_of_work() as uow:
            stored = uow.staff.get(member.id)
        assert stored is not None
        assert stored.password_hash is not None
        assert "t=2" in stored.password_hash
        assert not stronger.needs_rehash(stored.password_hash)
        assert new.auth.sign_in_staff("ravi@example.com", PASSWORD)

    def test_refresh_keeps_a_staff_member_signed_in_with_their_role(
        self, core: BookingCore, member_id: StaffId, clock: FixedClock
    ) -> None:
        signed = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        clock.advance(minutes=14)
        assert signed.tokens.refresh_token is not None
        renewed = core.auth.refresh(signed.tokens.refresh_token)
        assert core.auth.authenticate(renewed.access_token, expect="staff") == signed.principal

    def test_refresh_refuses_a_kind_the_endpoint_does_not_take_and_leaves_it_unspent(
        self, core: BookingCore, member_id: StaffId
    ) -> None:
        signed = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
        assert signed.tokens.refresh_token is not None
        with pytest.raises(AuthenticationError, match="staff refresh token is not accepted"):
            core.auth.refresh(signed.tokens.refresh_token, expect="customer")
        with pytest.raises(ValidationError) as unknown:
            core.auth.refresh(signed.tokens.refresh_token, expect="robot")
        assert unknown.value.errors[0].field == "expect"
        # Refused before it was spent: the session is whole and the token still works once.
        renewed = core.auth.refresh(signed.tokens.refresh_token, expect=["staff", "customer"])
        assert core.auth.authenticate(renewed.access_token, expect="staff") == signed.principal

    def test_setting_a_password_needs_a_hasher(self, store: MemoryStore, admin: Principal) -> None:
        bare = BookingCore(uow_factory=store.unit_of_work, clock=FixedClock(), ids=SequentialIds())
        member = bare.staff.add("ravi@example.com", "Ravi", principal=admin)
        with pytest.raises(AuthNotConfiguredError, match="password_hasher"):
            bare.staff.set_password(member.id, PASSWORD, principal=admin)


class CountingHasher(Argon2PasswordHasher):
    """A cheap Argon2 hasher that counts verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return super().verify(password_hash, password)


class TestPartnerTokens:
    @pytest.fixture
    def registered(self, core: BookingCore, admin: Principal) -> Any:
        return core.partners.register(
            name="TrekMates",
            company_name="TrekMates Pvt Ltd",
            contact_email="ops@example.com",
            principal=admin,
        )

    def test_a_partner_trades_its_key_and_secret_for_an_hour_long_token(
        self, core: BookingCore, registered: Any, clock: FixedClock
    ) -> None:
        signed = core.auth.sign_in_partner(registered.api_key, registered.api_secret)
        assert signed.principal == Principal.partner(registered.partner.id)
        assert signed.tokens.refresh_token is None
        assert signed.tokens.access_expires_at == clock.now() + timedelta(hours=1)
        token = signed.tokens.access_token
        assert core.auth.authenticate(token, expect="partner") == signed.principal
        clock.advance(hours=1, seconds=30)
        with pytest.raises(AuthenticationError, match="expired"):
            core.auth.authenticate(token, expect="partner")

    def test_a_wrong_secret_gets_no_token(self, core: BookingCore, registered: Any) -> None:
        with pytest.raises(AuthenticationError):
            core.auth.sign_in_partner(registered.api_key, "sk_wrong")

    def test_only_partners_get_partner_tokens(self, core: BookingCore, admin: Principal) -> None:
        with pytest.raises(PermissionDeniedError, match="not a partner"):
            core.auth.issue_partner_token(admin)

    def test_a_partner_token_stops_working_when_the_partner_is_deactivated(
        self, core: BookingCore, registered: Any, admin: Principal
    ) -> None:
        signed = core.auth.sign_in_partner(registered.api_key, registered.api_secret)
        core.partners.set_active(registered.partner.id, False, principal=admin)
        with pytest.raises(AuthenticationError, match="deactivated"):
            core.auth.authenticate(signed.tokens.access_token, expect="partner")

    def test_a_partner_token_is_checked_against_allowed_ips_on_every_call(
        self, core: BookingCore, registered: Any, admin: Principal
    ) -> None:
        partner_id = registered.partner.id
        core.partners.set_settings(partner_id, {"allowed_ips": "203.0.113.0/24"}, principal=admin)
        home = RequestOrigin("203.0.113.7", "trekmates/2.0")
        signed = core.auth.sign_in_partner(
            registered.api_key, registered.api_secret, client_ip=home.ip_address
        )
        token = signed.tokens.access_token
        principal = core.auth.authenticate(token, expect="partner", origin=home)
        assert principal == Principal.partner(partner_id)
        assert principal.origin == home  # the principal carries the caller's address
        for elsewhere in (RequestOrigin("198.51.100.9", None), RequestOrigin(None, None), None):
            with pytest.raises(PermissionDeniedError, match="may not call from address"):
                core.auth.authenticate(token, expect="partner", origin=elsewhere)
        # Without the setting any address may call, as before.
        core.partners.set_settings(partner_id, {}, principal=admin)
        moved = core.auth.authenticate(token, expect="partner", origin=RequestOrigin("10.0.0.1"))
        assert moved.origin is not None
        assert moved.origin.ip_address == "10.0.0.1"

    def test_a_deactivated_partner_gets_no_token(
        self, core: BookingCore, registered: Any, admin: Principal
    ) -> None:
        core.partners.set_active(registered.partner.id, False, principal=admin)
        with pytest.raises(AuthenticationError):
            core.auth.issue_partner_token(Principal.partner(registered.partner.id))


class TestCleanup:
    def test_cleanup_removes_expired_challenges_and_sessions(
        self,
        core: BookingCore,
        sms: FlakySms,
        otp_store: MemoryOtpStore,
        clock: FixedClock,
        store: MemoryStore,
    ) -> None:
        signed = sign_in(core, sms)  # its challenge is consumed
        core.auth.request_otp("+91 98111 22233")
        assert core.auth.cleanup() == 1  # the used challenge only
        clock.advance(minutes=5)
        assert core.auth.cleanup() == 1  # the unused one, expired
        assert otp_store.get(PhoneNumber("+91 98111 22233")) is None
        clock.advance(days=90)
        assert core.auth.cleanup() == 1  # the session
        with store.unit_of_work() as uow:
            assert uow.auth_sessions.get(signed.session_id) is None
        assert core.auth.cleanup() == 0

    def test_cleanup_takes_a_time(self, core: BookingCore, clock: FixedClock) -> None:
        core.auth.request_otp(PHONE)
        assert core.auth.cleanup(clock.now() + timedelta(minutes=4)) == 0
        assert core.auth.cleanup(clock.now() + timedelta(minutes=5)) == 1

    def test_cleanup_refuses_a_naive_time_naming_it(
        self, core: BookingCore, clock: FixedClock
    ) -> None:
        core.auth.request_otp(PHONE)
        with pytest.raises(ValidationError) as caught:
            core.auth.cleanup(clock.now().replace(tzinfo=None) + timedelta(minutes=5))
        assert [(e.field, e.code) for e in caught.value.errors] == [("now", "naive_datetime")]
        assert core.auth.cleanup(clock.now() + timedelta(minutes=5)) == 1


class TestAuthenticationErrorFields:
    """Each refusal names the input it is about, as a ValidationError's field does; before,
    an AuthenticationError named none, and a client could not tell a wrong code from a
    dead token without parsing the message."""

    @staticmethod
    def refused(call: Callable[[], object]) -> AuthenticationError:
        with pytest.raises(AuthenticationError) as caught:
            call()
        return caught.value

    def test_a_wrong_or_missing_code_names_the_code(
        self, core: BookingCore, sms: ConsoleSmsSender
    ) -> None:
        assert self.refused(lambda: core.auth.verify_otp(PHONE, "123456")).field == "code"
        core.auth.request_otp(PHONE)
        wrong_code = self.refused(lambda: core.auth.verify_otp(PHONE, wrong(last_code(sms))))
        assert wrong_code.field == "code"
        assert wrong_code.to_dict()["field"] == "code"

    def test_a_bad_token_names_the_parameter_it_came_in(
        self, core: BookingCore, sms: ConsoleSmsSender
    ) -> None:
        signed = sign_in(core, sms)
        access, refresh = signed.tokens.access_token, signed.tokens.refresh_token
        assert refresh is not None
        assert self.refused(
            lambda: core.auth.authenticate(tamper(access), expect="customer")
        ).field == ("access_token")
        assert self.refused(lambda: core.auth.authenticate("junk", expect="customer")).field == (
            "access_token"
        )
        assert self.refused(lambda: core.auth.authenticate(access, expect="staff")).field == (
            "access_token"
        )
        assert self.refused(lambda: core.auth.refresh(access)).field == "refresh_token"
        core.auth.logout(refresh)
        assert self.refused(lambda: core.auth.refresh(refresh)).field == "refresh_token"
        assert self.refused(lambda: core.auth.logout("junk")).field == "token"

    def test_a_wrong_password_names_the_password(self, core: BookingCore, admin: Principal) -> None:
        member = core.staff.add("ravi@example.com", "Ravi", principal=admin, role="staff")
        core.staff.set_password(member.id, PASSWORD, principal=admin)
        assert self.refused(
            lambda: core.auth.sign_in_staff("ravi@example.com", "not the password")
        ).field == ("password")
        assert self.refused(
            lambda: core.auth.sign_in_staff("nobody@example.com", PASSWORD)
        ).field == ("password")
        itself = member.principal
        assert self.refused(
            lambda: core.staff.set_password(
                member.id, "a brand new password", principal=itself, current_password="nope"
            )
        ).field == ("current_password")

    def test_a_refusal_that_is_about_no_input_names_none(self) -> None:
        error = AuthenticationError("this staff account is deactivated")
        assert error.field is None
        assert "field" not in error.to_dict()
        assert AuthenticationError("bad", field="code").to_dict() == {
            "code": "authentication_failed",
            "message": "bad",
            "field": "code",
        }
