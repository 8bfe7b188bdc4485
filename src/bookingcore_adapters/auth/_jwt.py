"""A :class:`~bookingcore.ports.security.TokenSigner` over PyJWT, HMAC keys in a keyring."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeGuard

import jwt

from bookingcore.errors import AuthenticationError, FieldError, ValidationError

__all__ = ["JwtTokenSigner"]

#: The HMAC algorithms this signer knows, with the shortest secret each accepts
#: (the digest size, as RFC 7518 section 3.2 asks).
_ALGORITHMS: Mapping[str, int] = MappingProxyType(
    {
        "HS256": hashlib.sha256().digest_size,
        "HS384": hashlib.sha384().digest_size,
        "HS512": hashlib.sha512().digest_size,
    }
)

#: What PyJWT checks itself: the signature only. Times are checked against the
#: caller's ``now``, and the meaning of the claims is the caller's business.
_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


def _secret(kid: object, secret: object, minimum: int, problems: list[FieldError]) -> bytes:
    field = f"keys[{kid!r}]"
    if not isinstance(kid, str) or not kid.strip():
        problems.append(FieldError(field, "a key id must be non-empty text", "invalid"))
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        problems.append(FieldError(field, "a secret must be text or bytes", "invalid_type"))
        return b""
    if len(secret) < minimum:
        msg = f"a secret must be at least {minimum} bytes long, not {len(secret)}"
        problems.append(FieldError(field, msg, "too_short"))
    return secret


class JwtTokenSigner:
    """Signs and verifies JSON Web Tokens with HMAC secrets kept in a keyring.

    Tokens are signed with ``keys[current_kid]`` and carry ``kid`` in their
    header. A token is verified with the key its ``kid`` names, and only with
    :attr:`algorithm`, so a token that claims ``alg: none`` or another
    algorithm is refused. To rotate, add the new key, make it current, and
    drop the old one once the longest-lived token it signed has expired.

    Times are checked against the ``now`` the caller passes: ``exp`` must be
    present and later than ``now - leeway``; ``nbf``, when present, at most
    ``now + leeway``.

    Args:
        keys: ``{kid: secret}``; every secret at least as long as the algorithm's
            digest (32 bytes for HS256). Give them from a secret store, never code.
        current_kid: the key new tokens are signed with; may be left out when the
            keyring holds one key.
        algorithm: ``"HS256"`` (the default), ``"HS384"`` or ``"HS512"``.
        leeway: clock skew tolerated between the servers that sign and verify.

    Raises:
        ValidationError: no keys, a short or malformed secret (on ``keys[<kid>]``),
            an unknown ``current_kid`` or ``algorithm``, or a negative ``leeway``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        keys: Mapping[str, str | bytes],
        *,
        current_kid: str | None = None,
        algorithm: str = "HS256",
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        problems: list[FieldError] = []
        minimum = _ALGORITHMS.get(algorithm)
        if minimum is None:
            msg = f"{algorithm!r} is not one of {', '.join(_ALGORITHMS)}"
            raise ValidationError.single("algorithm", msg, "invalid_choice")
        if not keys:
            raise ValidationError.single("keys", "the keyring needs at least one key", "required")
        keyring = {kid: _secret(kid, secret, minimum, problems) for kid, secret in keys.items()}
        if current_kid is None and len(keyring) == 1:
            current_kid = next(iter(keyring))
        if current_kid is None:
            msg = "name the key to sign with when the keyring holds several"
            problems.append(FieldError("current_kid", msg, "required"))
        elif current_kid not in keyring:
            msg = f"{current_kid!r} is not a key id of the keyring"
            problems.append(FieldError("current_kid", msg, "unknown_key"))
        if leeway < timedelta(0):
            problems.append(FieldError("leeway", "must not be negative", "too_small"))
        if problems:
            raise ValidationError(problems)
        assert current_kid is not None
        self._keys: Mapping[str, bytes] = MappingProxyType(keyring)
        self._current_kid = current_kid
        self._algorithm = algorithm
        self._leeway = leeway.total_seconds()

    @property
    def current_kid(self) -> str:
        """The id of the key new tokens are signed with."""
        return self._current_kid

    @property
    def algorithm(self) -> str:
        """The one algorithm this signer signs with and accepts."""
        return self._algorithm

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key tokens may be verified with."""
        return frozenset(self._keys)

    def encode(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` with the current key, naming it in the header's ``kid``."""
        return jwt.encode(
            dict(claims),
            self._keys[self._current_kid],
            algorithm=self._algorithm,
            headers={"kid": self._current_kid},
        )

    def decode(self, token: str, *, now: datetime) -> dict[str, Any]:
        """The claims of ``token``, once its signature, ``exp`` and ``nbf`` are checked.

        Raises:
            AuthenticationError: malformed, tampered with, signed by a key not in
                the keyring or with another algorithm, without ``exp``, expired at
                ``now`` or not valid yet.
        """
        if not token:
            msg = "the token is missing"
            raise AuthenticationError(msg, field="token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            msg = "the token is malformed"
            raise AuthenticationError(msg, field="token") from exc
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            msg = "the token is signed with a key this server does not hold"
            raise AuthenticationError(msg, field="token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[self._algorithm], options=_OPTIONS
            )
        except jwt.InvalidTokenError as exc:
            msg = "the token's signature does not match or the token is malformed"
            raise AuthenticationError(msg, field="token") from exc
        moment = now.timestamp()
        expires = claims.get("exp")
        if not _is_time(expires):
            msg = "the token has no valid expiry"
            raise AuthenticationError(msg, field="token")
        if expires <= moment - self._leeway:
            msg = "the token has expired"
            raise AuthenticationError(msg, field="token")
        not_before = claims.get("nbf")
        if not_before is not None and (
            not _is_time(not_before) or not_before > moment + self._leeway
        ):
            msg = "the token is not valid yet"
            raise AuthenticationError(msg, field="token")
        return claims


def _is_time(value: object) -> TypeGuard[float]:
    """True for a finite number of seconds (JSON numbers; booleans excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
