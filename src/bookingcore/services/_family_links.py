"""Family links inside other use cases' transactions: who is in a customer's family,
unlinking a member, and what erasing or merging a customer does to their links.

Kept apart from :mod:`bookingcore.services.families` so that the booking path and
the customer merge use it without importing the family service.

.. versionadded:: 0.4
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.events import FamilyChanged
from bookingcore.domain.families import (
    FamilyId,
    FamilyMember,
    FamilyRole,
    invitation_message_key,
)
from bookingcore.domain.policy import Principal
from bookingcore.domain.values import CustomerId
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext, Transaction

__all__ = [
    "emit_family_change",
    "family_circle",
    "forget_family_links",
    "move_family_links",
    "unlink_member",
]


def family_circle(uow: UnitOfWork, customer_id: CustomerId) -> frozenset[CustomerId]:
    """Inside ``uow``: the members of ``customer_id``'s family (empty without one).

    .. versionadded:: 0.4
    """
    member = uow.families.member(customer_id)
    if member is None:
        return frozenset()
    return frozenset(m.customer_id for m in uow.families.members(member.family_id))


def emit_family_change(
    tx: Transaction,
    family_id: FamilyId,
    customer_id: CustomerId,
    action: str,
    *,
    principal: Principal,
    now: datetime,
    invitation_id: UUID | None = None,
) -> None:
    """Raise :class:`~bookingcore.domain.events.FamilyChanged` in ``tx``."""
    tx.emit(
        FamilyChanged(
            id=tx.new_event_id(),
            occurred_at=now,
            family_id=family_id,
            customer_id=customer_id,
            action=action,
            actor=principal.actor,
            invitation_id=invitation_id,
        )
    )


def unlink_member(
    tx: Transaction,
    member: FamilyMember,
    principal: Principal,
    now: datetime,
    *,
    action: str,
    entry_id: UUID | None = None,
    reason: str | None = None,
    erased: bool = False,
) -> None:
    """Unlink ``member``; for the owner, end the family (every member, every invitation).

    One audit entry on the family (``updated``, or ``deleted`` when it ends) and a
    ``FamilyChanged`` event per customer unlinked.
    """
    uow = tx.uow
    family = uow.families.get_for_update(member.family_id)
    if family is None:
        uow.families.remove_member(member.customer_id)
        return
    if member.is_owner:
        members = uow.families.members(family.id)
        uow.families.delete(family.id)
        tx.audit(
            principal,
            entity="family",
            entity_id=family.id,
            action=AuditAction.DELETED,
            old={"members": sorted(str(m.customer_id) for m in members)},
            reason=reason,
            entry_id=entry_id,
        )
        for gone in members:
            emit_family_change(
                tx, family.id, gone.customer_id, "dissolved", principal=principal, now=now
            )
        return
    uow.families.remove_member(member.customer_id)
    family.touch(now)
    tx.audit(
        principal,
        entity="family",
        entity_id=family.id,
        action=AuditAction.UPDATED,
        # An erased member's relation is personal data: their trail keeps only who left.
        old={action: str(member.customer_id), **({} if erased else {"relation": member.relation})},
        reason=reason,
        entry_id=entry_id,
    )
    emit_family_change(tx, family.id, member.customer_id, action, principal=principal, now=now)


# ---------------------------------------------------------------------- privacy

#: What erasure redacts from family trails: how the erased customer relates to others.
_RELATION = frozenset({"relation"})


def forget_family_links(
    context: ServiceContext,
    tx: Transaction,
    customer_id: CustomerId,
    principal: Principal,
    *,
    reason: str | None = None,
) -> int:
    """Inside ``tx``: remove every family link of ``customer_id`` (their erasure).

    They leave their family (ending it if they own it) and every invitation sent
    to or by them is deleted, with the text of the message that told the invited
    customer about it; the family's trail keeps who left, without the relation.
    Returns how many links and invitations went.

    .. versionadded:: 0.4
    """
    uow = tx.uow
    now = context.now()
    removed = 0
    # Read first: ending a family the customer owns takes its invitations with it.
    involving = list(uow.families.invitations_involving(customer_id))
    for invitation in involving:
        for entry in uow.audit.list_for(invitation.entity_name, invitation.id):
            entry.redact(_RELATION)
        # The invited customer's message names the inviter and the relation: its text
        # goes (the log keeps that a message went, and what became of it).
        message = uow.communications.get_by_dedupe_key(invitation_message_key(invitation.id))
        if message is not None:
            message.subject = None
            message.content = ""
    member = uow.families.member(customer_id)
    if member is not None:
        # The relation recorded when they joined is theirs: redacted from the trail.
        named = str(customer_id)
        for entry in uow.audit.list_for("family", member.family_id):
            if named in entry.new_values.values() or named in entry.old_values.values():
                entry.redact(_RELATION)
        unlink_member(tx, member, principal, now, action="removed", reason=reason, erased=True)
        removed += 1
    invitations = list(uow.families.invitations_involving(customer_id))
    uow.families.delete_invitations([i.id for i in invitations])
    return removed + len(invitations)


def move_family_links(
    context: ServiceContext,
    tx: Transaction,
    source: CustomerId,
    target: CustomerId,
    principal: Principal,
) -> int:
    """Inside ``tx``: give ``target`` the family links of ``source`` (a merge).

    ``source``'s membership becomes ``target``'s when ``target`` is in no
    family (ownership too); when both are in the same family ``target`` stays
    (and takes over ownership from ``source``); when they are in different
    families ``target`` keeps theirs and ``source`` leaves (ending the family it
    owned). Invitations sent to or by ``source`` name ``target``; a pending one
    that no longer makes sense (to oneself, or into one's own family) is
    withdrawn, as is a pending one sent to ``target`` into the family it is in now.
    Returns how many links and invitations moved.

    .. versionadded:: 0.4
    """
    uow = tx.uow
    now = context.now()
    moved = 0
    theirs = uow.families.member(source)
    ours = uow.families.member(target)
    if theirs is not None:
        family = uow.families.get_for_update(theirs.family_id)
        if ours is None:
            theirs.customer_id = target
            if family is not None and family.owner_id == source:
                family.owner_id = target
            moved += 1
        elif ours.family_id == theirs.family_id:
            uow.families.remove_member(source)
            if theirs.is_owner and family is not None:
                ours.role, ours.relation = FamilyRole.OWNER, None
                family.owner_id = target
            moved += 1
        else:
            unlink_member(tx, theirs, principal, now, action="removed", reason="merged")
        if family is not None and uow.families.get(family.id) is not None:
            family.touch(now)
    # The family ``target`` is in now, from what was read above: a membership moved
    # in this unit of work need not be found by ``member(target)`` before it is written.
    holder = ours if ours is not None else theirs
    target_family_id = holder.family_id if holder is not None else None
    for invitation in uow.families.invitations_involving(source):
        if invitation.invited_by == source:
            invitation.invited_by = target
        if invitation.customer_id == source:
            invitation.customer_id = target
        pointless = invitation.invited_by == invitation.customer_id or (
            target_family_id is not None and target_family_id == invitation.family_id
        )
        if pointless and invitation.is_open_at(now):
            invitation.cancel(now=now)
        else:
            invitation.updated_at = now
            invitation.version += 1
        moved += 1
    if target_family_id is not None:
        # ``target`` may have taken ``source``'s place in a family that had invited
        # them: that invitation no longer makes sense either.
        for invitation in uow.families.invitations_involving(target):
            joined = invitation.customer_id == target and invitation.family_id == target_family_id
            if joined and invitation.is_open_at(now):
                invitation.cancel(now=now)
    return moved
