"""The storage contract suite itself: it covers every versioned entity and every port method,
and its capabilities skip only what an adapter declares it cannot do."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from typing import Any

import pytest

import bookingcore.domain
from bookingcore.domain.values import Versioned
from bookingcore.ports.uow import UnitOfWork
from bookingcore.testing import AdapterCapabilities, contracts, requires
from bookingcore.testing.capabilities import required_capabilities
from bookingcore.testing.contracts import VERSIONED_KINDS, CatalogRepositoryContract

#: Repositories the catalog contract reaches through ``getattr(uow, kind)``.
_CATALOG = frozenset({"locations", "products", "suppliers"})


def _domain_versioned_classes() -> set[type[Any]]:
    for module in pkgutil.walk_packages(bookingcore.domain.__path__, "bookingcore.domain."):
        importlib.import_module(module.name)
    found: set[type[Any]] = set()
    waiting: list[type[Any]] = [Versioned]
    while waiting:
        for subclass in waiting.pop().__subclasses__():
            waiting.append(subclass)
            if subclass.__module__.startswith("bookingcore.domain."):
                found.add(subclass)
    return found


def _port_methods() -> list[tuple[str, str]]:
    """Every (unit of work attribute, repository method) the services may call."""
    pairs = []
    for attribute, member in vars(UnitOfWork).items():
        if not isinstance(member, property) or member.fget is None:
            continue
        protocol = typing.get_type_hints(member.fget)["return"]
        pairs.extend(
            (attribute, name)
            for name, value in vars(protocol).items()
            if inspect.isfunction(value) and not name.startswith("_")
        )
    return sorted(pairs)


class TestTheContractSuite:
    def test_every_versioned_entity_of_the_domain_has_its_version_checked(self) -> None:
        """A new subclass of Versioned fails here until VERSIONED_KINDS covers it."""
        covered = {kind.entity for kind in VERSIONED_KINDS}
        assert _domain_versioned_classes() == covered
        assert len(covered) == len(VERSIONED_KINDS)

    @pytest.mark.parametrize(("repository", "method"), _port_methods())
    def test_every_repository_method_of_the_unit_of_work_is_exercised(
        self, repository: str, method: str
    ) -> None:
        """A port method no contract test calls fails here until one does."""
        suite = inspect.getsource(contracts)
        if repository in _CATALOG:
            suite = inspect.getsource(CatalogRepositoryContract)
            assert re.search(rf"(\brepo|getattr\(uow, kind\))\.{method}\(", suite)
        else:
            aliases = re.findall(rf"(\w+) = \w+\.{repository}\n", suite)
            callers = "|".join([rf"\.{repository}", *(rf"\b{alias}" for alias in aliases)])
            assert re.search(rf"({callers})\.{method}\(", suite)

    def test_a_missing_capability_skips_the_test_and_says_which(self) -> None:
        @requires("persistent", "row_locks_across_processes")
        def needs_both() -> None: ...

        assert required_capabilities(needs_both) == ("persistent", "row_locks_across_processes")
        assert AdapterCapabilities(persistent=True).lacks(*required_capabilities(needs_both)) == [
            "row_locks_across_processes"
        ]
        full = AdapterCapabilities(persistent=True, row_locks_across_processes=True)
        assert full.lacks(*required_capabilities(needs_both)) == []

    def test_an_unknown_capability_is_refused_when_the_suite_is_written(self) -> None:
        with pytest.raises(AttributeError, match="row_lock"):
            requires("row_lock")
