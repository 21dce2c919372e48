"""The ``graphql-transport-ws`` protocol over an aiohttp websocket (subscriptions, and queries and
mutations too).

The client sends ``connection_init`` (within ``graphql.connection_init_timeout``, else close code
4408), the server answers ``connection_ack``; then each ``subscribe`` (an id and a request) runs as
one operation: a validation error is one ``error`` message, results are ``next`` messages, the end
of the stream is ``complete``; the client's ``complete`` stops an operation. ``ping`` is answered
with ``pong``. Protocol mistakes close the socket with the protocol's codes (4400 bad message,
4401 subscribe before the ack, 4406 other subprotocol, 4409 duplicate id, 4429 second init).
A graceful stop completes every running operation and closes with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from aiohttp import WSMsgType, web
from graphql import GraphQLError

from tomodachi.logging import get_logger
from tomodachi.tasks import TaskTracker
from tomodachi.transport.graphql.context import GraphQLContext
from tomodachi.transport.graphql.execution import Executor, RequestError
from tomodachi.transport.graphql.schema import INTERNAL_ERROR

if TYPE_CHECKING:
    from tomodachi.service import Service

__all__ = ["PROTOCOL", "Connection", "Connections"]

PROTOCOL = "graphql-transport-ws"


class _Closed(Exception):
    """The connection is over (closed by us with a protocol code, or by the client)."""


class Connections:
    """The live websocket connections of one service's GraphQL endpoint."""

    def __init__(
        self,
        service: Service,
        executor: Executor,
        *,
        init_timeout: float,
        max_operations: int,
        max_message_size: int,
    ) -> None:
        self.service = service
        self.executor = executor
        self.init_timeout = init_timeout
        self.max_operations = max_operations
        self.max_message_size = max_message_size
        self.live: set[Connection] = set()
        self.stopping = False

    async def serve(self, request: web.BaseRequest, extras: Mapping[str, Any]) -> web.StreamResponse:
        websocket = web.WebSocketResponse(protocols=(PROTOCOL,), max_msg_size=self.max_message_size)
        if self.stopping or not websocket.can_prepare(request).ok:
            return web.json_response(
                {
                    "errors": [
                        {"message": "Expected a websocket upgrade.", "extensions": {"code": "BAD_REQUEST"}}
                    ]
                },
                status=400 if not self.stopping else 503,
            )
        await websocket.prepare(request)
        if websocket.ws_protocol != PROTOCOL:
            await websocket.close(code=4406, message=b"Subprotocol not acceptable")
            return websocket
        connection = Connection(self, websocket, request, extras)
        self.live.add(connection)
        try:
            await connection.run()
        finally:
            self.live.discard(connection)
        return websocket

    async def shutdown(self) -> None:
        """Complete every operation and close every connection (1001, going away)."""
        self.stopping = True
        await asyncio.gather(
            *(connection.shutdown() for connection in list(self.live)), return_exceptions=True
        )


class Connection:
    """One websocket client."""

    def __init__(
        self,
        owner: Connections,
        websocket: web.WebSocketResponse,
        request: web.BaseRequest,
        extras: Mapping[str, Any],
    ) -> None:
        self.owner = owner
        self.websocket = websocket
        self.request = request
        self.extras = extras
        self.context: GraphQLContext | None = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.tasks = TaskTracker()
        self.log = get_logger("tomodachi.graphql")

    # -- sending ---------------------------------------------------------------------------
    async def send(self, message: Mapping[str, Any]) -> None:
        if not self.websocket.closed:
            await self.websocket.send_str(json.dumps(message, separators=(",", ":"), default=str))

    async def close(self, code: int, reason: str) -> NoReturn:
        if not self.websocket.closed:
            await self.websocket.close(code=code, message=reason.encode()[:120])
        raise _Closed(reason)

    # -- the connection's life -------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._handshake()
            async for message in self.websocket:
                if message.type is WSMsgType.TEXT:
                    await self._dispatch(await self._decode(message.data))
                elif message.type is WSMsgType.BINARY:
                    await self.close(4400, "Invalid message received")
                else:  # ERROR, CLOSE
                    break
        except _Closed:
            pass
        finally:
            await self.tasks.cancel_all()
            if not self.websocket.closed:
                await self.websocket.close()

    async def shutdown(self) -> None:
        for operation in list(self.operations):
            await self._stop(operation)
            await self.send({"type": "complete", "id": operation})
        if not self.websocket.closed:
            await self.websocket.close(code=1001, message=b"server shutdown")

    async def _handshake(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.owner.init_timeout
        while True:
            remaining = deadline - loop.time()
            try:
                message = await self.websocket.receive(timeout=max(remaining, 0.0))
            except TimeoutError:
                await self.close(4408, "Connection initialisation timeout")
            if message.type is not WSMsgType.TEXT:
                if message.type is WSMsgType.BINARY:
                    await self.close(4400, "Invalid message received")
                raise _Closed("closed before connection_init")
            data = await self._decode(message.data)
            kind = data["type"]
            if kind == "connection_init":
                payload = data.get("payload")
                if payload is not None and not isinstance(payload, dict):
                    await self.close(4400, "Invalid connection_init payload")
                self.context = GraphQLContext(
                    self.owner.service,
                    self.request,
                    self.extras,
                    connection_params=payload or {},
                    websocket=self.websocket,
                )
                await self.send({"type": "connection_ack"})
                return
            if kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "subscribe":
                await self.close(4401, "Unauthorized")
            elif kind != "pong":
                await self.close(4400, f"Unexpected message type {kind!r} before connection_init")

    async def _decode(self, text: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            await self.close(4400, "Invalid message received")
        return data

    async def _dispatch(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "subscribe":
            await self._subscribe(data)
        elif kind == "complete":
            operation = data.get("id")
            if isinstance(operation, str):
                await self._stop(operation)
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "connection_init":
            await self.close(4429, "Too many initialisation requests")
        else:
            await self.close(4400, f"Invalid message type {kind!r}")

    async def _subscribe(self, data: dict[str, Any]) -> None:
        operation, payload = data.get("id"), data.get("payload")
        if not isinstance(operation, str) or not operation or not isinstance(payload, dict):
            await self.close(4400, "Invalid subscribe message")
        if operation in self.operations:
            await self.close(4409, f"Subscriber for {operation} already exists")
        limit = self.owner.max_operations
        if len(self.operations) >= limit:
            error = {
                "message": f"Too many operations on this connection (the limit is {limit}).",
                "extensions": {"code": "TOO_MANY_OPERATIONS"},
            }
            await self.send({"type": "error", "id": operation, "payload": [error]})
            return
        self.operations[operation] = self.tasks.spawn(
            self._operation(operation, payload), name=f"tomodachi.graphql.operation:{operation}"
        )

    async def _stop(self, operation: str) -> None:
        task = self.operations.pop(operation, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _operation(self, operation: str, payload: dict[str, Any]) -> None:
        executor = self.owner.executor
        stream: Any = None
        try:
            try:
                prepared = executor.prepare(payload)
            except RequestError as error:
                await self.send({"type": "error", "id": operation, "payload": error.errors})
                return
            if prepared.kind.value != "subscription":
                result = await executor.execute(prepared, self.context)
                await self.send({"type": "next", "id": operation, "payload": result})
            else:
                started = await executor.subscribe(prepared, self.context)
                if isinstance(started, dict):
                    await self.send({"type": "next", "id": operation, "payload": started})
                else:
                    stream = started
                    try:
                        async for item in stream:
                            await self.send(
                                {"type": "next", "id": operation, "payload": executor.format(item)}
                            )
                    except GraphQLError as exc:  # from the resolver's stream: already logged
                        await self.send({"type": "error", "id": operation, "payload": [exc.formatted]})
                        return
            await self.send({"type": "complete", "id": operation})
        except ConnectionError:  # the client went away
            pass
        except Exception as exc:  # not from a resolver (those are logged and wrapped): logged once
            self.log.error("uncaught exception in graphql operation", operation=operation, exc_info=exc)
            with contextlib.suppress(ConnectionError):
                await self._error(operation, INTERNAL_ERROR)
        finally:
            if self.operations.get(operation) is asyncio.current_task():
                del self.operations[operation]
            if stream is not None:
                await _aclose(stream)

    async def _error(self, operation: str, message: str) -> None:
        await self.send({"type": "error", "id": operation, "payload": [{"message": message}]})


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the user's generator failed while closing: nothing left to tell
            get_logger("tomodachi.graphql").warning("error closing a subscription stream", exc_info=True)
