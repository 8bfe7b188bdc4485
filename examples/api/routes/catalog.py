"""The catalogue: suppliers and products, added, changed, deactivated and searched.

Staff with ``manage_catalog`` change the catalogue on ``/api/admin/suppliers``
and ``/api/admin/products``; a deactivated supplier or product can no longer be
quoted or booked (what was booked stays). Reading is open to every signed-in
caller: the travel desk's ``/api/products/{kind}/search`` (flights, hotels,
activities ...) lists the active products of one kind.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, status

from bookingcore import (
    AuthenticationError,
    DuplicateError,
    IdempotencyConflictError,
    LocationId,
    NotFoundError,
    PermissionDeniedError,
    ProductId,
    RateLimitedError,
    SupplierId,
)
from bookingcore.domain import ProductKind
from examples.api.deps import AnyPrincipal, Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import ActiveIn, Paged
from examples.api.schemas_travel import (
    CancellationPolicyIn,
    ProductIn,
    ProductOut,
    ProductRequirementsIn,
    ProductUpdateIn,
    SupplierIn,
    SupplierOut,
    SupplierUpdateIn,
)

__all__ = ["router"]

router = APIRouter(tags=["travel catalogue"])

_CHANGE = problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError)

Text = Annotated[
    str | None, Query(max_length=200, description="Part of the code, name, description or email")
]

_KIND_PATH = Path(
    max_length=32,
    description="A product kind, singular or plural as travel systems' paths have it",
    examples=["flight", "flights", "activities"],
)


def _plural(kind: str) -> str:
    return f"{kind[:-1]}ies" if kind.endswith("y") else f"{kind}s"


def _kind(segment: str) -> str:
    """The product kind a search path names: ``flight``, or seed 003's ``flights``
    (``activities`` for ``activity``); anything else as given, for the library to judge."""
    for kind in ProductKind:
        if segment in (kind.value, _plural(kind.value)):
            return kind.value
    return segment


def _supplier(value: UUID | None) -> SupplierId | None:
    return None if value is None else SupplierId(value)


def _location(value: UUID | None) -> LocationId | None:
    return None if value is None else LocationId(value)


# ---------------------------------------------------------------------- suppliers


@router.get(
    "/api/admin/suppliers",
    operation_id="admin_list_suppliers",
    responses=problem_responses(AuthenticationError),
)
def list_suppliers(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    q: Text = None,
    only_active: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[SupplierOut]:
    """Suppliers whose code, name or email holds ``q``, newest first, a page at a time
    (follow ``next``)."""
    page = core.catalog.search_suppliers(
        page_request(limit, cursor), principal=staff, text=q, only_active=only_active
    )
    return paged(Paged[SupplierOut], request, page, SupplierOut.of)


@router.post(
    "/api/admin/suppliers",
    operation_id="admin_add_supplier",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, DuplicateError),
)
def add_supplier(body: SupplierIn, core: Core, staff: StaffPrincipal) -> SupplierOut:
    """Add a supplier under a unique code (a taken code answers 409)."""
    supplier = core.catalog.add_supplier(
        body.code, body.name, principal=staff, email=body.email, phone=body.phone
    )
    return SupplierOut.of(supplier)


@router.patch(
    "/api/admin/suppliers/{supplier_id}",
    operation_id="admin_update_supplier",
    responses=_CHANGE,
)
def update_supplier(
    supplier_id: UUID, body: SupplierUpdateIn, core: Core, staff: StaffPrincipal
) -> SupplierOut:
    """Change a supplier's name, email or phone (fields left out stay as they are)."""
    supplier = core.catalog.update_supplier(
        SupplierId(supplier_id), principal=staff, name=body.name, email=body.email, phone=body.phone
    )
    return SupplierOut.of(supplier)


@router.put(
    "/api/admin/suppliers/{supplier_id}/active",
    operation_id="admin_set_supplier_active",
    responses=_CHANGE,
)
def set_supplier_active(
    supplier_id: UUID, body: ActiveIn, core: Core, staff: StaffPrincipal
) -> SupplierOut:
    """Deactivate a supplier (its products can no longer be quoted or booked) or activate it."""
    supplier = core.catalog.set_supplier_active(
        SupplierId(supplier_id), body.active, principal=staff
    )
    return SupplierOut.of(supplier)


# ---------------------------------------------------------------------- products


@router.get(
    "/api/admin/products",
    operation_id="admin_list_products",
    responses=problem_responses(AuthenticationError),
)
def list_products(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    kind: Annotated[str | None, Query(max_length=32, examples=["hotel"])] = None,
    location_id: UUID | None = None,
    supplier_id: UUID | None = None,
    q: Text = None,
    only_active: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[ProductOut]:
    """Products matching every filter given, newest first, a page at a time (follow
    ``next``; deactivated ones too, unless ``only_active``)."""
    page = core.catalog.search_products(
        page_request(limit, cursor),
        principal=staff,
        kind=kind,
        location_id=_location(location_id),
        supplier_id=_supplier(supplier_id),
        text=q,
        only_active=only_active,
    )
    return paged(Paged[ProductOut], request, page, ProductOut.of)


@router.post(
    "/api/admin/products",
    operation_id="admin_add_product",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, DuplicateError),
)
def add_product(body: ProductIn, core: Core, staff: StaffPrincipal) -> ProductOut:
    """Add a product under a unique code (a taken code answers 409)."""
    product = core.catalog.add_product(
        body.code,
        body.name,
        body.kind,
        principal=staff,
        supplier_id=_supplier(body.supplier_id),
        description=body.description,
        location_id=_location(body.location_id),
    )
    return ProductOut.of(product)


@router.patch(
    "/api/admin/products/{product_id}",
    operation_id="admin_update_product",
    responses=_CHANGE,
)
def update_product(
    product_id: UUID, body: ProductUpdateIn, core: Core, staff: StaffPrincipal
) -> ProductOut:
    """Change a product's name, kind, supplier, description or location (fields left out
    stay as they are)."""
    product = core.catalog.update_product(
        ProductId(product_id),
        principal=staff,
        name=body.name,
        description=body.description,
        kind=body.kind,
        supplier_id=_supplier(body.supplier_id),
        location_id=_location(body.location_id),
    )
    return ProductOut.of(product)


@router.put(
    "/api/admin/products/{product_id}/active",
    operation_id="admin_set_product_active",
    responses=_CHANGE,
)
def set_product_active(
    product_id: UUID, body: ActiveIn, core: Core, staff: StaffPrincipal
) -> ProductOut:
    """Deactivate a product (it can no longer be quoted or booked) or activate it again."""
    product = core.catalog.set_product_active(ProductId(product_id), body.active, principal=staff)
    return ProductOut.of(product)


@router.put(
    "/api/admin/products/{product_id}/cancellation-policy",
    operation_id="admin_set_product_cancellation_policy",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def set_product_cancellation_policy(
    product_id: UUID,
    body: CancellationPolicyIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> ProductOut:
    """Give a product its own cancellation terms ("non-refundable", "free cancellation up
    to 48 hours"): its bookings are cancelled under them instead of the operator's. The
    terms in force when a booking is cancelled apply. Tiers the library refuses (two with
    one notice, a percent that does not fall as the notice shrinks) answer 422 on
    ``refund_tiers``."""
    product = core.catalog.set_cancellation_policy(
        ProductId(product_id), body.to_policy(), principal=staff, idempotency_key=idempotency_key
    )
    return ProductOut.of(product)


@router.delete(
    "/api/admin/products/{product_id}/cancellation-policy",
    operation_id="admin_clear_product_cancellation_policy",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def clear_product_cancellation_policy(
    product_id: UUID, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> ProductOut:
    """Take a product's own cancellation terms away: its bookings follow the operator's."""
    product = core.catalog.set_cancellation_policy(
        ProductId(product_id), None, principal=staff, idempotency_key=idempotency_key
    )
    return ProductOut.of(product)


@router.put(
    "/api/admin/products/{product_id}/requirements",
    operation_id="admin_set_product_requirements",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def set_product_requirements(
    product_id: UUID,
    body: ProductRequirementsIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> ProductOut:
    """Say who may be booked on a product: "10 and over" for an open-water course,
    "Advanced Open Water" for a deep dive. From then on a booking (or a change of its
    travelers, or a reschedule) that puts a traveler who falls short on one of its slots
    answers 422 naming ``travelers[i].age`` or ``travelers[i].certificates``. Limits the
    library refuses (``max_age`` below ``min_age``) answer 422 on the field."""
    product = core.catalog.set_requirements(
        ProductId(product_id),
        body.to_requirements(),
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return ProductOut.of(product)


@router.delete(
    "/api/admin/products/{product_id}/requirements",
    operation_id="admin_clear_product_requirements",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def clear_product_requirements(
    product_id: UUID, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> ProductOut:
    """Take a product's requirements away: anyone may be booked on it again."""
    product = core.catalog.set_requirements(
        ProductId(product_id), None, principal=staff, idempotency_key=idempotency_key
    )
    return ProductOut.of(product)


@router.get(
    "/api/products/{kind}/search",
    operation_id="search_products",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, RateLimitedError),
)
def search_products(
    request: Request,
    kind: Annotated[str, _KIND_PATH],
    core: Core,
    caller: AnyPrincipal,
    location_id: UUID | None = None,
    q: Text = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[ProductOut]:
    """The travel desk's product search: active products of one kind (``flight``, ``hotel``,
    ``activity`` ..., or the plural: ``/api/products/flights/search``) at a location,
    whose code, name or description holds ``q``, newest first, a page at a time (follow
    ``next``)."""
    page = core.catalog.search_products(
        page_request(limit, cursor),
        principal=caller,
        kind=_kind(kind),
        location_id=_location(location_id),
        text=q,
    )
    return paged(Paged[ProductOut], request, page, ProductOut.of)
