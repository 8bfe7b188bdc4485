"""Staff use cases: register the business's people, their territories and passwords.

Only principals with ``manage_staff`` (admins) add and change staff; a staff
member may change their own password by giving the current one. Passwords are
hashed by the :class:`~bookingcore.ports.security.PasswordHasher` port; setting
one, or deactivating someone, ends every session they have signed in with.

.. versionadded:: 0.1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, parse_choice, require_text
from bookingcore.domain.audit import AuditAction, snapshot
from bookingcore.domain.auth import RevocationReason
from bookingcore.domain.catalog import normalise_code
from bookingcore.domain.policy import Permission, Principal, PrincipalKind, StaffRole
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import EmailAddress, LocationId, StaffId
from bookingcore.errors import (
    AuthenticationError,
    DuplicateError,
    NotFoundError,
    RateLimitedError,
)
from bookingcore.ports.security import PasswordHasher, RateLimiter
from bookingcore.services._context import ServiceContext
from bookingcore.services._sessions import revoke_sessions
from bookingcore.services.auth import (
    AuthNotConfiguredError,
    AuthSettings,
    RateLimit,
    check_password_policy,
    password_guess_bucket,
)

__all__ = ["StaffService"]

_FIELDS = ("email", "name", "role", "location_ids", "is_active")


class StaffService:
    """Add, find, list and deactivate staff members (advisors and their territories).

    ``password_hasher`` hashes the passwords :meth:`set_password` sets; without
    one, setting a password raises :class:`~bookingcore.AuthNotConfiguredError`.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        context: ServiceContext,
        *,
        password_hasher: PasswordHasher | None = None,
        rate_limiter: RateLimiter | None = None,
        auth_settings: AuthSettings | None = None,
    ) -> None:
        self._ctx = context
        self._hasher = password_hasher
        self._rate_limiter = rate_limiter
        settings = auth_settings if auth_settings is not None else AuthSettings()
        self._guesses: RateLimit = settings.sign_in_per_email

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
            DuplicateError: the email belongs to someone already, however it is
                capitalised (``ann@example.com`` next to ``Ann@Example.com``).
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
            existing = uow.staff.get_by_email(clean_email)
            if existing is not None:
                msg = f"a staff member with email {existing.email} exists already"
                raise DuplicateError(msg, entity="staff member", existing_id=existing.id)
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
            itself = principal.kind is PrincipalKind.STAFF and principal.id == staff_id
            if member is None or not (principal.has(Permission.MANAGE_STAFF) or itself):
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

        Deactivating ends every session the member is signed in with.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_staff``.
            NotFoundError: no such staff member.
        """
        policy.require(principal.has(Permission.MANAGE_STAFF), f"{principal} may not manage staff")
        with self._ctx.transaction() as tx:
            # Locked: a sign-in running now either ends first (and its session is
            # revoked below) or waits and sees the change.
            member = tx.uow.staff.get_for_update(staff_id)
            if member is None:
                raise NotFoundError("staff member", staff_id)
            if member.is_active != active:
                now = self._ctx.now()
                member.is_active = active
                member.updated_at = now
                member.version += 1
                tx.audit(
                    principal,
                    entity="staff",
                    entity_id=member.id,
                    action=AuditAction.ACTIVATED if active else AuditAction.DEACTIVATED,
                    old={"is_active": not active},
                    new={"is_active": active},
                )
                if not active:
                    revoke_sessions(
                        tx,
                        PrincipalKind.STAFF,
                        member.id,
                        RevocationReason.DEACTIVATED,
                        principal=principal,
                        now=now,
                    )
                tx.commit()
            return member

    def set_password(
        self,
        staff_id: StaffId,
        password: str,
        *,
        principal: Principal,
        current_password: str | None = None,
    ) -> StaffMember:
        """Set a staff member's sign-in password; every session they had ends.

        Admins (``manage_staff``) set anyone's password; a staff member sets
        their own by also giving ``current_password``. The password must be 12
        to 1024 characters and not only whitespace; only its hash is stored.

        Checking ``current_password`` is a guess at the member's password, so it
        is rate limited as staff sign-in is, in the same bucket: at most
        ``AuthSettings.sign_in_per_email`` attempts, sign-ins and password
        changes together, in its window; a change that succeeds clears the count.

        .. versionchanged:: 0.4
           Attempts with ``current_password`` are rate limited.

        Raises:
            ValidationError: on ``password`` (``too_short``, ``too_long``, ``blank``).
            PermissionDeniedError: ``principal`` is neither an admin nor the member.
            NotFoundError: no such staff member (or not visible to ``principal``).
            RateLimitedError: too many guesses at the member's password (the
                current one is not checked); ``retry_after`` says when to try again.
            AuthenticationError: ``current_password`` is missing or wrong.
            AuthNotConfiguredError: no ``password_hasher`` was wired, or (a member
                changing their own password) no ``rate_limiter``.
        """
        hasher = self._hasher
        if hasher is None:
            raise AuthNotConfiguredError("password_hasher", "setting a password")
        admin = principal.has(Permission.MANAGE_STAFF)
        itself = principal.kind is PrincipalKind.STAFF and principal.id == staff_id
        policy.require(admin or itself, f"{principal} may not set this staff member's password")
        check_password_policy(password)
        with self._ctx.uow_factory() as uow:
            before = uow.staff.get(staff_id)
        if before is None:
            raise NotFoundError("staff member", staff_id)
        bucket = None
        if not admin:
            bucket = self._count_guess(before)
            # Hashing is slow on purpose: never inside a unit of work.
            if not (
                isinstance(current_password, str)
                and before.password_hash is not None
                and hasher.verify(before.password_hash, current_password)
            ):
                msg = "the current password is missing or wrong"
                raise AuthenticationError(msg, field="current_password")
        new_hash = hasher.hash(password)
        with self._ctx.transaction() as tx:
            # Locked: a sign-in running now either ends first (and its session is
            # revoked below) or waits and sees the change.
            member = tx.uow.staff.get_for_update(staff_id)
            if member is None:
                raise NotFoundError("staff member", staff_id)
            now = self._ctx.now()
            had_password = member.password_hash is not None
            member.password_hash = new_hash
            member.updated_at = now
            member.version += 1
            tx.audit(
                principal,
                entity="staff",
                entity_id=member.id,
                action=AuditAction.CREDENTIALS_ROTATED,
                old={"has_password": had_password},
                new={"has_password": True},
                reason="password changed" if had_password else "password set",
            )
            revoke_sessions(
                tx,
                PrincipalKind.STAFF,
                member.id,
                RevocationReason.CREDENTIALS_CHANGED,
                principal=principal,
                now=now,
            )
            tx.commit()
        if bucket is not None and self._rate_limiter is not None:
            self._rate_limiter.reset(bucket)
        return member

    def _count_guess(self, member: StaffMember) -> str:
        """Count an attempt at ``member``'s password; the bucket it went to.

        Raises:
            RateLimitedError: the member's password was guessed too often lately.
            AuthNotConfiguredError: no ``rate_limiter`` was wired.
        """
        limiter = self._rate_limiter
        if limiter is None:
            raise AuthNotConfiguredError("rate_limiter", "changing one's own password")
        bucket = password_guess_bucket(member.email)
        limit = self._guesses
        decision = limiter.hit(bucket, limit=limit.limit, window=limit.window, now=self._ctx.now())
        if not decision.allowed:
            wait = float(max(math.ceil(decision.retry_after.total_seconds()), 1))
            msg = f"too many attempts at this password; try again in {wait:.0f} seconds"
            raise RateLimitedError(msg, retry_after=wait)
        return bucket
