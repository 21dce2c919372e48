"""A container runs the services of one service file: instances, transports and lifecycle.

Start order: instantiate -> set up (options, entrypoints, transports) -> ``_start_service``
-> transports start -> ``_started_service`` -> transports' ``started``.
Stop order: ``_stopping_service`` (started at once, runs concurrently) -> transports stop
(intake first, then drain within the grace period) -> transports close -> ``_stop_service``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from tomodachi.entrypoint import discover_entrypoints
from tomodachi.errors import ConfigurationError, ServiceStartError, TomodachiError, describe_exception
from tomodachi.injection import warn_unfillable_parameters
from tomodachi.logging import get_logger, reset_context_logger, set_context_logger
from tomodachi.runtime import Runtime, ServiceRecord
from tomodachi.service import LIFECYCLE_HOOKS, Service
from tomodachi.transport.base import Handler, Transport

__all__ = ["DISCOVERY_TIMEOUT", "ServiceContainer", "StartupError"]

TransportT = TypeVar("TransportT", bound=Transport)

#: Seconds each registry of a service's ``discovery`` list may take to register or deregister it.
DISCOVERY_TIMEOUT = 10.0
#: The first and the longest wait between retries of a transport start (``start_retry_seconds``).
START_RETRY_FIRST = 0.5
START_RETRY_MAX = 5.0


class StartupError(TomodachiError):
    """A service could not be set up or started; the message is one line for the user."""


def _user_hook(instance: Service, name: str) -> Callable[[], Awaitable[Any]] | None:
    hook = getattr(instance, name, None)
    return hook if callable(hook) else None


def _merge_config(instance: Service, config: Mapping[str, Any]) -> None:
    """Apply a ``-c`` config dict: dicts and lists merge into the attribute, options merge key by key."""
    for key, value in config.items():
        if key == "options" and isinstance(value, Mapping):
            instance.options.update(value)  # nested or dotted keys; all-or-nothing
            continue
        current = getattr(instance, key, None)
        if isinstance(current, dict) and isinstance(value, Mapping):
            setattr(instance, key, {**current, **value})
        elif isinstance(current, list) and isinstance(value, list):
            setattr(instance, key, [*current, *value])
        else:
            setattr(instance, key, value)


def _fill_context(instance: Service, source: str) -> None:
    """``instance.context`` as the original builds it: the instance's plain attributes at start-up,
    ``_service_file_path``, and ``context`` itself (some services read
    ``self.context["context"]["_service_file_path"]``). Transports add their facts later
    (``_http_port``). Properties are not evaluated; methods are left out. This is for services
    only: the framework reads its own data from the :class:`ServiceRecord`, never from here."""
    context = instance.context
    context.setdefault("_service_file_path", source)
    context.setdefault("context", context)
    for name in dir(instance):
        if name.startswith("__") or name in context:
            continue
        value = inspect.getattr_static(instance, name, None)
        if callable(value) or isinstance(
            value, (property, functools.cached_property, staticmethod, classmethod)
        ):
            continue
        context[name] = value


class ServiceContainer:
    """The services defined in one service file, run as a unit."""

    def __init__(
        self,
        classes: Iterable[type[Service]],
        runtime: Runtime,
        *,
        source: str = "",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.classes = list(classes)
        self.runtime = runtime
        self.source = source
        self.config = config or {}
        self.instances: list[Service] = []
        #: One record per instance, in the order of :attr:`instances` (also kept by the runtime).
        self.records: list[ServiceRecord] = []
        self._started: list[Transport] = []
        self._stopping_tasks: list[asyncio.Task[Any]] = []
        self._start_attempted = False
        self._set_up = False
        self._starting: asyncio.Future[list[Any]] | None = None
        self._log = get_logger("tomodachi.lifecycle")

    def _where(self) -> str:
        return f"{self.source}: " if self.source else ""

    # -- setup ---------------------------------------------------------------------------
    async def setup(self) -> None:
        """Instantiate the classes and prepare their transports (nothing is bound yet)."""
        for cls in self.classes:
            try:
                instance = cls()
            except Exception as exc:
                get_logger("tomodachi.init").error(
                    "failed to initialize instance", service_class=cls.__name__
                )
                raise StartupError(
                    f"{self._where()}failed to initialize {cls.__name__}: {describe_exception(exc)}"
                ) from exc
            self._prepare(instance)
            self.instances.append(instance)
        for record in self.records:
            instance = record.service
            # A list, not a copy: a transport added by an earlier one's setup (ensure_transport) is
            # reached and set up too.
            for transport in record.transports:
                try:
                    await transport.setup()
                except (ConfigurationError, ServiceStartError) as exc:
                    raise StartupError(f"{self._where()}{instance.name}: {exc}") from exc
                except Exception as exc:
                    raise StartupError(
                        f"{self._where()}{instance.name}: {transport.display_name()} setup failed: "
                        f"{describe_exception(exc)}"
                    ) from exc
                self._check_parameters(transport)
        self._set_up = True

    def _check_parameters(self, transport: Transport) -> None:
        """Warn about handler parameters none of the transport's values can fill (a typo)."""
        for handler in transport.handlers:
            try:
                names = transport.value_names(handler)
            except Exception as exc:  # a custom transport's hook must not stop the start
                self._log.warning(
                    "value_names() failed", transport=transport.display_name(), error=describe_exception(exc)
                )
                continue
            warn_unfillable_parameters(
                handler.func,
                names,
                handler=handler.name,
                kind=transport.display_name(),
                service=transport.service.name,
            )

    def ensure_transport(self, record: ServiceRecord, kind: type[TransportT]) -> TransportT:
        """The transport of class *kind* of the service of *record*, added if it has none.

        For a transport that needs another one, e.g. to mount an endpoint on an HTTP server the
        service may not declare (:func:`tomodachi.transport.http.mount`). Only while the
        services are set up (from a transport's ``setup()``): an added transport is then set
        up, started and stopped like the declared ones.
        """
        if self._set_up:
            raise ConfigurationError(
                f"{record.service.name!r} is already set up: ask for its {kind.display_name()} "
                "transport from a transport's setup()"
            )
        for transport in record.transports:
            if isinstance(transport, kind):
                return transport
        added = kind(record.service, self.runtime)
        record.transports.append(added)
        return added

    def _prepare(self, instance: Service) -> None:
        from tomodachi.options import coerce_options

        instance.options = coerce_options(getattr(instance, "options", None)).copy()
        if self.config:
            try:
                _merge_config(instance, self.config)
            except ConfigurationError as exc:
                raise StartupError(f"{self._where()}{exc} (from the --config files)") from exc
            except Exception as exc:
                raise StartupError(
                    f"{self._where()}cannot apply the --config files: {describe_exception(exc)}"
                ) from exc
        try:
            instance.options.validate()
        except ConfigurationError as exc:
            raise StartupError(f"{self._where()}{exc}") from exc
        if not getattr(instance, "uuid", None):
            instance.uuid = str(uuid.uuid4())
        if not getattr(instance, "name", None):
            instance.name = "service"
        if not isinstance(getattr(instance, "context", None), dict):
            instance.context = {}
        _fill_context(instance, self.source)

        transports: dict[Any, Transport] = {}
        for attribute, entrypoint in discover_entrypoints(type(instance)):
            key = (entrypoint.transport, entrypoint.transport.instance_key(instance, entrypoint))
            transport = transports.get(key)
            if transport is None:
                try:
                    implementation = entrypoint.transport.implementation(instance, self.runtime)
                except TomodachiError as exc:
                    raise StartupError(f"{self._where()}{instance.name}: {exc}") from exc
                transport = transports[key] = implementation(instance, self.runtime)
            transport.add_handler(Handler(attribute, getattr(instance, attribute), entrypoint))
        if not transports and not any(_user_hook(instance, h) for h in LIFECYCLE_HOOKS[:2]):
            get_logger("tomodachi.init").error("no transport handlers defined", service=instance.name)
            raise StartupError(f"{self._where()}no transport handlers defined in service {instance.name!r}")
        if instance.options.ops.health or instance.options.ops.metrics:  # opted in: tomodachi.ops
            from tomodachi.ops.transport import OpsTransport

            transports[OpsTransport] = OpsTransport(instance, self.runtime)
        record = ServiceRecord(instance, self.runtime, self, self.source, list(transports.values()))
        self.records.append(record)
        self.runtime.add_record(record)
        self.runtime.register(instance)

    # -- start ---------------------------------------------------------------------------
    async def _run_hook(self, instance: Service, name: str) -> None:
        hook = _user_hook(instance, name)
        if hook is None:
            return
        token = set_context_logger(get_logger("tomodachi.lifecycle.handler").new(handler=name))
        try:
            result = hook()
            if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
                await result
        finally:
            reset_context_logger(token)

    async def _hooks(self, name: str) -> None:
        results = await asyncio.gather(
            *(self._run_hook(i, name) for i in self.instances), return_exceptions=True
        )
        for instance, result in zip(self.instances, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                self._log.error("failed to start service", state="aborting", service=instance.name)
                raise StartupError(
                    f"{self._where()}{instance.name}: exception in {name}: {describe_exception(result)}"
                ) from result

    async def start(self) -> None:
        """Run the start-up half of the lifecycle; raises :class:`StartupError` on failure."""
        self._start_attempted = True
        for instance in self.instances:
            get_logger("tomodachi.service").info(
                "initializing service instance", service=instance.name, uuid=instance.uuid
            )
        self._log.info("starting the service", state="starting")
        await self._hooks("_start_service")

        all_transports = self._transports()
        # Shielded: a stop requested meanwhile does not cancel a transport half-way through
        # starting (a consumer registered but not recorded, a channel closed mid-RPC); stop()
        # waits for this (each transport bounds its own start) and then stops what started.
        self._starting = asyncio.ensure_future(
            asyncio.gather(*(self._start_transport(t) for t in all_transports), return_exceptions=True)
        )
        results = await asyncio.shield(self._starting)
        for transport, result in zip(all_transports, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                self._log.error("failed to start service", state="aborting", service=transport.service.name)
                detail = str(result) if isinstance(result, TomodachiError) else describe_exception(result)
                raise StartupError(f"{self._where()}{transport.service.name}: {detail}") from result

        if any(getattr(i, "discovery", None) for i in self.instances):
            from tomodachi.discovery import register_service

            for instance in self.instances:
                await register_service(instance, timeout=DISCOVERY_TIMEOUT)
        self._log_handlers(all_transports)
        self._log.info("enabled handler functions", state="initialized")
        await self._hooks("_started_service")
        for transport in all_transports:
            await transport.started()
        for record in self.records:
            record.serving = True
            self._log.info("started service successfully", state="ready", service=record.service.name)

    def _log_handlers(self, transports: list[Transport]) -> None:
        """One line per handler: its kind, what it serves and its name."""
        for transport in transports:
            for handler in transport.handlers:
                try:
                    route = transport.describe_handler(handler)
                except Exception as exc:  # a custom transport's description must not stop the start
                    route = f"<{describe_exception(exc)}>"
                self._log.info(
                    "enabled handler",
                    kind=transport.display_name(),
                    route=route,
                    handler=handler.name,
                    service=transport.service.name,
                )

    def stopping_transports(self) -> list[Transport]:
        """The transports that started (and are stopped by :meth:`stop`)."""
        return list(self._started)

    def _transports(self) -> list[Transport]:
        return [transport for record in self.records for transport in record.transports]

    async def _start_transport(self, transport: Transport) -> None:
        await self._start_with_retry(transport)
        self._started.append(transport)

    async def _start_with_retry(self, transport: Transport) -> None:
        """``transport.start()``; while it fails with an error :meth:`Transport.start_retryable`
        accepts, again with backoff until the ``start_retry_seconds`` option's deadline (each
        wait logged). A stop request ends the waiting: the last error is raised."""
        try:
            limit = float(getattr(transport.service.options, "start_retry_seconds", 0) or 0)
        except (TypeError, ValueError):  # pragma: no cover - validated by the options
            limit = 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        delay = START_RETRY_FIRST
        attempt = 1
        while True:
            try:
                await transport.start()
                if attempt > 1:
                    self._log.info(
                        "transport started after waiting for its broker",
                        transport=transport.display_name(),
                        service=transport.service.name,
                        attempts=attempt,
                    )
                return
            except Exception as exc:
                left = deadline - loop.time()
                if limit <= 0 or left <= 0 or not transport.start_retryable(exc):
                    raise
                wait = min(delay, left)
                detail = str(exc) if isinstance(exc, TomodachiError) else describe_exception(exc)
                self._log.warning(
                    f"{transport.display_name()} cannot start yet ({detail}); retrying in {wait:.1f} s "
                    f"({left:.0f} s left of start_retry_seconds)",
                    transport=transport.display_name(),
                    service=transport.service.name,
                    attempt=attempt,
                )
                try:
                    await asyncio.wait_for(self.runtime.stop_requested.wait(), wait)
                except TimeoutError:
                    pass
                else:
                    raise  # a stop was requested while waiting: give up with the last error
                delay = min(delay * 2, START_RETRY_MAX)
                attempt += 1

    # -- stop ----------------------------------------------------------------------------
    def begin_stopping(self) -> None:
        """Start ``_stopping_service`` hooks at once; they run concurrently with the drain."""
        if self._stopping_tasks:
            return
        loop = asyncio.get_running_loop()
        for record in self.records:
            record.serving = False
        for instance in self.instances:
            self._log.info("stopping service", state="stopping", service=instance.name)
            if _user_hook(instance, "_stopping_service") is not None:
                self._stopping_tasks.append(loop.create_task(self._guarded(instance, "_stopping_service")))

    async def _guarded(self, instance: Service, name: str) -> None:
        try:
            await self._run_hook(instance, name)
        except Exception as exc:
            self._log.error(f"exception in {name}", service=instance.name, error=describe_exception(exc))

    async def stop(self) -> None:
        """Run the stop half of the lifecycle. Safe after a partial or failed start."""
        if not self._start_attempted:  # set-up failed: nothing ran, only release transports
            for instance in self.instances:
                self.runtime.unregister(instance)
            await asyncio.gather(*(self._close_transport(t) for t in self._transports()))
            return
        self.begin_stopping()
        if self._starting is not None and not self._starting.done():
            await asyncio.wait([self._starting])
        if any(getattr(i, "discovery", None) for i in self.instances):
            from tomodachi.discovery import deregister_service

            for instance in self.instances:
                await deregister_service(instance, timeout=DISCOVERY_TIMEOUT)
        started = list(self._started)
        await asyncio.gather(*(self._stop_transport(t) for t in started))
        await asyncio.gather(*(self._close_transport(t) for t in self._transports()))
        if self._stopping_tasks:
            await asyncio.gather(*self._stopping_tasks, return_exceptions=True)
        for instance in self.instances:
            await self._guarded(instance, "_stop_service")
            self.runtime.unregister(instance)
            self._log.info("terminated service", state="terminated", service=instance.name)

    async def _stop_transport(self, transport: Transport) -> None:
        try:
            await transport.stop()
        except Exception as exc:
            self._log.error(
                "error stopping transport", transport=transport.display_name(), error=describe_exception(exc)
            )

    async def _close_transport(self, transport: Transport) -> None:
        try:
            await transport.close()
        except Exception as exc:
            self._log.error(
                "error closing transport", transport=transport.display_name(), error=describe_exception(exc)
            )
