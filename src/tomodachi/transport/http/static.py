"""``@http_static(path, base_url)``: serve the files of a directory.

*path* is the directory, relative to the service file's directory unless absolute. *base_url*
is a regex: with a ``(?P<filename>...)`` group, that group is the file name (relative to *path*);
without one, *base_url* is a prefix and the rest of the URL path is the file name::

    @tomodachi.http_static("public/", r"/static/")                       # /static/css/site.css
    @tomodachi.http_static("public/", r"/assets/(?P<filename>.+\\.png)")  # only .png files

A file name that leaves the directory (``..``, absolute paths, symlinks pointing out), a missing
file or a directory answers 404 (through an ``@http_error(404)`` handler if there is one). The
decorated method itself is never called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from tomodachi.errors import ConfigurationError
from tomodachi.logging import get_logger
from tomodachi.transport.http._keys import ROUTE_INFO_KEY
from tomodachi.transport.http.access_log import RouteLogInfo
from tomodachi.transport.http.handler import HttpState
from tomodachi.transport.http.routes import normalise_url

__all__ = ["StaticEndpoint", "static_url_pattern"]


def static_url_pattern(base_url: str) -> str:
    """The route pattern for *base_url*: as is with a ``filename`` group, else prefix + filename."""
    if "(?P<filename>" in base_url:
        return base_url
    core = normalise_url(base_url)[1:-1]
    if not core.endswith("/"):
        core += "/"
    return f"^{core}(?P<filename>.+)$"


def static_root(path: str, service_file: str | None) -> Path:
    """The served directory; relative paths are relative to the service file's directory."""
    root = Path(path).expanduser()
    if not root.is_absolute():
        base = Path(service_file).resolve().parent if service_file else Path.cwd()
        root = base / root
    return root.resolve()


class StaticEndpoint:
    """Serves files below one directory with ``aiohttp.web.FileResponse``."""

    __slots__ = ("log_info", "name", "root", "state")

    def __init__(
        self,
        state: HttpState,
        name: str,
        root: Path,
        *,
        ignore_logging: bool | list[int] | tuple[int, ...] = False,
    ) -> None:
        if root == Path(root.anchor):
            raise ConfigurationError(
                f"invalid path {str(root)!r} for http_static handler {name!r}: "
                "serving the file system root is refused"
            )
        if not root.is_dir():
            # As the original: the service starts and answers 404 until the directory exists
            # (it may be created by a build step); the warning says why nothing is found.
            get_logger("tomodachi.http").warning(
                "http_static directory does not exist: every request answers 404",
                handler=name,
                path=str(root),
            )
        self.state = state
        self.name = name
        self.root = root
        self.log_info = RouteLogInfo(name, ignore_logging)

    def locate(self, filename: str | None) -> Path | None:
        """The file for *filename*, or None when it is missing or outside the directory."""
        if not filename or "\x00" in filename:
            return None
        relative = filename.lstrip("/\\")
        if os.path.isabs(relative) or os.path.splitdrive(relative)[0]:
            return None
        try:
            candidate = (self.root / relative).resolve()
            # is_file() raises for some names (ENAMETOOLONG over 255 bytes): those are 404 too.
            if not candidate.is_relative_to(self.root) or not candidate.is_file():
                return None
        except (OSError, RuntimeError, ValueError):
            return None
        return candidate

    async def __call__(
        self, request: web.BaseRequest, groups: Mapping[str, str | None]
    ) -> web.StreamResponse:
        if self.state.access_enabled():
            request[ROUTE_INFO_KEY] = (self.log_info, None, None)
        path = self.locate(groups.get("filename"))
        if path is None:
            return await self.state.errors.respond(request, 404)
        return self.state.finish(web.FileResponse(path))
