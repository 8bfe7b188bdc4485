"""The public API stays honest: sorted, importable, documented; the domain stays pure."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest

import bookingcore

PUBLIC_MODULES = [
    "bookingcore",
    "bookingcore.domain",
    "bookingcore.errors",
    "bookingcore.ports",
    "bookingcore.services",
    "bookingcore.serialization",
    "bookingcore.testing",
    "bookingcore.testing.contracts",
    "bookingcore.testing.strategies",
    "bookingcore.testing.builders",
    "bookingcore_adapters.memory",
    "bookingcore_adapters.documents",
    "bookingcore_adapters.notifications",
    "bookingcore_adapters.sql",
    "bookingcore.domain.lifecycle",
    "bookingcore.domain.events",
    "bookingcore.domain.audit",
    "bookingcore.domain.communications",
    "bookingcore.domain.documents",
    "bookingcore.ports.messaging",
    "bookingcore.ports.observability",
    "bookingcore_adapters.otel",
    "bookingcore.services.events",
    "bookingcore.services.imports",
    "bookingcore.services.reports",
    "bookingcore.domain.assignment",
    "bookingcore.domain.webhooks",
    "bookingcore.domain.imports",
    "bookingcore.domain.import_rows",
    "bookingcore.domain.import_people",
    "bookingcore.domain.staff",
    "bookingcore.ports.imports",
    "bookingcore.ports.security",
    "bookingcore_adapters.sms",
    "bookingcore_adapters.redis",
    "bookingcore_adapters.importers",
    "bookingcore.testing.security_contracts",
    "bookingcore.domain.auth",
    "bookingcore.services.auth",
    "bookingcore_adapters.auth",
    "bookingcore.domain.groups",
    "bookingcore.domain.items",
    "bookingcore.domain.waitlist",
    "bookingcore.domain.payments",
    "bookingcore.domain.cancellation",
    "bookingcore.domain.commissions",
    "bookingcore.domain.taxes",
    "bookingcore.services.invoicing",
    "bookingcore.services.commissions",
    "bookingcore_adapters.payments",
    "bookingcore_adapters.payments.razorpay",
    "bookingcore_adapters.payments.stripe",
    # partner webhooks and notifiers
    "bookingcore.domain.partner_webhooks",
    "bookingcore.ports.webhooks",
    "bookingcore.services.webhooks",
    "bookingcore_adapters.webhooks",
    "bookingcore_adapters.email",
    "bookingcore_adapters.push",
    "bookingcore.domain.devices",
    "bookingcore.domain.sharing",
    "bookingcore.services.sharing",
    # ---- jobs (issue 23)
    "bookingcore.domain.jobs",
    "bookingcore.ports.jobs",
    "bookingcore.services.jobs",
    "bookingcore.testing.job_contracts",
    "bookingcore_adapters.jobs",
    "bookingcore_adapters.jobs.procrastinate",
    # The travel operating system (0.3).
    "bookingcore.domain.leads",
    "bookingcore.domain.quotations",
    "bookingcore.ports.exchange",
    "bookingcore.services.leads",
    "bookingcore.services.quotations",
    "bookingcore.services.items",
    "bookingcore.services.dashboard",
    "bookingcore_adapters.exchange",
    "bookingcore_adapters.filestore",
    "bookingcore.domain.trips",
    "bookingcore.ports.documents",
    "bookingcore.services.trips",
    "bookingcore.testing.travel_contracts",
    # ---- PDF documents (the pdf extra)
    "bookingcore_adapters.pdf",
]

SRC = Path(__file__).resolve().parents[2] / "src"


def _isort_style(name: str) -> tuple[int, str]:
    """CONSTANTS, then Classes, then functions: the order ruff's RUF022 keeps."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_importable_and_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_style), f"{module_name}.__all__ is not sorted"
    assert module.__doc__, f"{module_name} has no docstring"
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module_name}.{name} has no docstring"


def test_every_public_name_of_the_top_level_package_is_reexported_from_its_home() -> None:
    for name in bookingcore.__all__:
        obj = getattr(bookingcore, name)
        home = getattr(obj, "__module__", None)
        if home and inspect.isclass(obj):
            assert getattr(importlib.import_module(home), name) is obj


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module)
    return roots


def test_the_domain_imports_only_stdlib_attrs_phonenumbers_email_validator_and_itself() -> None:
    allowed_third_party = {"attrs", "phonenumbers", "email_validator"}
    for path in sorted((SRC / "bookingcore" / "domain").glob("*.py")):
        for name in _imported_roots(path):
            root = name.split(".")[0]
            if root == "bookingcore":
                assert name.startswith(("bookingcore.domain", "bookingcore.errors")), (
                    f"{path.name} imports {name}"
                )
            else:
                assert root in sys.stdlib_module_names or root in allowed_third_party, (
                    f"{path.name} imports {name}"
                )


def test_the_core_never_imports_an_adapter() -> None:
    for path in sorted((SRC / "bookingcore").rglob("*.py")):
        assert not any(n.startswith("bookingcore_adapters") for n in _imported_roots(path)), path


#: The top level, frozen: adding, removing or moving a name here is a change of
#: the public API and needs a CHANGELOG line. What a host wires and calls.
TOP_LEVEL = [
    "Attendance",
    "AttendanceMark",
    "AuthNotConfiguredError",
    "AuthSettings",
    "AuthenticationError",
    "Automations",
    "BookingArchivedError",
    "BookingChanges",
    "BookingCore",
    "BookingError",
    "BookingFilter",
    "BookingGroupId",
    "BookingId",
    "BookingItemId",
    "BookingRequest",
    "CancellationPolicy",
    "CapacityError",
    "CertificateRule",
    "CommunicationId",
    "ConcurrentUpdateError",
    "ConflictError",
    "CustomerDetails",
    "CustomerFilter",
    "CustomerId",
    "DeliveryError",
    "DiscountTier",
    "DocumentId",
    "DuplicateError",
    "EmailAddress",
    "FieldError",
    "IdempotencyConflictError",
    "ImportSettings",
    "InvalidTransitionError",
    "Lifecycle",
    "LocationId",
    "LoyaltyProgram",
    "LoyaltyTier",
    "Money",
    "NewTraveler",
    "NotFoundError",
    "PageRequest",
    "PartnerId",
    "PartnerLimits",
    "PaymentId",
    "PaymentProviderError",
    "PaymentSettings",
    "PermissionDeniedError",
    "PhoneNumber",
    "Principal",
    "PrincipalKind",
    "ProductId",
    "ProductRequirements",
    "RandomIds",
    "RateLimit",
    "RateLimitedError",
    "ReadOnlyError",
    "RecipientGoneError",
    "RefundId",
    "RefundTier",
    "RequestOrigin",
    "RetryPolicy",
    "SavedTraveler",
    "Settings",
    "SlotFilter",
    "SlotId",
    "SlotSchedule",
    "StaffId",
    "StaffRole",
    "StaleVersionError",
    "SupplierId",
    "SystemClock",
    "TokenLifetimes",
    "TravelerDetails",
    "TravelerId",
    "ValidationError",
    "WaitlistEntryId",
]

#: The namespaces a user imports from; every public name lives in exactly one.
NAMESPACES = [
    "bookingcore",
    "bookingcore.domain",
    "bookingcore.ports",
    "bookingcore.services",
    "bookingcore.testing",
]


class TestTopLevel:
    def test_all_is_the_frozen_list(self) -> None:
        assert sorted(bookingcore.__all__) == TOP_LEVEL

    def test_all_is_sorted(self) -> None:
        assert list(bookingcore.__all__) == sorted(bookingcore.__all__)

    @pytest.mark.parametrize("name", TOP_LEVEL)
    def test_every_exported_name_has_its_own_docstring(self, name: str) -> None:
        obj = getattr(bookingcore, name)
        doc = inspect.getdoc(obj)
        assert doc, f"bookingcore.{name} has no docstring"
        # a NewType or an instance would otherwise show its type's docstring
        assert doc != inspect.getdoc(type(obj)), f"bookingcore.{name} has no docstring of its own"

    def test_the_errors_module_and_the_top_level_export_the_same_tree(self) -> None:
        assert set(bookingcore.errors.__all__) <= set(bookingcore.__all__)


def _public_attributes(module_name: str) -> set[str]:
    """Names a user can import from the module: not private, not a submodule."""
    module = importlib.import_module(module_name)
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


class TestOneImportPathPerName:
    def test_no_name_is_exported_from_two_public_namespaces(self) -> None:
        homes: dict[str, list[str]] = {}
        for namespace in NAMESPACES:
            for name in importlib.import_module(namespace).__all__:
                homes.setdefault(name, []).append(namespace)
        assert {name: where for name, where in homes.items() if len(where) > 1} == {}

    def test_no_object_is_exported_twice_under_different_names(self) -> None:
        seen: dict[int, str] = {}
        for namespace in NAMESPACES:
            module = importlib.import_module(namespace)
            for name in module.__all__:
                obj = getattr(module, name)
                if isinstance(obj, (str, int, frozenset, tuple)):
                    continue  # equal constants may share one interned object
                where = f"{namespace}.{name}"
                assert seen.setdefault(id(obj), where) == where, f"{where} is {seen[id(obj)]}"

    @pytest.mark.parametrize("namespace", NAMESPACES)
    def test_a_namespace_offers_nothing_beyond_its_all(self, namespace: str) -> None:
        module = importlib.import_module(namespace)
        assert _public_attributes(namespace) - set(module.__all__) <= {"__version__"}

    def test_a_domain_type_is_not_importable_from_the_top_level(self) -> None:
        with pytest.raises(ImportError):
            exec("from bookingcore import Booking", {})  # from bookingcore.domain

    def test_a_wiring_type_is_not_importable_from_services(self) -> None:
        with pytest.raises(ImportError):
            exec("from bookingcore.services import Settings", {})  # from bookingcore
