"""Reference data: where things happen, what is sold, and who delivers it.

A :class:`Location` is a dealer, dive centre or base camp; a :class:`Product` is
a trek, course, car variant, hotel or activity; a :class:`Supplier` delivers
products. Codes are unique per kind, case-insensitive and stored upper-case.
Inactive reference data stays readable but cannot be booked.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

import attrs

from bookingcore.domain._validation import fold_case
from bookingcore.domain.cancellation import CancellationPolicy
from bookingcore.domain.requirements import ProductRequirements
from bookingcore.domain.values import EmailAddress, LocationId, PhoneNumber, ProductId, SupplierId
from bookingcore.errors import ValidationError

__all__ = [
    "Location",
    "Product",
    "ProductFilter",
    "ProductKind",
    "Supplier",
    "SupplierFilter",
    "normalise_code",
]

_CODE = re.compile(r"[A-Z0-9][A-Z0-9_.\-]{0,49}")


def normalise_code(value: object, field: str = "code") -> str:
    """Return ``value`` stripped and upper-cased, if it is a valid reference code.

    A code is 1-50 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit.

    Raises:
        ValidationError: the code is empty or has other characters.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    code = value.strip().upper()
    if not _CODE.fullmatch(code):
        msg = f"{value!r} is not a valid code (letters, digits, '_', '.', '-'; at most 50)"
        raise ValidationError.single(field, msg, "invalid_code")
    return code


class ProductKind(enum.StrEnum):
    """What kind of thing a product is.

    .. versionadded:: 0.1
    """

    TREK = "trek"
    COURSE = "course"
    DIVE = "dive"
    CAR_VARIANT = "car_variant"
    HOTEL = "hotel"
    ACTIVITY = "activity"
    FLIGHT = "flight"
    TRANSFER = "transfer"
    OTHER = "other"


@attrs.define(slots=False)
class Location:
    """A place bookings happen at, known by a unique ``code``.

    .. versionadded:: 0.1
    """

    id: LocationId
    code: str
    name: str
    created_at: datetime
    kind: str = "location"
    address: str | None = None
    is_active: bool = True


@attrs.define(slots=False)
class Supplier:
    """Someone who delivers products: a hotel, a guide company, a dive boat.

    .. versionadded:: 0.1
    """

    id: SupplierId
    code: str
    name: str
    created_at: datetime
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    is_active: bool = True


@attrs.define(slots=False)
class Product:
    """Something that is sold: a trek, a course, a car variant, an activity.

    .. versionadded:: 0.1
    """

    id: ProductId
    code: str
    name: str
    kind: ProductKind
    created_at: datetime
    supplier_id: SupplierId | None = None
    description: str | None = None
    is_active: bool = True
    #: Where the product is delivered (a hotel's city, an activity's base), if anywhere.
    #:
    #: .. versionadded:: 0.3
    location_id: LocationId | None = None
    #: The product's own cancellation terms; None: the bookings of its slots follow
    #: ``Settings.cancellation`` (or their lifecycle's entry). Set it with
    #: ``CatalogService.set_cancellation_policy``. The terms in force when a booking
    #: is cancelled apply (see docs/cancellations.md, *Per product*).
    #:
    #: .. versionadded:: 0.4
    cancellation_policy: CancellationPolicy | None = None
    #: Who may be booked on the product (age limits, certificates); None: anyone.
    #: Set it with ``CatalogService.set_requirements``; checked whenever travelers
    #: are put on one of its slots (see docs/requirements.md).
    #:
    #: .. versionadded:: 0.4
    requirements: ProductRequirements | None = None


def _holds(text: str | None, *fields: str | None) -> bool:
    """Whether one of ``fields`` holds ``text``, case-insensitively (no text holds)."""
    needle = fold_case((text or "").strip())
    return not needle or any(needle in fold_case(field) for field in fields if field)


@attrs.frozen
class SupplierFilter:
    """Which suppliers to list. ``text`` is looked for, case-insensitively, in the
    code, the name and the email, each on its own.

    .. versionadded:: 0.3
    """

    text: str | None = None
    only_active: bool = False

    def matches(self, supplier: Supplier) -> bool:
        """The reference semantics every adapter implements."""
        email = supplier.email.value if supplier.email else None
        return (not self.only_active or supplier.is_active) and _holds(
            self.text, supplier.code, supplier.name, email
        )


@attrs.frozen
class ProductFilter:
    """Which products to list. Every field left ``None`` does not filter; ``text`` is
    looked for, case-insensitively, in the code, the name and the description, each
    on its own. With ``only_active``, a product of a deactivated supplier counts as
    inactive.

    .. versionadded:: 0.3
    """

    kind: ProductKind | None = None
    location_id: LocationId | None = None
    supplier_id: SupplierId | None = None
    text: str | None = None
    only_active: bool = False

    def matches(self, product: Product, *, supplier_active: bool = True) -> bool:
        """The reference semantics every adapter implements; ``supplier_active`` tells
        whether the product's supplier (if any) is active."""
        return (
            (not self.only_active or (product.is_active and supplier_active))
            and (self.kind is None or product.kind is self.kind)
            and (self.location_id is None or product.location_id == self.location_id)
            and (self.supplier_id is None or product.supplier_id == self.supplier_id)
            and _holds(self.text, product.code, product.name, product.description)
        )
