"""The ``tomodachi.Service`` base class and the service-level helpers."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from tomodachi.errors import ConfigurationError

if TYPE_CHECKING:
    from tomodachi.logging import Logger
    from tomodachi.options import Options

__all__ = ["LIFECYCLE_HOOKS", "Service", "exit", "service"]

#: The lifecycle hooks a service may define, in the order they are called.
LIFECYCLE_HOOKS = ("_start_service", "_started_service", "_stopping_service", "_stop_service")


class Service:
    """Base class of a tomodachi service.

    Subclass it, give it a ``name``, decorate async methods with transport decorators and run
    the file with ``tomodachi run``. Optional lifecycle hooks, in call order:
    ``_start_service`` (before transports start), ``_started_service`` (once serving),
    ``_stopping_service`` (as soon as a stop is requested) and ``_stop_service`` (after every
    transport has drained and closed).
    """

    name: str = "service"
    #: Instance id; generated (uuid4) when not set. Embedded in message envelopes.
    uuid: str | None = None
    options: Options
    http_middleware: ClassVar[list[Any]] = []
    message_middleware: ClassVar[list[Any]] = []
    message_envelope: Any = None
    #: Compatibility with the original: a dict of the instance's plain attributes, where
    #: transports publish facts such as ``_http_port`` for the service to read (the framework
    #: itself reads them from its records: ``tomodachi.runtime_of(service).transport(...)``).
    context: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        options = cls.__dict__.get("options")
        from tomodachi.options import Options

        if isinstance(options, dict):
            warnings.warn(
                f"{cls.__qualname__}.options as a dict is deprecated; use tomodachi.Options(...)",
                DeprecationWarning,
                stacklevel=2,
            )
            # Converted at class creation, as the original does: ``cls.options.http.port`` works.
            cls.options = Options(options)
        elif options is not None and not isinstance(options, Options):
            raise ConfigurationError(
                f"Invalid value for 'options' attribute of {cls.__qualname__}: expected tomodachi.Options "
                f"or a dict, got {type(options).__name__}"
            )
        for legacy in ("discovery", "message_protocol"):
            if legacy in cls.__dict__:
                warnings.warn(
                    f"{cls.__qualname__}.{legacy} is deprecated"
                    + ("; use message_envelope" if legacy == "message_protocol" else ""),
                    DeprecationWarning,
                    stacklevel=2,
                )
        from tomodachi.service_meta import register_service_class

        register_service_class(cls)  # tomodachi.TOMODACHI_CLASSES and the CLASS_ATTRIBUTE marker

    def __new__(cls, *args: Any, **kwargs: Any) -> Service:
        # Each instance gets its own copy of the class's options before ``__init__`` runs, so
        # ``self.options.http.port = ...`` in ``__init__`` changes this instance only.
        from tomodachi.options import coerce_options

        instance = super().__new__(cls)
        object.__setattr__(instance, "options", coerce_options(getattr(cls, "options", None)).copy())
        return instance

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "options":
            from tomodachi.options import coerce_options

            value = coerce_options(value)  # returns an Options as is
        object.__setattr__(self, key, value)

    @property
    def ready(self) -> bool:
        """True while the service is serving: started, not stopping, and every transport ready.

        A message transport is not ready while its broker connection is down (it reconnects by
        itself); ``readiness`` tells which one.
        """
        from tomodachi.runtime import record_of

        record = record_of(self)
        if record is None or not record.serving:
            return False
        return all(self.readiness.values())

    @property
    def readiness(self) -> dict[str, bool]:
        """Readiness of each transport of the service, by name (``"amqp"``, ``"http"``, ...)."""
        from tomodachi.runtime import record_of

        record = record_of(self)
        transports = record.transports if record is not None else ()
        return {transport.display_name(): bool(transport.ready) for transport in transports}

    @property
    def logger(self) -> Logger:
        """The logger of the current handler or lifecycle hook (``tomodachi.get_logger()``)."""
        from tomodachi.logging import get_logger

        return get_logger()

    def log(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated: use ``self.logger.info(...)`` or ``tomodachi.get_logger()``."""
        warnings.warn(
            "Service.log() is deprecated; use tomodachi.get_logger()", DeprecationWarning, stacklevel=2
        )
        from tomodachi.logging import get_logger

        level = kwargs.pop("level", kwargs.pop("lvl", "info"))
        name = kwargs.pop("name", None)
        message = kwargs.pop("message", kwargs.pop("msg", None))
        rest = list(args)
        if message is None and rest:
            message = rest.pop()
        levels = ("debug", "info", "warning", "warn", "error", "critical")
        for value in rest:
            if type(value) is int or str(value).lower() in levels:
                level = value
            else:
                name = value
        logger = get_logger(name) if name else get_logger()  # as the original: the context's logger
        logger.log(level if type(level) is int else str(level).lower(), str(message), **kwargs)

    def log_setup(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated, does nothing (kept so old services run unchanged)."""


def service(cls: type) -> type[Service]:
    """Deprecated class decorator: makes *cls* a :class:`Service`. Subclass Service instead."""
    warnings.warn(
        "the @tomodachi.service decorator is deprecated; subclass tomodachi.Service instead",
        DeprecationWarning,
        stacklevel=2,
    )
    if isinstance(cls, type) and issubclass(cls, Service):
        return cls
    return type(
        cls.__name__, (cls, Service), {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    )


def exit(exit_code: int | None = None) -> None:
    """Stop every running service gracefully; the process then exits with *exit_code*.

    Without *exit_code*, the exit code is ``tomodachi.SERVICE_EXIT_CODE`` (0 unless service code
    set it); with it, ``tomodachi.SERVICE_EXIT_CODE`` is set to *exit_code*.
    """
    import sys

    from tomodachi.logging import get_logger
    from tomodachi.runtime import current_runtime

    package: Any = sys.modules["tomodachi"]  # set the package attribute itself, not a copy
    runtime = current_runtime()
    code: int
    if exit_code is not None:
        code = exit_code
    elif runtime is not None and runtime.exit_code:
        code = runtime.exit_code
    else:  # ``tomodachi.exit()``: the code service code may have put in tomodachi.SERVICE_EXIT_CODE
        code = package.SERVICE_EXIT_CODE
    package.SERVICE_EXIT_CODE = code
    get_logger("tomodachi.exit").warning(f"tomodachi.exit [{code}] was called", exit_code=code)
    if runtime is not None:
        runtime.request_stop("tomodachi.exit", code)
