"""A :class:`~bookingcore.ports.security.PasswordHasher` over argon2-cffi (Argon2id)."""

from __future__ import annotations

import argon2
import argon2.exceptions

from bookingcore.errors import FieldError, ValidationError

__all__ = ["Argon2PasswordHasher"]


class Argon2PasswordHasher:
    """Hashes passwords with Argon2id and checks them in constant time.

    The defaults are RFC 9106's second recommended ("low-memory") profile, the
    one argon2-cffi uses too: 3 passes over 64 MiB with 4 lanes, a 16-byte
    random salt and a 32-byte tag; one hash takes about 0.2 s on a 2-CPU
    machine, less with 4 cores or more. Raise ``memory_cost`` or ``time_cost`` as your hardware
    allows; hashes made with older parameters still verify, and
    :meth:`needs_rehash` tells the sign-in to store a fresh one.

    Args:
        time_cost: passes over the memory (at least 1).
        memory_cost: memory in KiB (at least 8 x ``parallelism``).
        parallelism: lanes (at least 1).
        hash_len: length of the tag in bytes (at least 16).
        salt_len: length of the random salt in bytes (at least 16).

    Raises:
        ValidationError: a parameter below its minimum, on that parameter's name.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
        parallelism: int = 4,
        hash_len: int = 32,
        salt_len: int = 16,
    ) -> None:
        minimums = {
            "time_cost": (time_cost, 1),
            "parallelism": (parallelism, 1),
            "memory_cost": (memory_cost, 8 * max(parallelism, 1)),
            "hash_len": (hash_len, 16),
            "salt_len": (salt_len, 16),
        }
        problems = [
            FieldError(name, f"must be at least {least}, not {value}", "too_small")
            for name, (value, least) in minimums.items()
            if value < least
        ]
        if problems:
            raise ValidationError(problems)
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        """A new Argon2id hash of ``password`` (PHC string format, salt included)."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches ``password_hash``.

        False for a wrong password and for anything that is not an Argon2 hash.
        """
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when ``password_hash`` was made with other parameters (or is unreadable)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True
