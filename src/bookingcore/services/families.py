"""Family accounts: link related customers so they can book for each other.

::

    sent = core.families.invite(mum, "+91 98765 43210", relation="son", principal=mum_signed_in)
    core.families.accept(sent.id, principal=son_signed_in)          # his consent
    core.families.travelers(mum, principal=mum_signed_in)           # his travelers too, by name
    core.bookings.book(BookingRequest(slot, [SavedTraveler(his_traveler, is_primary=True)]),
                       principal=mum_signed_in)                     # the one booking path

The owner invites a customer by phone (found, or registered phone-only, as a
booking for them would); the invited customer accepts or declines before the
invitation expires (``Settings.family_invitation_ttl``). A customer is in at most
one family; a member leaves when they like, the owner removes members, and the
owner leaving ends the family. Every change leaves an audit entry (``family``,
``family invitation``) and raises :class:`~bookingcore.domain.events.FamilyChanged`.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.customers import Traveler
from bookingcore.domain.families import (
    MAX_FAMILY_MEMBERS,
    Family,
    FamilyBooking,
    FamilyId,
    FamilyInvitation,
    FamilyInvitationId,
    FamilyMember,
    FamilyMemberId,
    FamilyRole,
    FamilyTraveler,
    InvitationStatus,
    clean_relation,
)
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, every_item
from bookingcore.domain.values import CustomerId, PhoneNumber
from bookingcore.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_change,
    claim_creation,
    fingerprint,
    principal_key,
)
from bookingcore.services._family_links import emit_family_change, unlink_member
from bookingcore.services.customers import CustomerService

__all__ = [
    "FamilyMemberView",
    "FamilyService",
    "FamilyView",
    "ReceivedInvitation",
]


@attrs.frozen
class FamilyMemberView:
    """A member as the family sees them: name and relation, nothing else of theirs.

    .. versionadded:: 0.4
    """

    customer_id: CustomerId
    name: str | None
    role: FamilyRole
    relation: str | None
    joined_at: datetime


@attrs.frozen
class FamilyView:
    """A family: its members (the owner first) and, for whoever may manage it, the
    invitations still waiting for an answer.

    .. versionadded:: 0.4
    """

    family_id: FamilyId
    owner_id: CustomerId
    members: tuple[FamilyMemberView, ...]
    pending_invitations: tuple[FamilyInvitation, ...]


@attrs.frozen
class ReceivedInvitation:
    """An invitation waiting for the invited customer's answer, with who sent it.

    .. versionadded:: 0.4
    """

    invitation: FamilyInvitation
    invited_by_name: str | None


class FamilyService:
    """Family accounts: invitations, members, and what members share.

    .. versionadded:: 0.4
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context
        self._customers = CustomerService(context)

    # ------------------------------------------------------------------ invitations

    def invite(
        self,
        customer_id: CustomerId,
        phone: str | PhoneNumber,
        *,
        relation: str,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> FamilyInvitation:
        """Invite the customer with ``phone`` into ``customer_id``'s family as ``relation``.

        A customer without a family becomes the owner of a new one. The number
        is read as :meth:`~bookingcore.services.CustomerService.parse_phone` reads
        it, and a number nobody registered yet is registered phone-only (so
        inviting never tells whether someone is a customer); the invitation
        waits for them until ``Settings.family_invitation_ttl`` runs out.
        Asking again while an invitation to the same customer is pending
        answers that invitation. A retry with the same ``idempotency_key`` and
        the same request answers the first call's invitation.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: ``principal`` is not the customer (nor staff who
                change everything), or the customer is a member, not the owner.
            ValidationError: on ``phone`` (malformed, the customer themself, a
                member already, the family full), on ``relation`` (1-40
                characters); on ``idempotency_key`` when malformed.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        number = self._customers.parse_phone(phone)
        label = clean_relation(relation)
        now = self._ctx.now()
        key = principal_key(principal, idempotency_key)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            invitation_id = None
            if key is not None:
                asked = fingerprint(
                    "family_invitation",
                    principal,
                    customer_id=customer_id,
                    phone=number.e164,
                    relation=label,
                )
                invitation_id, prior = claim_creation(
                    uow,
                    key,
                    "family_invitation",
                    now,
                    asked,
                    as_id=FamilyInvitationId,
                    load=uow.families.get_invitation,
                )
                if prior is not None:
                    return prior
            inviter = CustomerService.load_visible(uow, customer_id, principal)
            policy.require(
                policy.can_manage_family(principal, inviter.id),
                f"{principal} may not invite into the family of customer {customer_id}",
            )
            family = self._owned_family(tx, inviter.id, principal, now)
            found = self._customers.find_or_create(tx, number, principal=principal)
            invitee = found.customer_id
            if invitee == inviter.id:
                msg = "you cannot invite yourself into your family"
                raise ValidationError.single("phone", msg, "same_customer")
            members = uow.families.members(family.id)
            if any(m.customer_id == invitee for m in members):
                msg = "this customer is in your family already"
                raise ValidationError.single("phone", msg, "already_member")
            sent = uow.families.invitations(family.id)
            waiting = [i for i in sent if i.is_open_at(now)]
            earlier = next((i for i in waiting if i.customer_id == invitee), None)
            if earlier is not None:
                return earlier
            if len(members) + len(waiting) >= MAX_FAMILY_MEMBERS:
                msg = f"a family holds at most {MAX_FAMILY_MEMBERS} customers, invitations included"
                raise ValidationError.single("phone", msg, "family_full")
            invitation = FamilyInvitation.create(
                invitation_id=invitation_id or FamilyInvitationId(self._ctx.ids.new_id()),
                family_id=family.id,
                invited_by=inviter.id,
                customer_id=invitee,
                relation=label,
                now=now,
                expires_at=now + self._ctx.settings.family_invitation_ttl,
            )
            uow.families.add_invitation(invitation)
            tx.audit(
                principal,
                entity="family invitation",
                entity_id=invitation.id,
                action=AuditAction.CREATED,
                new={
                    "family_id": str(family.id),
                    "customer_id": str(invitee),
                    "relation": label,
                    "expires_at": invitation.expires_at.isoformat(),
                },
            )
            self._emit(tx, family.id, invitee, "invited", principal, invitation_id=invitation.id)
            tx.commit()
            return invitation

    def accept(
        self,
        invitation_id: FamilyInvitationId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> FamilyMember:
        """The invited customer joins the family: only they may say yes.

        Accepting an invitation accepted already (a retry) answers the
        customer's membership as it is; so does a retry with the same
        ``idempotency_key``.

        Raises:
            NotFoundError: no such invitation sent to ``principal`` (or the family ended).
            ValidationError: on ``invitation_id`` when it expired (code ``expired``),
                was declined or withdrawn (``not_pending``), or the family is full.
            ConflictError: the customer belongs to another family; they leave it first.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = claim_change(
                uow, now, idempotency_key, "family_accept", principal, invitation_id=invitation_id
            )
            invitation = self._received(uow, invitation_id, principal)
            member = uow.families.member(invitation.customer_id)
            if not fresh or invitation.status is InvitationStatus.ACCEPTED:
                if member is not None and member.family_id == invitation.family_id:
                    return member
                if not fresh:
                    raise NotFoundError("family member", invitation.customer_id)
            family = uow.families.get_for_update(invitation.family_id)
            if family is None:
                raise NotFoundError("family invitation", invitation_id)
            if member is not None:
                msg = "you belong to another family already; leave it before you join this one"
                raise ConflictError(msg)
            members = uow.families.members(family.id)
            if len(members) >= MAX_FAMILY_MEMBERS:
                msg = f"the family has {MAX_FAMILY_MEMBERS} members already"
                raise ValidationError.single("invitation_id", msg, "family_full")
            invitation.accept(now=now)
            member = FamilyMember(
                id=FamilyMemberId(self._ctx.ids.new_id()),
                family_id=family.id,
                customer_id=invitation.customer_id,
                role=FamilyRole.MEMBER,
                relation=invitation.relation,
                joined_at=now,
            )
            uow.families.add_member(member)
            family.touch(now)
            self._answered(tx, invitation, principal, entry_id)
            tx.audit(
                principal,
                entity="family",
                entity_id=family.id,
                action=AuditAction.UPDATED,
                new={"joined": str(member.customer_id), "relation": member.relation},
            )
            self._emit(tx, family.id, member.customer_id, "joined", principal)
            tx.commit()
            return member

    def decline(
        self, invitation_id: FamilyInvitationId, *, principal: Principal
    ) -> FamilyInvitation:
        """The invited customer says no; declining twice is harmless.

        Raises:
            NotFoundError: no such invitation sent to ``principal``.
            ValidationError: on ``invitation_id`` when it expired or was accepted
                or withdrawn.

        .. versionadded:: 0.4
        """
        return self._close(invitation_id, principal, InvitationStatus.DECLINED)

    def cancel_invitation(
        self, invitation_id: FamilyInvitationId, *, principal: Principal
    ) -> FamilyInvitation:
        """The family's owner withdraws a pending invitation; withdrawing twice is harmless.

        Raises:
            NotFoundError: no such invitation of a family ``principal`` may read.
            PermissionDeniedError: a member who is not the owner.
            ValidationError: on ``invitation_id`` when it was answered or expired.

        .. versionadded:: 0.4
        """
        return self._close(invitation_id, principal, InvitationStatus.CANCELLED)

    def received_invitations(
        self, customer_id: CustomerId, *, principal: Principal
    ) -> list[ReceivedInvitation]:
        """The invitations waiting for ``customer_id``'s answer, oldest first.

        Only the customer and staff who see everything read them: each names the
        inviter and the relation, and a partner has no part in families.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: ``principal`` sees the customer but is neither
                them nor staff who see everything (a partner).

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            CustomerService.load_visible(uow, customer_id, principal)
            policy.require(
                policy.can_view_family(principal, (customer_id,)),
                f"{principal} may not read the family invitations of customer {customer_id}",
            )
            found = []
            for invitation in uow.families.invitations_involving(customer_id):
                if invitation.customer_id != customer_id or not invitation.is_open_at(now):
                    continue
                inviter = uow.customers.get(invitation.invited_by)
                found.append(ReceivedInvitation(invitation, inviter.name if inviter else None))
            return found

    # ------------------------------------------------------------------ membership

    def leave(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> None:
        """``customer_id`` leaves their family; the owner leaving ends the family
        (every member is unlinked, pending invitations go with it).

        A retry with the same ``idempotency_key`` does nothing more.

        Raises:
            NotFoundError: the customer is in no family (or not visible to ``principal``).
            PermissionDeniedError: ``principal`` is neither the customer nor staff
                who change everything.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = claim_change(
                uow, now, idempotency_key, "family_leave", principal, customer_id=customer_id
            )
            if not fresh:
                return
            CustomerService.load_visible(uow, customer_id, principal)
            policy.require(
                principal.is_customer(customer_id) or principal.has(Permission.CHANGE_ALL),
                f"{principal} may not take customer {customer_id} out of their family",
            )
            member = uow.families.member(customer_id)
            if member is None:
                raise NotFoundError("family", customer_id)
            unlink_member(tx, member, principal, now, action="left", entry_id=entry_id)
            tx.commit()

    def remove_member(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> None:
        """The family's owner unlinks the member ``customer_id``.

        A retry with the same ``idempotency_key`` does nothing more.

        Raises:
            NotFoundError: ``customer_id`` is in no family ``principal`` may read.
            PermissionDeniedError: a member who is not the owner.
            ValidationError: on ``customer_id`` for the owner (who leaves instead).
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = claim_change(
                uow, now, idempotency_key, "family_remove", principal, customer_id=customer_id
            )
            if not fresh:
                return
            member = uow.families.member(customer_id)
            family = None if member is None else uow.families.get_for_update(member.family_id)
            if member is None or family is None:
                raise NotFoundError("family member", customer_id)
            self._check_visible(uow, family, principal, "family member", customer_id)
            policy.require(
                policy.can_manage_family(principal, family.owner_id),
                f"{principal} may not remove members of family {family.id}",
            )
            if member.is_owner:
                msg = "the owner cannot be removed; they leave, which ends the family"
                raise ValidationError.single("customer_id", msg, "owner")
            unlink_member(tx, member, principal, now, action="removed", entry_id=entry_id)
            tx.commit()

    # ------------------------------------------------------------------ reads

    def family(self, customer_id: CustomerId, *, principal: Principal) -> FamilyView:
        """``customer_id``'s family: members by name and relation; the pending
        invitations too for its owner and staff who see everything.

        Raises:
            NotFoundError: the customer is in no family, or one ``principal`` is not in.
            PermissionDeniedError: staff who may not see every customer.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            family, members = self._readable(uow, customer_id, principal)
            names = uow.customers.get_many([m.customer_id for m in members])
            views = tuple(
                FamilyMemberView(
                    customer_id=m.customer_id,
                    name=names[m.customer_id].name if m.customer_id in names else None,
                    role=m.role,
                    relation=m.relation,
                    joined_at=m.joined_at,
                )
                for m in members
            )
            manages = principal.has(Permission.VIEW_ALL) or principal.is_customer(family.owner_id)
            pending = (
                tuple(i for i in uow.families.invitations(family.id) if i.is_open_at(now))
                if manages
                else ()
            )
            return FamilyView(family.id, family.owner_id, views, pending)

    def travelers(self, customer_id: CustomerId, *, principal: Principal) -> list[FamilyTraveler]:
        """The travelers ``customer_id`` may book as a member of their family: their
        own and every other member's saved travelers, by name (own ones first).

        Raises:
            NotFoundError: as :meth:`family`.
            PermissionDeniedError: as :meth:`family`.

        .. versionadded:: 0.4
        """
        with self._ctx.uow_factory() as uow:
            _, members = self._readable(uow, customer_id, principal)
            owners = sorted(members, key=lambda m: m.customer_id != customer_id)
            saved = uow.travelers.list_for_customers([m.customer_id for m in owners])
            return [
                FamilyTraveler(t.id, t.name, m.customer_id, is_own=m.customer_id == customer_id)
                for m in owners
                for t in saved.get(m.customer_id, ())
            ]

    def bookings(self, customer_id: CustomerId, *, principal: Principal) -> list[FamilyBooking]:
        """The upcoming bookings other members of ``customer_id``'s family made for
        ``customer_id``'s travelers, soonest first, without prices, payments or notes.

        Cancelled bookings are left out. Only ``customer_id`` themself and staff who
        see everything ask: another member would read bookings that are neither
        theirs nor made for their travelers.

        Raises:
            NotFoundError: as :meth:`family`.
            PermissionDeniedError: as :meth:`family`; another member of the family.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            _, members = self._readable(uow, customer_id, principal)
            policy.require(
                principal.is_customer(customer_id) or principal.has(Permission.VIEW_ALL),
                f"{principal} may not list the bookings made for customer {customer_id}",
            )
            mine = {
                t.id: t for t in uow.travelers.list_for_customer(customer_id, include_deleted=True)
            }
            found: list[FamilyBooking] = []
            for member in members:
                if member.customer_id == customer_id:
                    continue
                query = BookingFilter(customer_id=member.customer_id, starts_from=now)
                for booking in every_item(partial(uow.bookings.list, query)):
                    ours = [t.traveler_id for t in booking.travelers if t.traveler_id in mine]
                    cancelled = self._ctx.settings.lifecycle(booking.lifecycle).cancelled
                    if not ours or booking.status == cancelled:
                        continue
                    found.append(
                        FamilyBooking(
                            booking_id=booking.id,
                            reference=booking.reference,
                            slot_id=booking.slot_id,
                            starts_at=booking.starts_at,
                            status=booking.status,
                            booked_by=booking.customer_id,
                            travelers=tuple(_as_family(mine[t], customer_id) for t in ours),
                        )
                    )
            found.sort(key=lambda b: (b.starts_at, b.reference))
            return found

    # ------------------------------------------------------------------ helpers

    def _owned_family(
        self, tx: Transaction, owner_id: CustomerId, principal: Principal, now: datetime
    ) -> Family:
        """The family ``owner_id`` owns, locked; a new one when they are in none."""
        uow = tx.uow
        member = uow.families.member(owner_id)
        if member is not None:
            family = uow.families.get_for_update(member.family_id)
            if family is None:
                raise NotFoundError("family", member.family_id)
            if not member.is_owner:
                msg = "only the owner of the family invites new members"
                raise PermissionDeniedError(msg)
            return family
        family = Family(
            id=FamilyId(self._ctx.ids.new_id()),
            owner_id=owner_id,
            created_at=now,
            updated_at=now,
        )
        uow.families.add(family)
        uow.families.add_member(
            FamilyMember(
                id=FamilyMemberId(self._ctx.ids.new_id()),
                family_id=family.id,
                customer_id=owner_id,
                role=FamilyRole.OWNER,
                joined_at=now,
            )
        )
        tx.audit(
            principal,
            entity="family",
            entity_id=family.id,
            action=AuditAction.CREATED,
            new={"owner_id": str(owner_id)},
        )
        return family

    @staticmethod
    def _received(
        uow: UnitOfWork, invitation_id: FamilyInvitationId, principal: Principal
    ) -> FamilyInvitation:
        """The invitation, if it was sent to ``principal`` (nobody answers for another)."""
        invitation = uow.families.get_invitation(invitation_id)
        if invitation is None or not principal.is_customer(invitation.customer_id):
            raise NotFoundError("family invitation", invitation_id)
        return invitation

    def _close(
        self, invitation_id: FamilyInvitationId, principal: Principal, status: InvitationStatus
    ) -> FamilyInvitation:
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if status is InvitationStatus.DECLINED:
                invitation = self._received(uow, invitation_id, principal)
            else:
                found = uow.families.get_invitation(invitation_id)
                family = None if found is None else uow.families.get(found.family_id)
                if found is None or family is None:
                    raise NotFoundError("family invitation", invitation_id)
                self._check_visible(uow, family, principal, "family invitation", invitation_id)
                policy.require(
                    policy.can_manage_family(principal, family.owner_id),
                    f"{principal} may not withdraw invitations of family {family.id}",
                )
                invitation = found
            if invitation.status is status:
                return invitation
            if status is InvitationStatus.DECLINED:
                invitation.decline(now=now)
            else:
                invitation.cancel(now=now)
            self._answered(tx, invitation, principal, None)
            self._emit(tx, invitation.family_id, invitation.customer_id, status.value, principal)
            tx.commit()
            return invitation

    @staticmethod
    def _answered(
        tx: Transaction,
        invitation: FamilyInvitation,
        principal: Principal,
        entry_id: UUID | None,
    ) -> None:
        tx.audit(
            principal,
            entity="family invitation",
            entity_id=invitation.id,
            action=AuditAction.STATUS_CHANGED,
            old={"status": InvitationStatus.PENDING.value},
            new={"status": invitation.status.value},
            entry_id=entry_id,
        )

    @staticmethod
    def _check_visible(
        uow: UnitOfWork, family: Family, principal: Principal, entity: str, key: object
    ) -> None:
        """Refuse ``principal`` any knowledge of a family they are not in: "not found"
        for a customer, a refusal for staff who may not see everything."""
        if principal.has(Permission.VIEW_ALL):
            return
        members = [m.customer_id for m in uow.families.members(family.id)]
        if principal.kind is PrincipalKind.CUSTOMER and principal.id not in members:
            raise NotFoundError(entity, key)
        policy.require(
            policy.can_view_family(principal, members), f"{principal} may not read families"
        )

    def _readable(
        self, uow: UnitOfWork, customer_id: CustomerId, principal: Principal
    ) -> tuple[Family, Sequence[FamilyMember]]:
        member = uow.families.member(customer_id)
        family = None if member is None else uow.families.get(member.family_id)
        if member is None or family is None:
            if principal.kind is PrincipalKind.CUSTOMER or principal.has(Permission.VIEW_ALL):
                raise NotFoundError("family", customer_id)
            raise PermissionDeniedError(f"{principal} may not read families")
        self._check_visible(uow, family, principal, "family", customer_id)
        return family, uow.families.members(family.id)

    def _emit(
        self,
        tx: Transaction,
        family_id: FamilyId,
        customer_id: CustomerId,
        action: str,
        principal: Principal,
        *,
        invitation_id: FamilyInvitationId | None = None,
    ) -> None:
        emit_family_change(
            tx,
            family_id,
            customer_id,
            action,
            principal=principal,
            now=self._ctx.now(),
            invitation_id=invitation_id,
        )


def _as_family(traveler: Traveler, customer_id: CustomerId) -> FamilyTraveler:
    return FamilyTraveler(traveler.id, traveler.name, customer_id, is_own=True)
