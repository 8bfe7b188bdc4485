"""Partner use cases: register third-party channels, authenticate their API
clients, hold them to a rate limit, and decide where they may book.

Only staff with ``manage_partners`` register and change partners; a partner may
read its own record and rotate its own secrets (presenting its current API secret
again: a bearer token alone changes no credentials).

Credentials (a key and a secret per partner): registering a partner hands out an API key
(``pk_...``, an identifier that may be logged) and an API secret (``sk_...``)
exactly once, in a :class:`PartnerRegistration`. Only a hash of the secret and
its last four characters are kept; :meth:`PartnerService.authenticate` turns a
key and secret into a :class:`~bookingcore.domain.policy.Principal`. Each
partner also gets a webhook signing secret (``whsec_...``) that signs the
webhooks sent to it (:meth:`~bookingcore.domain.partners.Partner.signed_webhook`).

Rotating either secret may keep the previous one working for a grace period
(``keep_previous_for``), so a partner switches its clients or its webhook
receiver at leisure rather than at the exact moment of the rotation.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import (
    MAX_SEARCH_TEXT,
    Problems,
    check_text,
    clean_text,
    require_text,
    text_problem,
)
from bookingcore.domain.audit import AuditAction, AuditEntry, audit_value, diff, snapshot
from bookingcore.domain.auth import RevocationReason
from bookingcore.domain.partner_webhooks import (
    is_public_address,
    literal_address,
    redact_url_password,
)
from bookingcore.domain.partners import (
    API_SECRET_PREFIX,
    WEBHOOK_SECRET_PREFIX,
    Partner,
    PartnerFilter,
    check_partner_settings,
    check_secret_grace,
    hash_api_secret,
)
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import EmailAddress, LocationId, PartnerId, PhoneNumber
from bookingcore.errors import (
    AuthenticationError,
    DuplicateError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from bookingcore.ports.security import RateDecision, RateLimiter
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import UNSET, ServiceContext, Transaction, Unset
from bookingcore.services._sessions import revoke_sessions

__all__ = ["PartnerLimits", "PartnerRegistration", "PartnerService"]

_log = logging.getLogger("bookingcore.partners")

#: The one answer to every failed authentication, whatever failed.
_BAD_CREDENTIALS = "invalid API key or secret"

#: The answer to a partner rotating its own secrets without its current API secret.
_BAD_CURRENT_SECRET = "current_secret: invalid API secret"  # noqa: S105 - a message

#: Longer keys or secrets than these are never looked up or hashed at length.
_MAX_KEY_LENGTH = 255
_MAX_SECRET_LENGTH = 512

#: Random bytes in each secret: 256 bits.
_SECRET_BYTES = 32

#: Compared against when the key is unknown, so that case costs what a wrong secret costs
#: (one hash, two comparisons: the current and the previous secret's hash).
_NO_PARTNER_HASH = hash_api_secret(API_SECRET_PREFIX + secrets.token_urlsafe(_SECRET_BYTES))


def _given_secret(value: object) -> str:
    """A presented API secret as it is hashed: a string, cut to the longest checked."""
    return value[:_MAX_SECRET_LENGTH] if isinstance(value, str) else ""


def _secret_matches(partner: Partner, secret: str, now: datetime) -> bool:
    """True when ``secret`` (see :func:`_given_secret`) is ``partner``'s API secret at
    ``now``: the current one, or the previous one during its grace period. Hashed and
    compared in constant time, the same for authentication and re-authentication."""
    return partner.api_secret_matches(secret, now=now)


def _new_api_secret() -> str:
    return API_SECRET_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def _new_webhook_secret() -> str:
    # Standard base64 of 32 random bytes, as the Standard Webhooks specification wants
    # (``whsec_`` + base64): every language's library decodes it to the same key.
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


@attrs.frozen
class PartnerRegistration:
    """A partner with its API credentials, as handed out once at registration or rotation.

    ``api_secret`` is shown here and never again: the library keeps only its
    hash. Give it to the partner over a safe channel and drop it. It is left
    out of ``repr()`` so it does not end up in logs by accident.

    .. versionadded:: 0.1
    """

    partner: Partner
    api_key: str
    api_secret: str = attrs.field(repr=False)


def _positive_requests(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError.single(attribute.name, "must be a whole number of at least 1")


def _positive_window(_: object, attribute: attrs.Attribute[timedelta], value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError.single(attribute.name, "must be a positive timedelta")


@attrs.frozen
class PartnerLimits:
    """How many API requests a partner may make per window, unless its own settings say.

    A partner's ``settings["rate_limit"]`` overrides these for that partner
    (see :data:`~bookingcore.domain.partners.RATE_LIMIT_SETTING`).

    Args:
        requests: requests allowed in any ``window`` (600 by default).
        window: the sliding window (one minute by default).

    Raises:
        ValidationError: ``requests`` below one or a window that is not positive.

    .. versionadded:: 0.1
    """

    requests: int = attrs.field(default=600, validator=_positive_requests)
    window: timedelta = attrs.field(default=timedelta(minutes=1), validator=_positive_window)


def _commission(value: Decimal | int | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        rate = (
            Decimal(value)
            if isinstance(value, str | int) and not isinstance(value, bool)
            else value
        )
    except InvalidOperation:
        rate = None
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
        msg = "must be a percentage between 0 and 100"
        raise ValidationError.single("commission_rate", msg, "out_of_range")
    return rate.quantize(Decimal("0.01"))


#: A host name as a webhook URL may name it: letters (any script), digits, ``-``, ``_``, ``.``.
_HOST_NAME = re.compile(r"[\w.-]+")


def _webhook_url(value: str | None, *, allow_private: bool = False) -> str | None:
    """``value`` checked as an http(s) URL with a host (and a valid port, if any), no
    whitespace anywhere: a URL the sender can POST to as it is. Unless
    ``allow_private``, a host that is a non-public IP address (loopback, private,
    link-local, ...: see :func:`~bookingcore.domain.partner_webhooks.is_public_address`)
    or ``localhost`` is refused too."""
    if value is None:
        return None
    check_text(value, "webhook_url")
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or too big
    except ValueError:
        parts = None
    host = None if parts is None else parts.hostname
    usable = (
        parts is not None
        and parts.scheme in ("https", "http")
        and host is not None
        and (_HOST_NAME.fullmatch(host) is not None or _is_ip(host))
        and not any(char.isspace() for char in url)
    )
    if not usable:
        msg = f"{value!r} is not an http(s) URL with a host"
        raise ValidationError.single("webhook_url", msg, "invalid_url")
    assert host is not None
    if not allow_private and _private_host(host):
        msg = (
            f"{redact_url_password(url)!r} points at {host}, a loopback, private, "
            "link-local or otherwise non-public address; webhooks go to public hosts "
            "only (WebhookSettings(allow_private_addresses=True) allows others)"
        )
        raise ValidationError.single("webhook_url", msg, "private_address")
    return url


def _private_host(host: str) -> bool:
    """True when ``host`` names a non-public IP address literally, or is ``localhost``
    (RFC 6761: it and its subdomains are this machine)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = literal_address(host)
    return address is not None and not is_public_address(address)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class PartnerService:
    """Register partners, authenticate and rate-limit them, rotate their secrets,
    set their allowed locations and settings, activate and deactivate them.

    Args:
        context: the shared :class:`~bookingcore.services.ServiceContext`.
        rate_limiter: counts each partner's requests (the memory adapter for one
            process, Redis for several); ``None`` switches rate limiting off.
        limits: the default per-partner limit.
        allow_private_webhook_addresses: accept a ``webhook_url`` whose host is a
            loopback, private, link-local or other non-public IP address, or
            ``localhost`` (refused by default, against server-side request
            forgery). :class:`~bookingcore.BookingCore` sets it from
            :attr:`WebhookSettings.allow_private_addresses
            <bookingcore.services.WebhookSettings.allow_private_addresses>`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``allow_private_webhook_addresses``; non-public webhook addresses are refused.
    """

    #: Rate-limiter keys are this prefix and the partner id.
    RATE_KEY_PREFIX = "partner:"

    def __init__(
        self,
        context: ServiceContext,
        *,
        rate_limiter: RateLimiter | None = None,
        limits: PartnerLimits | None = None,
        allow_private_webhook_addresses: bool = False,
    ) -> None:
        self._ctx = context
        self._rate_limiter = rate_limiter
        self.limits = limits or PartnerLimits()
        self._allow_private = allow_private_webhook_addresses

    def register(
        self,
        *,
        name: str,
        company_name: str,
        contact_email: str,
        principal: Principal,
        contact_phone: str | None = None,
        allowed_location_ids: Iterable[LocationId] = (),
        commission_rate: Decimal | int | str | None = None,
        webhook_url: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> PartnerRegistration:
        """Register a partner with a fresh API key, API secret and webhook signing secret.

        The result carries the API secret in clear; this is the only time it
        is available (only its hash and last four characters are stored).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            ValidationError: bad name, email, phone, commission (0-100), webhook URL,
                settings (see :func:`~bookingcore.domain.partners.check_partner_settings`),
                or an unknown location in ``allowed_location_ids``.
            DuplicateError: another partner has this contact email, however it is
                capitalised (``ops@agency.example`` next to ``Ops@Agency.example``).
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not register partners"
        )
        region = self._ctx.settings.default_region
        p = Problems()
        clean_name = p.capture(lambda: require_text(name, "name", max_length=100))
        clean_company = p.capture(
            lambda: require_text(company_name, "company_name", max_length=200)
        )
        email = p.capture(lambda: EmailAddress.parse(contact_email, field="contact_email"))
        phone = p.capture(
            lambda: (
                None
                if not contact_phone
                else PhoneNumber.parse(contact_phone, region=region, field="contact_phone")
            )
        )
        rate = p.capture(lambda: _commission(commission_rate))
        url = p.capture(lambda: _webhook_url(webhook_url, allow_private=self._allow_private))
        options = p.capture(lambda: check_partner_settings(settings or {}))
        locations = frozenset(allowed_location_ids)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            self._check_locations(uow, locations, p)
            p.raise_if_any()
            assert clean_name
            assert clean_company
            assert email
            same = PartnerFilter(contact_email=email)
            for other in uow.partners.list(same, PageRequest(limit=1)):
                msg = f"a partner with contact email {other.contact_email} exists"
                raise DuplicateError(msg, entity="partner", existing_id=other.id)
            now = self._ctx.now()
            api_secret = _new_api_secret()
            partner = Partner(
                id=PartnerId(self._ctx.ids.new_id()),
                name=clean_name,
                company_name=clean_company,
                contact_email=email,
                contact_phone=phone,
                api_key=self._ctx.ids.new_token("pk_"),
                commission_rate=rate,
                webhook_url=url,
                webhook_secret=_new_webhook_secret(),
                allowed_location_ids=locations,
                settings=options or {},
                created_at=now,
                updated_at=now,
            )
            partner.set_api_secret(api_secret, now=now)
            uow.partners.add(partner)
            created = snapshot(partner, _AUDITED)
            if partner.settings:
                created["settings"] = dict(partner.settings)
            tx.audit(
                principal,
                entity="partner",
                entity_id=partner.id,
                action=AuditAction.CREATED,
                new=_masked(created),
            )
            tx.commit()
            return PartnerRegistration(partner, partner.api_key, api_secret)

    # ------------------------------------------------------------------ credentials

    def authenticate(
        self,
        api_key: str,
        api_secret: str,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> Principal:
        """The partner principal for an API key and secret, counted against its rate limit.

        Every failure (unknown key, wrong secret, inactive partner, an address
        outside the partner's ``allowed_ips``) raises the same error with the
        same message, and an unknown key costs the same hash comparisons as a
        wrong secret, so a caller learns nothing about which keys exist. While
        a rotated secret is kept (see :meth:`rotate_secret`), either secret is
        accepted, at the same cost whichever matches or neither. The
        reason is logged (``bookingcore.partners``, INFO) for operators,
        without the secret.

        Only a successful authentication counts against the partner's limit:
        someone who knows a partner's key but not its secret cannot use up
        its requests.

        Args:
            api_key: the ``pk_...`` key.
            api_secret: the ``sk_...`` secret.
            client_ip: the caller's address: checked against the partner's
                ``allowed_ips`` setting and kept on the principal, so audit
                entries of what it does record it.
            user_agent: kept on the principal for audit entries.

        Raises:
            AuthenticationError: the credentials do not identify an active
                partner allowed from ``client_ip``.
            RateLimitedError: the partner has used up its requests for now;
                ``retry_after`` says for how many seconds.
        """
        given_key = cast("object", api_key)
        key = given_key.strip() if isinstance(given_key, str) else ""
        secret = _given_secret(api_secret)
        partner = None
        # A key no partner can have (too long, control characters) is unknown too.
        if key and len(key) <= _MAX_KEY_LENGTH and text_problem(key) is None:
            with self._ctx.uow_factory() as uow:
                partner = uow.partners.get_by_api_key(key)
        if partner is None:
            given = hash_api_secret(secret)
            hmac.compare_digest(given, _NO_PARTNER_HASH)
            hmac.compare_digest(given, _NO_PARTNER_HASH)
            self._refuse("unknown key", key)
        elif not _secret_matches(partner, secret, self._ctx.now()):
            self._refuse("wrong secret", key, partner)
        elif not partner.is_active:
            self._refuse("partner inactive", key, partner)
        elif not partner.allows_ip(client_ip):
            self._refuse(f"address {client_ip} not in allowed_ips", key, partner)
        self._hit(partner)
        principal = Principal.partner(partner.id)
        if client_ip is not None or user_agent is not None:
            principal = principal.with_origin(ip_address=client_ip, user_agent=user_agent)
        return principal

    @staticmethod
    def _refuse(reason: str, key: str, partner: Partner | None = None) -> NoReturn:
        who = f"partner {partner.id}" if partner else "no partner"
        _log.info("partner authentication refused: %s (key %.8s..., %s)", reason, key, who)
        raise AuthenticationError(_BAD_CREDENTIALS, field="api_secret")

    def check_rate(self, principal: Principal) -> RateDecision | None:
        """Count one request of a partner against its rate limit.

        Call it once per API request of a partner whose principal did not come
        from :meth:`authenticate` (which counts by itself), e.g. one built from
        a bearer token. The limit is the partner's ``rate_limit`` setting, else
        :attr:`limits`.

        Returns:
            The limiter's decision (``remaining`` for a ``RateLimit-Remaining``
            header), or ``None`` when no rate limiter is configured or
            ``principal`` is not a partner (only partners are limited here).

        Raises:
            RateLimitedError: the partner has used up its requests for now;
                ``retry_after`` says for how many seconds.
        """
        if self._rate_limiter is None or principal.kind is not PrincipalKind.PARTNER:
            return None
        if principal.id is None:
            return None
        with self._ctx.uow_factory() as uow:
            partner = uow.partners.get(PartnerId(principal.id))
        if partner is None:
            return self._count(str(principal.id), self.limits.requests, self.limits.window)
        return self._hit(partner)

    def _hit(self, partner: Partner) -> RateDecision | None:
        if self._rate_limiter is None:
            return None
        requests, window = partner.rate_limit(self.limits.requests, self.limits.window)
        return self._count(str(partner.id), requests, window)

    def _count(self, partner_id: str, requests: int, window: timedelta) -> RateDecision:
        assert self._rate_limiter is not None
        decision = self._rate_limiter.hit(
            self.RATE_KEY_PREFIX + partner_id, limit=requests, window=window, now=self._ctx.now()
        )
        if not decision.allowed:
            wait = decision.retry_after.total_seconds()
            msg = (
                f"rate limit of {requests} requests per {window.total_seconds():g} seconds "
                f"reached; retry in {wait:g} seconds"
            )
            raise RateLimitedError(msg, retry_after=wait)
        return decision

    def rotate_secret(
        self,
        partner_id: PartnerId,
        *,
        principal: Principal,
        keep_previous_for: timedelta = timedelta(0),
        current_secret: str | None = None,
    ) -> PartnerRegistration:
        """Issue a new API secret. The key stays.

        By default the old secret stops working at once, and so do the bearer
        tokens bought with it (the partner's sessions are ended): the right
        answer to a secret that leaked. With ``keep_previous_for`` (up to
        :data:`~bookingcore.domain.partners.MAX_SECRET_GRACE`, seven days) the
        old secret keeps working next to the new one until then, so the
        partner can move its clients over without refused calls, and its
        sessions are left to end on their own (a partner token lasts an hour).
        Only one previous secret is ever kept: another rotation replaces it
        (and one without a grace period drops it).

        Staff with ``manage_partners`` rotate any partner's secret; an active
        partner rotates its own, and only by presenting its API secret again
        (``current_secret``): a bearer token alone, which may have been stolen,
        must not be enough to mint a lasting credential. The secret is checked
        as :meth:`authenticate` checks it (the previous secret counts during
        its grace period). Staff need no ``current_secret``; one they pass is
        ignored. The new secret is in the result and nowhere
        else. The audit entry (``credentials_rotated``) names the credential
        and, with a grace period, until when the previous one works
        (``previous_valid_until``), never a secret or hash.

        Args:
            partner_id: the partner whose secret to replace.
            principal: staff with ``manage_partners``, or the partner itself.
            keep_previous_for: how long the replaced secret keeps working.
            current_secret: the partner's API secret (``sk_...``), required when
                ``principal`` is the partner.

        Raises:
            AuthenticationError: ``principal`` is the partner and
                ``current_secret`` is missing or is not its API secret (the
                message names ``current_secret``); nothing is changed or audited.
            NotFoundError: no such partner visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change this partner's
                credentials, or is an inactive partner.
            ValidationError: on ``keep_previous_for`` when it is not a
                ``timedelta``, is negative or is longer than seven days.

        .. versionchanged:: 0.4
           ``keep_previous_for``; ``current_secret``, required of a partner
           rotating its own secret.
        """
        grace = check_secret_grace(keep_previous_for)
        api_secret = _new_api_secret()
        partner = self._rotate(
            partner_id,
            principal,
            "api_secret",
            grace,
            lambda p, now: p.set_api_secret(api_secret, now=now, keep_previous_for=grace),
            current_secret=current_secret,
        )
        return PartnerRegistration(partner, partner.api_key, api_secret)

    def rotate_webhook_secret(
        self,
        partner_id: PartnerId,
        *,
        principal: Principal,
        keep_previous_for: timedelta = timedelta(0),
        current_secret: str | None = None,
    ) -> Partner:
        """Issue a new webhook signing secret (``partner.webhook_secret``).

        By default webhooks sent from now on are signed with it only: update
        the receiver to accept the new secret (see
        :func:`~bookingcore.domain.webhooks.verify`, which takes several)
        before rotating, or expect refused webhooks meanwhile. With
        ``keep_previous_for`` (up to seven days) every webhook sent until then
        carries two signatures in its one header, by the new secret and by the
        previous one (``webhook-signature: v1,<new> v1,<previous>``; two
        ``v1=`` in ``X-Bookingcore-Signature``), so a receiver holding either
        secret accepts it; switch the receiver to the new secret in that time.
        Another rotation replaces the kept secret.

        Who may, ``current_secret`` (the partner's API secret, required when
        the partner rotates its own) and the audit entry: as :meth:`rotate_secret`.

        Raises:
            AuthenticationError: as :meth:`rotate_secret`, on ``current_secret``.
            NotFoundError: no such partner visible to ``principal``.
            PermissionDeniedError: as :meth:`rotate_secret`.
            ValidationError: on ``keep_previous_for``, as :meth:`rotate_secret`.

        .. versionchanged:: 0.4
           ``keep_previous_for``; ``current_secret``, required of a partner
           rotating its own webhook secret.
        """
        grace = check_secret_grace(keep_previous_for)
        webhook_secret = _new_webhook_secret()

        def replace(partner: Partner, now: datetime) -> None:
            partner.set_webhook_secret(webhook_secret, now=now, keep_previous_for=grace)

        return self._rotate(
            partner_id, principal, "webhook_secret", grace, replace, current_secret=current_secret
        )

    def _rotate(
        self,
        partner_id: PartnerId,
        principal: Principal,
        credential: str,
        grace: timedelta,
        change: Callable[[Partner, datetime], None],
        *,
        current_secret: str | None,
    ) -> Partner:
        with self._ctx.transaction() as tx:
            partner = tx.uow.partners.get(partner_id)
            if principal.is_partner():
                if partner is None or not principal.is_partner(partner_id):
                    raise NotFoundError("partner", partner_id)
                policy.require(partner.is_active, f"inactive {principal} may not rotate secrets")
                # Re-authentication: a bearer token alone does not change credentials.
                if not _secret_matches(partner, _given_secret(current_secret), self._ctx.now()):
                    _log.info(
                        "partner %s refused rotating its %s: current_secret missing or wrong",
                        partner.id,
                        credential,
                    )
                    raise AuthenticationError(_BAD_CURRENT_SECRET, field="current_secret")
            else:
                policy.require(
                    principal.has(Permission.MANAGE_PARTNERS),
                    f"{principal} may not rotate partner secrets",
                )
                if partner is None:
                    raise NotFoundError("partner", partner_id)
            now = self._ctx.now()
            change(partner, now)
            partner.updated_at = now
            partner.version += 1
            new: dict[str, object] = {"credential": credential}
            reason = f"{credential.replace('_', ' ')} rotated"
            kept_until = (
                partner.previous_api_secret_expires_at
                if credential == "api_secret"
                else partner.previous_webhook_secret_expires_at
            )
            if kept_until is not None:
                until = audit_value(kept_until)
                new["previous_valid_until"] = until
                reason += f"; the previous one works until {until}"
            tx.audit(
                principal,
                entity="partner",
                entity_id=partner.id,
                action=AuditAction.CREDENTIALS_ROTATED,
                new=new,
                reason=reason,
            )
            if credential == "api_secret" and grace == timedelta(0):
                # Tokens bought with the old secret die with it (it may have leaked).
                _revoke_partner_sessions(
                    tx, partner, RevocationReason.CREDENTIALS_CHANGED, principal, now
                )
            tx.commit()
            return partner

    # ------------------------------------------------------------------ records

    def get(self, partner_id: PartnerId, *, principal: Principal) -> Partner:
        """A partner record: staff with ``manage_partners`` see all, a partner itself.

        Raises:
            NotFoundError: no such partner visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            partner = uow.partners.get(partner_id)
        visible = principal.has(Permission.MANAGE_PARTNERS) or principal.is_partner(partner_id)
        if partner is None or not visible:
            raise NotFoundError("partner", partner_id)
        return partner

    def list(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        only_active: bool = False,
        search: str | None = None,
    ) -> Page[Partner]:
        """Partners, newest first, a page at a time (pass the page's ``next_cursor``
        for older ones). ``search`` is looked for, case-insensitively, in the name,
        the company name and the contact email.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            ValidationError: on ``limit`` or ``cursor`` for a bad page, or on
                ``search`` when too long or holding control characters.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every partner by
           name); ``search``.
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not list partners"
        )
        text = clean_text(search, "search", max_length=MAX_SEARCH_TEXT)
        query = PartnerFilter(text=text, only_active=only_active)
        with self._ctx.uow_factory() as uow:
            return uow.partners.list(query, page or PageRequest())

    def update(
        self,
        partner_id: PartnerId,
        *,
        principal: Principal,
        name: str | Unset = UNSET,
        company_name: str | Unset = UNSET,
        contact_email: str | Unset = UNSET,
        contact_phone: str | Unset | None = UNSET,
        commission_rate: Decimal | int | str | Unset | None = UNSET,
        webhook_url: str | Unset | None = UNSET,
        expected_version: int | None = None,
    ) -> Partner:
        """Edit a partner's details (partner management for admins): only the fields
        given change; ``None`` clears the contact phone, the commission rate or the
        webhook URL. Its credentials, locations, settings and activity have their
        own calls.

        A new ``commission_rate`` applies to payments captured from now on;
        commission already accrued stays as it was. A new ``webhook_url`` gets
        the webhooks sent from now on, signed with the same secret; setting
        ``webhook_url`` (even to the URL it has) enables the partner's webhook
        endpoint again when a ``410 Gone`` answer disabled it. Changing
        nothing writes nothing; a change leaves an audit entry with the old and
        new values.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
            ValidationError: a bad name, email, phone, commission (0-100) or webhook
                URL, each on its field, all at once.
            DuplicateError: another partner has the new contact email, however it is
                capitalised. A partner's own address in another case is not a
                duplicate: it is stored as given.
            StaleVersionError: ``expected_version`` is not the partner's version.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not change partners"
        )
        region = self._ctx.settings.default_region
        p = Problems()
        details: dict[str, object] = {}
        if not isinstance(name, Unset):
            details["name"] = p.capture(lambda: require_text(name, "name", max_length=100))
        if not isinstance(company_name, Unset):
            details["company_name"] = p.capture(
                lambda: require_text(company_name, "company_name", max_length=200)
            )
        if not isinstance(contact_email, Unset):
            details["contact_email"] = p.capture(
                lambda: EmailAddress.parse(contact_email, field="contact_email")
            )
        if not isinstance(contact_phone, Unset):
            details["contact_phone"] = p.capture(
                lambda: (
                    None
                    if not contact_phone
                    else PhoneNumber.parse(contact_phone, region=region, field="contact_phone")
                )
            )
        if not isinstance(commission_rate, Unset):
            details["commission_rate"] = p.capture(lambda: _commission(commission_rate))
        if not isinstance(webhook_url, Unset):
            details["webhook_url"] = p.capture(
                lambda: _webhook_url(webhook_url, allow_private=self._allow_private)
            )
        p.raise_if_any()
        return self._change(
            partner_id, principal, details=details, expected_version=expected_version
        )

    def set_allowed_locations(
        self,
        partner_id: PartnerId,
        location_ids: Iterable[LocationId],
        *,
        principal: Principal,
    ) -> Partner:
        """Replace the set of locations the partner may book.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
            ValidationError: an unknown location id.
        """
        return self._change(partner_id, principal, locations=frozenset(location_ids))

    def enable_webhooks(self, partner_id: PartnerId, *, principal: Principal) -> Partner:
        """Send webhooks to the partner's endpoint again after its receiver answered
        ``410 Gone``, which disabled it (see
        :attr:`~bookingcore.domain.Partner.webhook_disabled_at`). New booking events
        schedule webhooks again from now on; the ones that went dead meanwhile stay
        dead until re-sent (:meth:`~bookingcore.services.WebhookService.resend`).
        Audited; a partner whose endpoint is enabled is left as it is.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.

        .. versionadded:: 0.4
        """
        return self._change(partner_id, principal, enable_webhooks=True)

    def set_active(self, partner_id: PartnerId, active: bool, *, principal: Principal) -> Partner:
        """Switch a partner on or off; an inactive partner cannot book or list slots.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
        """
        return self._change(partner_id, principal, active=active)

    def set_settings(
        self, partner_id: PartnerId, settings: Mapping[str, str], *, principal: Principal
    ) -> Partner:
        """Replace the partner's settings (its own ``rate_limit``, ``allowed_ips``, and
        whatever the host keeps per partner). Settings are audited, so keep secrets out.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
            ValidationError: see :func:`~bookingcore.domain.partners.check_partner_settings`.
        """
        return self._change(partner_id, principal, settings=settings)

    def _change(
        self,
        partner_id: PartnerId,
        principal: Principal,
        *,
        locations: frozenset[LocationId] | None = None,
        active: bool | None = None,
        settings: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
        expected_version: int | None = None,
        enable_webhooks: bool = False,
    ) -> Partner:
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not change partners"
        )
        with self._ctx.transaction() as tx:
            uow = tx.uow
            partner = uow.partners.get(partner_id)
            if partner is None:
                raise NotFoundError("partner", partner_id)
            partner.check_version(expected_version)
            before = snapshot(partner, _CHANGES)
            email = (details or {}).get("contact_email")
            if (
                isinstance(email, EmailAddress)
                and email.match_key != partner.contact_email.match_key
            ):
                same = PartnerFilter(contact_email=email)
                for other in uow.partners.list(same, PageRequest(limit=1)):
                    msg = f"a partner with contact email {other.contact_email} exists"
                    raise DuplicateError(msg, entity="partner", existing_id=other.id)
            for field, value in (details or {}).items():
                setattr(partner, field, value)
            if enable_webhooks or "webhook_url" in (details or {}):
                partner.enable_webhooks()
            if settings is not None:
                partner.settings = check_partner_settings(settings)
            if locations is not None:
                p = Problems()
                self._check_locations(uow, locations, p)
                p.raise_if_any()
                partner.allowed_location_ids = locations
            if active is not None:
                partner.is_active = active
            old, new = diff(before, snapshot(partner, _CHANGES))
            if not new:
                return partner
            partner.updated_at = self._ctx.now()
            partner.version += 1
            action = AuditAction.UPDATED
            if set(new) == {"is_active"}:
                action = AuditAction.ACTIVATED if partner.is_active else AuditAction.DEACTIVATED
            tx.audit(
                principal,
                entity="partner",
                entity_id=partner.id,
                action=action,
                old=_masked(old),
                new=_masked(new),
            )
            if action is AuditAction.DEACTIVATED:
                _revoke_partner_sessions(
                    tx, partner, RevocationReason.DEACTIVATED, principal, partner.updated_at
                )
            tx.commit()
            return partner

    def history(
        self, partner_id: PartnerId, page: PageRequest | None = None, *, principal: Principal
    ) -> Page[AuditEntry]:
        """The partner's audit trail (the audit of partner records), newest
        first, a page at a time (pass the page's ``next_cursor`` for older entries).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every entry, oldest
           first).
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not read partner history"
        )
        with self._ctx.uow_factory() as uow:
            return uow.audit.page_for("partner", partner_id, page or PageRequest())

    @staticmethod
    def _check_locations(uow: UnitOfWork, locations: frozenset[LocationId], p: Problems) -> None:
        for location_id in sorted(locations, key=str):
            if uow.locations.get(location_id) is None:
                p.add("allowed_location_ids", f"no location {location_id}", "unknown_reference")


def _revoke_partner_sessions(
    tx: Transaction,
    partner: Partner,
    reason: RevocationReason,
    principal: Principal,
    now: datetime,
) -> None:
    """End the partner's signed-in sessions, so its bearer tokens stop working too."""
    revoke_sessions(tx, PrincipalKind.PARTNER, partner.id, reason, principal=principal, now=now)


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    """Audit values with the password of the webhook URL masked."""
    url = values.get("webhook_url")
    if isinstance(url, str):
        values["webhook_url"] = redact_url_password(url)
    return values


#: What a partner's audit entries record (never the secrets, nor a webhook URL's password).
_AUDITED = (
    "name",
    "company_name",
    "contact_email",
    "contact_phone",
    "commission_rate",
    "webhook_url",
    "allowed_location_ids",
    "is_active",
)

#: What a change's audit entry records besides: whether its webhook endpoint is disabled.
_CHANGES = (*_AUDITED, "settings", "webhook_disabled_at", "webhook_disabled_reason")
