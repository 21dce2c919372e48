"""The HTTP access log: one line per request from logger ``tomodachi.http.response``.

The line has an empty message and these keys, in this order::

    status_code, [replaced_status_code,] [response_aborted,] remote_ip, [auth_user,] request_method,
    request_path, [request_query_string,]
    http_version, response_content_length, [request_content_length,] user_agent,
    handler_elapsed_time, request_time                  (times formatted like "0.00135s")

It is written through aiohttp's public access-logger hook (``AbstractAccessLogger``), after the
response was sent, so ``response_content_length`` is the sent ``Content-Length`` (None when streamed) and
``request_time`` covers writing the response. A request whose client went away before the
response was written is logged with status 499 (``replaced_status_code`` holds the status the
handler produced).

``http.access_log`` may be ``True`` (log lines), ``False`` (nothing) or a file path: then every
line is ALSO appended to that file as one JSON object per line. Nothing is computed when the
access log is off: the handler records its timing only when :attr:`AccessLog.enabled` is true.

The fields are gathered when the response was sent; the line is rendered and written at the end of
that event-loop iteration, together with the other lines of the iteration (one ``write``; see
:func:`tomodachi.logging.outputs.defer`), with the timestamp of the moment it was gathered. Lines
keep their order, and :meth:`AccessLog.close` (the transport's stop) writes what is left.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import time
from typing import IO, Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tomodachi.logging import get_logger, is_enabled_for
from tomodachi.logging.logger import Pipeline, current_pipeline, emit_at
from tomodachi.logging.outputs import StreamOutput, defer
from tomodachi.logging.processors import mask_secrets
from tomodachi.transport.http._keys import ROUTE_INFO_KEY
from tomodachi.transport.http.real_ip import get_forwarded_remote_ip

__all__ = ["AbortedResponse", "AccessLog", "AccessLogger", "RouteLogInfo"]


class AbortedResponse(web.Response):
    """Stands for a response that failed after it had started: its connection was aborted.

    aiohttp gets it instead of a second response (which would be written into the open body);
    the access line has ``response_aborted: true``.
    """


_INFO = 20


class RouteLogInfo:
    """What the access log needs to know about the endpoint that answered."""

    __slots__ = ("handler", "ignore_all", "ignore_statuses")

    def __init__(
        self, handler: str, ignore_logging: bool | list[int] | tuple[int, ...] | frozenset[int] = False
    ) -> None:
        self.handler = handler
        self.ignore_all = ignore_logging is True
        self.ignore_statuses: frozenset[int] = (
            frozenset(int(s) for s in ignore_logging)
            if isinstance(ignore_logging, (list, tuple, set, frozenset))
            else frozenset()
        )

    def ignores(self, status: int) -> bool:
        return self.ignore_all or status in self.ignore_statuses


class AccessLog:
    """The access-log configuration of one HTTP transport (also the JSON-lines file, if any)."""

    def __init__(self, path: str | None = None) -> None:
        self.logger = get_logger("tomodachi.http.response")
        self.path = path
        self._file: IO[str] | None = None
        self._renderer: Any = None
        # (fields, wall-clock time) gathered in this loop iteration, written by _flush.
        self._pending: list[tuple[dict[str, Any], float]] = []
        self._flush_callback = self._flush  # one bound method, queued once per iteration

    def open(self, base_dir: str | None = None) -> None:
        if self.path and self._file is None:
            from tomodachi.logging.renderers import JSONRenderer

            path = self.path
            if base_dir and not os.path.isabs(path):
                path = os.path.join(base_dir, path)
            # Block-buffered: _flush writes an iteration's lines, then flushes once.
            self._file = open(path, "a", encoding="utf-8")
            self._renderer = JSONRenderer()

    def close(self) -> None:
        self._flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def enabled(self) -> bool:
        """Whether a line would be written anywhere (checked before any work is done)."""
        return self._file is not None or is_enabled_for(_INFO)

    def emit(self, fields: dict[str, Any]) -> None:
        """Log one request's *fields*: at the end of this loop iteration where that changes nothing
        but the time of the write (console/JSON output, no processors but secret masking), else now."""
        pipeline = current_pipeline()
        if pipeline.level > _INFO and self._file is None:
            return
        if _deferrable(pipeline):
            pending = self._pending
            pending.append((fields, _wall_clock()))
            if len(pending) == 1:
                defer(self._flush_callback)
            return
        self._write(pipeline, fields, None)

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        pipeline = current_pipeline()
        file = self._file
        output = pipeline.output
        usual = file is None and pipeline.level <= _INFO and _deferrable(pipeline)
        if usual and isinstance(output, StreamOutput):
            # The usual case, in one go: what Logger.info does per line (context, "event", the
            # processors: secret masking only), then one write for the iteration's lines.
            context = self.logger._context
            events = []
            for fields, created in pending:
                event_dict = {**context, **fields} if context else fields
                event_dict["event"] = ""
                events.append((mask_secrets(None, "info", event_dict), created))
            output.emit_many(_INFO, self.logger.name, events)
            return
        for fields, created in pending:
            self._write(pipeline, fields, created)
        if file is not None:
            try:
                file.flush()
            except (OSError, ValueError) as exc:
                logging.getLogger("tomodachi.http").warning("cannot write access log file: %s", exc)

    def _write(self, pipeline: Pipeline, fields: dict[str, Any], created: float | None) -> None:
        file = self._file
        if file is not None:
            line = self._renderer.render("tomodachi.http.response", _INFO, {"event": "", **fields}, created)
        if pipeline.level <= _INFO:
            emit_at(self.logger, pipeline, _INFO, created, "", fields)
        if file is not None:
            try:
                file.write(line + "\n")
                if created is None:
                    file.flush()
            except (OSError, ValueError) as exc:  # a full disk must not take the service down
                logging.getLogger("tomodachi.http").warning("cannot write access log file: %s", exc)


def _deferrable(pipeline: Pipeline) -> bool:
    """Whether writing a line later changes nothing but when it is written: a console or JSON
    output, and no processor but secret masking (one that adds a trace id reads the context now)."""
    processors = pipeline.processors
    return type(pipeline.output) is StreamOutput and (
        not processors or (len(processors) == 1 and processors[0] is mask_secrets)
    )


_wall_clock = time.time


def basic_auth_user(authorization: str) -> str | None:
    """The user name of a ``Basic`` ``Authorization`` header (None when malformed)."""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep else None


def _seconds(value: float) -> str:
    return f"{value:.5f}s"


class AccessLogger(AbstractAccessLogger):
    """aiohttp access-logger hook; aiohttp passes our :class:`AccessLog` as its ``logger``."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        config = self.logger
        return config.enabled if isinstance(config, AccessLog) else False

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        config = self.logger
        if not isinstance(config, AccessLog):
            return
        info = request.get(ROUTE_INFO_KEY)
        status = response.status
        route: RouteLogInfo | None = None
        elapsed: float | None = None
        if info is not None:
            route, elapsed, started = info
            if route is not None and route.ignores(status):
                return
            if started is not None:
                # aiohttp's figure follows the loop clock (1 ms steps under uvloop); ours is finer.
                time = now() - started
        fields = build_fields(request, response, time, elapsed)
        config.emit(fields)


#: Query parameters whose values the access log masks (``***``): a name containing one of these
#: (case-insensitive), or equal to one of :data:`_SECRET_QUERY_NAMES`.
SECRET_QUERY_WORDS = ("token", "secret", "password", "passwd", "signature", "credential", "api_key", "apikey")
_SECRET_QUERY_NAMES = frozenset({"key", "sig", "pwd", "code", "auth", "authorization", "session"})
_SECRET_QUERY_RE = re.compile(
    r"(?i)(^|&)((?:[^&=]*(?:"
    + "|".join(SECRET_QUERY_WORDS)
    + r")[^&=]*|"
    + "|".join(sorted(_SECRET_QUERY_NAMES))
    + r")=)[^&]*"
)


def mask_query_string(query: str) -> str:
    """*query* with the values of secret-looking parameters (``token=``, ``password=``, ...) as ``***``."""
    return _SECRET_QUERY_RE.sub(r"\1\2***", query)


def build_fields(
    request: web.BaseRequest, response: web.StreamResponse, request_time: float, handler_elapsed: float | None
) -> dict[str, Any]:
    """The access-log fields of one request, in their documented order."""
    status = response.status
    fields: dict[str, Any] = {}
    if response.__class__ is AbortedResponse:  # failed after it started: the connection was aborted
        fields["status_code"] = status
        fields["response_aborted"] = True
    elif request.transport is None:  # the client went away before the response was written
        fields["status_code"] = 499
        fields["replaced_status_code"] = status
    else:
        fields["status_code"] = status
    fields["remote_ip"] = get_forwarded_remote_ip(request)
    headers = request.headers
    authorization = headers.get("Authorization")
    if authorization and authorization[:6].lower() == "basic ":
        user = basic_auth_user(authorization)
        if user is not None:
            fields["auth_user"] = user
    fields["request_method"] = request.method
    fields["request_path"] = request.path
    query = request.query_string
    if query:
        fields["request_query_string"] = mask_query_string(query)
    version = request.version
    fields["http_version"] = f"HTTP/{version.major}.{version.minor}"
    fields["response_content_length"] = response.content_length
    content_length = request.content_length
    if content_length is not None:
        fields["request_content_length"] = content_length
    fields["user_agent"] = headers.get("User-Agent", "")
    fields["handler_elapsed_time"] = _seconds(handler_elapsed) if handler_elapsed is not None else None
    fields["request_time"] = _seconds(request_time)
    return fields


def now() -> float:
    """The clock used for handler timing (monotonic, like the loop's)."""
    return time.perf_counter()
