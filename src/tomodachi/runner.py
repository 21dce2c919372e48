"""Run the services of one or more service files in one event loop.

The runner owns the signals, the order of start and stop, and the exit code:
0 after SIGINT/SIGTERM, N after ``tomodachi.exit(N)``, 1 when a service fails to import,
initialise or start. A second SIGINT (0.5 s or more after the first) forces an immediate exit
(code 130).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tomodachi
from tomodachi.container import ServiceContainer, StartupError
from tomodachi.context_vars import get_contextvar
from tomodachi.execution_context import _mark_run_start
from tomodachi.importer import ServiceFileError, load_service_file
from tomodachi.logging import configure_structlog, get_logger
from tomodachi.run_config import RunConfig
from tomodachi.runtime import Runtime

__all__ = ["FORCED_EXIT_CODE", "FORCE_AFTER", "STOP_PROGRESS_EVERY", "RunConfig", "run", "run_files"]

FORCED_EXIT_CODE = 130
#: Seconds after the first stop signal before another SIGINT forces the exit (earlier ones are
#: taken for copies of the first, as sent by ``timeout -s INT`` to the whole process group).
FORCE_AFTER = 0.5
#: Seconds between the progress lines of a graceful stop that has not finished yet.
STOP_PROGRESS_EVERY = 2.0


def _loop_factory(name: str) -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise
            return None, "asyncio"
        return uvloop.new_event_loop, "uvloop"
    return None, "asyncio"


def run(config: RunConfig) -> int:
    """Run the services described by *config* until stopped; return the exit code.

    For the CLI: when it returns, SIGINT and SIGTERM are ignored (the process is exiting).
    """
    from tomodachi.logging import configure

    configure(config.logger, config.log_level, custom_logger=config.custom_logger)
    factory, loop_name = _loop_factory(config.loop)
    # Set before the loop exists, so every task of the run sees it (tomodachi.context("loop.setting")).
    get_contextvar("loop.setting").set(config.loop)
    on_start = config.on_start
    code: int | None = None
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runtime = Runtime()
            runtime.message_broker = config.message_broker
            runtime.production = config.production
            # The banner comes once the files are imported and their services set up, so that a
            # missing file or a bad declaration is the only thing printed.
            code = runner.run(
                run_files(
                    config.files,
                    config=config.config,
                    runtime=runtime,
                    on_set_up=None if on_start is None else functools.partial(on_start, loop_name),
                )
            )
        # The services are down and the process is about to exit (this is the CLI's runner): a
        # late copy of the stop signal must not turn a clean exit into 130 or a kill by SIGINT.
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(signum, signal.SIG_IGN)
    except KeyboardInterrupt:
        if code is None:
            raise
    return code


async def run_files(
    files: Sequence[str],
    *,
    config: Mapping[str, Any] | None = None,
    runtime: Runtime | None = None,
    install_signal_handlers: bool = True,
    on_set_up: Callable[[], None] | None = None,
) -> int:
    """Import *files*, run their services until a stop is requested, return the exit code.

    *on_set_up* is called once every file is imported and its services are set up, before any
    of them starts (the CLI prints its banner there, so a set-up error comes without one).

    The exit code is the run's failure code (1) or the code given to ``tomodachi.exit(n)``;
    a run that ended normally returns ``tomodachi.SERVICE_EXIT_CODE``, which is reset to
    ``tomodachi.DEFAULT_SERVICE_EXIT_CODE`` before the service files are imported.
    """
    tomodachi.SERVICE_EXIT_CODE = tomodachi.DEFAULT_SERVICE_EXIT_CODE
    _mark_run_start()  # init_timestamp of tomodachi.get_execution_context()
    runtime = runtime or Runtime()
    runtime.activate()
    log = get_logger("tomodachi.run")
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        _install_signal_handlers(loop, runtime)
    try:
        containers: list[ServiceContainer] = []
        for path in files:
            classes = load_service_file(path)
            containers.append(ServiceContainer(classes, runtime, source=path, config=config))
        if "structlog" in sys.modules:  # service code uses structlog: render it like tomodachi
            configure_structlog(override=False)
        for container in containers:
            await container.setup()
    except (ServiceFileError, StartupError) as exc:
        log.error(str(exc))
        runtime.exit_code = 1
        for container in containers:
            await container.stop()
        await runtime.aclose()
        return _exit_code(runtime)
    if on_set_up is not None:
        on_set_up()

    start: asyncio.Future[list[None]] = asyncio.gather(*(c.start() for c in containers))
    stop_wait = loop.create_task(runtime.stop_requested.wait())
    waiters: list[asyncio.Future[Any]] = [start, stop_wait]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    failure = start.exception() if start.done() and not start.cancelled() else None
    if failure is not None:
        log.error(
            str(failure) if isinstance(failure, StartupError) else f"failed to start services: {failure!r}"
        )
        runtime.request_stop("start-up failure", 1)
    elif not start.done():
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
    else:
        await stop_wait
    stop_wait.cancel()
    progress = loop.create_task(_stop_progress(containers, loop.time(), forceable=install_signal_handlers))
    try:
        await asyncio.gather(*(c.stop() for c in containers))
    finally:
        progress.cancel()
        await asyncio.gather(progress, return_exceptions=True)
    await runtime.aclose()
    return _exit_code(runtime)


async def _stop_progress(containers: Sequence[ServiceContainer], began: float, *, forceable: bool) -> None:
    """Every :data:`STOP_PROGRESS_EVERY` seconds of a graceful stop: what is still in flight, the
    time left of the grace period and (when the runner owns the signals) how to force the exit."""
    log = get_logger("tomodachi.lifecycle")
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(STOP_PROGRESS_EVERY)
        busy: dict[str, int] = {}
        grace = 0.0
        for container in containers:
            for transport in container.stopping_transports():
                count = transport.in_flight()
                if count > 0:
                    name = f"{transport.service.name}/{transport.display_name()}"
                    busy[name] = busy.get(name, 0) + count
                    grace = max(grace, float(transport.grace_period))
        elapsed = loop.time() - began
        if busy:
            total = sum(busy.values())
            left = max(grace - elapsed, 0.0)
            what = ", ".join(f"{name}: {count}" for name, count in busy.items())
            message = (
                f"still stopping: {total} in flight ({what}); {left:.0f} s left of the {grace:g} s grace"
            )
        else:
            message = "still stopping: waiting for the services' stop hooks and transports to close"
        if forceable:
            message += "; press ctrl+c again to force the exit"
        log.info(message, state="stopping", in_flight=sum(busy.values()), elapsed=round(elapsed, 1))


def _exit_code(runtime: Runtime) -> int:
    """The run's own code when it failed or ``tomodachi.exit(n)`` set one, else ``SERVICE_EXIT_CODE``."""
    code = runtime.exit_code
    if not code:
        try:
            code = int(tomodachi.SERVICE_EXIT_CODE)
        except (TypeError, ValueError):
            code = 1  # pragma: no cover - service code put a non-number there
    tomodachi.SERVICE_EXIT_CODE = code
    return code


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, runtime: Runtime) -> None:
    log = get_logger("tomodachi.signal")

    first_signal_at: list[float] = []

    def on_signal(signum: int) -> None:
        if runtime.stop_requested.is_set():
            # A copy of the first signal (``timeout -s INT`` and process-group signalling deliver
            # SIGINT twice within milliseconds) is not a second ctrl+c.
            if (
                signum == signal.SIGINT
                and first_signal_at
                and loop.time() - first_signal_at[0] >= FORCE_AFTER
            ):
                log.warning("second interrupt signal: forcing exit without graceful teardown")
                sys.stderr.flush()
                os._exit(FORCED_EXIT_CODE)
            return
        first_signal_at.append(loop.time())
        log.warning("interrupt signal <ctrl+c>" if signum == signal.SIGINT else "received termination signal")
        runtime.request_stop("signal")

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / Windows
            pass
