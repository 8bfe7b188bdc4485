"""Partner use cases: register third-party channels and decide where they may book.

Only staff with ``manage_partners`` register and change partners; a partner may
read its own record.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, require_text
from bookingcore.domain.audit import AuditAction, AuditEntry, diff, snapshot
from bookingcore.domain.partners import Partner
from bookingcore.domain.policy import Permission, Principal
from bookingcore.domain.values import EmailAddress, LocationId, PartnerId, PhoneNumber
from bookingcore.errors import DuplicateError, NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext

__all__ = ["PartnerService"]


def _commission(value: Decimal | int | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        rate = (
            Decimal(value)
            if isinstance(value, str | int) and not isinstance(value, bool)
            else value
        )
    except InvalidOperation:
        rate = None
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
        msg = "must be a percentage between 0 and 100"
        raise ValidationError.single("commission_rate", msg, "out_of_range")
    return rate.quantize(Decimal("0.01"))


def _webhook_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        msg = f"{value!r} is not an http(s) URL"
        raise ValidationError.single("webhook_url", msg, "invalid_url")
    return value.strip()


class PartnerService:
    """Register partners, set their allowed locations, activate and deactivate them.

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def register(
        self,
        *,
        name: str,
        company_name: str,
        contact_email: str,
        principal: Principal,
        contact_phone: str | None = None,
        allowed_location_ids: Iterable[LocationId] = (),
        commission_rate: Decimal | int | str | None = None,
        webhook_url: str | None = None,
    ) -> Partner:
        """Register a partner with a fresh API key.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            ValidationError: bad name, email, phone, commission (0-100), webhook URL,
                or an unknown location in ``allowed_location_ids``.
            DuplicateError: another partner has this contact email.
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not register partners"
        )
        region = self._ctx.settings.default_region
        p = Problems()
        clean_name = p.capture(lambda: require_text(name, "name", max_length=100))
        clean_company = p.capture(
            lambda: require_text(company_name, "company_name", max_length=200)
        )
        email = p.capture(lambda: EmailAddress.parse(contact_email, field="contact_email"))
        phone = p.capture(
            lambda: (
                None
                if not contact_phone
                else PhoneNumber.parse(contact_phone, region=region, field="contact_phone")
            )
        )
        rate = p.capture(lambda: _commission(commission_rate))
        url = p.capture(lambda: _webhook_url(webhook_url))
        locations = frozenset(allowed_location_ids)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            self._check_locations(uow, locations, p)
            p.raise_if_any()
            assert clean_name
            assert clean_company
            assert email
            for other in uow.partners.list():
                if other.contact_email == email:
                    msg = f"a partner with contact email {email} exists"
                    raise DuplicateError(msg, entity="partner", existing_id=other.id)
            now = self._ctx.now()
            partner = Partner(
                id=PartnerId(self._ctx.ids.new_id()),
                name=clean_name,
                company_name=clean_company,
                contact_email=email,
                contact_phone=phone,
                api_key=self._ctx.ids.new_token("pk_"),
                commission_rate=rate,
                webhook_url=url,
                allowed_location_ids=locations,
                created_at=now,
                updated_at=now,
            )
            uow.partners.add(partner)
            tx.audit(
                principal,
                entity="partner",
                entity_id=partner.id,
                action=AuditAction.CREATED,
                new=snapshot(partner, _AUDITED),
            )
            tx.commit()
            return partner

    def get(self, partner_id: PartnerId, *, principal: Principal) -> Partner:
        """A partner record: staff with ``manage_partners`` see all, a partner itself.

        Raises:
            NotFoundError: no such partner visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            partner = uow.partners.get(partner_id)
        visible = principal.has(Permission.MANAGE_PARTNERS) or principal.is_partner(partner_id)
        if partner is None or not visible:
            raise NotFoundError("partner", partner_id)
        return partner

    def list(self, *, principal: Principal, only_active: bool = False) -> Sequence[Partner]:
        """Every partner, by name.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not list partners"
        )
        with self._ctx.uow_factory() as uow:
            return uow.partners.list(only_active=only_active)

    def set_allowed_locations(
        self,
        partner_id: PartnerId,
        location_ids: Iterable[LocationId],
        *,
        principal: Principal,
    ) -> Partner:
        """Replace the set of locations the partner may book.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
            ValidationError: an unknown location id.
        """
        return self._change(partner_id, principal, locations=frozenset(location_ids))

    def set_active(self, partner_id: PartnerId, active: bool, *, principal: Principal) -> Partner:
        """Switch a partner on or off; an inactive partner cannot book or list slots.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
            NotFoundError: no such partner.
        """
        return self._change(partner_id, principal, active=active)

    def _change(
        self,
        partner_id: PartnerId,
        principal: Principal,
        *,
        locations: frozenset[LocationId] | None = None,
        active: bool | None = None,
    ) -> Partner:
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not change partners"
        )
        with self._ctx.transaction() as tx:
            uow = tx.uow
            partner = uow.partners.get(partner_id)
            if partner is None:
                raise NotFoundError("partner", partner_id)
            before = snapshot(partner, _AUDITED)
            if locations is not None:
                p = Problems()
                self._check_locations(uow, locations, p)
                p.raise_if_any()
                partner.allowed_location_ids = locations
            if active is not None:
                partner.is_active = active
            old, new = diff(before, snapshot(partner, _AUDITED))
            if not new:
                return partner
            partner.updated_at = self._ctx.now()
            partner.version += 1
            action = AuditAction.UPDATED
            if set(new) == {"is_active"}:
                action = AuditAction.ACTIVATED if partner.is_active else AuditAction.DEACTIVATED
            tx.audit(
                principal,
                entity="partner",
                entity_id=partner.id,
                action=action,
                old=old,
                new=new,
            )
            tx.commit()
            return partner

    def history(self, partner_id: PartnerId, *, principal: Principal) -> Sequence[AuditEntry]:
        """The partner's audit trail, oldest first (seed 002's audit of partner records).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_partners``.
        """
        policy.require(
            principal.has(Permission.MANAGE_PARTNERS), f"{principal} may not read partner history"
        )
        with self._ctx.uow_factory() as uow:
            return uow.audit.list_for("partner", partner_id)

    @staticmethod
    def _check_locations(uow: UnitOfWork, locations: frozenset[LocationId], p: Problems) -> None:
        for location_id in sorted(locations, key=str):
            if uow.locations.get(location_id) is None:
                p.add("allowed_location_ids", f"no location {location_id}", "unknown_reference")


#: What a partner's audit entries record (never the secrets).
_AUDITED = (
    "name",
    "company_name",
    "contact_email",
    "contact_phone",
    "commission_rate",
    "webhook_url",
    "allowed_location_ids",
    "is_active",
)
