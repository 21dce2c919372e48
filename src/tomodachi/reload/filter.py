"""Which file changes restart the services (stdlib only; used by the reload supervisor).

A change counts when its file ends in one of the watched endings (or is one of the files named
on the command line) and no directory on its path, below the watched root it is in, is ignored.
Only the part below the root is looked at, so a project that lives inside a dot-directory
(``~/.work/project``) or inside a directory called ``build`` is watched like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["DEFAULT_IGNORED_DIRS", "DEFAULT_WATCHED_FILE_ENDINGS", "ChangeFilter", "watch_roots"]

#: Directory names never watched: version control, caches, virtualenvs, node_modules, and the
#: original's own ``__ignored__``/``__temporary__``/``__tmp__``.
DEFAULT_IGNORED_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        "_darcs",
        "CVS",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".cache",
        ".eggs",
        ".venv",
        "venv",
        ".direnv",
        "node_modules",
        ".idea",
        ".vscode",
        "__ignored__",
        "__temporary__",
        "__tmp__",
    }
)
#: File endings that restart the services (the original's, plus ``.yaml``, ``.toml``, ``.ini``,
#: ``.cfg``).
DEFAULT_WATCHED_FILE_ENDINGS: tuple[str, ...] = (
    ".py",
    ".pyi",
    ".json",
    ".yml",
    ".yaml",
    ".toml",
    ".ini",
    ".cfg",
    ".html",
    ".phtml",
)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def watch_roots(files: Sequence[str], extra: Iterable[str] = ()) -> list[str]:
    """The directories to watch: the working directory, each service file's directory, each
    ``PYTHONPATH`` entry and *extra* ones; nested ones are dropped (their parent covers them), and
    so is the root directory of the file system."""
    candidates = [os.getcwd()]
    for file in files:
        path = file if os.path.exists(file) or file.endswith(".py") else f"{file}.py"
        candidates.append(os.path.dirname(os.path.abspath(path)))
    candidates.extend(entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry)
    candidates.extend(extra)
    roots: list[str] = []
    # Never the whole file system (a service started from "/"): its files' directories still are.
    existing = {_norm(c) for c in candidates if os.path.isdir(c)} - {_norm(os.sep)}
    for candidate in sorted(existing, key=len):
        if not any(candidate == root or candidate.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            roots.append(candidate)
    return roots


class ChangeFilter:
    """``filter(change, path) -> bool`` for ``watchfiles.watch``: does this change count?

    ``ignored_dirs`` entries are directory names (matched at any depth below a root) or paths
    (``data/tmp``, relative to a root, or absolute). ``watched_file_endings`` are endings such as
    ``.txt``. Both add to the defaults; :meth:`update` replaces the added ones (the services
    report their ``watcher.*`` options after each start).
    """

    def __init__(
        self,
        roots: Sequence[str],
        *,
        always: Iterable[str] = (),
        ignored_dirs: Iterable[str] = (),
        watched_file_endings: Iterable[str] = (),
    ) -> None:
        # Longest first, so a path is judged below the deepest root that holds it.
        self.roots = sorted((_norm(root) for root in roots), key=len, reverse=True)
        self.always = frozenset(_norm(path) for path in always)
        self._ignored_names: frozenset[str] = DEFAULT_IGNORED_DIRS
        self._ignored_paths: tuple[str, ...] = ()
        self._endings: tuple[str, ...] = DEFAULT_WATCHED_FILE_ENDINGS
        self.update(ignored_dirs, watched_file_endings)

    def update(self, ignored_dirs: Iterable[str], watched_file_endings: Iterable[str]) -> None:
        names = set(DEFAULT_IGNORED_DIRS)
        paths: list[str] = []
        for entry in ignored_dirs:
            entry = str(entry).strip().rstrip("/" + os.sep)
            if not entry:
                continue
            if "/" in entry or os.sep in entry:
                paths.append(entry)
            else:
                names.add(entry)
        endings = [*DEFAULT_WATCHED_FILE_ENDINGS]
        endings.extend(str(e).strip() for e in watched_file_endings if str(e).strip())
        # Assigned whole: the watcher thread reads them while another thread updates.
        self._ignored_names = frozenset(names)
        self._ignored_paths = tuple(paths)
        self._endings = tuple(dict.fromkeys(endings))

    def _relative(self, path: str) -> str | None:
        for root in self.roots:
            if path.startswith(root + os.sep):
                return path[len(root) + 1 :]
        return None

    def __call__(self, change: Any, path: str) -> bool:
        path = _norm(path)
        if path in self.always:
            return True
        name = os.path.basename(path)
        if name.startswith(".#") or not name.endswith(self._endings):  # .#x.py: an editor's lock file
            return False
        relative = self._relative(path)
        if relative is None:
            return True
        parts = relative.split(os.sep)[:-1]
        if any(part in self._ignored_names or part.endswith(".egg-info") for part in parts):
            return False
        for ignored in self._ignored_paths:
            if os.path.isabs(ignored):
                if path.startswith(_norm(ignored) + os.sep):
                    return False
            elif relative.startswith(os.path.normcase(ignored) + os.sep):
                return False
        return True

    def describe(self) -> str:
        return ", ".join(self.roots)
