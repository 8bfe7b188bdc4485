"""Identity and access: phone sign-in by one-time code, tokens, staff and partner sign-in.

Customers sign in with their phone alone, as a mobile booking app needs:
:meth:`AuthService.request_otp` texts a 6-digit code, :meth:`AuthService.verify_otp`
checks it, registers the customer if the number is new and hands out an access and
a refresh token.
Staff sign in with email and password (:meth:`AuthService.sign_in_staff`),
partners trade their API key and secret for a short bearer token.

Every sign-in starts an :class:`~bookingcore.domain.auth.AuthSession`, the
family of its tokens. Refreshing rotates the refresh token; presenting a spent
one again revokes the whole family. :meth:`AuthService.authenticate` turns an
access token back into the :class:`~bookingcore.domain.policy.Principal` every
other service takes, and refuses a token of another kind than the one expected
or of a session that was revoked.

The code is never stored: a challenge keeps an HMAC-SHA256 of it, keyed with a
server-side pepper and bound to the challenge and the phone, because a hash of
one of a million codes without a key is undone in a moment. The defaults are
in :class:`AuthSettings` and explained in ``docs/security.md``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import secrets
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import attrs

from bookingcore.domain._validation import Problems
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
)
from bookingcore.domain.customers import Customer
from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.policy import Principal, PrincipalKind, StaffRole
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import (
    CommunicationId,
    CustomerId,
    EmailAddress,
    PartnerId,
    PhoneNumber,
    RequestOrigin,
    StaffId,
    SupplierId,
    ensure_aware,
)
from bookingcore.errors import (
    AuthenticationError,
    BookingError,
    DeliveryError,
    FieldError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from bookingcore.ports.security import (
    OtpStore,
    PasswordHasher,
    RateLimiter,
    SmsSender,
    TokenSigner,
)
from bookingcore.services._context import ServiceContext, Transaction
from bookingcore.services._observing import error_name
from bookingcore.services._sessions import revoke_session
from bookingcore.services.customers import CustomerService
from bookingcore.services.partners import PartnerService

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "OTP_DIGITS",
    "AuthNotConfiguredError",
    "AuthService",
    "AuthSettings",
    "OtpRequested",
    "RateLimit",
    "SignedIn",
    "TokenLifetimes",
    "TokenPair",
    "check_password_policy",
]

_log = logging.getLogger("bookingcore.auth")

P = TypeVar("P")

#: How many digits a one-time code has.
OTP_DIGITS = 6
#: The shortest password staff may set.
MIN_PASSWORD_LENGTH = 12
#: The longest password accepted anywhere (hashing a huge input is a cheap way to load a server).
MAX_PASSWORD_LENGTH = 1024
#: The longest client key accepted (it is hashed before it names a rate-limit bucket).
MAX_CLIENT_KEY_LENGTH = 256

#: Placeholders the OTP text may use.
OTP_MESSAGE_FIELDS = frozenset({"code", "business", "minutes"})

#: The token kinds :meth:`AuthService.authenticate` knows.
TOKEN_KINDS = (PrincipalKind.CUSTOMER, PrincipalKind.STAFF, PrincipalKind.PARTNER)

_ACCESS = "access"
_REFRESH = "refresh"
#: Checked before any other claim is read, so a token of another shape is refused plainly.
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "typ", "use", "exp")


#: Who records what the auth service does on its own behalf.
_AUTH = Principal.system("auth")


class AuthNotConfiguredError(BookingError, RuntimeError):
    """A sign-in method was called on a core wired without the port it needs.

    A mistake of wiring, not of the caller: hosts usually answer it with HTTP 500.
    ``port`` names the missing :class:`~bookingcore.BookingCore` argument.

    .. versionadded:: 0.1
    """

    code = "not_configured"

    def __init__(self, port: str, purpose: str) -> None:
        self.port = port
        super().__init__(f"{purpose} needs the {port} port: pass {port}=... to BookingCore")

    def details(self) -> Mapping[str, Any]:
        return {"port": self.port}


# ---------------------------------------------------------------------- settings


def _positive(field: str) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, timedelta):
            msg = f"must be a timedelta, not {type(value).__name__}"
            raise ValidationError.single(field or attribute.name, msg, "invalid_type")
        if value <= timedelta(0):
            msg = f"must be positive, not {value}"
            raise ValidationError.single(field or attribute.name, msg, "too_small")

    return check


def _at_least_one(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"a rate limit allows at least one hit, not {value!r}"
        raise ValidationError.single("limit", msg, "too_small")


@attrs.frozen
class RateLimit:
    """At most ``limit`` hits in any ``window``.

    Raises:
        ValidationError: ``limit`` below one (on ``limit``) or a window that is not
            positive (on ``window``).

    .. versionadded:: 0.1
    """

    limit: int = attrs.field(validator=lambda _, __, value: _at_least_one(value))
    window: timedelta = attrs.field(validator=_positive("window"))


@attrs.frozen
class TokenLifetimes:
    """How long the tokens of one kind of principal live.

    ``access`` is the life of an access token; ``refresh`` the life of the
    whole session, however often it is refreshed (``None``: no refresh tokens,
    the session ends with its access token).

    Raises:
        ValidationError: a lifetime that is not positive, on ``access`` or ``refresh``.

    .. versionadded:: 0.1
    """

    access: timedelta = attrs.field(validator=_positive("access"))
    refresh: timedelta | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive("refresh"))
    )

    @property
    def session(self) -> timedelta:
        """How long a session of this kind may last."""
        return self.access if self.refresh is None else max(self.refresh, self.access)


def _pepper(value: bytes | str | None) -> bytes:
    if value is None:
        return secrets.token_bytes(32)
    return value.encode("utf-8") if isinstance(value, str) else value


@attrs.frozen
class AuthSettings:
    """The knobs of sign-in. Every default is explained in ``docs/security.md``.

    Args:
        otp_ttl: how long a code works (5 minutes by default).
        otp_cooldown: how long after a code was sent another is refused (60 s).
        otp_max_attempts: wrong guesses a code survives (3 by default); the
            attempt that reaches it ends the challenge, right or wrong.
        otp_per_phone: codes one phone number may be sent (5 an hour).
        otp_per_client: codes one client key (an IP address, a device id) may
            ask for, whatever the numbers (30 an hour).
        otp_verify_per_client: codes one client key may try (60 an hour).
        otp_pepper: the secret key of the codes' HMAC, at least 32 bytes. Give
            the same one to every app server that shares an OTP store (Redis);
            left out, each :class:`AuthService` draws a random one, which suits
            one process only.
        otp_message: the text, with ``$code`` and optionally ``$business`` and
            ``$minutes`` (the code's lifetime).
        customer_tokens: 30-day access tokens (for a mobile app) in sessions of 90 days.
        staff_tokens: 15-minute access tokens in sessions of 12 hours.
        partner_tokens: 1-hour access tokens, no refresh (partners sign in
            again with their key and secret).
        sign_in_per_email: staff sign-in attempts per email (10 per 15 minutes).
        sign_in_per_client: staff sign-in attempts per client key (50 per 15 minutes).
        issuer: the ``iss`` claim tokens carry and must carry.
        audience: the ``aud`` claim tokens carry and must carry.

    Raises:
        ValidationError: naming each field out of bounds.

    .. versionadded:: 0.1
    """

    otp_ttl: timedelta = attrs.field(default=timedelta(minutes=5), validator=_positive(""))
    otp_cooldown: timedelta = timedelta(seconds=60)
    otp_max_attempts: int = 3
    otp_per_phone: RateLimit = RateLimit(5, timedelta(hours=1))
    otp_per_client: RateLimit = RateLimit(30, timedelta(hours=1))
    otp_verify_per_client: RateLimit = RateLimit(60, timedelta(hours=1))
    otp_pepper: bytes = attrs.field(default=None, converter=_pepper, repr=False)
    otp_message: str = "$business: $code is your sign-in code. It expires in $minutes minutes."
    customer_tokens: TokenLifetimes = TokenLifetimes(timedelta(days=30), timedelta(days=90))
    staff_tokens: TokenLifetimes = TokenLifetimes(timedelta(minutes=15), timedelta(hours=12))
    partner_tokens: TokenLifetimes = TokenLifetimes(timedelta(hours=1))
    sign_in_per_email: RateLimit = RateLimit(10, timedelta(minutes=15))
    sign_in_per_client: RateLimit = RateLimit(50, timedelta(minutes=15))
    issuer: str = "bookingcore"
    audience: str = "bookingcore"

    def __attrs_post_init__(self) -> None:
        problems: list[FieldError] = []
        cooldown: object = self.otp_cooldown
        if not isinstance(cooldown, timedelta):
            msg = f"must be a timedelta, not {type(cooldown).__name__}"
            problems.append(FieldError("otp_cooldown", msg, "invalid_type"))
        elif cooldown < timedelta(0) or cooldown >= self.otp_ttl:
            msg = "must be at least zero and shorter than otp_ttl"
            problems.append(FieldError("otp_cooldown", msg, "out_of_range"))
        attempts: object = self.otp_max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
            msg = "must be between 1 and 10"
            problems.append(FieldError("otp_max_attempts", msg, "out_of_range"))
        if len(self.otp_pepper) < 32:
            msg = f"must be at least 32 bytes, not {len(self.otp_pepper)}"
            problems.append(FieldError("otp_pepper", msg, "too_short"))
        template = string.Template(self.otp_message)
        names = set(template.get_identifiers()) if template.is_valid() else set()
        if not template.is_valid() or "code" not in names or names - OTP_MESSAGE_FIELDS:
            msg = "must contain $code and no placeholders but $business and $minutes"
            problems.append(FieldError("otp_message", msg, "invalid_template"))
        for field in ("issuer", "audience"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                problems.append(FieldError(field, "is required", "required"))
        if problems:
            raise ValidationError(problems)

    def tokens(self, kind: PrincipalKind) -> TokenLifetimes:
        """The lifetimes of ``kind``'s tokens."""
        return {
            PrincipalKind.CUSTOMER: self.customer_tokens,
            PrincipalKind.STAFF: self.staff_tokens,
            PrincipalKind.PARTNER: self.partner_tokens,
        }[kind]


# ---------------------------------------------------------------------- results


@attrs.frozen
class OtpRequested:
    """A code is on its way: it works until ``expires_at``; another may be asked
    for from ``resend_after``.

    .. versionadded:: 0.1
    """

    phone: PhoneNumber
    expires_at: datetime
    resend_after: datetime


@attrs.frozen
class TokenPair:
    """The bearer tokens of a sign-in or a refresh.

    ``refresh_token`` is ``None`` for kinds without refresh (partners). The
    tokens are left out of ``repr`` so they do not end up in logs.

    .. versionadded:: 0.1
    """

    access_token: str = attrs.field(repr=False)
    access_expires_at: datetime
    refresh_token: str | None = attrs.field(default=None, repr=False)
    refresh_expires_at: datetime | None = None
    token_type: str = "Bearer"  # noqa: S105 - the OAuth 2 token type, not a secret


@attrs.frozen
class SignedIn:
    """Who signed in, their tokens and the session those belong to.

    ``customer`` is set for phone sign-ins, with ``created`` telling whether
    this sign-in registered them; ``staff`` for staff sign-ins.

    .. versionadded:: 0.1
    """

    principal: Principal
    tokens: TokenPair
    session_id: UUID
    customer: Customer | None = None
    created: bool = False
    staff: StaffMember | None = None


# ---------------------------------------------------------------------- helpers shared with staff


def check_password_policy(password: object, field: str = "password") -> str:
    """Refuse a password staff may not set: 12 to 1024 characters, not only whitespace.

    Raises:
        ValidationError: on ``field``, code ``invalid_type``, ``blank``, ``too_short``
            or ``too_long``.

    .. versionadded:: 0.1
    """
    if not isinstance(password, str):
        raise ValidationError.single(field, "must be text", "invalid_type")
    if not password.strip():
        raise ValidationError.single(field, "must not be blank", "blank")
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"must be at least {MIN_PASSWORD_LENGTH} characters"
        raise ValidationError.single(field, msg, "too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        msg = f"must be at most {MAX_PASSWORD_LENGTH} characters"
        raise ValidationError.single(field, msg, "too_long")
    return password


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Name ``field`` on an :class:`AuthenticationError` raised inside: the parameter the
    token came in, rather than the signer's generic ``"token"``."""
    try:
        yield
    except AuthenticationError as refused:
        refused.field = field
        raise


def _seconds(delta: timedelta) -> float:
    """Whole seconds to wait, rounded up, so a client that waits that long gets through."""
    return float(max(math.ceil(delta.total_seconds()), 1))


def _client_bucket(client_key: str) -> str:
    return hashlib.sha256(client_key.encode("utf-8")).hexdigest()[:32]


def otp_phone_bucket(phone: PhoneNumber) -> str:
    """The rate-limit key of the sign-in codes requested for one phone number.

    Erasing a customer (:meth:`~bookingcore.services.PrivacyService.erase_customer`)
    resets it, with the phone's challenge in the OTP store.

    .. versionadded:: 0.4
    """
    return f"otp:phone:{phone.e164}"


def password_guess_bucket(email: EmailAddress) -> str:
    """The rate-limit bucket of guesses at one staff member's password.

    Sign-in attempts for the email (however it is capitalised) and wrong current
    passwords given to :meth:`~bookingcore.services.StaffService.set_password`
    share it: the password has one limit, whichever way it is guessed.
    """
    return f"sign-in:email:{_client_bucket(email.match_key)}"


def _clean_client_key(client_key: object) -> str | None:
    if client_key is None:
        return None
    if not isinstance(client_key, str) or not client_key.strip():
        raise ValidationError.single("client_key", "must be non-empty text", "invalid")
    if len(client_key) > MAX_CLIENT_KEY_LENGTH:
        msg = f"must be at most {MAX_CLIENT_KEY_LENGTH} characters"
        raise ValidationError.single("client_key", msg, "too_long")
    return client_key.strip()


def _check_sign_in_password(password: object) -> None:
    """A password to check: any text up to the maximum (the policy is for new passwords)."""
    if not isinstance(password, str) or not password:
        raise ValidationError.single("password", "is required", "required")
    if len(password) > MAX_PASSWORD_LENGTH:
        msg = f"must be at most {MAX_PASSWORD_LENGTH} characters"
        raise ValidationError.single("password", msg, "too_long")


def _clean_code(code: object) -> str:
    text = code.strip() if isinstance(code, str) else None
    if text is None or len(text) != OTP_DIGITS or not (text.isascii() and text.isdigit()):
        msg = f"must be the {OTP_DIGITS} digits of the code that was sent"
        raise ValidationError.single("code", msg, "invalid_code")
    return text


def _expected_kinds(
    expect: PrincipalKind | str | Iterable[PrincipalKind | str],
) -> frozenset[PrincipalKind]:
    given: object = expect  # callers without type checking pass None, numbers
    if isinstance(given, str):
        wanted: list[object] = [given]
    elif isinstance(given, Iterable):
        wanted = list(given)
    else:
        known = ", ".join(k.value for k in TOKEN_KINDS)
        msg = f"name the token kind (or kinds) this endpoint takes, one of {known}"
        raise ValidationError.single("expect", msg, "required")
    kinds: set[PrincipalKind] = set()
    for value in wanted:
        try:
            kind = PrincipalKind(value) if isinstance(value, str) else None
        except ValueError:
            kind = None
        if kind not in TOKEN_KINDS:
            known = ", ".join(k.value for k in TOKEN_KINDS)
            msg = f"{value!r} is not a token kind (one of {known})"
            raise ValidationError.single("expect", msg, "invalid_choice")
        assert kind is not None
        kinds.add(kind)
    if not kinds:
        raise ValidationError.single("expect", "name at least one token kind", "required")
    return frozenset(kinds)


def _uuid_claim(claims: Mapping[str, Any], name: str) -> UUID:
    value = claims.get(name)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return UUID(value)
    msg = f"the token's {name!r} claim is not valid"
    raise AuthenticationError(msg)


# ---------------------------------------------------------------------- the service


@attrs.frozen
class _Claims:
    """What a verified token says."""

    kind: PrincipalKind
    subject_id: UUID
    session_id: UUID
    token_id: UUID
    raw: Mapping[str, Any]


class AuthService:
    """Sign customers in by phone, staff by password, partners by key; issue and check tokens.

    Each port is optional on :class:`~bookingcore.BookingCore`; a method that
    needs a missing one raises :class:`AuthNotConfiguredError` naming it.

    Args:
        context: the core's shared dependencies.
        customers: registers customers on their first sign-in.
        partners: checks partners' API keys and secrets.
        otp_store: keeps the codes' challenges (memory or Redis).
        rate_limiter: counts requests per phone, email and client key.
        sms: sends the codes.
        token_signer: signs and verifies tokens.
        password_hasher: hashes and checks staff passwords.
        settings: lifetimes, limits and texts.

    .. versionadded:: 0.1
    """

    #: A password no account has, hashed once and checked when the email is unknown,
    #: so an unknown email takes as long to refuse as a wrong password.
    _DUMMY_PASSWORD: ClassVar[str] = "no account has this password: timing equaliser"  # noqa: S105

    def __init__(
        self,
        context: ServiceContext,
        customers: CustomerService,
        partners: PartnerService,
        *,
        otp_store: OtpStore | None = None,
        rate_limiter: RateLimiter | None = None,
        sms: SmsSender | None = None,
        token_signer: TokenSigner | None = None,
        password_hasher: PasswordHasher | None = None,
        settings: AuthSettings | None = None,
    ) -> None:
        self._ctx = context
        self._customers = customers
        self._partners = partners
        self._otp_store = otp_store
        self._rate_limiter = rate_limiter
        self._sms = sms
        self._signer = token_signer
        self._hasher = password_hasher
        self.settings = settings or AuthSettings()
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ ports

    @staticmethod
    def _need(port: P | None, name: str, purpose: str) -> P:
        if port is None:
            raise AuthNotConfiguredError(name, purpose)
        return port

    # ------------------------------------------------------------------ phone sign-in

    def request_otp(
        self, phone: str | PhoneNumber, *, client_key: str | None = None
    ) -> OtpRequested:
        """Text a fresh 6-digit code to ``phone``; it replaces any earlier code.

        The code comes from :mod:`secrets`; only its keyed hash is stored, with
        its expiry (``otp_ttl``). Within ``otp_cooldown`` of the last code
        another is refused; after it, the new code replaces the old one, which
        stops working. ``client_key`` (the caller's IP address or device id, as
        the host knows it) has a rate limit of its own.

        Raises:
            ValidationError: a bad ``phone`` or ``client_key``.
            RateLimitedError: inside the cooldown, or over the limit of the phone
                or of the client key; ``retry_after`` says how many seconds to wait.
            DeliveryError: the SMS could not be sent; no code is left usable.
            AuthNotConfiguredError: no ``otp_store``, ``rate_limiter`` or ``sms``.

        .. versionchanged:: 0.4
           Reported to the core's observer (``Observer.otp_requested``), if any.
        """
        observer = self._ctx.observer
        if observer is None:
            return self._request_otp(phone, client_key)
        with observer.use_case("otp.request"):
            started = time.perf_counter()
            try:
                requested = self._request_otp(phone, client_key)
            except Exception as exc:
                failed = isinstance(exc, DeliveryError) or not isinstance(exc, BookingError)
                observer.otp_requested(
                    channel="sms",
                    outcome="failed" if failed else "refused",
                    error=error_name(exc),
                    seconds=time.perf_counter() - started,
                )
                raise
            observer.otp_requested(
                channel="sms", outcome="sent", error=None, seconds=time.perf_counter() - started
            )
            return requested

    def _request_otp(self, phone: str | PhoneNumber, client_key: str | None) -> OtpRequested:
        purpose = "phone sign-in"
        store = self._need(self._otp_store, "otp_store", purpose)
        limiter = self._need(self._rate_limiter, "rate_limiter", purpose)
        sms = self._need(self._sms, "sms", purpose)
        problems = Problems()
        number = problems.capture(lambda: self._customers.parse_phone(phone))
        client = problems.capture(lambda: _clean_client_key(client_key))
        problems.raise_if_any()
        assert number is not None
        settings = self.settings
        now = self._ctx.now()

        current = store.get(number)
        if current is not None:
            self._refuse_in_cooldown(current, now)
        if client is not None:
            self._hit(
                limiter,
                f"otp:client:{_client_bucket(client)}",
                settings.otp_per_client,
                now,
                "too many codes were requested from here",
            )
        self._hit(
            limiter,
            otp_phone_bucket(number),
            settings.otp_per_phone,
            now,
            "too many codes were requested for this phone number",
        )

        challenge_id = self._ctx.ids.new_id()
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        challenge = OtpChallenge(
            id=challenge_id,
            phone=number,
            code_hash=self._code_hash(challenge_id, number, code),
            created_at=now,
            expires_at=now + settings.otp_ttl,
            max_attempts=settings.otp_max_attempts,
        )
        blocker = store.replace(challenge, not_before=now - settings.otp_cooldown)
        if blocker is not None:  # another request for this phone won the race
            self._refuse_in_cooldown(blocker, now)
            msg = "a code was sent moments ago; wait before asking again"
            raise RateLimitedError(msg, retry_after=1.0)
        body = string.Template(settings.otp_message).substitute(
            code=code,
            business=self._ctx.settings.business_name,
            minutes=str(max(1, round(settings.otp_ttl.total_seconds() / 60))),
        )
        try:
            sms.send_sms(number, body, reference=f"otp:{challenge_id}")
        except DeliveryError as failure:
            store.discard(number, challenge_id)
            self._record_failed_code(number, failure)
            raise
        except BaseException:
            store.discard(number, challenge_id)
            raise
        return OtpRequested(
            phone=number,
            expires_at=challenge.expires_at,
            resend_after=now + settings.otp_cooldown,
        )

    def verify_otp(
        self,
        phone: str | PhoneNumber,
        code: str,
        *,
        client_key: str | None = None,
        origin: RequestOrigin | None = None,
    ) -> SignedIn:
        """Check ``code`` against the phone's challenge; on success sign the customer in.

        Each call counts one attempt on the challenge, before the code is
        compared (in constant time); the challenge stops working after
        ``otp_max_attempts`` attempts, at its expiry, or once a right code
        consumed it: of two concurrent verifies of one code exactly one signs in.
        A number seen for the first time registers a customer (phone-only
        registration, ``created=True``). With a ``client_key``, verifications
        from that client are rate limited too (``otp_verify_per_client``).
        ``origin`` goes on the audit entries.

        Raises:
            ValidationError: a bad ``phone`` or ``client_key``, or a ``code`` that is
                not 6 digits.
            RateLimitedError: too many verifications from ``client_key``.
            AuthenticationError: no code was sent, it expired or was used up, or
                the code is wrong (the message says how many attempts are left).
            AuthNotConfiguredError: no ``otp_store`` or ``token_signer`` (or no
                ``rate_limiter`` when a ``client_key`` is given).

        .. versionchanged:: 0.4
           Reported to the core's observer (``Observer.otp_verified``), if any.
        """
        observer = self._ctx.observer
        if observer is None:
            return self._verify_otp(phone, code, client_key, origin)
        with observer.use_case("otp.verify"):
            started = time.perf_counter()
            try:
                signed_in = self._verify_otp(phone, code, client_key, origin)
            except Exception as exc:
                observer.otp_verified(
                    outcome="refused" if isinstance(exc, BookingError) else "failed",
                    registered=False,
                    error=error_name(exc),
                    seconds=time.perf_counter() - started,
                )
                raise
            observer.otp_verified(
                outcome="verified",
                registered=signed_in.created,
                error=None,
                seconds=time.perf_counter() - started,
            )
            return signed_in

    def _verify_otp(
        self,
        phone: str | PhoneNumber,
        code: str,
        client_key: str | None,
        origin: RequestOrigin | None,
    ) -> SignedIn:
        purpose = "phone sign-in"
        store = self._need(self._otp_store, "otp_store", purpose)
        self._need(self._signer, "token_signer", purpose)
        problems = Problems()
        number = problems.capture(lambda: self._customers.parse_phone(phone))
        clean = problems.capture(lambda: _clean_code(code))
        client = problems.capture(lambda: _clean_client_key(client_key))
        problems.raise_if_any()
        assert number is not None
        assert clean is not None
        now = self._ctx.now()
        if client is not None:
            self._hit(
                self._need(self._rate_limiter, "rate_limiter", purpose),
                f"otp-verify:client:{_client_bucket(client)}",
                self.settings.otp_verify_per_client,
                now,
                "too many codes were tried from here",
            )
        self._use_code(store, number, clean, now)
        registrar = Principal.system("phone-sign-in")
        with self._ctx.transaction() as tx:
            match = self._customers.find_or_create(tx, number, principal=registrar)
            customer = match.customer
            assert customer is not None  # the system may change every customer
            principal = _with_origin(Principal.customer(customer.id), origin)
            session = self._start_session(tx, principal, customer.id, now)
            tx.commit()
        return SignedIn(
            principal=Principal.customer(customer.id),
            tokens=self._issue(session, principal, now),
            session_id=session.id,
            customer=customer,
            created=match.created,
        )

    # ------------------------------------------------------------------ staff sign-in

    def sign_in_staff(
        self,
        email: str,
        password: str,
        *,
        client_key: str | None = None,
        origin: RequestOrigin | None = None,
    ) -> SignedIn:
        """Sign a staff member in with email and password.

        The email matches without regard to case (``ann@example.com`` signs in
        the member registered as ``Ann@Example.com``). An unknown email is
        checked against a dummy hash, so it takes as long to refuse as a wrong
        password. A hash made with older parameters is replaced by a fresh one.
        Attempts are rate limited per email (however it is capitalised) and per
        ``client_key``; a successful sign-in clears the email's count.

        .. versionchanged:: 0.4
           The email matches without regard to case.

        Raises:
            ValidationError: a malformed ``email``, a ``password`` that is not text
                or longer than 1024 characters, or a bad ``client_key``.
            RateLimitedError: too many attempts for this email or client key.
            AuthenticationError: the email or password is wrong, or the account is
                deactivated.
            AuthNotConfiguredError: no ``password_hasher``, ``rate_limiter`` or
                ``token_signer``.
        """
        purpose = "staff sign-in"
        hasher = self._need(self._hasher, "password_hasher", purpose)
        limiter = self._need(self._rate_limiter, "rate_limiter", purpose)
        self._need(self._signer, "token_signer", purpose)
        problems = Problems()
        address = problems.capture(lambda: EmailAddress.parse(email, field="email"))
        problems.capture(lambda: _check_sign_in_password(password))
        client = problems.capture(lambda: _clean_client_key(client_key))
        problems.raise_if_any()
        assert address is not None
        now = self._ctx.now()
        # One count per account, however the address is spelt: Ann@ and ann@ share it.
        email_key = password_guess_bucket(address)
        if client is not None:
            self._hit(
                limiter,
                f"sign-in:client:{_client_bucket(client)}",
                self.settings.sign_in_per_client,
                now,
                "too many sign-in attempts from here",
            )
        self._hit(
            limiter,
            email_key,
            self.settings.sign_in_per_email,
            now,
            "too many sign-in attempts for this email",
        )
        with self._ctx.uow_factory() as uow:
            member = uow.staff.get_by_email(address)
        stored_hash = member.password_hash if member is not None else None
        # Hashing takes tens of milliseconds: never inside a unit of work.
        matches = hasher.verify(stored_hash or self._dummy(hasher), password)
        if member is None or stored_hash is None or not matches:
            msg = "the email or password is wrong"
            raise AuthenticationError(msg, field="password")
        fresh_hash = hasher.hash(password) if hasher.needs_rehash(stored_hash) else None
        with self._ctx.transaction() as tx:
            # Locked until the session is committed: a deactivation or a password
            # change running now waits and then ends this session too, or ends
            # first and is seen here.
            current = tx.uow.staff.get_for_update(member.id)
            if current is None or current.password_hash != stored_hash:
                msg = "the email or password is wrong"
                raise AuthenticationError(msg, field="password")
            if not current.is_active:
                msg = "this staff account is deactivated"
                raise AuthenticationError(msg)
            principal = _with_origin(current.principal, origin)
            if fresh_hash is not None:
                current.password_hash = fresh_hash
                current.updated_at = now
                current.version += 1
                tx.audit(
                    principal,
                    entity="staff",
                    entity_id=current.id,
                    action=AuditAction.CREDENTIALS_ROTATED,
                    reason="password hash upgraded to the current parameters",
                )
            session = self._start_session(tx, principal, current.id, now)
            tx.commit()
        limiter.reset(email_key)
        return SignedIn(
            principal=current.principal,
            tokens=self._issue(session, principal, now),
            session_id=session.id,
            staff=current,
        )

    # ------------------------------------------------------------------ partners

    def sign_in_partner(
        self,
        api_key: str,
        api_secret: str,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> SignedIn:
        """Trade a partner's API key and secret for a bearer token (an hour, no refresh).

        The key and secret are checked by
        :meth:`~bookingcore.services.PartnerService.authenticate` (which also
        counts the request against the partner's rate limit and checks
        ``client_ip`` against its allowed addresses).

        Raises:
            AuthenticationError: the key and secret do not name an active partner.
            RateLimitedError: the partner has used up its requests for now.
            AuthNotConfiguredError: no ``token_signer``.
        """
        self._need(self._signer, "token_signer", "partner sign-in")
        principal = self._partners.authenticate(
            api_key, api_secret, client_ip=client_ip, user_agent=user_agent
        )
        return self.issue_partner_token(principal, origin=principal.origin)

    def issue_partner_token(
        self, principal: Principal, *, origin: RequestOrigin | None = None
    ) -> SignedIn:
        """A bearer token for a partner the host has authenticated (by key and secret).

        Partner tokens last ``partner_tokens.access`` (an hour) and have no
        refresh token: the partner signs in again.

        Raises:
            PermissionDeniedError: ``principal`` is not a partner.
            AuthenticationError: no such partner, or it is deactivated.
            AuthNotConfiguredError: no ``token_signer``.
        """
        self._need(self._signer, "token_signer", "partner sign-in")
        if principal.kind is not PrincipalKind.PARTNER or principal.id is None:
            msg = f"{principal} is not a partner; only partners get partner tokens"
            raise PermissionDeniedError(msg)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            partner = tx.uow.partners.get(PartnerId(principal.id))
            if partner is None or not partner.is_active:
                msg = "this partner is unknown or deactivated"
                raise AuthenticationError(msg)
            actor = _with_origin(Principal.partner(partner.id), origin)
            session = self._start_session(tx, actor, partner.id, now)
            tx.commit()
        return SignedIn(
            principal=Principal.partner(partner.id),
            tokens=self._issue(session, actor, now),
            session_id=session.id,
        )

    # ------------------------------------------------------------------ tokens

    def authenticate(
        self,
        access_token: str,
        *,
        expect: PrincipalKind | str | Iterable[PrincipalKind | str],
        origin: RequestOrigin | None = None,
    ) -> Principal:
        """The principal an access token stands for, if it is of a kind in ``expect``.

        ``expect`` is the kind (or kinds) of token this endpoint takes: a
        customer API passes ``"customer"``, so a staff or partner token is
        refused there, and the other way round. The token's session must still
        be active (not logged out, not revoked), and a partner or staff member
        still active.

        ``origin`` is where this request came from; the principal carries it
        (audit entries record it). A partner's token is checked against the
        partner's ``allowed_ips`` on every call, not only at sign-in: a token
        taken elsewhere is refused, and so is one presented without an address
        when the partner has that setting.

        Raises:
            ValidationError: ``expect`` names no token kind (customer, staff, partner).
            AuthenticationError: a tampered, expired, wrong-key or malformed token,
                a refresh token, a token of another kind, of an ended session, or of
                a staff member since deactivated.
            PermissionDeniedError: a partner's token used from an address outside
                its ``allowed_ips`` (or from no known address while it has them).
            AuthNotConfiguredError: no ``token_signer``.

        .. versionchanged:: 0.4
           ``origin``; partner tokens are checked against ``allowed_ips`` on every call;
           a staff token is refused once its member is deactivated, whatever its session.
        """
        with _about("access_token"):
            kinds = _expected_kinds(expect)
            now = self._ctx.now()
            claims = self._verify(access_token, _ACCESS, now)
            if claims.kind not in kinds:
                wanted = " or ".join(sorted(k.value for k in kinds))
                msg = f"a {claims.kind.value} token is not accepted here; sign in as {wanted}"
                raise AuthenticationError(msg)
            with self._ctx.uow_factory() as uow:
                session = uow.auth_sessions.get(claims.session_id)
                partner = (
                    uow.partners.get(PartnerId(claims.subject_id))
                    if claims.kind is PrincipalKind.PARTNER
                    else None
                )
                member = (
                    uow.staff.get(StaffId(claims.subject_id))
                    if claims.kind is PrincipalKind.STAFF
                    else None
                )
            self._check_session(session, claims, now)
            if claims.kind is PrincipalKind.PARTNER and (partner is None or not partner.is_active):
                msg = "this partner is unknown or deactivated"
                raise AuthenticationError(msg)
            if claims.kind is PrincipalKind.STAFF and (member is None or not member.is_active):
                # Deactivating ends the member's sessions; this refuses any that outlived it.
                msg = "this staff account is deactivated"
                raise AuthenticationError(msg)
            address = None if origin is None else origin.ip_address
            if partner is not None and not partner.allows_ip(address):
                _log.info("partner token refused: address %s not in allowed_ips", address)
                msg = f"partner {partner.id} may not call from address {address or '(unknown)'}"
                raise PermissionDeniedError(msg)
            return _with_origin(self._principal(claims), origin)

    def refresh(
        self,
        refresh_token: str,
        *,
        expect: PrincipalKind | str | Iterable[PrincipalKind | str] | None = None,
        origin: RequestOrigin | None = None,
    ) -> TokenPair:
        """A new access and refresh token for a refresh token, which is spent by this.

        Presenting a spent refresh token again revokes its whole session: a
        copy of it is in someone else's hands, and nobody can tell who used it
        first. A staff member's tokens take their current role.

        ``expect``, as for :meth:`authenticate`, is the kind (or kinds) of token
        this endpoint refreshes: a customer API passes ``"customer"``, so a
        staff refresh token is refused there (and stays unspent). Without it,
        any kind is refreshed.

        Raises:
            ValidationError: ``expect`` names no token kind (customer, staff, partner).
            AuthenticationError: the token is not a valid refresh token, is of a
                kind ``expect`` leaves out, its session ended, it was spent before
                (the session is now revoked), or the staff member behind it is no
                longer active.
            AuthNotConfiguredError: no ``token_signer``.

        .. versionchanged:: 0.4
           ``expect``.
        """
        with _about("refresh_token"):
            kinds = None if expect is None else _expected_kinds(expect)
            now = self._ctx.now()
            claims = self._verify(refresh_token, _REFRESH, now)
            if kinds is not None and claims.kind not in kinds:
                wanted = " or ".join(sorted(k.value for k in kinds))
                msg = (
                    f"a {claims.kind.value} refresh token is not accepted here; sign in as {wanted}"
                )
                raise AuthenticationError(msg)
            reused = False
            with self._ctx.transaction() as tx:
                session = tx.uow.auth_sessions.get_for_update(claims.session_id)
                self._check_session(session, claims, now)
                assert session is not None
                principal = _with_origin(self._principal(claims), origin)
                if session.refresh_jti != claims.token_id:
                    revoke_session(
                        tx, session, RevocationReason.REFRESH_REUSED, principal=principal, now=now
                    )
                    tx.commit()
                    reused = True
                else:
                    if claims.kind is PrincipalKind.STAFF:
                        member = tx.uow.staff.get(StaffId(claims.subject_id))
                        if member is None or not member.is_active:
                            revoke_session(
                                tx,
                                session,
                                RevocationReason.DEACTIVATED,
                                principal=principal,
                                now=now,
                            )
                            tx.commit()
                            msg = "this staff account is deactivated"
                            raise AuthenticationError(msg)
                        principal = _with_origin(member.principal, origin)
                    session.refresh_jti = self._ctx.ids.new_id()
                    session.refreshed_at = now
                    session.version += 1
                    tx.audit(
                        principal,
                        entity="session",
                        entity_id=session.id,
                        action=AuditAction.CREDENTIALS_ROTATED,
                        reason="refreshed",
                    )
                    tx.commit()
            if reused:
                _log.warning(
                    "refresh token reused: session %s of %s %s revoked",
                    session.id,
                    claims.kind.value,
                    claims.subject_id,
                )
                msg = "this refresh token was already used; the session is revoked, sign in again"
                raise AuthenticationError(msg)
            return self._issue(session, principal, now)

    def logout(self, token: str, *, origin: RequestOrigin | None = None) -> None:
        """End the session of ``token`` (an access or a refresh token of any kind).

        Every token of the session stops working. Logging out of an ended
        session does nothing.

        Raises:
            AuthenticationError: the token is not valid (tampered, expired, wrong key).
            AuthNotConfiguredError: no ``token_signer``.
        """
        with _about("token"):
            now = self._ctx.now()
            claims = self._verify(token, None, now)
            with self._ctx.transaction() as tx:
                session = tx.uow.auth_sessions.get_for_update(claims.session_id)
                if session is None or session.subject_id != claims.subject_id:
                    return
                if session.revoked_at is None:
                    principal = _with_origin(self._principal(claims), origin)
                    revoke_session(
                        tx, session, RevocationReason.LOGOUT, principal=principal, now=now
                    )
                    tx.commit()

    # ------------------------------------------------------------------ maintenance

    def cleanup(self, now: datetime | None = None) -> int:
        """Delete expired or used OTP challenges and expired sessions; returns how many.

        A maintenance task: run it from a scheduler (every few minutes is
        plenty). Without an OTP store only sessions are cleaned.

        Raises:
            ValidationError: on ``now``, a naive datetime.
        """
        moment = self._ctx.now() if now is None else ensure_aware(now, "now")
        removed = 0 if self._otp_store is None else self._otp_store.delete_expired(moment)
        with self._ctx.transaction() as tx:
            removed += tx.uow.auth_sessions.delete_expired(moment)
            tx.commit()
        return removed

    # ------------------------------------------------------------------ internals

    def _use_code(self, store: OtpStore, number: PhoneNumber, code: str, now: datetime) -> None:
        """Count an attempt on the phone's challenge, compare, and consume it if right."""
        challenge = store.get(number)
        attempts = None if challenge is None else store.record_attempt(number, challenge.id, now)
        if challenge is None or attempts is None:
            msg = "there is no valid code for this number; ask for a new code"
            raise AuthenticationError(msg, field="code")
        expected = self._code_hash(challenge.id, number, code)
        if not hmac.compare_digest(expected.encode(), challenge.code_hash.encode()):
            left = challenge.max_attempts - attempts
            if left <= 0:  # used up: clear it, so a new code may be asked for at once
                store.discard(number, challenge.id)
                msg = "the code is wrong and no attempts are left; ask for a new code"
            else:
                noun = "attempt" if left == 1 else "attempts"
                msg = f"the code is wrong; {left} {noun} left"
            raise AuthenticationError(msg, field="code")
        if not store.consume(number, challenge.id, now):
            msg = "this code was already used; ask for a new code"
            raise AuthenticationError(msg, field="code")

    def _code_hash(self, challenge_id: UUID, phone: PhoneNumber, code: str) -> str:
        message = f"{challenge_id}|{phone.e164}|{code}".encode()
        digest = hmac.new(self.settings.otp_pepper, message, hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def _refuse_in_cooldown(self, current: OtpChallenge, now: datetime) -> None:
        resend_at = current.created_at + self.settings.otp_cooldown
        if now < resend_at:
            wait = _seconds(resend_at - now)
            msg = f"a code was sent moments ago; wait {wait:.0f} seconds before asking again"
            raise RateLimitedError(msg, retry_after=wait)

    @staticmethod
    def _hit(limiter: RateLimiter, key: str, limit: RateLimit, now: datetime, message: str) -> None:
        decision = limiter.hit(key, limit=limit.limit, window=limit.window, now=now)
        if not decision.allowed:
            wait = _seconds(decision.retry_after)
            msg = f"{message}; try again in {wait:.0f} seconds"
            raise RateLimitedError(msg, retry_after=wait)

    def _record_failed_code(self, phone: PhoneNumber, failure: DeliveryError) -> None:
        """Log the failed send; for a known customer also as a failed communication.

        A first-time number has no customer yet (phone-only registration happens
        on verify), so the log line is its only record. The code is never stored.
        """
        _log.warning("sign-in code to %s not sent: %s", phone.masked(), failure.reason)
        with self._ctx.transaction() as tx:
            customer = tx.uow.customers.get_by_phone(phone)
            if customer is None:
                return
            now = self._ctx.now()
            tx.uow.communications.add(
                Communication(
                    id=CommunicationId(self._ctx.ids.new_id()),
                    customer_id=customer.id,
                    type=CommunicationType.SIGN_IN_CODE,
                    channel=Channel.SMS,
                    recipient=phone.e164,
                    created_at=now,
                    created_by=_AUTH.actor,
                    status=CommunicationStatus.FAILED,
                    content="(sign-in code withheld)",
                    failed_at=now,
                    failed_reason=failure.reason,
                    attempts=1,
                    retryable=failure.retryable,
                )
            )
            tx.commit()

    def _dummy(self, hasher: PasswordHasher) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hasher.hash(self._DUMMY_PASSWORD)
        return self._dummy_hash

    def _start_session(
        self, tx: Transaction, principal: Principal, subject_id: UUID, now: datetime
    ) -> AuthSession:
        lifetimes = self.settings.tokens(principal.kind)
        session = AuthSession(
            id=self._ctx.ids.new_id(),
            kind=principal.kind,
            subject_id=subject_id,
            created_at=now,
            expires_at=now + lifetimes.session,
            refresh_jti=self._ctx.ids.new_id(),
        )
        tx.uow.auth_sessions.add(session)
        tx.audit(
            principal,
            entity="session",
            entity_id=session.id,
            action=AuditAction.CREATED,
            new=snapshot(session, ("kind", "subject_id", "expires_at")),
        )
        return session

    def _issue(self, session: AuthSession, principal: Principal, now: datetime) -> TokenPair:
        signer = self._need(self._signer, "token_signer", "issuing tokens")
        lifetimes = self.settings.tokens(session.kind)
        access_expires = min(now + lifetimes.access, session.expires_at)
        common: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": str(session.subject_id),
            "sid": str(session.id),
            "typ": session.kind.value,
            "iat": int(now.timestamp()),
        }
        if principal.kind is PrincipalKind.STAFF and principal.role is not None:
            common["role"] = principal.role.value
            if principal.supplier_id is not None:
                common["supplier_id"] = str(principal.supplier_id)
        access = signer.encode(
            {
                **common,
                "jti": str(self._ctx.ids.new_id()),
                "use": _ACCESS,
                "exp": math.ceil(access_expires.timestamp()),
            }
        )
        if lifetimes.refresh is None:
            return TokenPair(access, access_expires)
        refresh = signer.encode(
            {
                **common,
                "jti": str(session.refresh_jti),
                "use": _REFRESH,
                "exp": math.ceil(session.expires_at.timestamp()),
            }
        )
        return TokenPair(access, access_expires, refresh, session.expires_at)

    def _verify(self, token: str, use: str | None, now: datetime) -> _Claims:
        signer = self._need(self._signer, "token_signer", "checking tokens")
        raw = signer.decode(token, now=now)
        missing = [name for name in _REQUIRED_CLAIMS if name not in raw]
        if missing:
            msg = f"the token lacks the claims {', '.join(missing)}"
            raise AuthenticationError(msg)
        if raw["iss"] != self.settings.issuer or raw["aud"] != self.settings.audience:
            msg = "the token was issued for another service"
            raise AuthenticationError(msg)
        try:
            kind = PrincipalKind(raw["typ"])
        except (ValueError, TypeError):
            kind = None
        if kind not in TOKEN_KINDS:
            msg = "the token's type is not one this service issues"
            raise AuthenticationError(msg)
        assert kind is not None
        if raw["use"] not in (_ACCESS, _REFRESH) or (use is not None and raw["use"] != use):
            msg = f"a {raw['use']} token cannot be used here; pass the {use} token"
            raise AuthenticationError(msg)
        return _Claims(
            kind=kind,
            subject_id=_uuid_claim(raw, "sub"),
            session_id=_uuid_claim(raw, "sid"),
            token_id=_uuid_claim(raw, "jti"),
            raw=raw,
        )

    @staticmethod
    def _check_session(session: AuthSession | None, claims: _Claims, now: datetime) -> None:
        if (
            session is None
            or session.kind != claims.kind
            or session.subject_id != claims.subject_id
        ):
            msg = "the token's session does not exist; sign in again"
            raise AuthenticationError(msg)
        if session.revoked_at is not None:
            msg = f"the session was ended ({session.revoked_reason}); sign in again"
            raise AuthenticationError(msg)
        if not session.is_active(now):
            msg = "the session has expired; sign in again"
            raise AuthenticationError(msg)

    @staticmethod
    def _principal(claims: _Claims) -> Principal:
        if claims.kind is PrincipalKind.CUSTOMER:
            return Principal.customer(CustomerId(claims.subject_id))
        if claims.kind is PrincipalKind.PARTNER:
            return Principal.partner(PartnerId(claims.subject_id))
        try:
            role = StaffRole(str(claims.raw.get("role")))
        except ValueError:
            msg = "the token's 'role' claim is not a staff role"
            raise AuthenticationError(msg) from None
        supplier = claims.raw.get("supplier_id")
        supplier_id = SupplierId(_uuid_claim(claims.raw, "supplier_id")) if supplier else None
        return Principal.staff(StaffId(claims.subject_id), role, supplier_id=supplier_id)


def _with_origin(principal: Principal, origin: RequestOrigin | None) -> Principal:
    if origin is None:
        return principal
    return principal.with_origin(ip_address=origin.ip_address, user_agent=origin.user_agent)
