"""Nothing under src/ touches a private name of SQLAlchemy, psycopg, Alembic or procrastinate.

Their private names (``_cached_bind_processor``, ``sqlalchemy.engine._row``,
``connection._dbapi_connection``, ...) change in any release without notice.
The check is static: in every module that imports one of those libraries, it
refuses

* an import of a private module or name from them (``from sqlalchemy.sql import
  _x``, ``import psycopg._y``);
* an attribute with a single leading underscore read off anything but ``self``
  or ``cls`` (``x.type._cached_bind_processor(dialect)``): such a module holds
  their objects, and reaching into another of our own objects' privates is
  refused by the project's rules anyway;
* ``getattr``/``setattr``/``hasattr``/``delattr`` with such a name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LIBRARIES = ("sqlalchemy", "psycopg", "alembic", "procrastinate")
_REFLECTION = {"getattr", "setattr", "hasattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _of_a_library(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in LIBRARIES


def private_uses(source: str) -> list[str]:
    """Where ``source`` touches a private name of SQLAlchemy, psycopg or Alembic (line: what)."""
    tree = ast.parse(source)
    found: list[str] = []
    uses_a_library = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _of_a_library(alias.name):
                    uses_a_library = True
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _of_a_library(node.module):
            uses_a_library = True
            assert node.module is not None
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{node.lineno}: from {node.module} import ...")
            found += [
                f"{node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if _private(alias.name)
            ]
    if not uses_a_library:
        return found
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _REFLECTION
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append(f"{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(SRC)))
def test_no_private_name_of_sqlalchemy_psycopg_or_alembic_is_used(path: Path) -> None:
    assert private_uses(path.read_text(encoding="utf-8")) == []


def test_the_sql_adapter_is_among_the_sources_checked() -> None:
    checked = {path.relative_to(SRC).as_posix() for path in SOURCES}
    assert "bookingcore_adapters/sql/_driver.py" in checked
    assert "bookingcore_adapters/sql/_session.py" in checked


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (  # what the adapter did before 0.2: a type's private processor cache
            "from sqlalchemy import Table\n"
            "def processors(binds, names, dialect):\n"
            "    return [binds[n].type._cached_bind_processor(dialect) for n in names]\n",
            ["3: ._cached_bind_processor"],
        ),
        (
            "import sqlalchemy\n"
            "def result(column, dialect, coltype):\n"
            "    return column.type._cached_result_processor(dialect, coltype)\n",
            ["3: ._cached_result_processor"],
        ),
        (
            "from sqlalchemy import Connection\n"
            "def fire(connection: Connection) -> None:\n"
            "    getattr(connection, '_dbapi_connection')\n",
            ["3: getattr(..., '_dbapi_connection')"],
        ),
        (
            "from sqlalchemy.engine._row_cy import BaseRow\n",
            ["1: from sqlalchemy.engine._row_cy import ..."],
        ),
        (
            "from sqlalchemy.util import _collections\n",
            ["1: from sqlalchemy.util import _collections"],
        ),
        ("import psycopg._encodings\n", ["1: import psycopg._encodings"]),
        ("from alembic.operations import _x\n", ["1: from alembic.operations import _x"]),
    ],
)
def test_the_check_finds_private_names(source: str, expected: list[str]) -> None:
    assert private_uses(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import Table\nclass A:\n    def f(self):\n        return self._x\n",
        "from sqlalchemy import Table\ndef f(t: Table):\n    return t.c.__class__\n",
        "def f(other):\n    return other._x  # no SQLAlchemy, psycopg or Alembic here\n",
        "from sqlalchemy import Table\ndef f(t):\n    return t.type.dialect_impl(None)\n",
    ],
)
def test_the_check_lets_public_and_own_names_pass(source: str) -> None:
    assert private_uses(source) == []
