"""Modules the CLI imports on first use, so that `amanat --help`, `--version` and a read command
do not pay for the chain, store and signing stack (eth-account, py_ecc, Alembic) they do not use.

Each command module binds such a module with `lazy_module` at run time and imports it normally
under `TYPE_CHECKING`, so that mypy still checks every call against the real module.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """A stand-in for the module of the same name, imported on the first attribute read."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> Any:
    """The module `name`, imported when one of its attributes is first read."""
    return LazyModule(name)
