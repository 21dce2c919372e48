"""Keyword injection and middleware chains, compiled once per handler.

Transports describe an invocation as a mapping of *injectable values* (``request``, named
route groups, ``message``, ``topic``, ...). At setup each handler and each middleware is
inspected once and turned into a small plan; an invocation then costs a few dict lookups.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from tomodachi.errors import ConfigurationError

__all__ = [
    "HandlerCall",
    "Invoke",
    "compile_handler",
    "compile_middleware_chain",
    "first_parameter",
    "unfillable_parameters",
    "warn_unfillable_parameters",
]

HandlerCall = Callable[[Mapping[str, Any]], Awaitable[Any]]


class Invoke(Protocol):
    """A compiled middleware chain: ``await invoke(positional, values, handler_values=None)``."""

    def __call__(
        self,
        positional: tuple[Any, ...],
        values: Mapping[str, Any],
        handler_values: Mapping[str, Any] | None = None,
    ) -> Awaitable[Any]: ...


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _signature(func: Callable[..., Any], *, follow_wrapped: bool = True) -> inspect.Signature:
    try:
        return inspect.signature(func, follow_wrapped=follow_wrapped)
    except (TypeError, ValueError):  # builtins without signatures: accept anything
        return inspect.Signature(
            [
                inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
            ]
        )


def _is_async(func: Callable[..., Any]) -> bool:
    """True when calling *func* surely returns a coroutine (sync wrappers are checked per call)."""
    if inspect.iscoroutinefunction(func):
        return True
    return inspect.iscoroutinefunction(getattr(func, "__call__", None))  # noqa: B004 - async __call__


async def _await_if_needed(result: Any) -> Any:
    if inspect.isawaitable(result):
        return await result
    return result


def _takes_first_positionally(func: Callable[..., Any], first_unless_named: Sequence[str]) -> bool:
    """Whether the function a ``(*args, **kwargs)`` wrapper wraps has a positional first parameter."""
    if getattr(func, "__wrapped__", None) is None:  # a bound method forwards it from its function
        return False
    wrapped = [p for p in _signature(func).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return bool(wrapped) and wrapped[0].kind in _POSITIONAL and wrapped[0].name not in first_unless_named


class _CallPlan:
    """Which values a function takes, worked out once from its signature."""

    __slots__ = ("first_param", "names", "none_names", "positional_only", "skip_key", "varkw")

    def __init__(
        self,
        func: Callable[..., Any],
        first: str | None,
        first_unless_named: Sequence[str],
        missing_as_none: bool,
    ) -> None:
        # The callable we are given is what gets called, so its own signature counts: an adapter
        # made with functools.wraps is not inspected through ``__wrapped__`` (as the original).
        all_params = list(_signature(func, follow_wrapped=False).parameters.values())
        params = [p for p in all_params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        self.varkw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        params = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
        self.first_param: str | None = None
        #: A key of ``values`` not to pass by keyword (it went positionally into ``*args``).
        self.skip_key: str | None = None
        if (
            first is not None
            and params
            and params[0].kind in _POSITIONAL
            and params[0].name not in first_unless_named
        ):
            self.first_param = params[0].name
            params = params[1:]
        elif (
            first is not None
            and not any(p.kind in _POSITIONAL for p in params)
            and any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in all_params)
            and _takes_first_positionally(func, first_unless_named)
        ):
            # ``(*args, **kwargs)``: a pass-through wrapper of a function that takes the first
            # value positionally (an auth decorator on ``(self, request)``) gets it positionally.
            self.first_param = ""
            self.skip_key = first
        self.positional_only = tuple(p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY)
        self.names = tuple(p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY)
        required = (p.name for p in params if p.default is inspect.Parameter.empty)
        self.none_names = frozenset(required) if missing_as_none else frozenset()

    @property
    def first_only(self) -> bool:
        """The function takes the first value positionally and nothing else."""
        return bool(self.first_param) and not (self.positional_only or self.names or self.varkw)


def compile_handler(
    func: Callable[..., Any],
    *,
    first: str | None = None,
    first_unless_named: Sequence[str] = (),
    missing_as_none: bool = False,
) -> HandlerCall:
    """Compile *func* (a bound method) into ``call(values) -> awaitable``.

    - ``first``: the key of the value the first positional parameter receives whatever its
      name (HTTP: ``"request"``; messages without envelope: ``"message"``), unless that
      parameter's name is one of ``first_unless_named`` (then it is injected by name).
    - Other parameters are filled by name from ``values``; with ``**kwargs`` every value is
      passed. Parameters without a value keep their default, or get ``None`` when
      ``missing_as_none`` is set (messaging semantics).
    - Sync handlers are supported; their return value is used as is.
    """
    plan = _CallPlan(func, first, first_unless_named, missing_as_none)
    names, none_names = plan.names, plan.none_names
    is_async = _is_async(func)
    positional_first = plan.first_param is not None and first is not None
    if is_async and not positional_first and not plan.positional_only and not plan.varkw:
        # The usual message handler (keywords only, e.g. ``(self, data)``): one frame per call.

        def call_keywords(values: Mapping[str, Any]) -> Awaitable[Any]:
            kwargs = {}
            for name in names:
                if name in values:
                    kwargs[name] = values[name]
                elif name in none_names:
                    kwargs[name] = None
            return func(**kwargs)  # type: ignore[no-any-return]

        return call_keywords

    if first is not None and is_async and plan.first_only:
        # ``(self, request)``: the first value only, positionally.
        key = first

        def call_first(values: Mapping[str, Any]) -> Awaitable[Any]:
            return func(values.get(key))  # type: ignore[no-any-return]

        return call_first

    build = _argument_builder(plan, first)
    if is_async:

        def call_async(values: Mapping[str, Any]) -> Awaitable[Any]:
            args, kwargs = build(values)
            return func(*args, **kwargs)  # type: ignore[no-any-return]

        return call_async

    def call_any(values: Mapping[str, Any]) -> Awaitable[Any]:
        args, kwargs = build(values)
        return _await_if_needed(func(*args, **kwargs))

    return call_any


def _argument_builder(
    plan: _CallPlan, first: str | None
) -> Callable[[Mapping[str, Any]], tuple[list[Any], dict[str, Any]]]:
    """``build(values) -> (args, kwargs)`` for a function called by *plan* (see compile_handler)."""
    first_param, positional_only, names, none_names, varkw = (
        plan.first_param,
        plan.positional_only,
        plan.names,
        plan.none_names,
        plan.varkw,
    )
    skip = first_param if plan.skip_key is None else plan.skip_key

    def build(values: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        args: list[Any] = [values.get(first)] if first_param is not None and first is not None else []
        for name in positional_only:
            args.append(values.get(name))
        if varkw:
            kwargs = {k: v for k, v in values.items() if k != skip}
        else:
            kwargs = {}
            for name in names:
                if name in values:
                    kwargs[name] = values[name]
                elif name in none_names:
                    kwargs[name] = None
        return args, kwargs

    return build


def takes_first_only(func: Callable[..., Any], *, first_unless_named: Sequence[str] = ()) -> bool:
    """Whether *func* is async and takes the ``first`` value of :func:`compile_handler` only
    (``async def handler(self, request)``): then ``func(value)`` is the whole call."""
    return _CallPlan(func, "", first_unless_named, False).first_only and _is_async(func)


def taken_names(func: Callable[..., Any], *, first: str | None = None) -> frozenset[str] | None:
    """The keys of ``values`` that :func:`compile_handler` (with the same *first*) passes to *func*;
    ``None`` when it may pass any of them (``**kwargs``, or ``*args`` passed through).

    A caller may leave out of ``values`` what *func* does not take: nothing else reads them.
    """
    plan = _CallPlan(func, first, (), False)
    if plan.varkw or plan.skip_key is not None:
        return None
    names = {*plan.names, *plan.positional_only}
    if plan.first_param is not None and first is not None:
        names.add(first)
    return frozenset(names)


def first_parameter(func: Callable[..., Any]) -> str | None:
    """The name of the first positional parameter of *func* (a bound method: after ``self``), if any.

    For :meth:`Transport.value_names <tomodachi.Transport.value_names>` of a transport that passes
    its first value positionally whatever the parameter is called (HTTP: the request)."""
    for param in _signature(func, follow_wrapped=False).parameters.values():
        if param.kind in _POSITIONAL:
            return param.name
        break
    return None


def unfillable_parameters(func: Callable[..., Any], names: Collection[str]) -> list[tuple[str, str | None]]:
    """The parameters of *func* no value of *names* can fill, each with the nearest known name.

    Only parameters without a default count, and none at all when *func* takes ``**kwargs``
    (it may read anything from there)."""
    params = list(_signature(func, follow_wrapped=False).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    known = sorted(names)
    found: list[tuple[str, str | None]] = []
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL or param.default is not inspect.Parameter.empty:
            continue
        if param.name in names:
            continue
        close = difflib.get_close_matches(param.name, known, n=1, cutoff=0.6)
        found.append((param.name, close[0] if close else None))
    return found


def warn_unfillable_parameters(
    func: Callable[..., Any], names: Collection[str] | None, *, handler: str, kind: str, service: str = ""
) -> None:
    """Log a warning per parameter of *func* that no value of *names* can fill (see
    :func:`unfillable_parameters`): it would always be ``None`` or missing. ``None``: unknown."""
    if names is None:
        return
    from tomodachi.logging import get_logger

    log = get_logger("tomodachi.init")
    for name, nearest in unfillable_parameters(func, names):
        hint = f": did you mean {nearest!r}?" if nearest else f" (values: {', '.join(sorted(names))})"
        log.warning(
            f"handler {handler!r} has a parameter {name!r} that no {kind} value fills{hint}",
            handler=handler,
            parameter=name,
            service=service,
        )


def _describe(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__


class _MiddlewareSpec:
    __slots__ = ("call", "consumed", "keywords", "n_positional", "none_names", "varkw")

    def __init__(self, middleware: Callable[..., Any], max_positional: int, missing_as_none: bool) -> None:
        if not callable(middleware):
            raise ConfigurationError(f"middleware {middleware!r} is not callable")
        # A middleware made with functools.wraps (a decorator around a generator or a context
        # manager, say) is described by the function it wraps, like the original does.
        signature = _signature(middleware)
        params = list(signature.parameters.values())
        positional = [p for p in params if p.kind in _POSITIONAL]
        has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        required = [p for p in positional if p.default is inspect.Parameter.empty]
        if has_varargs and len(required) == len(positional):
            n = max_positional
        else:
            n = min(len(required), max_positional)
        # Names taken positionally, by the wrapped function and by the callable itself: a keyword
        # of the same name would collide ("got multiple values for argument").
        own = [
            p
            for p in _signature(middleware, follow_wrapped=False).parameters.values()
            if p.kind in _POSITIONAL
        ]
        consumed = frozenset(p.name for p in positional[:n]) | frozenset(p.name for p in own[:n])
        self.consumed = consumed
        self.call = middleware
        self.n_positional = n
        self.varkw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        self.keywords = tuple(
            p.name
            for p in params
            if p.name not in consumed
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        )
        missing_required = {
            p.name for p in params if p.name in self.keywords and p.default is inspect.Parameter.empty
        }
        self.none_names = frozenset(missing_required) if missing_as_none else frozenset()
        if missing_as_none:
            # Every call gives the same shape of arguments, so a shape the middleware cannot take
            # fails here, at start-up, instead of on every message.
            sample_kwargs = dict.fromkeys(self.none_names)
            try:
                signature.bind(*range(n), **sample_kwargs)
            except TypeError as exc:
                raise ConfigurationError(
                    f"middleware {_describe(middleware)} cannot be called as a message middleware "
                    f"(it is given {n} positional argument(s) and keywords by name): {exc}"
                ) from None

    def keywords_from(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """The keywords this middleware gets from the call's *current* values."""
        if self.varkw:
            return {k: v for k, v in current.items() if k not in self.consumed}
        kwargs = {k: current[k] for k in self.keywords if k in current}
        for name in self.none_names:
            if name not in kwargs:
                kwargs[name] = None
        return kwargs


def _merge(
    current: Mapping[str, Any],
    extra: Mapping[str, Any],
    values: Mapping[str, Any],
    keep: tuple[str, ...] | None,
) -> dict[str, Any]:
    """*current* plus a middleware's *extra* keywords; the transport's (*keep*: only those) win."""
    if keep is None:
        return {**current, **extra, **values}
    merged = {**current, **extra}
    for key in keep:
        if key in values:
            merged[key] = values[key]
    return merged


def _handler_values(
    current: Mapping[str, Any], values: Mapping[str, Any], handler_values: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """What the handler gets at the end of the chain: its own values plus the middlewares' extras."""
    if handler_values is None:
        return current
    if current is values:
        return handler_values
    return {**handler_values, **{k: v for k, v in current.items() if k not in values}}


def compile_middleware_chain(
    middlewares: Sequence[Callable[..., Any]],
    handler: HandlerCall,
    n_transport_positional: int,
    *,
    missing_as_none: bool = False,
    protected: Collection[str] | None = None,
) -> Invoke:
    """Build ``invoke(positional, values, handler_values=None)`` running *middlewares* around *handler*.

    Each middleware is called with the positional arguments ``(func, *positional, context)``
    truncated to the number of positional parameters it declares without defaults, plus the
    keywords it names (or all of them with ``**kwargs``) from *values*. ``await func(**extra)``
    calls the next step; *extra* keywords reach later middlewares and the handler, but never
    override the transport's own values. The first middleware is the outermost. No tasks are
    created.

    - *handler_values*: what the handler is given instead of *values* (messaging: the transport
      values plus the envelope's keys, which middlewares do not receive), with the middlewares'
      extra keywords added.
    - *protected*: the keys of *values* an extra keyword cannot override (default: all of them;
      HTTP protects ``request`` and ``status_code`` only, so a middleware may replace a named
      route group, as in the original).
    - Positional arguments given to ``func(...)`` are ignored, as in the original (its examples
      call ``func(*args, **kwargs)``).
    - *missing_as_none*: a keyword a middleware requires but the call does not have is passed as
      ``None`` (messaging semantics; a call shape the middleware cannot take at all is a
      :class:`~tomodachi.ConfigurationError` here).
    """
    specs = tuple(_MiddlewareSpec(m, n_transport_positional + 2, missing_as_none) for m in middlewares)
    if not specs:

        async def invoke_plain(
            positional: tuple[Any, ...],
            values: Mapping[str, Any],
            handler_values: Mapping[str, Any] | None = None,
        ) -> Any:
            return await handler(values if handler_values is None else handler_values)

        return invoke_plain

    count = len(specs)
    keep = tuple(protected) if protected is not None else None

    async def invoke(
        positional: tuple[Any, ...],
        values: Mapping[str, Any],
        handler_values: Mapping[str, Any] | None = None,
    ) -> Any:
        context: dict[str, Any] = {}

        async def step(index: int, current: Mapping[str, Any]) -> Any:
            if index == count:
                return await handler(_handler_values(current, values, handler_values))
            spec = specs[index]

            async def func(*_ignored: Any, **extra: Any) -> Any:
                return await step(index + 1, _merge(current, extra, values, keep) if extra else current)

            result = spec.call(
                *(func, *positional, context)[: spec.n_positional], **spec.keywords_from(current)
            )
            if inspect.isawaitable(result):
                result = await result
            return result

        return await step(0, values)

    return invoke
