"""``@websocket(url)`` endpoints.

The handler is called once per connection, after the upgrade, with the
``aiohttp.web.WebSocketResponse`` and the request. Its first two positional parameters (after
``self``) receive ``(websocket, request)`` in that order; parameters named ``websocket`` or
``request`` and the URL's named groups are injected by name::

    @tomodachi.websocket(r"/chat/(?P<room>[^/]+)")
    async def chat(self, websocket, request, room):
        async def receive(data):            # called for every TEXT (str) and BINARY (bytes) message
            await websocket.send_str(data if isinstance(data, str) else data.decode())
        async def closed():                 # called once the connection has closed
            ...
        return receive, closed              # or just `receive`, or None

The callbacks may be plain functions or coroutine functions. The connection stays open until
the client closes it (or the service stops: close code 1001 "going away"). Unlike the original,
BINARY messages are delivered too (as ``bytes``). An exception in the handler or a callback is
logged and closes the connection with code 1011. ``http_middleware`` does not apply here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tomodachi.injection import HandlerCall, compile_handler
from tomodachi.logging import reset_context_logger
from tomodachi.logging.context import ContextLoggerSetter
from tomodachi.transport.http._keys import ROUTE_INFO_KEY
from tomodachi.transport.http.access_log import RouteLogInfo, now
from tomodachi.transport.http.handler import HttpState, group_values, groups_with_defaults, handler_logger

__all__ = ["WebSocketEndpoint"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_aliases(func: Callable[..., Any], group_names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``(parameter, value key)`` pairs filling unnamed positional parameters with websocket, request."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return ()
    known = {"websocket", "request", *group_names}
    positional = [p.name for p in params if p.kind in _POSITIONAL]
    remaining = [key for key in ("websocket", "request") if key not in positional]
    aliases: list[tuple[str, str]] = []
    for name in positional:
        if not remaining:
            break
        if name not in known:
            aliases.append((name, remaining.pop(0)))
    return tuple(aliases)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class WebSocketEndpoint:
    """A compiled ``@websocket`` handler."""

    __slots__ = ("aliases", "call", "drop_none", "log_info", "logger", "name", "set_logger", "state")

    def __init__(
        self, state: HttpState, name: str, func: Callable[..., Any], group_names: Sequence[str]
    ) -> None:
        self.state = state
        self.name = name
        self.aliases = _positional_aliases(func, group_names)
        self.call: HandlerCall = compile_handler(func)
        self.logger = handler_logger(name, "tomodachi.websocket")
        self.set_logger = ContextLoggerSetter(self.logger)
        self.log_info = RouteLogInfo(name)
        self.drop_none = groups_with_defaults(func, group_names)

    async def __call__(
        self, request: web.BaseRequest, groups: Mapping[str, str | None]
    ) -> web.StreamResponse:
        state = self.state
        websocket = web.WebSocketResponse()
        if not websocket.can_prepare(request).ok:
            return await state.errors.respond(request, 400)
        started = now()
        await websocket.prepare(request)
        state.websockets.add(websocket)
        token = self.set_logger.set()
        on_close: Callable[..., Any] | None = None
        try:
            values: dict[str, Any] = {"websocket": websocket, "request": request}
            if groups:
                values.update(group_values(groups, self.drop_none))
            for name, key in self.aliases:
                values[name] = values[key]
            result = await self.call(values)
            on_receive: Callable[..., Any] | None = None
            if isinstance(result, (tuple, list)):
                on_receive = result[0] if len(result) > 0 else None
                on_close = result[1] if len(result) > 1 else None
            elif callable(result):
                on_receive = result
            async for message in websocket:
                if message.type is WSMsgType.TEXT or message.type is WSMsgType.BINARY:
                    if on_receive is not None:
                        await _maybe_await(on_receive(message.data))
                elif message.type is WSMsgType.ERROR:
                    break
        except (SystemExit, KeyboardInterrupt) as exc:  # a graceful stop, as from an HTTP handler
            state.exit_requested(self.name, exc)
            await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"service stopping")
        except Exception as exc:
            state.log_uncaught(self.name, exc)
            await websocket.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
        finally:
            state.websockets.discard(websocket)
            try:
                if not websocket.closed:
                    await websocket.close()
                if on_close is not None:
                    try:
                        await _maybe_await(on_close())
                    except Exception as exc:
                        state.log_uncaught(self.name, exc)
            finally:
                reset_context_logger(token)
                if state.access_enabled():
                    request[ROUTE_INFO_KEY] = (self.log_info, now() - started, started)
        return websocket
