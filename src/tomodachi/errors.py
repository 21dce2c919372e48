"""The exception family of tomodachi.

Every exception the framework raises on purpose derives from :class:`TomodachiError`.
Configuration mistakes also derive from :class:`ValueError`, so code written against the
original library (which raised plain ``ValueError``) keeps working.
"""

from __future__ import annotations

import re

__all__ = [
    "ConfigurationError",
    "InvalidOptionError",
    "ServiceStartError",
    "TomodachiError",
    "describe_exception",
    "mask_url_credentials",
]

# scheme://userinfo@ - the userinfo runs up to the last "@" before the end of the authority (a
# password may hold an unescaped "@"); quotes and brackets end it, as a URL in a repr or a message.
_URL_USERINFO = re.compile(r"""(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#'"<>()\[\]]*)@""")


class TomodachiError(Exception):
    """Root of every exception raised by tomodachi itself."""


class ConfigurationError(TomodachiError, ValueError):
    """A user-supplied value (option, decorator argument, CLI flag) is invalid.

    The message says what was wrong and what to do; the runner prints it as one line.
    """


class InvalidOptionError(ConfigurationError, AttributeError, KeyError):
    """An option key that does not exist was read or written (``options["http.prot"]``).

    It is an :class:`AttributeError` so that ``getattr(options.http, name, default)`` and
    ``hasattr`` behave, and a :class:`KeyError` so that item access behaves like a mapping.
    """

    def __str__(self) -> str:
        # KeyError.__str__ would quote the message; show it as the one line it is.
        return str(self.args[0]) if self.args else ""


class ServiceStartError(TomodachiError):
    """A service could not start (bind failure, connection refused, ...).

    Raised by transports from ``start()``; the message is shown to the user as one line.
    """


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _password = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"


def mask_url_credentials(text: str) -> str:
    """*text* with the password of every URL in it masked: ``amqp://user:***@host/``.

    A URL with a user name only (``https://token@host``, where the name often is the secret) is
    shown as ``https://***@host``. Cheap for text without ``://`` and ``@``.
    """
    if "@" not in text or "://" not in text:
        return text
    return _URL_USERINFO.sub(_mask_userinfo, text)


def describe_exception(exc: BaseException) -> str:
    """One line naming an exception and where user code raised it: ``Type: message (file:line)``.

    A password in a URL of the message is masked (:func:`mask_url_credentials`).
    """
    import os
    import traceback

    message = mask_url_credentials(str(exc))
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if isinstance(exc, SyntaxError):
        location = f"{exc.filename}:{exc.lineno}" if exc.filename else ""
        return f"SyntaxError: {mask_url_credentials(str(exc.msg))} ({location})" if location else text
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    package_dir = os.path.dirname(os.path.abspath(__file__))
    user_frames = [f for f in frames if not os.path.abspath(f.filename).startswith(package_dir)]
    frame = (user_frames or frames)[-1] if frames else None
    if frame is None:
        return text
    filename = os.path.relpath(frame.filename) if not frame.filename.startswith("<") else frame.filename
    return f"{text} ({filename}:{frame.lineno} in {frame.name})"
