"""Reference data and slots: locations, suppliers, products, and what can be booked.

Staff with ``manage_catalog`` change reference data; everyone may read it,
except that a partner sees only the locations (and their slots) it may book.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import TypeVar, cast
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, clean_text, require_text
from bookingcore.domain.audit import AuditAction, diff, snapshot
from bookingcore.domain.bookings import Booking
from bookingcore.domain.cancellation import CancellationPolicy
from bookingcore.domain.catalog import (
    Location,
    Product,
    ProductFilter,
    ProductKind,
    Supplier,
    SupplierFilter,
    normalise_code,
)
from bookingcore.domain.communications import Communication
from bookingcore.domain.events import SlotCancelled, SlotRescheduled
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.queries import BookingFilter, Page, PageRequest, SlotFilter, every_item
from bookingcore.domain.requirements import ProductRequirements
from bookingcore.domain.schedules import SlotSchedule, SlotsCreated
from bookingcore.domain.slots import Slot, check_slot_times
from bookingcore.domain.values import (
    BookingId,
    CommunicationId,
    EmailAddress,
    LocationId,
    Money,
    PartnerId,
    PhoneNumber,
    ProductId,
    SlotId,
    SupplierId,
    WaitlistEntryId,
    ensure_aware,
)
from bookingcore.domain.waitlist import WaitlistEntry, WaitlistStatus
from bookingcore.errors import (
    DuplicateError,
    FieldError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    UNSET,
    ServiceContext,
    Transaction,
    Unset,
    claim_change,
    claim_creation,
    claim_request,
    fingerprint,
    principal_key,
)
from bookingcore.services._seat_offers import cancel_entries, offer_free_seats
from bookingcore.services._slot_closing import (
    MAX_SLOT_BOOKINGS,
    SLOT_ENTITY,
    SlotCancellation,
    cancellation_entry,
    log_cancellation_message,
    recorded_ids,
)
from bookingcore.services._slot_moving import SlotMoved, log_move_message, move_entry
from bookingcore.services._slot_offers import (
    audit_opened,
    check_capacity,
    check_offer,
    check_where,
    schedule_asked,
    scheduled_ids,
)
from bookingcore.services.bookings import BookingService
from bookingcore.services.customers import CustomerService

__all__ = ["MAX_SLOT_BOOKINGS", "CatalogService", "SlotCancellation", "SlotMoved"]

#: Reference data: what can be activated and deactivated.
_Reference = TypeVar("_Reference", Location, Supplier, Product)


class CatalogService:
    """Keep locations, suppliers, products and slots.

    ``bookings`` is the booking service :meth:`cancel_slot` cancels through
    (one of its own over ``context`` when not given).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``bookings``; closing, reopening and cancelling slots.
    """

    def __init__(self, context: ServiceContext, bookings: BookingService | None = None) -> None:
        self._ctx = context
        self._bookings = bookings or BookingService(context, CustomerService(context))

    def _require_manager(self, principal: Principal) -> None:
        policy.require(
            principal.has(Permission.MANAGE_CATALOG), f"{principal} may not change reference data"
        )

    # ------------------------------------------------------------------ locations

    def add_location(
        self,
        code: str,
        name: str,
        *,
        principal: Principal,
        kind: str = "location",
        address: str | None = None,
    ) -> Location:
        """Add a location (dealer, dive centre, base camp) with a unique code.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            ValidationError: bad code or name.
            DuplicateError: the code is taken.
        """
        self._require_manager(principal)
        p = Problems()
        clean_code = p.capture(lambda: normalise_code(code))
        clean_name = p.capture(lambda: require_text(name, "name"))
        clean_kind = p.capture(lambda: require_text(kind, "kind", max_length=50))
        clean_address = p.capture(lambda: clean_text(address, "address", max_length=500))
        p.raise_if_any()
        assert clean_code
        assert clean_name
        assert clean_kind
        with self._ctx.transaction() as tx:
            uow = tx.uow
            _refuse_taken_code(uow.locations.get_by_code(clean_code), "location", clean_code)
            location = Location(
                id=LocationId(self._ctx.ids.new_id()),
                code=clean_code,
                name=clean_name,
                kind=clean_kind,
                address=clean_address,
                created_at=self._ctx.now(),
            )
            uow.locations.add(location)
            _audit_created(tx, principal, "location", location, _LOCATION_FIELDS)
            tx.commit()
            return location

    def location(self, code_or_id: str | LocationId, *, principal: Principal) -> Location:
        """A location by code (case-insensitive) or id.

        Raises:
            NotFoundError: no such location (or a partner may not book there).
        """
        with self._ctx.uow_factory() as uow:
            location = self._find_location(uow, code_or_id)
            allowed = self._partner_locations(uow, principal)
            if location is None or (allowed is not None and location.id not in allowed):
                raise NotFoundError("location", code_or_id)
            return location

    def list_locations(
        self, *, principal: Principal, only_active: bool = False
    ) -> Sequence[Location]:
        """Locations by code; a partner sees only those it may book."""
        with self._ctx.uow_factory() as uow:
            locations = uow.locations.list(only_active=only_active)
            allowed = self._partner_locations(uow, principal)
        if allowed is None:
            return locations
        return [loc for loc in locations if loc.id in allowed]

    def set_location_active(
        self, code_or_id: str | LocationId, active: bool, *, principal: Principal
    ) -> Location:
        """Open or close a location for new bookings (existing ones stay).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such location.
        """
        return self._set_active(
            "location",
            code_or_id,
            load=lambda uow: self._find_location(uow, code_or_id),
            fields=_LOCATION_FIELDS,
            active=active,
            principal=principal,
        )

    # ------------------------------------------------------------------ suppliers, products

    def add_supplier(
        self,
        code: str,
        name: str,
        *,
        principal: Principal,
        email: str | None = None,
        phone: str | None = None,
    ) -> Supplier:
        """Add a supplier with a unique code.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            ValidationError: bad code, name, email or phone.
            DuplicateError: the code is taken.
        """
        self._require_manager(principal)
        region = self._ctx.settings.default_region
        p = Problems()
        clean_code = p.capture(lambda: normalise_code(code))
        clean_name = p.capture(lambda: require_text(name, "name"))
        clean_email = p.capture(lambda: EmailAddress.parse(email) if email else None)
        clean_phone = p.capture(lambda: PhoneNumber.parse(phone, region=region) if phone else None)
        p.raise_if_any()
        assert clean_code
        assert clean_name
        with self._ctx.transaction() as tx:
            uow = tx.uow
            _refuse_taken_code(uow.suppliers.get_by_code(clean_code), "supplier", clean_code)
            supplier = Supplier(
                id=SupplierId(self._ctx.ids.new_id()),
                code=clean_code,
                name=clean_name,
                email=clean_email,
                phone=clean_phone,
                created_at=self._ctx.now(),
            )
            uow.suppliers.add(supplier)
            _audit_created(tx, principal, "supplier", supplier, _SUPPLIER_FIELDS)
            tx.commit()
            return supplier

    def add_product(
        self,
        code: str,
        name: str,
        kind: ProductKind | str,
        *,
        principal: Principal,
        supplier_id: SupplierId | None = None,
        description: str | None = None,
        location_id: LocationId | None = None,
        cancellation_policy: CancellationPolicy | None = None,
        requirements: ProductRequirements | None = None,
    ) -> Product:
        """Add a product (trek, course, car variant, activity) with a unique code.

        ``location_id`` says where it is delivered (searchable with
        :meth:`search_products`). ``cancellation_policy`` gives the product its
        own cancellation terms (see :meth:`set_cancellation_policy`); None, the
        default: its bookings follow the settings. ``requirements`` say who may
        be booked on it (see :meth:`set_requirements`); None, the default: anyone.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            ValidationError: bad code, name or kind, or an unknown or inactive
                supplier, or an unknown location; on ``cancellation_policy`` for
                something that is no policy, or durations that are not whole seconds;
                on ``requirements`` for something that is no ``ProductRequirements``.
            DuplicateError: the code is taken.

        .. versionchanged:: 0.3
           ``location_id``.
        .. versionchanged:: 0.4
           ``cancellation_policy`` and ``requirements``.
        """
        self._require_manager(principal)
        p = Problems()
        terms = p.capture(lambda: _policy_data(cancellation_policy))
        rules = p.capture(lambda: _requirements_data(requirements))
        clean_code = p.capture(lambda: normalise_code(code))
        clean_name = p.capture(lambda: require_text(name, "name"))
        clean_description = p.capture(
            lambda: clean_text(description, "description", max_length=5000)
        )
        clean_kind: ProductKind | None = None
        try:
            clean_kind = ProductKind(str(kind).strip().lower())
        except ValueError:
            p.add("kind", f"{kind!r} is not one of {', '.join(ProductKind)}", "invalid_choice")
        with self._ctx.transaction() as tx:
            uow = tx.uow
            _check_supplier(uow, supplier_id, p)
            if location_id is not None and uow.locations.get(location_id) is None:
                p.add("location_id", f"no location {location_id}", "unknown_reference")
            p.raise_if_any()
            assert clean_code
            assert clean_name
            assert clean_kind
            _refuse_taken_code(uow.products.get_by_code(clean_code), "product", clean_code)
            product = Product(
                id=ProductId(self._ctx.ids.new_id()),
                code=clean_code,
                name=clean_name,
                kind=clean_kind,
                supplier_id=supplier_id,
                description=clean_description,
                created_at=self._ctx.now(),
                location_id=location_id,
                cancellation_policy=cancellation_policy,
                requirements=requirements,
            )
            uow.products.add(product)
            tx.audit(
                principal,
                entity="product",
                entity_id=product.id,
                action=AuditAction.CREATED,
                new={
                    **snapshot(product, _PRODUCT_FIELDS),
                    **({} if terms is None else {"cancellation_policy": terms}),
                    **({} if rules is None else {"requirements": rules}),
                },
            )
            tx.commit()
            return product

    def set_cancellation_policy(
        self,
        product_id: ProductId,
        cancellation_policy: CancellationPolicy | None,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Product:
        """Give a product its own cancellation terms, or (``None``) take them away.

        The bookings of the product's slots are then cancelled under
        ``cancellation_policy`` instead of the settings' (``Settings.cancellation``
        and ``Settings.cancellation_by_lifecycle``): "open-water course:
        non-refundable" is ``CancellationPolicy(refund_tiers=[RefundTier(timedelta(0),
        Decimal(0))])``. The terms in force when a booking is cancelled apply,
        to bookings made before the change too (as a change of the settings
        does). The change is audited on the product with the old and new
        policy (as :meth:`~bookingcore.CancellationPolicy.as_data`); setting the
        policy it has already changes and audits nothing.

        With an ``idempotency_key`` a retry of the same request answers the
        product and changes nothing; the key sent with another request is refused.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such product.
            ValidationError: on ``cancellation_policy`` for something that is no
                :class:`~bookingcore.CancellationPolicy` (or None), on
                ``cancellation_policy.<part>`` (code ``precision``) for a
                duration that is not whole seconds; on ``idempotency_key`` when
                malformed.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        return self._set_product_terms(
            product_id,
            "cancellation_policy",
            cancellation_policy,
            _policy_data,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def set_requirements(
        self,
        product_id: ProductId,
        requirements: ProductRequirements | None,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Product:
        """Say who may be booked on a product (age limits, certificates), or (``None``)
        let anyone be.

        From then on every way a traveler is put on one of the product's slots
        checks them at the slot's start (booking, changing a booking's
        travelers, rescheduling onto the slot, importing bookings): a traveler
        who falls short is refused with a ``ValidationError`` naming
        ``travelers[i].age`` or ``travelers[i].certificates`` (see
        :func:`bookingcore.domain.requirements.check`). Bookings made before the
        change are left as they are. The change is audited on the product with
        the old and new requirements (as
        :meth:`~bookingcore.ProductRequirements.as_data`); setting the
        requirements it has already changes and audits nothing.

        With an ``idempotency_key`` a retry of the same request answers the
        product and changes nothing; the key sent with another request is refused.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such product.
            ValidationError: on ``requirements`` for something that is no
                :class:`~bookingcore.ProductRequirements` (or None); on
                ``idempotency_key`` when malformed.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        return self._set_product_terms(
            product_id,
            "requirements",
            requirements,
            _requirements_data,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def _set_product_terms(
        self,
        product_id: ProductId,
        field: str,
        value: CancellationPolicy | ProductRequirements | None,
        as_data: Callable[[object], dict[str, object] | None],
        *,
        principal: Principal,
        idempotency_key: str | None,
    ) -> Product:
        """Set the product's ``field`` to ``value`` (checked and kept as ``as_data``
        gives it, its stored shape): keyed as ``product_<field>``, audited with the
        old and new data, nothing changed or audited when the product has it already."""
        self._require_manager(principal)
        data = as_data(value)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            entry_id, fresh = claim_change(
                tx.uow,
                now,
                idempotency_key,
                f"product_{field}",
                principal,
                product_id=product_id,
                **{field: data},
            )
            product = tx.uow.products.get(product_id)
            if product is None:
                raise NotFoundError("product", product_id)
            before = getattr(product, field)
            if fresh and before != value:
                setattr(product, field, value)
                tx.audit(
                    principal,
                    entity="product",
                    entity_id=product.id,
                    action=AuditAction.UPDATED,
                    old={field: None if before is None else before.as_data()},
                    new={field: data},
                    entry_id=entry_id,
                )
            tx.commit()  # a key claimed for a change that changed nothing is kept too
            return product

    def list_products(
        self, page: PageRequest | None = None, *, principal: Principal, only_active: bool = False
    ) -> Page[Product]:
        """Products, newest first, a page at a time (pass the page's ``next_cursor``
        for older ones); reference data is public to every principal.

        Raises:
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every product by code).
        """
        return self.search_products(page, principal=principal, only_active=only_active)

    def list_suppliers(
        self, page: PageRequest | None = None, *, principal: Principal, only_active: bool = False
    ) -> Page[Supplier]:
        """Suppliers, newest first, a page at a time.

        Raises:
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every supplier by code).
        """
        return self.search_suppliers(page, principal=principal, only_active=only_active)

    # ------------------------------------------------------------------ updates and search

    def update_supplier(
        self,
        supplier_id: SupplierId,
        *,
        principal: Principal,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
    ) -> Supplier:
        """Change a supplier's name, email or phone (``None`` leaves a field as it is).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such supplier.
            ValidationError: a blank name, a bad email or phone.

        .. versionadded:: 0.3
        """
        self._require_manager(principal)
        region = self._ctx.settings.default_region
        p = Problems()
        clean_name = p.capture(lambda: None if name is None else require_text(name, "name"))
        clean_email = p.capture(lambda: EmailAddress.parse(email) if email else None)
        clean_phone = p.capture(lambda: PhoneNumber.parse(phone, region=region) if phone else None)
        p.raise_if_any()
        with self._ctx.transaction() as tx:
            supplier = tx.uow.suppliers.get(supplier_id)
            if supplier is None:
                raise NotFoundError("supplier", supplier_id)
            _audit_changed(
                tx,
                principal,
                "supplier",
                supplier,
                _SUPPLIER_FIELDS,
                name=clean_name or supplier.name,
                email=clean_email or supplier.email,
                phone=clean_phone or supplier.phone,
            )
            tx.commit()
            return supplier

    def set_supplier_active(
        self, supplier_id: SupplierId, active: bool, *, principal: Principal
    ) -> Supplier:
        """Deactivate a supplier (it can no longer be quoted or booked) or activate it again.

        Existing bookings and their items stay as they are.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such supplier.

        .. versionadded:: 0.3
        """
        return self._set_active(
            "supplier",
            supplier_id,
            load=lambda uow: uow.suppliers.get(supplier_id),
            fields=_SUPPLIER_FIELDS,
            active=active,
            principal=principal,
        )

    def update_product(
        self,
        product_id: ProductId,
        *,
        principal: Principal,
        name: str | None = None,
        description: str | None = None,
        kind: ProductKind | str | None = None,
        supplier_id: SupplierId | None = None,
        location_id: LocationId | None = None,
    ) -> Product:
        """Change a product's name, description, kind, supplier or location
        (``None`` leaves a field as it is).

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such product.
            ValidationError: a blank name, an unknown kind, an unknown or
                inactive supplier, an unknown location.

        .. versionadded:: 0.3
        """
        self._require_manager(principal)
        p = Problems()
        clean_name = p.capture(lambda: None if name is None else require_text(name, "name"))
        clean_description = p.capture(
            lambda: clean_text(description, "description", max_length=5000)
        )
        clean_kind: ProductKind | None = None
        if kind is not None:
            try:
                clean_kind = ProductKind(str(kind).strip().lower())
            except ValueError:
                p.add("kind", f"{kind!r} is not one of {', '.join(ProductKind)}", "invalid_choice")
        with self._ctx.transaction() as tx:
            uow = tx.uow
            product = uow.products.get(product_id)
            if product is None:
                raise NotFoundError("product", product_id)
            _check_supplier(uow, supplier_id, p)
            if location_id is not None and uow.locations.get(location_id) is None:
                p.add("location_id", f"no location {location_id}", "unknown_reference")
            p.raise_if_any()
            _audit_changed(
                tx,
                principal,
                "product",
                product,
                _PRODUCT_FIELDS,
                name=clean_name or product.name,
                description=clean_description or product.description,
                kind=clean_kind or product.kind,
                supplier_id=supplier_id or product.supplier_id,
                location_id=location_id or product.location_id,
            )
            tx.commit()
            return product

    def set_product_active(
        self, product_id: ProductId, active: bool, *, principal: Principal
    ) -> Product:
        """Deactivate a product (it can no longer be quoted or booked) or activate it again.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such product.

        .. versionadded:: 0.3
        """
        return self._set_active(
            "product",
            product_id,
            load=lambda uow: uow.products.get(product_id),
            fields=_PRODUCT_FIELDS,
            active=active,
            principal=principal,
        )

    def _set_active(
        self,
        entity: str,
        key: object,
        *,
        load: Callable[[UnitOfWork], _Reference | None],
        fields: tuple[str, ...],
        active: bool,
        principal: Principal,
    ) -> _Reference:
        """Activate or deactivate the ``entity`` that ``load`` finds (``key`` names it
        when there is none), audited as ``_audit_changed`` audits it."""
        self._require_manager(principal)
        with self._ctx.transaction() as tx:
            record = load(tx.uow)
            if record is None:
                raise NotFoundError(entity, key)
            _audit_changed(tx, principal, entity, record, fields, is_active=bool(active))
            tx.commit()
            return record

    def search_products(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        kind: ProductKind | str | None = None,
        location_id: LocationId | None = None,
        supplier_id: SupplierId | None = None,
        text: str | None = None,
        only_active: bool = True,
    ) -> Page[Product]:
        """Products of ``kind`` at ``location_id`` from ``supplier_id`` whose code, name or
        description holds ``text`` (case-insensitive), newest first, a page at a time;
        active ones only by default.

        A product whose supplier is deactivated counts as inactive.

        Raises:
            ValidationError: on ``kind`` for an unknown kind; on ``text`` for a text
                over 200 characters; on ``limit`` or ``cursor`` for a bad page.

        .. versionadded:: 0.3
        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every match by code).
        """
        del principal  # the catalogue is public to every principal
        wanted_kind = None
        if kind is not None:
            try:
                wanted_kind = ProductKind(str(kind).strip().lower())
            except ValueError:
                msg = f"{kind!r} is not one of {', '.join(ProductKind)}"
                raise ValidationError.single("kind", msg, "invalid_choice") from None
        query = ProductFilter(
            kind=wanted_kind,
            location_id=location_id,
            supplier_id=supplier_id,
            text=clean_text(text, "text", max_length=200),
            only_active=only_active,
        )
        with self._ctx.uow_factory() as uow:
            return uow.products.list(query, page or PageRequest())

    def search_suppliers(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        text: str | None = None,
        only_active: bool = True,
    ) -> Page[Supplier]:
        """Suppliers whose code, name or email holds ``text`` (case-insensitive), newest
        first, a page at a time; active ones only by default.

        Raises:
            ValidationError: on ``text`` for a text over 200 characters; on ``limit``
                or ``cursor`` for a bad page.

        .. versionadded:: 0.3
        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every match by code).
        """
        del principal
        query = SupplierFilter(
            text=clean_text(text, "text", max_length=200), only_active=only_active
        )
        with self._ctx.uow_factory() as uow:
            return uow.suppliers.list(query, page or PageRequest())

    # ------------------------------------------------------------------ slots

    def create_slot(
        self,
        *,
        location_id: LocationId,
        starts_at: datetime,
        price_per_traveler: Money,
        principal: Principal,
        capacity: int | None = None,
        product_id: ProductId | None = None,
        ends_at: datetime | None = None,
        name: str | None = None,
        group_discounts: Iterable[DiscountTier] = (),
        idempotency_key: str | None = None,
    ) -> Slot:
        """Open a slot: a trek batch, course session, dive trip or appointment.

        ``capacity=None`` means unlimited. ``group_discounts`` are tiers such as
        ``DiscountTier(5, Decimal(10))``: 10 % off from five travelers. The slot's
        opening is audited (entity ``"slot"``, action ``created``).

        A retry with the same ``idempotency_key`` and the same request returns the
        slot the first call opened, as it is now, and writes nothing more (even if
        its location has closed since). Slots at one place and time are not
        unique: without a key, a second call opens a second slot.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            ValidationError: zero or negative capacity, naive or inverted times,
                a negative price, repeated tier thresholds, or an unknown or
                inactive location or product; a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                slot or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``, and the audit entry.
        """
        self._require_manager(principal)
        key = principal_key(principal, idempotency_key)
        p = Problems()
        start = p.capture(lambda: ensure_aware(starts_at, "starts_at"))
        end = p.capture(lambda: None if ends_at is None else ensure_aware(ends_at, "ends_at"))
        if start is not None:
            p.capture(partial(check_slot_times, start, end))
        offer = check_offer(p, capacity, price_per_traveler, group_discounts, name)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            slot_id: SlotId | None = None
            if key is not None and not p:
                asked = fingerprint(
                    "slot",
                    principal,
                    location_id=location_id,
                    product_id=product_id,
                    starts_at=start,
                    ends_at=end,
                    **offer.asked(),
                )
                slot_id, prior = claim_creation(
                    uow, key, "slot", now, asked, as_id=SlotId, load=uow.slots.get
                )
                if prior is not None:
                    return prior  # recognised before the location is checked (closed since?)
            check_where(uow, location_id, uow.locations.get(location_id), product_id, p)
            p.raise_if_any()
            assert start is not None
            slot = offer.slot(
                slot_id or SlotId(self._ctx.ids.new_id()),
                location_id=location_id,
                product_id=product_id,
                starts_at=start,
                ends_at=end,
                now=now,
            )
            uow.slots.add(slot)
            audit_opened(tx, principal, slot)
            tx.commit()
            return slot

    def create_slots(
        self,
        schedule: SlotSchedule,
        *,
        location_id: LocationId,
        price_per_traveler: Money,
        principal: Principal,
        capacity: int | None = None,
        product_id: ProductId | None = None,
        name: str | None = None,
        group_discounts: Iterable[DiscountTier] = (),
        idempotency_key: str | None = None,
    ) -> SlotsCreated:
        """Open the slots of a recurring ``schedule`` at ``location_id``, all alike.

        The schedule's local start times are placed on the business's clock
        (``Settings.timezone``; see :class:`~bookingcore.SlotSchedule` for daylight
        saving time). A start where a slot of the same location and product
        already starts is skipped (``SlotsCreated.skipped``), so running a
        schedule twice, or two schedules that overlap, never opens a slot twice,
        even when they run at the same moment: the call takes the location's lock
        (``locations.get_for_update``) before it looks. One transaction: every
        slot is opened, or none. Each slot's opening is audited as
        :meth:`create_slot` audits it, with the reason ``"schedule"``.

        A retry with the same ``idempotency_key`` and the same request answers the
        slots the first call opened (as they are now) and what it skipped, and
        writes nothing more.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            ValidationError: on ``schedule`` when it is no ``SlotSchedule``; on
                ``capacity``, ``price_per_traveler``, ``group_discounts``,
                ``name``, ``location_id`` or ``product_id`` as :meth:`create_slot`
                refuses them; a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.4
        """
        self._require_manager(principal)
        key = principal_key(principal, idempotency_key)
        p = Problems()
        starts: tuple[datetime, ...] = ()
        if not isinstance(cast(object, schedule), SlotSchedule):
            p.add("schedule", "must be a SlotSchedule", "invalid_type")
        else:
            starts = schedule.occurrences(self._ctx.settings.zone)
            for start in starts[:1] + starts[-1:]:
                p.capture(partial(check_slot_times, start, schedule.ends_at(start)))
        offer = check_offer(p, capacity, price_per_traveler, group_discounts, name)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            ids: dict[datetime, SlotId] = {}
            if key is not None and not p:
                asked = fingerprint(
                    "slot_schedule",
                    principal,
                    schedule=schedule_asked(schedule),
                    location_id=location_id,
                    product_id=product_id,
                    **offer.asked(),
                )
                made, fresh = claim_request(uow, key, "slot_schedule", now, asked)
                ids = scheduled_ids(made, starts)
                if not fresh:
                    return self._scheduled(uow, location_id, product_id, ids)
            # One schedule at a time per location: the slots already there are read
            # under its lock, and the ones opened here are committed before it is let go.
            location = uow.locations.get_for_update(location_id)
            check_where(uow, location_id, location, product_id, p)
            p.raise_if_any()
            taken = {
                s.starts_at
                for s in uow.slots.find_exact({(location_id, product_id, t) for t in starts})
            }
            made_slots: list[Slot] = []
            for start in starts:
                if start in taken:
                    continue
                slot_id = ids.get(start) or SlotId(self._ctx.ids.new_id())
                end = schedule.ends_at(start)
                slot = offer.slot(
                    slot_id,
                    location_id=location_id,
                    product_id=product_id,
                    starts_at=start,
                    ends_at=end,
                    now=now,
                )
                uow.slots.add(slot)
                audit_opened(tx, principal, slot, reason="schedule")
                made_slots.append(slot)
            tx.commit()
            skipped = tuple(t for t in starts if t in taken)
            return SlotsCreated(tuple(made_slots), skipped)

    @staticmethod
    def _scheduled(
        uow: UnitOfWork,
        location_id: LocationId,
        product_id: ProductId | None,
        ids: Mapping[datetime, SlotId],
    ) -> SlotsCreated:
        """What a keyed schedule's first call did, found again by its slots' ids (one read)."""
        mine = set(ids.values())
        found = uow.slots.find_exact({(location_id, product_id, t) for t in ids})
        made = tuple(s for s in found if s.id in mine)
        opened = {s.starts_at for s in made}
        return SlotsCreated(made, tuple(sorted(t for t in ids if t not in opened)))

    def get_slot(self, slot_id: SlotId, *, principal: Principal) -> Slot:
        """A slot with its ``seats_left``.

        Raises:
            NotFoundError: no such slot (or a partner may not book at its location).
        """
        with self._ctx.uow_factory() as uow:
            slot = uow.slots.get(slot_id)
            allowed = self._partner_locations(uow, principal)
        if slot is None or (allowed is not None and slot.location_id not in allowed):
            raise NotFoundError("slot", slot_id)
        return slot

    def list_slots(
        self,
        query: SlotFilter | None = None,
        page: PageRequest | None = None,
        *,
        principal: Principal,
    ) -> Page[Slot]:
        """Slots matching ``query``, earliest start first, a page at a time (pass the
        page's ``next_cursor`` for later ones); partners see their locations only
        (their availability, open slots only whatever ``only_active`` says).

        Raises:
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.4
           A partner never lists closed slots.
        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page` (was every matching slot).
        """
        query = query or SlotFilter()
        with self._ctx.uow_factory() as uow:
            allowed = self._partner_locations(uow, principal)
            if allowed is not None:
                wanted = allowed if query.location_ids is None else allowed & query.location_ids
                # A partner's listing is its availability: closed slots are not offered.
                query = attrs.evolve(query, location_ids=wanted, only_active=True)
            return uow.slots.list(query, page or PageRequest())

    def change_capacity(
        self, slot_id: SlotId, capacity: int | None, *, principal: Principal
    ) -> Slot:
        """Grow or shrink a slot; it never shrinks below the seats already held.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such slot.
            ValidationError: ``capacity`` is below 1 or below the seats held.

        .. versionchanged:: 0.2
           Seats a larger capacity frees are offered to the slot's waiting list.
        """
        self._require_manager(principal)
        problems = Problems()
        _check_capacity(capacity, problems)
        problems.raise_if_any()
        with self._ctx.transaction() as tx:
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            if capacity is not None and capacity < slot.seats_held:
                msg = f"{slot.seats_held} seats are already held; capacity cannot be {capacity}"
                raise ValidationError.single("capacity", msg, "below_seats_held")
            slot.capacity = capacity
            slot.version += 1
            # More seats go to the slot's waiting list in the same unit of work.
            offer_free_seats(self._ctx, tx, slot, now=self._ctx.now())
            tx.commit()
            return slot

    # ------------------------------------------------------------------ closing slots

    def close_slot(
        self,
        slot_id: SlotId,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Slot:
        """Stop selling a slot: it takes no new booking, reschedule or waiting-list
        entry, and partners' availability leaves it out. What is booked on it stays.

        Open waiting-list offers stay held until they run out, but cannot be
        accepted while the slot is closed; no new offers are made until it is
        reopened. Closing a closed slot changes nothing. An audit entry
        (``deactivated``, with ``reason``) records the change. A retry with the
        same ``idempotency_key`` and the same request answers the slot as it is
        now and writes nothing.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such slot.
            ValidationError: on ``reason`` over 500 characters; on
                ``idempotency_key`` when malformed.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        return self._set_slot_open(
            slot_id, False, principal=principal, reason=reason, idempotency_key=idempotency_key
        )

    def reopen_slot(
        self,
        slot_id: SlotId,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Slot:
        """Sell a closed slot again; its free seats go to its waiting list at once.

        Reopening an open slot changes nothing. A slot that has started, or that
        was cancelled (:meth:`cancel_slot`), stays closed. Audited
        (``activated``) and keyed as :meth:`close_slot`.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such slot.
            ValidationError: on ``slot_id`` (code ``past``) for a slot that has
                started; on ``reason`` over 500 characters.
            InvalidTransitionError: the slot was cancelled.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        return self._set_slot_open(
            slot_id, True, principal=principal, reason=reason, idempotency_key=idempotency_key
        )

    def _set_slot_open(
        self,
        slot_id: SlotId,
        is_open: bool,
        *,
        principal: Principal,
        reason: str | None,
        idempotency_key: str | None,
    ) -> Slot:
        self._require_manager(principal)
        clean_reason = clean_text(reason, "reason", max_length=500)
        operation = "slot_reopen" if is_open else "slot_close"
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            made, fresh = claim_change(
                tx.uow,
                now,
                idempotency_key,
                operation,
                principal,
                slot_id=slot_id,
                reason=clean_reason,
            )
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            if not fresh or slot.is_active is is_open:
                if made is not None and fresh:
                    tx.commit()  # the claim: the key stays this request's
                return slot
            if is_open:
                if slot.is_cancelled:
                    msg = f"slot {slot.name or slot.id} was cancelled; it cannot be reopened"
                    raise InvalidTransitionError("slot", "cancelled", "open", message=msg)
                if slot.starts_at <= now:
                    msg = "this slot has already started"
                    raise ValidationError.single("slot_id", msg, "past")
            slot.is_active = is_open
            slot.version += 1
            tx.audit(
                principal,
                entity=SLOT_ENTITY,
                entity_id=slot.id,
                action=AuditAction.ACTIVATED if is_open else AuditAction.DEACTIVATED,
                old={"is_active": not is_open},
                new={"is_active": is_open},
                reason=clean_reason,
                entry_id=made,
            )
            if is_open:
                offer_free_seats(self._ctx, tx, slot, now=now)
            tx.commit()
            return slot

    def cancel_slot(
        self,
        slot_id: SlotId,
        *,
        principal: Principal,
        reason: str,
        idempotency_key: str | None = None,
    ) -> SlotCancellation:
        """Call a slot off: close it, cancel every live booking on it, end its waiting list.

        All in one unit of work, so all or nothing, for a slot of at most
        :data:`MAX_SLOT_BOOKINGS` (1,000) live bookings. Each booking is cancelled
        through the one cancellation path (seats back, history, audit,
        ``booking.status_changed``, commissions reversed) as the operator's
        cancellation: whatever the cancellation policy says, the terms recorded
        are 100 % of what was paid, with ``cancelled_by_operator:
        slot_cancelled`` in the metadata, so ``PaymentSettings(refund_on_cancel=True)``
        refunds everything. Bookings that can no longer be cancelled (ended) are
        left alone. Every active waiting-list entry is cancelled (no offer is
        made on this slot), except those a customer could take another date
        for (``waitlist_kept``): an entry waiting with an alternative date
        today or later (in ``Settings.zone``) stays ``waiting`` for those dates,
        and one holding an offer on an alternative date keeps it. Once the
        cancellation is committed, seats free now on the product's slots at the
        location on those dates are offered (each slot's own list first, see
        :meth:`~bookingcore.services.WaitlistService.offer`). Each booking's and
        entry's customer gets a cancellation message
        with ``reason`` (logged here with the dedupe key
        ``slot_cancelled:<slot>:<booking or entry>``, sent once after commit by
        the ``slots.cancellation_messages`` handler), and a ``slot.cancelled``
        event and a ``status_changed`` audit entry on the slot record it all.

        A booking made at the same moment either is refused (the slot is closed)
        or committed first and is cancelled with the others. A retry with the
        same ``idempotency_key`` and the same request (slot and reason)
        answers what the first call did (``replayed``) and cancels and sends
        nothing more. A cancelled slot cannot be reopened.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog`` or may
                not change every booking.
            NotFoundError: no such slot.
            ValidationError: on ``reason`` when blank or over 500 characters;
                on ``slot_id`` (code ``too_many_bookings``) for a slot holding more
                than :data:`MAX_SLOT_BOOKINGS` live bookings.
            InvalidTransitionError: the slot was cancelled already.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4 Entries with alternative dates wait on (``waitlist_kept``).
        """
        self._require_manager(principal)
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not cancel every booking"
        )
        clean_reason = require_text(reason, "reason", max_length=500)
        now = self._ctx.now()
        bookings = self._bookings
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "slot_cancel",
                principal,
                slot_id=slot_id,
                reason=clean_reason,
            )
            if not fresh:
                return self._slot_cancelled(uow, slot_id, made, clean_reason)
            # Bookings are locked before their slot (the order every booking change takes);
            # one made before the slot's lock is taken is found again below.
            live = self._live_bookings(uow, slot_id)
            for booking_id in sorted(live, key=lambda i: i.bytes):
                uow.bookings.get_for_update(booking_id)
            slot = uow.slots.get_for_update(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            if slot.is_cancelled:
                msg = f"slot {slot.name or slot.id} is cancelled already"
                raise InvalidTransitionError("slot", "cancelled", "cancelled", message=msg)
            was_active = slot.is_active
            slot.is_active = False
            slot.cancelled_at = now
            slot.cancellation_reason = clean_reason
            slot.version += 1
            live = self._live_bookings(uow, slot_id)  # with any made before the lock
            cancelled: list[Booking] = []
            messages: list[Communication] = []
            for booking_id in sorted(live, key=lambda i: i.bytes):
                done = bookings.cancel_for_operator_within(
                    tx,
                    booking_id,
                    principal=principal,
                    reason=clean_reason,
                    marker="slot_cancelled",
                )
                if done is None:
                    continue
                cancelled.append(done)
                message = log_cancellation_message(
                    self._ctx,
                    uow,
                    slot,
                    done.customer_id,
                    reason=clean_reason,
                    now=now,
                    booking=done,
                )
                if message is not None:
                    messages.append(message)
            active = [
                e
                for e in (
                    uow.waitlist.get_for_update(w.id)
                    for w in uow.waitlist.list_for_slot(slot.id, active_only=True)
                )
                if e is not None and e.is_active
            ]
            # Entries that could come on another date wait on for it (or keep the
            # offer they hold on one); the others end with the slot.
            today = now.astimezone(self._ctx.settings.zone).date()
            kept = [e for e in active if slot.product_id and _waits_on(e, today)]
            entries = [e for e in active if e not in kept]
            cancel_entries(
                self._ctx,
                tx,
                slot,
                entries,
                principal=principal,
                reason=clean_reason,
                now=now,
                offer_onward=False,
            )
            for entry in active:
                message = log_cancellation_message(
                    self._ctx,
                    uow,
                    slot,
                    entry.customer_id,
                    reason=clean_reason,
                    now=now,
                    entry=entry,
                )
                if message is not None:
                    messages.append(message)
            tx.audit(
                principal,
                entity=SLOT_ENTITY,
                entity_id=slot.id,
                action=AuditAction.STATUS_CHANGED,
                old={"is_active": was_active},
                new={
                    "status": "cancelled",
                    "is_active": False,
                    "booking_ids": [str(b.id) for b in cancelled],
                    "waitlist_entry_ids": [str(e.id) for e in entries],
                    "waitlist_kept_ids": [str(e.id) for e in kept],
                    "communication_ids": [str(m.id) for m in messages],
                },
                reason=clean_reason,
                entry_id=made,
            )
            tx.emit(
                SlotCancelled(
                    id=tx.new_event_id(),
                    occurred_at=now,
                    slot_id=slot.id,
                    reason=clean_reason,
                    booking_ids=tuple(b.id for b in cancelled),
                    waitlist_entry_ids=tuple(e.id for e in entries),
                    communication_ids=tuple(m.id for m in messages),
                )
            )
            tx.commit()
        self._offer_alternatives(slot, kept, today)
        return SlotCancellation(
            slot,
            clean_reason,
            tuple(policy.bookings_for(principal, cancelled)),
            tuple(entries),
            tuple(messages),
            waitlist_kept=tuple(kept),
        )

    def _offer_alternatives(
        self, cancelled: Slot, kept: Sequence[WaitlistEntry], today: date
    ) -> None:
        """Offer the seats free now on the slots of ``cancelled``'s product and location on
        the dates ``kept`` entries could come on instead: each slot in a unit of work of
        its own, its own list first (:func:`offer_free_seats`). Were this interrupted,
        the entries still wait and are offered when seats next free up there."""
        days = sorted(
            {
                d
                for e in kept
                if e.status is WaitlistStatus.WAITING
                for d in e.alternative_dates
                if d >= today
            }
        )
        if not days or cancelled.product_id is None:
            return
        zone = self._ctx.settings.zone
        query = SlotFilter(
            location_id=cancelled.location_id,
            product_id=cancelled.product_id,
            starts_from=datetime.combine(days[0], time(), zone),
            starts_before=datetime.combine(days[-1] + timedelta(days=1), time(), zone),
            only_available=True,
        )
        with self._ctx.uow_factory() as uow:
            found = [
                s.id
                for s in every_item(lambda page: uow.slots.list(query, page))
                if s.starts_at.astimezone(zone).date() in days
            ]
        for slot_id in found:
            with self._ctx.transaction() as tx:
                slot = tx.uow.slots.get_for_update(slot_id)
                if slot is not None and offer_free_seats(self._ctx, tx, slot, now=self._ctx.now()):
                    tx.commit()

    def _live_bookings(self, uow: UnitOfWork, slot_id: SlotId) -> list[BookingId]:
        """The slot's bookings that can still move to their lifecycle's cancelled state."""

        def cancellable(booking: Booking) -> bool:
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            target = lifecycle.cancelled
            return target is not None and lifecycle.allows(booking.status, target)

        return self._slot_bookings(uow, slot_id, cancellable, "cancels")

    def _slot_bookings(
        self, uow: UnitOfWork, slot_id: SlotId, keep: Callable[[Booking], bool], verb: str
    ) -> list[BookingId]:
        """The ids of the slot's bookings ``keep`` accepts, for one call that ``verb`` them.

        Raises:
            ValidationError: on ``slot_id`` (code ``too_many_bookings``) for more
                than :data:`MAX_SLOT_BOOKINGS` of them.
        """
        query = BookingFilter(slot_id=slot_id)
        found = [
            booking.id
            for booking in every_item(lambda page: uow.bookings.list(query, page))
            if keep(booking)
        ]
        if len(found) > MAX_SLOT_BOOKINGS:
            msg = (
                f"the slot holds {len(found)} live bookings; one call {verb} at most "
                f"{MAX_SLOT_BOOKINGS}"
            )
            raise ValidationError.single("slot_id", msg, "too_many_bookings")
        return found

    @staticmethod
    def _slot_cancelled(
        uow: UnitOfWork, slot_id: SlotId, entry_id: UUID | None, reason: str
    ) -> SlotCancellation:
        """What the keyed cancellation whose audit entry is ``entry_id`` did, as it is now."""
        slot = uow.slots.get(slot_id)
        if slot is None:
            raise NotFoundError("slot", slot_id)
        done = cancellation_entry(uow, slot, entry_id)
        found = [uow.bookings.get(BookingId(i)) for i in recorded_ids(done, "booking_ids")]
        entries = [
            uow.waitlist.get(WaitlistEntryId(i)) for i in recorded_ids(done, "waitlist_entry_ids")
        ]
        kept = [
            uow.waitlist.get(WaitlistEntryId(i)) for i in recorded_ids(done, "waitlist_kept_ids")
        ]
        sent = [
            uow.communications.get(CommunicationId(i))
            for i in recorded_ids(done, "communication_ids")
        ]
        return SlotCancellation(
            slot,
            reason,
            tuple(b for b in found if b is not None),
            tuple(e for e in entries if e is not None),
            tuple(c for c in sent if c is not None),
            replayed=True,
            waitlist_kept=tuple(e for e in kept if e is not None),
        )

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _find_location(uow: UnitOfWork, code_or_id: str | LocationId) -> Location | None:
        if isinstance(code_or_id, str):
            try:
                return uow.locations.get_by_code(normalise_code(code_or_id))
            except ValidationError:
                return None
        return uow.locations.get(code_or_id)

    @staticmethod
    def _partner_locations(uow: UnitOfWork, principal: Principal) -> frozenset[LocationId] | None:
        """The locations a partner may see; ``None`` for principals that see all."""
        if principal.kind is not PrincipalKind.PARTNER or principal.id is None:
            return None
        partner = uow.partners.get(PartnerId(principal.id))
        if partner is None or not partner.is_active:
            return frozenset()
        return partner.allowed_location_ids

    # ------------------------------------------------------------------ changing slots

    def update_slot(
        self,
        slot_id: SlotId,
        *,
        principal: Principal,
        name: str | Unset | None = UNSET,
        price_per_traveler: Money | Unset = UNSET,
        group_discounts: Iterable[DiscountTier] | Unset = UNSET,
        ends_at: datetime | Unset | None = UNSET,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Slot:
        """Change a slot's name, price per traveler, group discounts or end.

        Fields left :data:`~bookingcore.services.UNSET` stay as they are; ``None``
        clears ``name`` or ``ends_at``. The values are checked as
        :meth:`create_slot` checks them, together with what the slot keeps. A new
        price or new group discounts apply to bookings made from now on:
        existing bookings keep the prices they were made at. The slot's currency
        cannot change (its bookings are priced in it), and its start moves only
        with :meth:`move_slot`. The change is audited on the slot (``updated``,
        the old and new values); a change that changes nothing writes nothing.

        ``expected_version`` refuses the change when the slot changed since the
        caller read it. A retry with the same ``idempotency_key`` and the same
        request answers the slot as it is now and changes nothing.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog``.
            NotFoundError: no such slot.
            ValidationError: on ``name``, ``price_per_traveler``,
                ``group_discounts`` or ``ends_at`` as :meth:`create_slot` refuses
                them (an end not after the start, code ``before_start``); on
                ``price_per_traveler`` (code ``currency_mismatch``) for another
                currency; on ``idempotency_key`` when malformed.
            StaleVersionError: ``expected_version`` is not the slot's version.
            IdempotencyConflictError: the key was used for another request.
            InvalidTransitionError: the slot was cancelled (it is closed for good).

        .. versionadded:: 0.4
        """
        self._require_manager(principal)
        p = Problems()
        tiers: tuple[DiscountTier, ...] | Unset = UNSET
        if not isinstance(group_discounts, Unset):
            try:
                tiers = tuple(group_discounts)
            except TypeError:
                p.add("group_discounts", "must be DiscountTier values", "invalid_type")
        end: datetime | Unset | None = ends_at
        if isinstance(ends_at, datetime):
            end = p.capture(lambda: ensure_aware(ends_at, "ends_at"))
        p.raise_if_any()
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            price = slot.price_per_traveler
            if not isinstance(price_per_traveler, Unset):
                price = price_per_traveler
            offer = check_offer(
                p,
                slot.capacity,
                price,
                slot.group_discounts if isinstance(tiers, Unset) else tiers,
                slot.name if isinstance(name, Unset) else name,
            )
            new_end = slot.ends_at if isinstance(end, Unset) else end
            p.capture(partial(check_slot_times, slot.starts_at, new_end))
            priced = all(e.field != "price_per_traveler" for e in p.errors)
            if priced and offer.price.currency != slot.currency:
                msg = f"the slot is priced in {slot.currency}; its currency cannot change"
                p.add("price_per_traveler", msg, "currency_mismatch")
            p.raise_if_any()
            asked = {
                "name": offer.name,
                "price_per_traveler": offer.price,
                "group_discounts": offer.tiers,
                "ends_at": new_end,
            }
            given = {
                "name": name,
                "price_per_traveler": price_per_traveler,
                "group_discounts": tiers,
                "ends_at": end,
            }
            wanted = {k: v for k, v in asked.items() if not isinstance(given[k], Unset)}
            made, fresh = claim_change(
                tx.uow, now, idempotency_key, "slot_update", principal, slot_id=slot_id, **wanted
            )
            if not fresh:
                return slot
            if slot.is_cancelled:
                msg = f"slot {slot.name or slot.id} was cancelled; it cannot be changed"
                raise InvalidTransitionError("slot", "cancelled", "updated", message=msg)
            slot.check_version(expected_version)
            before = snapshot(slot, _SLOT_CHANGE_FIELDS)
            for field, value in wanted.items():
                setattr(slot, field, value)
            old, new = diff(before, snapshot(slot, _SLOT_CHANGE_FIELDS))
            if new:
                slot.version += 1
                tx.audit(
                    principal,
                    entity=SLOT_ENTITY,
                    entity_id=slot.id,
                    action=AuditAction.UPDATED,
                    old=old,
                    new=new,
                    entry_id=made,
                )
            tx.commit()  # a key claimed for a change that changed nothing is kept too
            return slot

    def move_slot(
        self,
        slot_id: SlotId,
        new_starts_at: datetime,
        *,
        principal: Principal,
        new_ends_at: datetime | None = None,
        reason: str,
        notify: bool = True,
        idempotency_key: str | None = None,
    ) -> SlotMoved:
        """Move a slot's departure (a weather delay, a boat swap), with its bookings.

        The slot starts at ``new_starts_at``; it ends at ``new_ends_at``, or, when
        that is not given, as long after the new start as it did after the old
        one (no end stays no end). Every live booking on it moves with it through
        the bookings' change path: its ``starts_at`` (a copy of the slot's)
        follows, with an audit entry and a ``booking.rescheduled`` event from and
        to the slot (no price difference), and what is dated by the departure
        follows as :meth:`~bookingcore.services.BookingService.reschedule` moves
        it (line items' dates, a generated itinerary, the reminder). Seats,
        prices and waiting-list offers (and their expiry) stay as they are;
        cancellation terms count from the new start. With ``notify`` (the
        default) each booking's customer gets one message (type
        ``schedule_change``, with ``reason``; logged here with the dedupe key
        ``slot_moved:<move>:<booking>``, sent once after commit by the
        ``slots.move_messages`` handler). A ``slot.rescheduled`` event and an
        ``updated`` audit entry on the slot record it all.

        All in one unit of work, the bookings locked before the slot as
        :meth:`cancel_slot` does, for at most :data:`MAX_SLOT_BOOKINGS` live
        bookings: a booking made at the same moment is either made after the
        move (at the new time) or moved with the others. A retry with the same
        ``idempotency_key`` and the same request answers what the first call
        did (``replayed``) and moves and sends nothing more.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``manage_catalog`` or may
                not change every booking.
            NotFoundError: no such slot.
            ValidationError: on ``new_starts_at`` (code ``past``) for a start
                that is not in the future or a slot that has started, (code
                ``unchanged``) for the start the slot has, (``out_of_range``) past
                the dates a slot or its items may have; on ``new_ends_at`` as
                :meth:`create_slot` refuses an end; on ``reason`` when blank or
                over 500 characters; on ``slot_id`` (code ``too_many_bookings``)
                for a slot holding more than :data:`MAX_SLOT_BOOKINGS` live bookings.
            InvalidTransitionError: the slot was cancelled.
            IdempotencyConflictError: the key was used for another request.

        .. versionadded:: 0.4
        """
        self._require_manager(principal)
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not move every booking"
        )
        p = Problems()
        start = p.capture(lambda: ensure_aware(new_starts_at, "new_starts_at"))
        end = p.capture(
            lambda: None if new_ends_at is None else ensure_aware(new_ends_at, "new_ends_at")
        )
        clean_reason = p.capture(lambda: require_text(reason, "reason", max_length=500))
        if not isinstance(cast(object, notify), bool):
            p.add("notify", "must be true or false", "invalid_type")
        now = self._ctx.now()
        if start is not None and start <= now:
            p.add("new_starts_at", "must be in the future", "past")
        p.raise_if_any()
        assert start is not None
        assert clean_reason is not None
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "slot_move",
                principal,
                slot_id=slot_id,
                new_starts_at=start,
                new_ends_at=end,
                reason=clean_reason,
                notify=notify,
            )
            if not fresh:
                return self._slot_moved(uow, slot_id, made, clean_reason)
            # Bookings before their slot, as cancel_slot locks them.
            for booking_id in sorted(self._moving_bookings(uow, slot_id), key=lambda i: i.bytes):
                uow.bookings.get_for_update(booking_id)
            slot = uow.slots.get_for_update(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            if slot.is_cancelled:
                msg = f"slot {slot.name or slot.id} was cancelled; it cannot be moved"
                raise InvalidTransitionError("slot", "cancelled", "moved", message=msg)
            if slot.starts_at <= now:
                msg = "this slot has already started"
                raise ValidationError.single("new_starts_at", msg, "past")
            if start == slot.starts_at:
                msg = "the slot starts then already (change its end with update_slot)"
                raise ValidationError.single("new_starts_at", msg, "unchanged")
            from_starts, from_ends = slot.starts_at, slot.ends_at
            if end is None and from_ends is not None:
                end = start + (from_ends - from_starts)
            try:
                check_slot_times(start, end)
            except ValidationError as error:
                renamed = (FieldError(f"new_{e.field}", e.message, e.code) for e in error.errors)
                raise ValidationError(renamed) from None
            slot.starts_at, slot.ends_at = start, end
            slot.version += 1
            move_id = made or self._ctx.ids.new_id()
            moved, messages = self._move_bookings(
                tx,
                slot,
                from_starts,
                principal=principal,
                reason=clean_reason,
                move_id=move_id if notify else None,
                now=now,
            )
            tx.audit(
                principal,
                entity=SLOT_ENTITY,
                entity_id=slot.id,
                action=AuditAction.UPDATED,
                old={"starts_at": from_starts, "ends_at": from_ends},
                new={
                    "starts_at": start,
                    "ends_at": end,
                    "booking_ids": [str(b.id) for b in moved],
                    "communication_ids": [str(m.id) for m in messages],
                },
                reason=clean_reason,
                entry_id=move_id,
            )
            tx.emit(
                SlotRescheduled(
                    id=tx.new_event_id(),
                    occurred_at=now,
                    slot_id=slot.id,
                    from_starts_at=from_starts,
                    to_starts_at=start,
                    reason=clean_reason,
                    booking_ids=tuple(b.id for b in moved),
                    communication_ids=tuple(m.id for m in messages),
                )
            )
            tx.commit()
        return SlotMoved(
            slot,
            from_starts,
            from_ends,
            clean_reason,
            tuple(policy.bookings_for(principal, moved)),
            tuple(messages),
        )

    def _move_bookings(
        self,
        tx: Transaction,
        slot: Slot,
        from_starts: datetime,
        *,
        principal: Principal,
        reason: str,
        move_id: UUID | None,
        now: datetime,
    ) -> tuple[list[Booking], list[Communication]]:
        """Move the live bookings of ``slot`` (locked, moved) with it, and (with a
        ``move_id``) log the message to each one's customer."""
        moved: list[Booking] = []
        messages: list[Communication] = []
        # With any booking made before the slot's lock was taken.
        for booking_id in sorted(self._moving_bookings(tx.uow, slot.id), key=lambda i: i.bytes):
            done = self._bookings.follow_slot_within(
                tx, booking_id, slot, from_starts, principal=principal, note=reason
            )
            if done is None:
                continue
            moved.append(done)
            if move_id is None:
                continue
            message = log_move_message(
                self._ctx, tx.uow, slot, done, move_id=move_id, reason=reason, now=now
            )
            if message is not None:
                messages.append(message)
        return moved, messages

    def _moving_bookings(self, uow: UnitOfWork, slot_id: SlotId) -> list[BookingId]:
        """The slot's active bookings (those a move takes along)."""
        return self._slot_bookings(
            uow,
            slot_id,
            lambda booking: self._ctx.settings.lifecycle(booking.lifecycle).is_active(
                booking.status
            ),
            "moves",
        )

    @staticmethod
    def _slot_moved(
        uow: UnitOfWork, slot_id: SlotId, entry_id: UUID | None, reason: str
    ) -> SlotMoved:
        """What the keyed move whose audit entry is ``entry_id`` did, as it is now."""
        slot = uow.slots.get(slot_id)
        if slot is None:
            raise NotFoundError("slot", slot_id)
        old, new = move_entry(uow, slot, entry_id)
        found = [uow.bookings.get(BookingId(i)) for i in recorded_ids(new, "booking_ids")]
        sent = [
            uow.communications.get(CommunicationId(i))
            for i in recorded_ids(new, "communication_ids")
        ]
        starts, ends = old.get("starts_at"), old.get("ends_at")
        return SlotMoved(
            slot,
            datetime.fromisoformat(str(starts)) if starts else slot.starts_at,
            datetime.fromisoformat(str(ends)) if ends else None,
            reason,
            tuple(b for b in found if b is not None),
            tuple(c for c in sent if c is not None),
            replayed=True,
        )


def _policy_data(value: object) -> dict[str, object] | None:
    """``value``, a product's cancellation policy or None, as the data stored and audited.

    Raises:
        ValidationError: on ``cancellation_policy`` for another type, on
            ``cancellation_policy.<part>`` for durations that are not whole seconds.
    """
    if value is None:
        return None
    if not isinstance(value, CancellationPolicy):
        msg = "must be a CancellationPolicy, or None to follow the settings"
        raise ValidationError.single("cancellation_policy", msg, "invalid_type")
    try:
        return value.as_data()
    except ValidationError as error:
        raise error.prefixed("cancellation_policy") from None


def _requirements_data(value: object) -> dict[str, object] | None:
    """``value``, a product's requirements or None, as the data stored and audited.

    Raises:
        ValidationError: on ``requirements`` for another type.
    """
    if value is None:
        return None
    if not isinstance(value, ProductRequirements):
        msg = "must be a ProductRequirements, or None to let anyone be booked"
        raise ValidationError.single("requirements", msg, "invalid_type")
    return value.as_data()


def _check_supplier(uow: UnitOfWork, supplier_id: SupplierId | None, problems: Problems) -> None:
    if supplier_id is None:
        return
    supplier = uow.suppliers.get(supplier_id)
    if supplier is None:
        problems.add("supplier_id", f"no supplier {supplier_id}", "unknown_reference")
    elif not supplier.is_active:
        problems.add("supplier_id", f"supplier {supplier.code} is deactivated", "inactive")


def _check_capacity(capacity: object, problems: Problems) -> None:
    check_capacity(capacity, problems)


def _refuse_taken_code(
    holder: Location | Supplier | Product | None, entity: str, code: str
) -> None:
    if holder is not None:
        msg = f"{entity} code {code} is taken"
        raise DuplicateError(msg, entity=entity, existing_id=holder.id)


#: The fields of reference data that audit entries record.
_LOCATION_FIELDS = ("code", "name", "kind", "address", "is_active")
_SUPPLIER_FIELDS = ("code", "name", "email", "phone", "is_active")
#: The fields of a slot :meth:`CatalogService.update_slot` changes (and audits).
_SLOT_CHANGE_FIELDS = ("name", "price_per_traveler", "group_discounts", "ends_at")
_PRODUCT_FIELDS = (
    "code",
    "name",
    "kind",
    "supplier_id",
    "location_id",
    "description",
    "is_active",
)


def _audit_created(
    tx: Transaction,
    principal: Principal,
    entity: str,
    record: Location | Supplier | Product,
    fields: tuple[str, ...],
) -> None:
    tx.audit(
        principal,
        entity=entity,
        entity_id=record.id,
        action=AuditAction.CREATED,
        new=snapshot(record, fields),
    )


def _audit_changed(
    tx: Transaction,
    principal: Principal,
    entity: str,
    record: Location | Supplier | Product,
    fields: tuple[str, ...],
    **changes: object,
) -> None:
    """Set ``changes`` on ``record`` and audit what differs (nothing when nothing does).

    A change of ``is_active`` alone is audited as activated or deactivated.
    """
    before = snapshot(record, fields)
    for name, value in changes.items():
        setattr(record, name, value)
    old, new = diff(before, snapshot(record, fields))
    if not new:
        return
    action = AuditAction.UPDATED
    if set(new) == {"is_active"}:
        action = AuditAction.ACTIVATED if record.is_active else AuditAction.DEACTIVATED
    tx.audit(principal, entity=entity, entity_id=record.id, action=action, old=old, new=new)


def _waits_on(entry: WaitlistEntry, today: date) -> bool:
    """True when ``entry`` outlives its slot's cancellation: it holds an offer on an
    alternative date, or waits and one of its alternative dates is ``today`` or later."""
    if entry.holds_alternative:
        return True
    return (
        entry.status is WaitlistStatus.WAITING
        and bool(entry.alternative_dates)
        and entry.alternative_dates[-1] >= today
    )
