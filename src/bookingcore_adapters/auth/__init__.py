"""Tokens and passwords: implementations of the identity ports over PyJWT and argon2-cffi.

- :class:`JwtTokenSigner` implements :class:`~bookingcore.ports.security.TokenSigner`
  with HMAC-signed JWTs, a keyring of ``{kid: secret}`` and a current ``kid``, so
  keys rotate without signing anyone out.
- :class:`Argon2PasswordHasher` implements
  :class:`~bookingcore.ports.security.PasswordHasher` with Argon2id, by default
  with RFC 9106's low-memory profile.

Needs the ``auth`` extra (``pip install bookingcore[auth]``)::

    from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner

    signer = JwtTokenSigner({"2026-01": secret_from_your_vault}, current_kid="2026-01")
    core = BookingCore(..., token_signer=signer, password_hasher=Argon2PasswordHasher())

.. versionadded:: 0.1
"""

from bookingcore_adapters.auth._argon2 import Argon2PasswordHasher
from bookingcore_adapters.auth._jwt import JwtTokenSigner

__all__ = ["Argon2PasswordHasher", "JwtTokenSigner"]
