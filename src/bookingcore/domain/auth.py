"""Signed-in sessions: one per sign-in, the family its refresh tokens belong to.

A customer who verifies a code, a staff member who signs in with a password
and a partner who trades its key and secret for a bearer token each start an
:class:`AuthSession`. Its id is the *family* of every token issued for that
sign-in. A refresh token names the session and one ``refresh_jti``; using it
rotates ``refresh_jti``, so a spent refresh token presented again no longer
matches and revokes the whole family (refresh-token reuse detection). Logout
revokes the session, and access tokens of a revoked family stop working.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.policy import PrincipalKind
from bookingcore.domain.values import Versioned

__all__ = ["AuthSession", "RevocationReason"]


class RevocationReason(enum.StrEnum):
    """Why a session stopped working.

    .. versionadded:: 0.1
    """

    LOGOUT = "logout"
    REFRESH_REUSED = "refresh_reused"
    CREDENTIALS_CHANGED = "credentials_changed"
    DEACTIVATED = "deactivated"
    ADMIN = "admin"


@attrs.define(slots=False)
class AuthSession(Versioned):
    """One sign-in of a customer, a staff member or a partner.

    ``subject_id`` is the customer, staff member or partner id, by ``kind``.
    ``refresh_jti`` is the only refresh token of this family that may be used
    next; ``expires_at`` bounds the family however often it is refreshed.

    .. versionadded:: 0.1
    """

    id: UUID
    kind: PrincipalKind
    subject_id: UUID
    created_at: datetime
    expires_at: datetime
    refresh_jti: UUID
    refreshed_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: RevocationReason | None = None
    version: int = 1

    entity_name = "session"

    def is_active(self, now: datetime) -> bool:
        """True while the session is neither revoked nor expired."""
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, reason: RevocationReason, now: datetime) -> None:
        """Stop the session (and so every token of its family); a no-op when already revoked."""
        if self.revoked_at is None:
            self.revoked_at = now
            self.revoked_reason = reason
