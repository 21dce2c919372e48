"""Import service files given on the command line and find their service classes."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import importlib.util
import keyword
import os
import sys
from types import ModuleType

from tomodachi.errors import TomodachiError, describe_exception
from tomodachi.service import Service

__all__ = ["ServiceFileError", "import_service_file", "load_service_file", "service_classes"]


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


def _has_relative_imports(filename: str) -> bool:
    """Whether the file contains ``from . import x`` / ``from .mod import x`` (read, never run)."""
    try:
        with open(filename, "rb") as file:
            tree = ast.parse(file.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return False  # the regular import reports the error
    return any(isinstance(node, ast.ImportFrom) and node.level > 0 for node in ast.walk(tree))


def _is_package_for(module: ModuleType | None, directory: str) -> bool:
    locations = list(getattr(module, "__path__", None) or [])
    return any(_same_path(location, directory) for location in locations)


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _package_name_for(directory: str) -> str:
    """The name of the package that stands for *directory* (a service directory without ``__init__.py``).

    The directory's own name when that name is free (or already stands for this directory), so
    ``services/app.py`` becomes ``services.app`` as it would with an ``__init__.py``; otherwise a
    unique name derived from the directory, so a directory named ``os`` or ``json`` never shadows
    the module of that name.
    """
    base = os.path.basename(directory)
    if (
        base.isidentifier()
        and not keyword.iskeyword(base)
        and base not in sys.stdlib_module_names
        and base != "tomodachi"
    ):
        loaded = sys.modules.get(base)
        if loaded is not None:
            if _is_package_for(loaded, directory):
                return base
        else:
            try:
                spec = importlib.util.find_spec(base)  # a top-level name: runs no module code
            except (ImportError, ValueError):
                spec = None
            locations = list(spec.submodule_search_locations or []) if spec is not None else []
            if spec is None or any(_same_path(location, directory) for location in locations):
                return base
    sanitized = "".join(c if c.isalnum() else "_" for c in base) or "service"
    digest = hashlib.sha1(os.path.realpath(directory).encode()).hexdigest()[:10]
    return f"_tomodachi_services_{sanitized}_{digest}"


def _import_in_directory_package(filename: str) -> ModuleType:
    """Import *filename* as a submodule of a namespace-like package for its directory.

    A service file using relative imports (``from .helpers import x``) in a directory without
    ``__init__.py`` needs a parent package to resolve them against; the package's ``__path__``
    is the file's directory, so sibling modules and subdirectories (with or without
    ``__init__.py``) are importable relative to it.
    """
    directory = os.path.dirname(filename)
    package = _package_name_for(directory)
    created = package not in sys.modules
    if created:
        spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
        spec.submodule_search_locations = [directory]
        sys.modules[package] = importlib.util.module_from_spec(spec)
    stem = os.path.basename(filename)[:-3]
    if not stem.isidentifier():
        stem = "".join(c if c.isalnum() else "_" for c in stem)
    name = f"{package}.{stem}"
    existing = sys.modules.get(name)
    if existing is not None:
        if _same_path(getattr(existing, "__file__", "") or "", filename):
            return existing
        name = f"{name}__tomodachi_{hashlib.sha1(filename.encode()).hexdigest()[:10]}"
    try:
        module = _exec_file(name, filename, filename)
    except BaseException:
        if created:  # leave nothing half-imported behind
            for loaded in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
                del sys.modules[loaded]
        raise
    setattr(sys.modules[package], name.rpartition(".")[2], module)
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
        if _has_relative_imports(filename):
            return _import_in_directory_package(filename)
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


def load_service_file(path: str) -> list[type[Service]]:
    """Import the service file *path* and return the service classes to start from it.

    A file with no service class is an error (``no transport handlers defined``), as in the
    original: otherwise the run would wait for a signal doing nothing.
    """
    classes = service_classes(import_service_file(path))
    if not classes:
        from tomodachi.logging import get_logger

        get_logger("tomodachi.init").error("no transport handlers defined", service_file=path)
        raise ServiceFileError(
            f"{path}: no transport handlers defined (the file has no subclass of tomodachi.Service)"
        )
    return classes
