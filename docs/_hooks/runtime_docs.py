"""Griffe extension: the docstrings that ids get at run time.

The library's ids are ``NewType`` objects whose ``__doc__`` is set after they are
made, which static analysis cannot see. For each module-level ``NewType``
attribute without a docstring, this reads the docstring from the imported object,
so the reference shows the text ``help()`` shows.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe


class RuntimeNewTypeDocs(griffe.Extension):
    """Fill in the docstrings of ``NewType`` attributes from their run-time ``__doc__``."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **_: Any) -> None:
        """Give a ``NewType`` attribute its run-time docstring when it has none."""
        if attr.docstring is not None or not str(attr.value or "").startswith("NewType("):
            return
        module = importlib.import_module(attr.module.path)
        doc = getattr(getattr(module, attr.name, None), "__doc__", None)
        if doc:
            attr.docstring = griffe.Docstring(doc, parent=attr)
