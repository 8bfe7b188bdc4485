"""Third-party partners: booking platforms and agencies that sell through an API.

A partner sees and changes only the customers and bookings it created and books
only at the locations it is allowed. Its API secret is never stored in clear:
only ``api_secret_hash`` (issue: identity and access) and its last four
characters for display.

Why a fast hash for the API secret, when passwords get a slow one: a slow,
salted hash (argon2, bcrypt) exists to make guessing *low-entropy* human
passwords expensive. An API secret is 256 random bits that
:class:`~bookingcore.services.PartnerService` draws from :mod:`secrets`;
nobody can guess it, fast hash or not, so a deliberately slow hash would only
add tens of milliseconds to every API call that presents it. SHA-256 keeps it
one-way (a leaked table of hashes does not give the secrets back) and stable
(one secret, one hash: no salt is needed, since no two partners share a
secret and precomputed tables are useless against random 256-bit values). The
stored form names its scheme (``sha256$<hex>``) so another can follow without
breaking stored partners. Compare with :meth:`Partner.api_secret_matches`,
which takes constant time.

The webhook signing secret is different: the library itself must sign with it
(:meth:`Partner.signed_webhook`), so it is kept as it was issued.

A rotation may keep the previous secret for a grace period (at most
:data:`MAX_SECRET_GRACE`): the previous API secret's hash, or the previous
webhook signing secret, with the moment it stops working. Until then
:meth:`Partner.api_secret_matches` accepts either API secret, and webhooks
carry a signature by each webhook secret. A later rotation replaces what was
kept.

.. versionadded:: 0.1
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import attrs

from bookingcore.domain._validation import Problems, fold_case, text_problem
from bookingcore.domain.partner_webhooks import (
    WEBHOOK_EVENTS_SETTING,
    WEBHOOK_SCHEME_SETTING,
    SignatureScheme,
    WebhookTopic,
    parse_webhook_scheme,
    parse_webhook_topics,
)
from bookingcore.domain.values import EmailAddress, LocationId, PartnerId, PhoneNumber, Versioned
from bookingcore.domain.webhooks import SignedWebhook, signed_request
from bookingcore.errors import ValidationError

__all__ = [
    "ALLOWED_IPS_SETTING",
    "API_SECRET_PREFIX",
    "MAX_SECRET_GRACE",
    "RATE_LIMIT_SETTING",
    "WEBHOOK_SECRET_PREFIX",
    "Partner",
    "PartnerFilter",
    "check_partner_settings",
    "check_secret_grace",
    "hash_api_secret",
]

#: How every API secret starts, so a leaked one is easy to recognise (and scan for).
API_SECRET_PREFIX = "sk_"  # noqa: S105 - a prefix, not a secret

#: How every webhook signing secret starts.
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret

#: Partner setting: its own rate limit, ``"<requests>"`` per the service's default
#: window or ``"<requests>/<seconds>"`` (``"120/60"``: 120 requests a minute).
RATE_LIMIT_SETTING = "rate_limit"

#: Partner setting: the addresses its API clients may call from, comma-separated
#: IP addresses or networks (``"203.0.113.7, 198.51.100.0/24"``); unset, any address.
ALLOWED_IPS_SETTING = "allowed_ips"

#: The longest a rotated secret may keep working next to its successor.
MAX_SECRET_GRACE = timedelta(days=7)

_HASH_SCHEME = "sha256"
_MAX_DISABLED_REASON = 500
_MAX_RATE_LIMIT = 1_000_000
_MAX_WINDOW_SECONDS = 86_400


def hash_api_secret(secret: str) -> str:
    """The stored form of an API secret: ``sha256$`` and the hex SHA-256 of its UTF-8 bytes.

    See the module docstring for why a fast hash is the right one here.

    .. versionadded:: 0.1
    """
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_HASH_SCHEME}${digest}"


#: Compared against in place of a hash a partner does not have (no secret, or no kept
#: previous one), so every check costs the same two comparisons. Nobody knows its
#: preimage: it is the hash of 256 random bits drawn at import.
_UNMATCHABLE_HASH = hash_api_secret(secrets.token_urlsafe(32))


def check_secret_grace(value: object, field: str = "keep_previous_for") -> timedelta:
    """``value`` checked as a grace period for a rotated secret: a ``timedelta`` from
    zero (the previous secret stops at once) to :data:`MAX_SECRET_GRACE`.

    Raises:
        ValidationError: on ``field`` when ``value`` is not a ``timedelta``, is
            negative, or is longer than :data:`MAX_SECRET_GRACE`.

    .. versionadded:: 0.4
    """
    if not isinstance(value, timedelta):
        msg = "must be a timedelta (timedelta(0) for none)"
        raise ValidationError.single(field, msg, "invalid_type")
    if value < timedelta(0):
        raise ValidationError.single(field, "must not be negative", "out_of_range")
    if value > MAX_SECRET_GRACE:
        days = MAX_SECRET_GRACE.days
        msg = f"must be at most {days} days; a rotated secret should not linger"
        raise ValidationError.single(field, msg, "out_of_range")
    return value


def _location_set(values: Iterable[LocationId]) -> frozenset[LocationId]:
    return frozenset(values)


def _networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",")]


def _rate_limit(text: str) -> tuple[int, int | None]:
    requests, slash, seconds = text.strip().partition("/")
    count = int(requests)
    window = int(seconds) if slash else None
    if not 1 <= count <= _MAX_RATE_LIMIT or (
        window is not None and not 1 <= window <= _MAX_WINDOW_SECONDS
    ):
        raise ValueError(text)
    return count, window


def check_partner_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """Check a partner's ``settings`` and return them as a plain dict.

    Any key may be stored (hosts keep their own per-partner options there);
    the library reads :data:`RATE_LIMIT_SETTING`, :data:`ALLOWED_IPS_SETTING`,
    :data:`~bookingcore.domain.partner_webhooks.WEBHOOK_EVENTS_SETTING` and
    :data:`~bookingcore.domain.partner_webhooks.WEBHOOK_SCHEME_SETTING` and
    checks that those parse. Settings are not secret: they appear in the
    partner's audit trail.

    Raises:
        ValidationError: on ``settings.<key>`` for a key or value that is not
            text, a rate limit that is not ``"<requests>"`` or
            ``"<requests>/<seconds>"`` (1 to 1,000,000 requests, 1 second to a
            day), or an address list with something that is not an IP address
            or network.

    .. versionadded:: 0.1
    """
    p = Problems(prefix="settings")
    clean: dict[str, str] = {}
    given = cast("Mapping[object, object]", settings)
    for key, value in given.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(value, str):
            p.add(str(key), "settings map text keys to text values", "invalid_type")
            continue
        if text_problem(key) is not None or text_problem(value) is not None:
            p.add("", "settings must not contain control characters", "control_character")
            continue
        if key == RATE_LIMIT_SETTING:
            try:
                _rate_limit(value)
            except ValueError:
                msg = "must be '<requests>' or '<requests>/<seconds>', e.g. '120/60'"
                p.add(key, msg, "invalid_rate_limit")
                continue
        elif key == ALLOWED_IPS_SETTING:
            try:
                _networks(value)
            except ValueError:
                msg = "must be comma-separated IP addresses or networks"
                p.add(key, msg, "invalid_ip")
                continue
        elif key == WEBHOOK_EVENTS_SETTING:
            try:
                parse_webhook_topics(value)
            except ValidationError as exc:
                p.add(key, exc.errors[0].message, "invalid_choice")
                continue
        elif key == WEBHOOK_SCHEME_SETTING:
            try:
                parse_webhook_scheme(value)
            except ValidationError as exc:
                p.add(key, exc.errors[0].message, "invalid_choice")
                continue
        clean[key] = value.strip()
    p.raise_if_any()
    return clean


@attrs.define(slots=False)
class Partner(Versioned):
    """A third-party channel that creates customers and bookings.

    ``allowed_location_ids`` is explicit: a partner with none may not book anywhere.
    ``commission_rate`` is a percentage (``Decimal("15.00")`` for 15 %).
    ``api_secret_hash`` is :func:`hash_api_secret` of the secret handed out once;
    ``webhook_secret`` signs the webhooks sent to ``webhook_url``. Neither
    appears in ``repr()``.

    After a rotation with a grace period, ``previous_api_secret_hash`` and
    ``previous_webhook_secret`` keep the secrets they replaced until
    ``previous_api_secret_expires_at`` and ``previous_webhook_secret_expires_at``
    (exclusive); without one they are ``None``. The kept secrets are not in
    ``repr()`` either.

    ``webhook_disabled_at`` and ``webhook_disabled_reason`` say since when and why
    the partner's webhook endpoint gets no webhooks: its receiver answered
    ``410 Gone`` (Standard Webhooks: it wants no more). No webhook is scheduled
    for it, nor sent, until staff enable it again (:meth:`enable_webhooks`:
    setting its ``webhook_url`` again, or
    :meth:`~bookingcore.services.PartnerService.enable_webhooks`).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       The ``previous_...`` fields: a rotated secret may keep working for a while;
       ``webhook_disabled_at`` and ``webhook_disabled_reason``.
    """

    id: PartnerId
    name: str
    company_name: str
    contact_email: EmailAddress
    api_key: str
    created_at: datetime
    updated_at: datetime
    contact_phone: PhoneNumber | None = None
    api_secret_hash: str | None = attrs.field(default=None, repr=False)
    api_secret_last4: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    commission_rate: Decimal | None = None
    allowed_location_ids: frozenset[LocationId] = attrs.field(
        converter=_location_set, factory=frozenset
    )
    is_active: bool = True
    settings: dict[str, str] = attrs.Factory(dict)
    version: int = 1
    previous_api_secret_hash: str | None = attrs.field(default=None, repr=False)
    previous_api_secret_expires_at: datetime | None = None
    previous_webhook_secret: str | None = attrs.field(default=None, repr=False)
    previous_webhook_secret_expires_at: datetime | None = None
    webhook_disabled_at: datetime | None = None
    webhook_disabled_reason: str | None = None

    entity_name = "partner"

    @property
    def webhooks_disabled(self) -> bool:
        """True while the partner's webhook endpoint is disabled (it answered ``410 Gone``).

        .. versionadded:: 0.4
        """
        return self.webhook_disabled_at is not None

    def disable_webhooks(self, now: datetime, reason: str) -> bool:
        """Stop webhooks to the partner's endpoint from ``now`` on, for ``reason``
        (cut to 500 characters). Returns False, changing nothing, when they were
        already disabled.

        .. versionadded:: 0.4
        """
        if self.webhooks_disabled:
            return False
        self.webhook_disabled_at = now
        self.webhook_disabled_reason = reason[:_MAX_DISABLED_REASON]
        self.updated_at = now
        return True

    def enable_webhooks(self) -> bool:
        """Send webhooks to the partner's endpoint again; returns whether they were
        disabled.

        .. versionadded:: 0.4
        """
        if not self.webhooks_disabled:
            return False
        self.webhook_disabled_at = None
        self.webhook_disabled_reason = None
        return True

    def may_book_at(self, location_id: LocationId) -> bool:
        """True when the partner is active and allowed at ``location_id``."""
        return self.is_active and location_id in self.allowed_location_ids

    def commission_on(self, amount: Decimal) -> Decimal:
        """The commission owed on ``amount`` (zero when no rate is set)."""
        return amount * (self.commission_rate or Decimal(0)) / Decimal(100)

    def api_secret_matches(self, secret: str, *, now: datetime | None = None) -> bool:
        """True when ``secret`` is this partner's API secret, or the previous one while
        it is kept (until ``previous_api_secret_expires_at``, at ``now``).

        It costs the same whichever secret matches, or none: one hash, then a
        constant-time comparison against each of two stored hashes (an
        unmatchable one stands in for a hash the partner does not have), so
        the time taken tells nothing about which secret is right.

        A partner without a stored hash (registered before secrets existed)
        matches nothing until its secret is rotated. Without ``now`` only the
        current secret matches.

        .. versionchanged:: 0.4
           ``now``: the previous secret matches during its grace period.
        """
        given = hash_api_secret(secret)
        current = self.api_secret_hash
        previous = self.previous_api_secret_hash if self._keeps_previous_api(now) else None
        is_current = hmac.compare_digest(given, current or _UNMATCHABLE_HASH)
        is_previous = hmac.compare_digest(given, previous or _UNMATCHABLE_HASH)
        # ``|``, not ``or``: both comparisons always run, and neither result short-cuts.
        return (is_current and current is not None) | (is_previous and previous is not None)

    def _keeps_previous_api(self, now: datetime | None) -> bool:
        expires = self.previous_api_secret_expires_at
        return now is not None and expires is not None and now < expires

    def set_api_secret(
        self, secret: str, *, now: datetime, keep_previous_for: timedelta = timedelta(0)
    ) -> None:
        """Keep ``secret`` as the partner's API secret: its hash and last four characters.

        With ``keep_previous_for`` (checked by :func:`check_secret_grace`) the
        secret it replaces keeps working until ``now + keep_previous_for``,
        replacing any previous secret kept before; without it, only ``secret``
        works from now on.

        Raises:
            ValidationError: on ``keep_previous_for``, see :func:`check_secret_grace`.

        .. versionchanged:: 0.4
           ``keep_previous_for``.
        """
        grace = check_secret_grace(keep_previous_for)
        if grace > timedelta(0) and self.api_secret_hash is not None:
            self.previous_api_secret_hash = self.api_secret_hash
            self.previous_api_secret_expires_at = now + grace
        else:
            self.previous_api_secret_hash = None
            self.previous_api_secret_expires_at = None
        self.api_secret_hash = hash_api_secret(secret)
        self.api_secret_last4 = secret[-4:]
        self.updated_at = now

    def set_webhook_secret(
        self, secret: str, *, now: datetime, keep_previous_for: timedelta = timedelta(0)
    ) -> None:
        """Sign webhooks with ``secret`` from now on; with ``keep_previous_for``, with the
        secret it replaces too until ``now + keep_previous_for`` (replacing any kept before).

        Raises:
            ValidationError: on ``keep_previous_for``, see :func:`check_secret_grace`.

        .. versionadded:: 0.4
        """
        grace = check_secret_grace(keep_previous_for)
        if grace > timedelta(0) and self.webhook_secret:
            self.previous_webhook_secret = self.webhook_secret
            self.previous_webhook_secret_expires_at = now + grace
        else:
            self.previous_webhook_secret = None
            self.previous_webhook_secret_expires_at = None
        self.webhook_secret = secret
        self.updated_at = now

    def previous_webhook_secret_at(self, now: datetime) -> str | None:
        """The previous webhook signing secret while it is kept at ``now``, else ``None``.

        .. versionadded:: 0.4
        """
        expires = self.previous_webhook_secret_expires_at
        if not self.previous_webhook_secret or expires is None or now >= expires:
            return None
        return self.previous_webhook_secret

    def allows_ip(self, address: str | None) -> bool:
        """True when ``address`` may call for this partner (:data:`ALLOWED_IPS_SETTING`).

        Without that setting every address may; with it, an unknown (``None``)
        or malformed address may not. An IPv4-mapped IPv6 address
        (``::ffff:203.0.113.7``, as a server listening on ``::`` reports IPv4
        clients) is the IPv4 address it carries.
        """
        allowed = self.settings.get(ALLOWED_IPS_SETTING)
        if not allowed:
            return True
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            return any(ip in network for network in _networks(allowed))
        except ValueError:
            return False

    def rate_limit(self, default_requests: int, default_window: timedelta) -> tuple[int, timedelta]:
        """The partner's rate limit, ``(requests, window)``: its own setting, else the defaults."""
        own = self.settings.get(RATE_LIMIT_SETTING)
        if own:
            try:
                requests, seconds = _rate_limit(own)
            except ValueError:
                return default_requests, default_window
            return requests, default_window if seconds is None else timedelta(seconds=seconds)
        return default_requests, default_window

    def webhook_topics(self) -> frozenset[WebhookTopic]:
        """The webhook topics the partner subscribed to (none without a webhook URL).

        .. versionadded:: 0.2
        """
        if not self.webhook_url:
            return frozenset()
        try:
            return parse_webhook_topics(self.settings.get(WEBHOOK_EVENTS_SETTING))
        except ValidationError:
            return frozenset()

    def webhook_scheme(self) -> SignatureScheme:
        """How the partner's webhooks are signed (``standard`` unless its settings say).

        .. versionadded:: 0.2
        """
        try:
            return parse_webhook_scheme(self.settings.get(WEBHOOK_SCHEME_SETTING))
        except ValidationError:
            return SignatureScheme.STANDARD

    def signed_webhook(self, payload: Mapping[str, Any], *, now: datetime) -> SignedWebhook:
        """A webhook POST of ``payload`` to the partner's ``webhook_url``, signed with its secret.

        See :mod:`bookingcore.domain.webhooks` for the header and how partners verify it.
        While a previous webhook secret is kept (see :meth:`previous_webhook_secret_at`),
        the header carries a second ``v1`` by it, after the current secret's.

        Raises:
            ValidationError: on ``webhook_url`` when the partner has none or on
                ``webhook_secret`` when it has no secret; as
                :func:`~bookingcore.domain.webhooks.signed_request` otherwise.
        """
        if not self.webhook_url:
            msg = f"partner {self.name} has no webhook URL"
            raise ValidationError.single("webhook_url", msg, "required")
        if not self.webhook_secret:
            msg = f"partner {self.name} has no webhook signing secret; rotate it to issue one"
            raise ValidationError.single("webhook_secret", msg, "required")
        previous = self.previous_webhook_secret_at(now)
        keys = [self.webhook_secret] if previous is None else [self.webhook_secret, previous]
        return signed_request(self.webhook_url, payload, keys, now)


@attrs.frozen
class PartnerFilter:
    """Which partners to list. ``text`` is looked for, case-insensitively, in the
    name, the company name and the contact email, each on its own;
    ``contact_email`` matches one address by its
    :attr:`~bookingcore.domain.EmailAddress.match_key`, without regard to case
    (``ops@agency.example`` finds the partner stored as ``Ops@Agency.example``); at
    most one partner has it, as contact emails are unique by that key.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4
       ``contact_email`` matches without regard to case, local part included, and
       contact emails are unique that way.
    """

    text: str | None = None
    contact_email: EmailAddress | None = None
    only_active: bool = False

    def matches(self, partner: Partner) -> bool:
        """The reference semantics every adapter implements."""
        if self.only_active and not partner.is_active:
            return False
        if (
            self.contact_email is not None
            and partner.contact_email.match_key != self.contact_email.match_key
        ):
            return False
        needle = fold_case((self.text or "").strip())
        fields = (partner.name, partner.company_name, partner.contact_email.value)
        return not needle or any(needle in fold_case(field) for field in fields)
