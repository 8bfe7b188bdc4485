"""Every entity the library writes audit entries for can be read through ``core.audit.trail``.

The names are found in the source: each ``entity=`` given to ``Transaction.audit`` or
``AuditEntry`` (and the names catalog helpers pass on), so a new audited entity that is
not added to ``AUDITED_ENTITIES`` fails here instead of being written but unreadable."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from uuid import uuid4

import pytest

import bookingcore
from bookingcore import BookingCore, Principal
from bookingcore.domain.bookings import Booking
from bookingcore.domain.items import BookingItem
from bookingcore.services.audit import AUDITED_ENTITIES

_SOURCE = Path(bookingcore.__file__).parent
#: ``<name>.entity_name`` given as the entity: the class each variable name holds.
_ENTITY_NAME_HOLDERS = {"booking": Booking, "item": BookingItem}


def _module(path: Path) -> str:
    return ".".join(("bookingcore", *path.relative_to(_SOURCE).with_suffix("").parts))


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def _enclosing(tree: ast.AST, target: ast.AST) -> ast.FunctionDef | None:
    found = None
    for function in _functions(tree):
        if any(node is target for node in ast.walk(function)):
            found = function  # the innermost (walk goes outside in)
    return found


def _resolve(tree: ast.AST, module: str, value: ast.expr, where: ast.AST) -> set[str]:
    """The entity names ``value`` (an argument in ``module``) can hold."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return {value.value}
    if isinstance(value, ast.Attribute) and value.attr == "entity_name":
        holder = value.value
        teach = f"{module}: teach this test what {ast.unparse(value)} is"
        assert isinstance(holder, ast.Name), teach
        assert holder.id in _ENTITY_NAME_HOLDERS, teach
        return {_ENTITY_NAME_HOLDERS[holder.id].entity_name}
    if isinstance(value, ast.Name):
        function = _enclosing(tree, where)
        parameters = [arg.arg for arg in function.args.args] if function else []
        keyword_only = [arg.arg for arg in function.args.kwonlyargs] if function else []
        if function is not None and function.name == "audit" and value.id in keyword_only:
            return set()  # Transaction.audit passes on what its callers (scanned) give it
        if function is not None and value.id in parameters:
            # A parameter: whatever the callers in this module pass for it.
            index = parameters.index(value.id)
            if parameters[:1] == ["self"]:
                index -= 1  # a method: its callers pass ``self`` before the arguments
            names: set[str] = set()
            callers = [call for call in _calls(tree) if _callee(call) == function.name]
            assert callers, f"{module}.{function.name}: no callers to read {value.id} from"
            for call in callers:
                given = [kw.value for kw in call.keywords if kw.arg == value.id]
                argument = given[0] if given else call.args[index]
                names |= _resolve(tree, module, argument, call)
            return names
        constant = getattr(importlib.import_module(module), value.id)
        assert isinstance(constant, str), f"{module}: {value.id} is not an entity name"
        return {constant}
    raise AssertionError(f"{module}: teach this test what {ast.unparse(value)} is")


def _audited_entity_names() -> dict[str, set[str]]:
    """Every entity name given to an audit entry in the library, with the modules giving it."""
    found: dict[str, set[str]] = {}
    for path in sorted(_SOURCE.rglob("*.py")):
        module = _module(path)
        if module.startswith("bookingcore.testing"):
            continue  # contract-test helpers write made-up entries
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            if _callee(call) not in {"audit", "AuditEntry"}:
                continue
            for keyword in call.keywords:
                if keyword.arg == "entity":
                    for name in _resolve(tree, module, keyword.value, call):
                        found.setdefault(name, set()).add(module)
    return found


AUDITED = _audited_entity_names()


def test_the_scan_finds_the_entities_audited_in_many_places() -> None:
    # The scan itself works: literals, module constants, catalog parameters, entity_name.
    assert {"booking", "booking item", "customer", "lead", "location", "product"} <= set(AUDITED)


@pytest.mark.parametrize("entity", sorted(AUDITED))
def test_every_audited_entity_is_readable(entity: str, core: BookingCore, admin: Principal) -> None:
    assert entity in AUDITED_ENTITIES, f"{entity} is audited by {sorted(AUDITED[entity])}"
    if entity != "booking":  # a booking trail needs the booking (tested elsewhere)
        assert list(core.audit.trail(entity, uuid4(), principal=admin)) == []
