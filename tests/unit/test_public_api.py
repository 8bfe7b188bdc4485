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
    "bookingcore.services.events",
    "bookingcore.services.imports",
    "bookingcore.domain.assignment",
    "bookingcore.domain.webhooks",
    "bookingcore.domain.imports",
    "bookingcore.domain.import_rows",
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
