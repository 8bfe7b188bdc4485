"""Family accounts in SQL: families, their members and invitations (revision 0045)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Index, Integer, String, Table, Uuid, or_

from bookingcore.domain.families import (
    Family,
    FamilyId,
    FamilyInvitation,
    FamilyInvitationId,
    FamilyMember,
    FamilyRole,
    InvitationStatus,
)
from bookingcore.domain.values import CustomerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import ENUM, metadata, ref, when

__all__ = [
    "FAMILIES",
    "FAMILY_INVITATIONS",
    "FAMILY_MEMBERS",
    "FamilyRepository",
    "families",
    "family_invitations",
    "family_members",
]

#: Family accounts (revision 0045): who owns each.
families = Table(
    "families",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("owner_id", "customers.id", nullable=False, index=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
)

#: One row per linked customer: a customer is in at most one family (revision 0045).
family_members = Table(
    "family_members",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("family_id", "families.id", nullable=False, index=True),
    ref("customer_id", "customers.id", nullable=False),
    Column("role", ENUM, nullable=False),
    Column("relation", String(40)),
    when("joined_at"),
    Index(None, "customer_id", unique=True),
)

#: Invitations to join a family, every status (revision 0045).
family_invitations = Table(
    "family_invitations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("family_id", "families.id", nullable=False, index=True),
    ref("invited_by", "customers.id", nullable=False, index=True),
    ref("customer_id", "customers.id", nullable=False, index=True),
    Column("relation", String(40), nullable=False),
    Column("status", ENUM, nullable=False),
    when("created_at"),
    when("expires_at"),
    when("updated_at"),
    when("answered_at", nullable=True),
    Column("version", Integer(), nullable=False),
)


def _dump(f: Family) -> Row:
    return {
        "id": f.id,
        "owner_id": f.owner_id,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
        "version": f.version,
    }


def _load(r: Stored, _: Sequence[Stored]) -> Family:
    return Family(
        id=r["id"],
        owner_id=r["owner_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _dump_member(m: FamilyMember) -> Row:
    return {
        "id": m.id,
        "family_id": m.family_id,
        "customer_id": m.customer_id,
        "role": m.role.value,
        "relation": m.relation,
        "joined_at": m.joined_at,
    }


def _load_member(r: Stored, _: Sequence[Stored]) -> FamilyMember:
    return FamilyMember(
        id=r["id"],
        family_id=r["family_id"],
        customer_id=r["customer_id"],
        role=FamilyRole(r["role"]),
        relation=r["relation"],
        joined_at=r["joined_at"],
    )


def _dump_invitation(i: FamilyInvitation) -> Row:
    return {
        "id": i.id,
        "family_id": i.family_id,
        "invited_by": i.invited_by,
        "customer_id": i.customer_id,
        "relation": i.relation,
        "status": i.status.value,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "updated_at": i.updated_at,
        "answered_at": i.answered_at,
        "version": i.version,
    }


def _load_invitation(r: Stored, _: Sequence[Stored]) -> FamilyInvitation:
    return FamilyInvitation(
        id=r["id"],
        family_id=r["family_id"],
        invited_by=r["invited_by"],
        customer_id=r["customer_id"],
        relation=r["relation"],
        status=InvitationStatus(r["status"]),
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        updated_at=r["updated_at"],
        answered_at=r["answered_at"],
        version=r["version"],
    )


FAMILIES = Mapper[Family]("family", families, _dump, _load, versioned=True)
FAMILY_MEMBERS = Mapper[FamilyMember]("family member", family_members, _dump_member, _load_member)
FAMILY_INVITATIONS = Mapper[FamilyInvitation](
    "family invitation",
    family_invitations,
    _dump_invitation,
    _load_invitation,
    versioned=True,
)


def _joined(member: FamilyMember) -> tuple[object, ...]:
    return (not member.is_owner, member.joined_at, member.id.bytes)


def _sent(invitation: FamilyInvitation) -> tuple[object, ...]:
    return (invitation.created_at, invitation.id.bytes)


class FamilyRepository(Repository[Family]):
    """:class:`~bookingcore.ports.FamilyRepository` in SQL."""

    def get(self, family_id: FamilyId) -> Family | None:
        return self._get(family_id)

    def get_for_update(self, family_id: FamilyId) -> Family | None:
        return self._lock(family_id)

    def delete(self, family_id: FamilyId) -> None:
        session = self._session
        session.delete_now(
            FAMILY_MEMBERS,
            [family_members.c.family_id == family_id],
            lambda m: m.family_id == family_id,
        )
        session.delete_now(
            FAMILY_INVITATIONS,
            [family_invitations.c.family_id == family_id],
            lambda i: i.family_id == family_id,
        )
        session.delete_now(FAMILIES, [families.c.id == family_id], lambda f: f.id == family_id)

    def add_member(self, member: FamilyMember) -> None:
        self._session.add(FAMILY_MEMBERS, member)

    def member(self, customer_id: CustomerId) -> FamilyMember | None:
        return self._session.find_unique(
            FAMILY_MEMBERS, "customer_id", customer_id, lambda m: m.customer_id
        )

    def members(self, family_id: FamilyId) -> Sequence[FamilyMember]:
        return self._session.select_equal(FAMILY_MEMBERS, {"family_id": family_id}, _joined)

    def remove_member(self, customer_id: CustomerId) -> bool:
        removed = self._session.delete_now(
            FAMILY_MEMBERS,
            [family_members.c.customer_id == customer_id],
            lambda m: m.customer_id == customer_id,
        )
        return removed > 0

    def add_invitation(self, invitation: FamilyInvitation) -> None:
        self._session.add(FAMILY_INVITATIONS, invitation)

    def get_invitation(self, invitation_id: FamilyInvitationId) -> FamilyInvitation | None:
        return self._session.get(FAMILY_INVITATIONS, invitation_id)

    def invitations(self, family_id: FamilyId) -> Sequence[FamilyInvitation]:
        return self._session.select_equal(FAMILY_INVITATIONS, {"family_id": family_id}, _sent)

    def invitations_involving(self, customer_id: CustomerId) -> Sequence[FamilyInvitation]:
        c = family_invitations.c
        return self._session.select(
            FAMILY_INVITATIONS,
            [or_(c.customer_id == customer_id, c.invited_by == customer_id)],
            lambda i: customer_id in (i.customer_id, i.invited_by),
            _sent,
            order_by=[c.created_at, c.id],
        )

    def delete_invitations(self, invitation_ids: Sequence[FamilyInvitationId]) -> None:
        wanted = set(invitation_ids)
        if not wanted:
            return
        self._session.delete_now(
            FAMILY_INVITATIONS,
            [family_invitations.c.id.in_(sorted(wanted, key=lambda i: i.bytes))],
            lambda i: i.id in wanted,
        )
