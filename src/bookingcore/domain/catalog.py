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

from bookingcore.domain.values import EmailAddress, LocationId, PhoneNumber, ProductId, SupplierId
from bookingcore.errors import ValidationError

__all__ = ["Location", "Product", "ProductKind", "Supplier", "normalise_code"]

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
