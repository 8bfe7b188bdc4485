"""Staff use cases: register the business's people and their territories.

Only principals with ``manage_staff`` (admins) add and change staff.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, parse_choice, require_text
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.catalog import normalise_code
from bookingcore.domain.policy import Permission, Principal, StaffRole
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import EmailAddress, LocationId, StaffId
from bookingcore.errors import DuplicateError, NotFoundError
from bookingcore.services._context import ServiceContext

__all__ = ["StaffService"]

_FIELDS = ("email", "name", "role", "location_ids", "is_active")


class StaffService:
    """Add, find, list and deactivate staff members (advisors and their territories).

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def add(
        self,
        email: str,
        name: str,
        *,
        principal: Principal,
        role: StaffRole | str = StaffRole.ADVISOR,
        locations: Iterable[str | LocationId] = (),
    ) -> StaffMember:
        """Add a staff member; ``locations`` (codes or ids) is an advisor's territory.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_staff``.
            ValidationError: bad email, name or role, or an unknown location (on
                ``locations[i]``).
            DuplicateError: the email belongs to someone already.
        """
        policy.require(principal.has(Permission.MANAGE_STAFF), f"{principal} may not manage staff")
        p = Problems()
        clean_email = p.capture(lambda: EmailAddress.parse(email, field="email"))
        clean_name = p.capture(lambda: require_text(name, "name", min_length=2))
        clean_role = p.capture(lambda: parse_choice(StaffRole, role, "role", what="a staff role"))
        p.raise_if_any()
        assert clean_email is not None
        assert clean_name is not None
        assert clean_role is not None
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if uow.staff.get_by_email(clean_email) is not None:
                msg = f"a staff member with email {clean_email} exists already"
                raise DuplicateError(msg, entity="staff member")
            territory: set[LocationId] = set()
            problems = Problems()
            for index, wanted in enumerate(locations):
                found = (
                    uow.locations.get(wanted)
                    if not isinstance(wanted, str)
                    else uow.locations.get_by_code(normalise_code(wanted, f"locations[{index}]"))
                )
                if found is None:
                    problems.add(f"locations[{index}]", f"no location {wanted}", "unknown_location")
                else:
                    territory.add(found.id)
            problems.raise_if_any()
            member = StaffMember(
                id=StaffId(self._ctx.ids.new_id()),
                email=clean_email,
                name=clean_name,
                role=clean_role,
                created_at=now,
                updated_at=now,
                location_ids=territory,
            )
            uow.staff.add(member)
            tx.audit(
                principal,
                entity="staff",
                entity_id=member.id,
                action=AuditAction.CREATED,
                new=snapshot(member, _FIELDS),
            )
            tx.commit()
            return member

    def get(self, staff_id: StaffId, *, principal: Principal) -> StaffMember:
        """The staff member (staff may read themselves; ``manage_staff`` reads all).

        Raises:
            NotFoundError: no such staff member, or not visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            member = uow.staff.get(staff_id)
            if member is None or not (
                principal.has(Permission.MANAGE_STAFF) or principal.id == staff_id
            ):
                raise NotFoundError("staff member", staff_id)
            return member

    def list(
        self, *, principal: Principal, role: StaffRole | str | None = None, only_active: bool = True
    ) -> Sequence[StaffMember]:
        """Staff ordered by email, optionally one role only.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_staff``.
            ValidationError: an unknown role.
        """
        policy.require(principal.has(Permission.MANAGE_STAFF), f"{principal} may not manage staff")
        wanted = None if role is None else parse_choice(StaffRole, role, "role").value
        with self._ctx.uow_factory() as uow:
            return uow.staff.list(role=wanted, only_active=only_active)

    def set_active(self, staff_id: StaffId, active: bool, *, principal: Principal) -> StaffMember:
        """Activate or deactivate a staff member (inactive advisors get no new bookings).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_staff``.
            NotFoundError: no such staff member.
        """
        policy.require(principal.has(Permission.MANAGE_STAFF), f"{principal} may not manage staff")
        with self._ctx.transaction() as tx:
            member = tx.uow.staff.get(staff_id)
            if member is None:
                raise NotFoundError("staff member", staff_id)
            if member.is_active != active:
                member.is_active = active
                member.updated_at = self._ctx.now()
                member.version += 1
                tx.audit(
                    principal,
                    entity="staff",
                    entity_id=member.id,
                    action=AuditAction.ACTIVATED if active else AuditAction.DEACTIVATED,
                    old={"is_active": not active},
                    new={"is_active": active},
                )
                tx.commit()
            return member
