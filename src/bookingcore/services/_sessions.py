"""Ending sign-in sessions inside a transaction: shared by auth, staff and partners.

Its own module so that :mod:`bookingcore.services.partners` (which ends a
partner's sessions when its secret is rotated or it is deactivated) and
:mod:`bookingcore.services.auth` (which signs partners in through the partner
service) do not import each other.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.policy import Principal, PrincipalKind
from bookingcore.services._context import Transaction

__all__ = ["revoke_session", "revoke_sessions"]


def revoke_sessions(
    tx: Transaction,
    kind: PrincipalKind,
    subject_id: UUID,
    reason: RevocationReason,
    *,
    principal: Principal,
    now: datetime,
) -> int:
    """Inside ``tx``: revoke every active session of one customer, staff member or
    partner, auditing each; returns how many."""
    sessions = tx.uow.auth_sessions.list_for_subject(kind, subject_id, active_at=now)
    for session in sessions:
        revoke_session(tx, session, reason, principal=principal, now=now)
    return len(sessions)


def revoke_session(
    tx: Transaction,
    session: AuthSession,
    reason: RevocationReason,
    *,
    principal: Principal,
    now: datetime,
) -> None:
    """Inside ``tx``: revoke one session (if still active) and audit it."""
    if session.revoked_at is not None:
        return
    session.revoke(reason, now)
    session.version += 1
    tx.audit(
        principal,
        entity="session",
        entity_id=session.id,
        action=AuditAction.DEACTIVATED,
        new={"revoked_reason": reason},
        reason=reason.value,
    )
