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

What the line needs is gathered when the response was sent (:mod:`.access_line`); the line is
rendered and written at most 20 ms later (or as soon as 256 lines wait), together with the other
waiting lines, in one ``write`` (see :func:`tomodachi.logging.outputs.defer`), with the timestamp of
the moment it was gathered. Lines keep their order (any other line written meanwhile writes the
waiting ones first), and :meth:`AccessLog.close` (the transport's stop) writes what is left.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from typing import IO, TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tomodachi.logging import get_logger
from tomodachi.logging import logger as _logger_state
from tomodachi.logging.logger import Pipeline, current_pipeline, emit_at
from tomodachi.logging.outputs import StreamOutput, defer
from tomodachi.logging.processors import mask_secrets
from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer
from tomodachi.logging.routing import is_plain
from tomodachi.transport.http._keys import ROUTE_INFO_KEY
from tomodachi.transport.http.access_line import LOGGER_NAME, AbortedResponse, AccessRecord, gather
from tomodachi.transport.http.access_render import (
    console_lines,
    created_seconds,
    fields_of,
    json_fields,
    json_lines,
)

if TYPE_CHECKING:
    from tomodachi.transport.http.real_ip import RealIpResolver

__all__ = ["AbortedResponse", "AccessLog", "AccessLogger", "RouteLogInfo"]


_INFO = 20

#: The most access lines that wait to be written together (see :func:`tomodachi.logging.outputs.defer`).
MAX_WAITING = 256


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


class AccessLog:
    """The access-log configuration of one HTTP transport (also the JSON-lines file, if any)."""

    def __init__(self, path: str | None = None, real_ip: RealIpResolver | None = None) -> None:
        self.logger = get_logger(LOGGER_NAME)
        self.path = path
        #: The trusted proxies (``http.real_ip_from``) that decide ``remote_ip``.
        self.real_ip = real_ip
        self._file: IO[str] | None = None
        self._renderer: Any = None
        # Records not written yet (_flush writes them; see _wait). A deque: appended by the loop,
        # taken by whichever thread flushes, without a lock and without losing one.
        self._pending: deque[AccessRecord] = deque()
        self._flush_callback = self._flush  # one bound method, queued once per batch
        #: The logging pipeline whose lines wait in _pending (at info, deferrable): asked once per
        #: pipeline (configure() makes a new one, never changes one), not per request. While it
        #: is the current pipeline, the access log is enabled.
        self.batching: Pipeline | None = None

    def open(self, base_dir: str | None = None) -> None:
        if self.path and self._file is None:
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
        return self._file is not None or current_pipeline().level <= _INFO

    def _batches(self, record: AccessRecord) -> bool:
        """Whether *record* waits to be written with others under the current pipeline (then
        that pipeline's records do until it is replaced); else it was written now, or dropped."""
        pipeline = current_pipeline()
        if pipeline.level > _INFO and self._file is None:
            return False
        if not _deferrable(pipeline):
            self._write(pipeline, record, now=True)
            return False
        self.batching = pipeline
        return True

    def _wait(self, record: AccessRecord) -> None:
        """*record* joins the waiting ones: written within 20 ms with them, or now if it fills
        the batch."""
        pending = self._pending
        pending.append(record)
        waiting = len(pending)
        if waiting == 1:
            defer(self._flush_callback)
        elif waiting >= MAX_WAITING:
            self._flush()

    def _flush(self) -> None:
        waiting = self._pending
        if not waiting:
            return
        take = waiting.popleft
        pending = [take() for _ in range(len(waiting))]
        pipeline = current_pipeline()
        file = self._file
        if file is None and pipeline.level <= _INFO and _deferrable(pipeline):
            render = self._direct_renderer(pipeline.output)
            if render is not None:  # the usual case: the lines straight from the records, one write
                output = pipeline.output
                assert isinstance(output, StreamOutput)
                output.write_rendered(render(pending))
                return
        for record in pending:
            self._write(pipeline, record, now=False)
        if file is not None:
            try:
                file.flush()
            except (OSError, ValueError) as exc:
                logging.getLogger("tomodachi.http").warning("cannot write access log file: %s", exc)

    def _direct_renderer(self, output: Any) -> Any:
        """Renders records to the lines *output* would write for them (None: go the general way).

        Only when nothing else takes part: the logger has no bound context and no stdlib handler
        or level applies to it; the output renders with the console (no colours) or JSON renderer.
        """
        if self.logger._context or not is_plain(LOGGER_NAME):
            return None
        renderer = getattr(output.renderer, "__self__", None)
        if type(renderer) is ConsoleRenderer and not renderer.colors:
            return console_lines
        if type(renderer) is JSONRenderer:
            dumps = renderer.dumps
            return lambda records: json_lines(records, dumps)
        return None

    def _write(self, pipeline: Pipeline, record: AccessRecord, now: bool) -> None:
        file = self._file
        created = None if now else created_seconds(record)
        if file is not None:
            line = self._renderer.dumps(json_fields(record))
        if pipeline.level <= _INFO:
            emit_at(self.logger, pipeline, _INFO, created, "", fields_of(record))
        if file is not None:
            try:
                file.write(line + "\n")
                if now:
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


_wall_clock = time.time_ns


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
        status = response.status
        elapsed: float | None = None
        try:
            route, elapsed, started = request[ROUTE_INFO_KEY]
        except KeyError:
            pass
        else:
            if route is not None and (route.ignore_all or status in route.ignore_statuses):
                return
            if started is not None:
                # aiohttp's figure follows the loop clock (1 ms steps under uvloop); ours is finer.
                time = now() - started
        record = gather(request, response, status, _wall_clock() // 1000, time, elapsed, config.real_ip)
        # Written within 20 ms, with the other waiting lines, where that changes nothing but the
        # time of the write (console/JSON output, no processors but secret masking), else now.
        if _logger_state._pipeline is config.batching or config._batches(record):
            config._wait(record)


#: The clock used for handler timing (monotonic, like the loop's): ``time.perf_counter`` itself,
#: not a function around it (it is read three times per request).
now = time.perf_counter
