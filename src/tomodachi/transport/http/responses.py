"""What a handler returns or raises, turned into an aiohttp response.

Return conventions (the same as the original tomodachi):

==========================================  ==============================================
handler returns                             response
==========================================  ==============================================
``str``                                     200, encoded with the response charset
``bytes`` / ``bytearray``                   200, the raw body
``None``                                    200, empty body
``(status, body)`` / ``(status, body, h)``  a tuple or a list; ``status`` may be int, str or bytes
``dict``                                    keys ``body``, ``status``, ``headers`` (no JSON encoding)
:class:`Response` (``tomodachi.HttpResponse``)  body, status, reason, headers, content_type, charset
``aiohttp.web.StreamResponse`` (any kind)   passed through unchanged
==========================================  ==============================================

A charset given in an explicit ``Content-Type`` header wins over the ``charset`` argument, which
wins over the default (``http.content_type`` / ``http.charset`` options). A body that cannot be
encoded, an unknown charset or a body of another type (e.g. ``int``) is a handler error (500).

Raising ``aiohttp.web.HTTPException`` (e.g. ``HTTPBadRequest(text="bad")``) answers with that
status and, unlike the original, keeps the custom text. Raising :class:`HttpException` does the
same with a tomodachi-style body.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

__all__ = [
    "HttpException",
    "InvalidResponseError",
    "Response",
    "ResponseDefaults",
    "get_http_response_status",
    "get_http_response_status_sync",
    "resolve_response",
    "resolve_response_sync",
]

HeadersType = Mapping[str, str] | CIMultiDict[str]


class InvalidResponseError(ValueError):
    """A handler's response that cannot be sent: a header name or value with CR or LF.

    aiohttp refuses to write such a header (header injection) only when the response is
    written, after the handler; it is checked here, where headers from a handler enter, so the
    client gets a 500 and the log one clear line.
    """


def check_headers(headers: HeadersType) -> None:
    """Raise :class:`InvalidResponseError` when a header of *headers* has CR or LF in it."""
    for key, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
            raise InvalidResponseError(f"the response header {key!r} contains CR or LF (header injection)")


def split_content_type(value: str) -> tuple[str, str | None]:
    """``"text/html; charset=latin-1"`` -> ``("text/html", "latin-1")``."""
    mimetype, _, params = value.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        key, _, val = param.strip().partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip('"')
    return mimetype.strip(), charset


class ResponseDefaults:
    """Defaults of a transport for building responses, computed once from the options."""

    __slots__ = ("charset", "content_type", "headers", "mimetype", "resolved")

    def __init__(
        self,
        content_type: str = "text/plain; charset=utf-8",
        charset: str = "utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        mimetype, ct_charset = split_content_type(content_type)
        self.mimetype = mimetype or "text/plain"
        self.charset = ct_charset or charset or "utf-8"
        self.content_type = f"{self.mimetype}; charset={self.charset}"
        # Headers every response built here starts with (Content-Type, Server, ...). A response
        # copies them, so building one costs a single C-level multidict copy.
        base: CIMultiDict[str] = CIMultiDict({"Content-Type": self.content_type})
        if headers:
            base.update(headers)
        self.headers = base
        #: Handler header dicts already merged with these defaults and checked, by
        #: :func:`headers_key` -> (the response's headers, the body's charset). Most handlers
        #: return the same few.
        self.resolved: dict[Any, tuple[CIMultiDict[str], str]] = {}


#: How many distinct header sets a transport remembers (then it starts over).
RESOLVED_HEADERS_LIMIT = 256


_DEFAULTS = ResponseDefaults()


class Response:
    """A response described by a handler: ``return tomodachi.HttpResponse(body="hi", status=201)``.

    ``content_type`` may include a ``charset`` parameter; an explicit ``Content-Type`` header
    (and its charset) wins over both ``content_type`` and ``charset``.
    """

    __slots__ = ("_body", "_charset", "_content_type", "_headers", "_reason", "_status")

    def __init__(
        self,
        *,
        body: str | bytes | bytearray | None = None,
        status: int = 200,
        reason: str | None = None,
        headers: HeadersType | None = None,
        content_type: str | None = None,
        charset: str | None = None,
    ) -> None:
        self._body = body
        self._status = int(status)
        self._reason = reason
        self._headers = headers
        self._content_type = content_type
        self._charset = charset

    @property
    def status(self) -> int:
        return self._status

    @property
    def body(self) -> str | bytes | bytearray | None:
        return self._body

    @property
    def headers(self) -> HeadersType | None:
        return self._headers

    def __repr__(self) -> str:
        return f"<tomodachi.HttpResponse status={self._status} body={self._body!r}>"

    def get_aiohttp_response(self, defaults: ResponseDefaults | None = None) -> web.Response:
        """Build the ``aiohttp.web.Response`` (the transport does this for you)."""
        return build_response(
            self._body,
            self._status,
            self._headers,
            defaults or _DEFAULTS,
            reason=self._reason,
            content_type=self._content_type,
            charset=self._charset,
        )


class HttpException(Exception):
    """Raise to answer with *status* and *body*: ``raise HttpException(status=409, body="taken")``.

    Without a *body*, an ``@http_error(status)`` handler answers if the service has one, else a
    plain response with the status's reason phrase. Positional arguments are the exception's
    message for the logs only - they never reach the client (so ``raise HttpException("db
    password rejected")`` cannot leak). ``log_level`` is accepted for compatibility.
    """

    def __init__(
        self,
        *args: Any,
        status: int = 500,
        body: str | bytes | None = None,
        headers: HeadersType | None = None,
        reason: str | None = None,
        content_type: str | None = None,
        charset: str | None = None,
        log_level: str | int = "INFO",
    ) -> None:
        super().__init__(*args)
        self.log_level = log_level
        self.status = int(status)
        self.body = body
        self.headers = headers
        self.reason = reason
        self.content_type = content_type
        self.charset = charset

    @property
    def status_code(self) -> int:
        return self.status

    def get_aiohttp_response(self, defaults: ResponseDefaults | None = None) -> web.Response:
        if self.body is None:
            return bare_response(self.status, defaults, self.headers)
        return build_response(
            self.body,
            self.status,
            self.headers,
            defaults or _DEFAULTS,
            reason=self.reason,
            content_type=self.content_type,
            charset=self.charset,
        )


def _encode(body: Any, charset: str) -> bytes | bytearray:
    if isinstance(body, str):
        return body.encode(charset)
    if isinstance(body, (bytes, bytearray)):
        return body
    if body is None:
        return b""
    raise TypeError(
        f"invalid HTTP response body of type {type(body).__name__}: "
        "return str, bytes, None, a (status, body[, headers]) tuple, a dict or a response object"
    )


def build_response(
    body: Any,
    status: Any,
    headers: HeadersType | None,
    defaults: ResponseDefaults,
    *,
    reason: str | None = None,
    content_type: str | None = None,
    charset: str | None = None,
) -> web.Response:
    """The general builder behind every return convention."""
    if type(status) is not int:  # "200", b"200", HTTPStatus.OK, ...
        status = int(status.decode() if isinstance(status, bytes) else status)
    status_code: int = status
    if not headers and content_type is None and charset is None:
        # Fast path: default content type and charset.
        return web.Response(
            body=_encode(body, defaults.charset), status=status_code, reason=reason, headers=defaults.headers
        )
    key = None
    if type(headers) is dict and content_type is None and charset is None:
        try:
            key = headers_key(headers)
            known = defaults.resolved.get(key)
        except TypeError:  # an unhashable value: not remembered
            known = key = None
        if known is not None:  # the same headers as before: merged and checked then
            encoded = body.encode(known[1]) if type(body) is str else _encode(body, known[1])
            return web.Response(body=encoded, status=status_code, reason=reason, headers=known[0])
    real, effective = _merge_headers(headers, defaults, content_type, charset)
    if key is not None:
        if len(defaults.resolved) >= RESOLVED_HEADERS_LIMIT:
            defaults.resolved.clear()
        defaults.resolved[key] = (real, effective)
    return web.Response(body=_encode(body, effective), status=status_code, reason=reason, headers=real)


def headers_key(headers: dict[str, Any]) -> Any:
    """What :attr:`ResponseDefaults.resolved` knows a handler's header dict by: its items, or for
    the usual lone ``Content-Type`` its value alone (a third of the cost; a str is never equal to
    a tuple). Raises TypeError for an unhashable value."""
    lone = headers.get("Content-Type") if len(headers) == 1 else None
    return lone if type(lone) is str else tuple(headers.items())


def _merge_headers(
    headers: HeadersType | None, defaults: ResponseDefaults, content_type: str | None, charset: str | None
) -> tuple[CIMultiDict[str], str]:
    """The response's headers (the defaults, then *headers*, checked) and the body's charset."""
    real: CIMultiDict[str] = CIMultiDict(defaults.headers)
    explicit = None
    if headers:
        explicit = (
            headers.get("Content-Type")
            if isinstance(headers, CIMultiDict)
            else _get_ci(headers, "Content-Type")
        )
        real.update(headers)
    if explicit is not None:
        _, explicit_charset = split_content_type(explicit)
        effective = explicit_charset or charset or defaults.charset
    else:
        mimetype, ct_charset = split_content_type(content_type) if content_type else (defaults.mimetype, None)
        effective = charset or ct_charset or defaults.charset
        real["Content-Type"] = f"{mimetype}; charset={effective}"
    check_headers(real)
    return real, effective


def _get_ci(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def resolve_response_sync(
    value: Any,
    *,
    defaults: ResponseDefaults | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """Turn a handler's return *value* into a response; *status* is the default status code."""
    d = defaults or _DEFAULTS
    if isinstance(value, str):
        return web.Response(body=value.encode(d.charset), status=status, headers=d.headers)
    if isinstance(value, (tuple, list)):  # before the rarer kinds: the second most usual return
        size = len(value)
        if size == 3:
            status_, body, headers = value
            if type(headers) is dict and type(status_) is int and type(body) is str:
                # (status, text, {headers}) with headers seen before: build_response's first step
                # (headers_key inlined)
                try:
                    lone = headers.get("Content-Type") if len(headers) == 1 else None
                    known = d.resolved.get(lone if type(lone) is str else tuple(headers.items()))
                except TypeError:  # an unhashable value
                    known = None
                if known is not None:
                    return web.Response(body=body.encode(known[1]), status=status_, headers=known[0])
            return build_response(body, status_, headers, d)
        if size == 2:
            return build_response(value[1], value[0], None, d)
        raise TypeError(
            f"an HTTP response tuple must be (status, body) or (status, body, headers), got {value!r}"
        )
    if isinstance(value, web.StreamResponse):
        return value
    if value is None:
        return web.Response(body=b"", status=status, headers=d.headers)
    if isinstance(value, (bytes, bytearray)):
        return web.Response(body=value, status=status, headers=d.headers)
    if isinstance(value, dict):
        return build_response(value.get("body"), value.get("status", status), value.get("headers"), d)
    if isinstance(value, Response):
        return value.get_aiohttp_response(d)
    if isinstance(value, (HttpException, web.HTTPException)):
        return exception_response(value, d)
    raise TypeError(
        f"invalid HTTP handler return value of type {type(value).__name__}: "
        "return str, bytes, None, a (status, body[, headers]) tuple, a dict or a response object"
    )


async def resolve_response(
    value: Any,
    *,
    defaults: ResponseDefaults | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """Awaitable variant of :func:`resolve_response_sync` (awaits *value* if it is awaitable)."""
    if hasattr(value, "__await__"):
        value = await value
    return resolve_response_sync(value, defaults=defaults, status=status)


def exception_response(
    exc: web.HTTPException | HttpException, defaults: ResponseDefaults | None = None
) -> web.Response:
    """A fresh response for a raised exception (aiohttp's own text, e.g. ``text="bad"``, is kept)."""
    if isinstance(exc, HttpException):
        return exc.get_aiohttp_response(defaults)
    # HTTPException is itself a Response in aiohttp 3; returning it is deprecated, so copy it.
    return web.Response(body=exc.body, status=exc.status, reason=exc.reason, headers=exc.headers)


def bare_response(
    status: int, defaults: ResponseDefaults | None = None, headers: HeadersType | None = None
) -> web.Response:
    """A plain response carrying ``"<status>: <reason>"`` (never a traceback)."""
    d = defaults or _DEFAULTS
    real = CIMultiDict(d.headers)
    if headers:
        real.update(headers)
        check_headers(real)
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    return web.Response(body=f"{status}: {reason}".encode(), status=status, headers=real)


def _transport_gone(request: web.BaseRequest | None) -> bool:
    return request is not None and request.transport is None


def get_http_response_status_sync(
    value: Any, request: web.BaseRequest | None = None, verify_transport: bool = True
) -> int:
    """The status code that *value* (a return value or a raised exception) would answer with.

    499 when *request* is given and its client has gone away (nginx's "client closed request").
    """
    if verify_transport and _transport_gone(request):
        return 499
    if isinstance(value, web.HTTPException):
        return int(value.status)
    if isinstance(value, HttpException):
        return value.status
    if isinstance(value, BaseException):
        return 500
    try:
        return int(resolve_response_sync(value).status)
    except Exception:
        return 500


async def get_http_response_status(
    value: Any, request: web.BaseRequest | None = None, verify_transport: bool = True
) -> int:
    """Awaitable variant of :func:`get_http_response_status_sync` (awaits awaitable values)."""
    if hasattr(value, "__await__"):
        try:
            value = await value
        except Exception as exc:
            value = exc
    return get_http_response_status_sync(value, request, verify_transport)
