"""Import service files given on the command line and find their service classes."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from tomodachi.errors import TomodachiError, describe_exception
from tomodachi.service import Service

__all__ = ["ServiceFileError", "import_service_file", "service_classes"]


class ServiceFileError(TomodachiError):
    """A service file is missing or cannot be imported; the message is one line."""


def _resolve(path: str) -> str:
    candidates = [path] if path.endswith(".py") else [f"{path}.py", path]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
        if os.path.isdir(candidate) and os.path.isfile(os.path.join(candidate, "__init__.py")):
            return os.path.abspath(os.path.join(candidate, "__init__.py"))
    raise ServiceFileError(f"no such service file: {path}")


def _module_name(filename: str) -> tuple[str, str]:
    """Return ``(dotted module name, sys.path root)``; packages keep relative imports working."""
    directory, base = os.path.split(filename)
    parts = [] if base == "__init__.py" else [base[:-3]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts), directory


def _exec_file(name: str, filename: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, filename)
    if spec is None or spec.loader is None:
        raise ServiceFileError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def import_service_file(path: str) -> ModuleType:
    """Import the service file *path* (``.py`` optional) and return its module."""
    filename = _resolve(path)
    name, root = _module_name(filename)
    top = name.split(".")[0]
    if not name.isidentifier() and "." not in name:
        name = "".join(c if c.isalnum() else "_" for c in name)
    if top in sys.stdlib_module_names or top == "tomodachi":
        shadowed = "tomodachi" if top == "tomodachi" else "standard library"
        raise ServiceFileError(
            f"{path}: the module name {top!r} shadows the {shadowed} module of that name; "
            "rename the file or its package"
        )
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        existing = sys.modules.get(name)
        if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == filename:
            return existing
        if "." in name:  # inside a package: a regular import keeps relative imports working
            return importlib.import_module(name)
        if existing is not None:
            # Another module of the same name is loaded (two service files named app.py): load apart.
            name = f"{name}__tomodachi_{abs(hash(filename)):x}"
        return _exec_file(name, filename, path)
    except ServiceFileError:
        raise
    except SyntaxError as exc:
        raise ServiceFileError(f"{path}: syntax error: {exc.msg} ({exc.filename}:{exc.lineno})") from exc
    except Exception as exc:
        raise ServiceFileError(f"{path}: error while importing: {describe_exception(exc)}") from exc


def service_classes(module: ModuleType) -> list[type[Service]]:
    """Service classes to start from *module*, in definition order.

    Classes defined in the module come first; a class that is subclassed by another service
    class is a base, not a service. When the module defines none, service classes it imports
    are used (so ``from .impl import Service`` in an entry file keeps working).
    """
    candidates = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Service) and value is not Service
    ]
    leaves = [c for c in candidates if not any(issubclass(s, Service) for s in c.__subclasses__())]
    own = [c for c in leaves if c.__module__ == module.__name__]
    return own or leaves
