"""The scheduler: one transport per service calls its scheduled functions on time.

How it runs:

- At setup every ``@schedule`` declaration becomes a trigger (:mod:`.triggers`); a bad
  interval, cron expression, timestamp or timezone stops the start-up with one line naming
  the handler and the value.
- :meth:`ScheduleTransport.started` (after the service's ``_started_service`` returned) starts
  one task that keeps a heap of due times and sleeps until the earliest one with a single loop
  timer. No polling: an idle scheduler costs nothing, and a due function starts within about
  a millisecond.
- Each invocation runs in its own task, so a slow function never delays the others. By
  default a function does not overlap itself: if it is still running when it is due again,
  that run is skipped with a warning (``max_concurrent=N`` allows N runs at once).
- Due times are computed from the trigger, not from the previous run, so they never drift.
  If the event loop was blocked past several due times, the function runs once, late, and
  the schedule continues with the next due time after now.
- An exception in a function is logged (with its name) and the schedule continues.
- On stop, no new invocations start; running ones may finish within the service's grace period
  (:attr:`Transport.grace_period`), then are cancelled with one logged warning.
- Cluster-safe functions (``cluster=`` or the ``schedule.cluster`` option) claim each due time
  in a shared store first (:mod:`.cluster`) and run only when they got it; their intervals are
  counted from the Unix epoch, so every replica has the same due times.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tomodachi._keywords import nearest
from tomodachi.clock import Clock, get_clock
from tomodachi.errors import ConfigurationError
from tomodachi.injection import HandlerCall, compile_handler
from tomodachi.logging import Logger, get_logger, reset_context_logger, set_context_logger
from tomodachi.observability import hooks as _hooks
from tomodachi.transport.base import Handler, Transport
from tomodachi.transport.schedule.cluster import (
    STORES,
    Lease,
    LeaseStore,
    StoreUnavailable,
    claim_seconds,
    store_for,
)
from tomodachi.transport.schedule.declaration import ScheduleDeclaration
from tomodachi.transport.schedule.triggers import CronTrigger, IntervalTrigger, TriggerError, make_trigger
from tomodachi.workers import runs_local_schedules, this_worker

__all__ = ["INJECTED_KEYWORDS", "ScheduleTransport"]

#: The keywords a scheduled function may declare (by name, positionally or not).
INJECTED_KEYWORDS = ("invocation_time", "interval", "scheduled_time")
#: Given to cluster-safe functions only: their :class:`~.cluster.Lease`.
LEASE_KEYWORD = "lease"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_TASK_PREFIX = "tomodachi.schedule:"


@dataclass(eq=False)
class _Entry:
    """One scheduled function of the service and its run-time state."""

    name: str
    call: HandlerCall
    trigger: IntervalTrigger | CronTrigger
    interval: Any
    immediately: bool
    max_concurrent: int
    logger: Logger
    running: set[asyncio.Task[None]] = field(default_factory=set)
    store: LeaseStore | None = None
    max_skew: float = 0.0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ScheduleTransport(Transport):
    """Runs the ``@schedule`` / ``@heartbeat`` / ``@hourly``... functions of one service."""

    kind = "schedule"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Clock = get_clock(self.runtime)
        self._entries: list[_Entry] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._log = get_logger("tomodachi.schedule")
        self._last_due: datetime | None = None
        self._last_iso = ""
        self._local = True  # runs the functions that are not cluster-safe (not a worker > 0)

    # -- setup ---------------------------------------------------------------------------
    async def setup(self) -> None:
        self.clock = get_clock(self.runtime)
        self._entries = [self._entry(handler) for handler in self.handlers]

    def _entry(self, handler: Handler) -> _Entry:
        where = f"scheduled function {handler.name!r}"
        declaration = handler.args[0] if len(handler.args) == 1 else None
        if not isinstance(declaration, ScheduleDeclaration):  # pragma: no cover - declared by schedule()
            raise ConfigurationError(f"{where}: unknown schedule declaration {handler.args!r}")
        try:
            trigger = make_trigger(declaration.interval, declaration.timestamp, declaration.timezone)
        except TriggerError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        max_concurrent = declaration.max_concurrent
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ConfigurationError(
                f"{where}: invalid max_concurrent {max_concurrent!r}: expected an int >= 1"
            )
        immediately = declaration.immediately
        if not isinstance(immediately, bool):
            raise ConfigurationError(f"{where}: invalid immediately {immediately!r}: expected True or False")
        store_name = self._cluster_store(declaration.cluster, where)
        if store_name is not None and immediately:
            raise ConfigurationError(
                f"{where}: immediately=True cannot be cluster-safe (the start of each replica is a "
                "different due time): drop immediately=True or declare cluster=False"
            )
        _check_signature(handler, where, clustered=store_name is not None)
        store = store_for(self.runtime, self.service, store_name) if store_name is not None else None
        return _Entry(
            name=handler.name,
            call=compile_handler(handler.func),
            trigger=trigger,
            interval=declaration.interval,
            immediately=immediately,
            max_concurrent=max_concurrent,
            logger=get_logger("tomodachi.schedule.handler").new(
                handler=handler.name, type="tomodachi.schedule"
            ),
            store=store,
            max_skew=float(self.service.options.schedule.max_clock_skew) if store is not None else 0.0,
        )

    def _cluster_store(self, cluster: Any, where: str) -> str | None:
        """The store name of a declaration's ``cluster=`` value, ``None`` for not cluster-safe."""
        default = self.service.options.schedule.cluster
        if cluster is None:
            return default
        if cluster is False:
            return None
        if cluster is True:
            if default is None:
                raise ConfigurationError(
                    f"{where}: cluster=True needs the option schedule.cluster (one of "
                    f"{', '.join(STORES)}), or name the store: cluster='redis'"
                )
            return default
        if isinstance(cluster, str) and cluster.lower() in STORES:
            return cluster.lower()
        raise ConfigurationError(
            f"{where}: invalid cluster {cluster!r}: expected True, False, None or one of {', '.join(STORES)}"
        )

    # -- running -------------------------------------------------------------------------
    async def started(self) -> None:
        if self._stopping or not self._entries:
            return
        if not runs_local_schedules():  # `tomodachi run --workers N`: worker 0 runs them
            self._local = False
            local = [entry.name for entry in self._entries if entry.store is None]
            if local:
                self._log.info(
                    "scheduled functions that are not cluster-safe run in worker 0: not in this one",
                    handlers=local,
                    worker=(this_worker() or (0, 1))[0],
                )
        self._loop_task = self.tasks.spawn(self._run(), name="tomodachi.schedule.loop")

    def in_flight(self) -> int:
        """The scheduled runs still going (not the scheduler loop itself)."""
        loop = self._loop_task
        return len(self.tasks) - (1 if loop is not None and not loop.done() else 0)

    def describe_handler(self, handler: Handler) -> str:
        declaration = handler.args[0] if handler.args else None
        if isinstance(declaration, ScheduleDeclaration):
            when = f"interval {declaration.interval}" if declaration.interval is not None else ""
            if declaration.timestamp is not None:
                when = f"timestamp {declaration.timestamp}"
            if declaration.timezone is not None:
                when += f" ({declaration.timezone})"
            if declaration.immediately is True:
                when += " immediately"
            try:
                store = self._cluster_store(declaration.cluster, handler.name)
            except ConfigurationError:  # pragma: no cover - reported by setup
                store = None
            return when + (f" cluster={store}" if store is not None else "")
        return super().describe_handler(handler)

    @property
    def ready(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def _run(self) -> None:
        clock = self.clock
        start = clock.now()
        heap: list[tuple[datetime, int, _Entry]] = []
        for index, entry in enumerate(self._entries):
            if isinstance(entry.trigger, IntervalTrigger):
                # Cluster-safe: every replica must compute the same due times, whenever it started.
                entry.trigger = entry.trigger.anchored(_EPOCH if entry.store is not None else start)
            if entry.immediately:
                self._fire(entry, start)
            due = entry.trigger.next_after(start)
            if due is None:
                self._log.warning(
                    "scheduled function has no future due time: it will not be called again",
                    handler=entry.name,
                )
                continue
            heap.append((due, index, entry))
        heapq.heapify(heap)
        while heap:
            now = clock.now()
            if heap[0][0] > now:
                await clock.sleep_until(heap[0][0])
                continue
            batch: list[tuple[datetime, int, _Entry]] = []
            while heap and heap[0][0] <= now:
                batch.append(heapq.heappop(heap))
            for due, _, entry in batch:
                self._fire(entry, due)
            # Let the handlers start before the bookkeeping: it is not what they wait for.
            await asyncio.sleep(0)
            now = clock.now()
            for due, index, entry in batch:
                following = self._following(entry, due, now)
                if following is None:
                    self._log.info("scheduled function has no further invocations", handler=entry.name)
                    continue
                heapq.heappush(heap, (following, index, entry))

    def _following(self, entry: _Entry, due: datetime, now: datetime) -> datetime | None:
        """The due time after *due*; when that is already past, the first one after *now*."""
        try:
            following = entry.trigger.next_after(due)
            if following is None or following > now:
                return following
            # The loop was blocked past more due times: they are not run one by one.
            self._log.warning(
                "scheduled function ran late; due times missed while the loop was blocked are skipped",
                handler=entry.name,
                scheduled_time=_iso(due),
                late_seconds=round((now - due).total_seconds(), 3),
            )
            return entry.trigger.next_after(now)
        except (OverflowError, ValueError):  # past the end of the calendar (year 9999)
            return None

    def _fire(self, entry: _Entry, due: datetime) -> None:
        if self._stopping or self.runtime.stop_requested.is_set():
            return
        if entry.store is None and not self._local:
            return
        if len(entry.running) >= entry.max_concurrent:
            self._log.warning(
                "scheduled function is still running: skipped this invocation",
                handler=entry.name,
                scheduled_time=_iso(due),
                running=len(entry.running),
                max_concurrent=entry.max_concurrent,
            )
            active = _hooks.active
            if active is not None:
                active.schedule_skipped(self.service, entry.name)
            return
        task = self.tasks.spawn(self._invoke(entry, due), name=_TASK_PREFIX + entry.name)
        entry.running.add(task)
        task.add_done_callback(entry.running.discard)

    def _iso(self, due: datetime) -> str:
        # Functions due together share the string: formatting is a noticeable part of a start.
        if due != self._last_due:
            self._last_due, self._last_iso = due, _iso(due)
        return self._last_iso

    async def _claim(self, entry: _Entry, due: datetime) -> Lease | None:
        """The lease of *due* for a cluster-safe entry, or ``None`` when it must not run here."""
        assert entry.store is not None
        late = (self.clock.now() - due).total_seconds()
        if late > entry.max_skew:
            entry.logger.warning(
                "cluster-safe scheduled function is too late to claim its due time: skipped",
                scheduled_time=_iso(due),
                late_seconds=round(late, 3),
                max_clock_skew=entry.max_skew,
            )
            return None
        try:
            # The claim must be answered by due + max_clock_skew on this replica's clock; one
            # landing later could outlive another replica's claim and run the due time twice.
            async with asyncio.timeout(entry.max_skew - late):
                lease = await entry.store.claim(
                    self.service.name, entry.name, due, claim_seconds(entry.max_skew)
                )
        except (StoreUnavailable, TimeoutError) as exc:
            entry.logger.warning(
                "lease store unreachable: skipped this invocation (at most once per due time)",
                scheduled_time=_iso(due),
                store=entry.store.name,
                error=str(exc) or "no answer within schedule.max_clock_skew",
            )
            return None
        if lease is None:
            entry.logger.debug(
                "due time claimed by another replica", scheduled_time=_iso(due), store=entry.store.name
            )
        return lease

    async def _invoke(self, entry: _Entry, due: datetime) -> None:
        values = {"invocation_time": self._iso(due), "interval": entry.interval, "scheduled_time": due}
        if entry.store is not None:
            lease = await self._claim(entry, due)
            if lease is None:
                return
            values[LEASE_KEYWORD] = lease
        token = set_context_logger(entry.logger)
        try:
            active = _hooks.active
            if active is None:
                await entry.call(values)
            else:  # instrumented (tomodachi.observability)
                await active.scheduled(entry.call, values, self.service, entry.name)
        except Exception:
            entry.logger.exception("uncaught exception in scheduled function")
        finally:
            reset_context_logger(token)

    # -- stopping ------------------------------------------------------------------------
    async def stop(self) -> None:
        self._stopping = True
        loop_task, self._loop_task = self._loop_task, None
        if loop_task is not None:
            loop_task.cancel()
            await asyncio.gather(loop_task, return_exceptions=True)
        cancelled = await self.tasks.drain(self.grace_period)
        if cancelled:
            handlers = sorted({name.removeprefix(_TASK_PREFIX) for name in cancelled})
            self._log.warning(
                "cancelled scheduled functions still running at the end of the grace period",
                handlers=handlers,
                cancelled_invocations=len(cancelled),
                termination_grace_period_seconds=self.grace_period,
            )

    # -- introspection -------------------------------------------------------------------
    def triggers(self) -> list[tuple[str, str]]:
        """``(handler name, trigger description)`` of every scheduled function."""
        return [(entry.name, str(entry.trigger)) for entry in self._entries]


def _check_signature(handler: Handler, where: str, *, clustered: bool = False) -> None:
    names = (*INJECTED_KEYWORDS, LEASE_KEYWORD) if clustered else INJECTED_KEYWORDS
    try:
        parameters = inspect.signature(handler.func).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins: nothing to check
        return
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if parameter.default is inspect.Parameter.empty and parameter.name not in names:
            if parameter.name == LEASE_KEYWORD:
                raise ConfigurationError(
                    f"{where}: required parameter 'lease' is given to cluster-safe scheduled functions "
                    "only: declare cluster= (or the option schedule.cluster), or give it a default"
                )
            close = nearest(parameter.name, names)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise ConfigurationError(
                f"{where}: required parameter {parameter.name!r} cannot be filled{hint}: scheduled "
                f"functions receive only {', '.join(names)}"
            )
