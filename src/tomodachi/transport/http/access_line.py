"""One access-log line, gathered cheaply when the response was sent (rendered later, by
:mod:`.access_render`).

:func:`gather` reads what the line needs from the request and response into a plain tuple (an
:data:`AccessRecord`); nothing is formatted then.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, TypeAlias

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion, HttpVersion10, HttpVersion11

if TYPE_CHECKING:
    from tomodachi.transport.http.real_ip import RealIpResolver

__all__ = [
    "LOGGER_NAME",
    "SECRET_QUERY_WORDS",
    "AbortedResponse",
    "AccessRecord",
    "LineExtra",
    "LineKey",
    "basic_auth_user",
    "gather",
    "make_record",
    "mask_query_string",
]

LOGGER_NAME = "tomodachi.http.response"

#: What every line shows, in this order: (status_code, remote_ip, request_method, request_path,
#: http_version, response_content_length (the Content-Length header as sent, or None), user_agent).
#: Most lines repeat one: as a whole it is the key of the remembered middle of a line.
LineKey: TypeAlias = tuple[int, str, str, str, str, "str | None", str]
#: The fields most lines leave out: (replaced_status_code, response_aborted, auth_user,
#: query_string (raw, unmasked; "" when none), request_content_length).
LineExtra: TypeAlias = tuple["int | None", bool, "str | None", str, "int | None"]
#: (created (microseconds since the epoch), LineKey, handler_elapsed_time (seconds or None),
#: request_time (seconds), LineExtra or None when all of its fields are left out).
AccessRecord: TypeAlias = tuple[int, LineKey, "float | None", float, "LineExtra | None"]


def make_record(
    created: float,
    status: int,
    ip: str,
    method: str,
    path: str,
    version: str,
    sent: int | None,
    agent: str,
    elapsed: float | None,
    total: float,
    *,
    replaced: int | None = None,
    aborted: bool = False,
    user: str | None = None,
    query: str = "",
    received: int | None = None,
) -> AccessRecord:
    """An :data:`AccessRecord` from its fields by name (what :func:`gather` builds inline);
    *created* in seconds since the epoch."""
    usual = replaced is None and not aborted and user is None and not query and received is None
    extra = None if usual else (replaced, aborted, user, query, received)
    micros = round(created * 1_000_000)
    length = None if sent is None else str(sent)
    return (micros, (status, ip, method, path, version, length, agent), elapsed, total, extra)


class AbortedResponse(web.Response):
    """Stands for a response that failed after it had started: its connection was aborted.

    aiohttp gets it instead of a second response (which would be written into the open body);
    the access line has ``response_aborted: true``.
    """


def basic_auth_user(authorization: str) -> str | None:
    """The user name of a ``Basic`` ``Authorization`` header (None when malformed)."""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep else None


#: Query parameters whose values the access log masks (``***``): a name containing one of these
#: (case-insensitive), or equal to one of :data:`_SECRET_QUERY_NAMES`.
SECRET_QUERY_WORDS = ("token", "secret", "password", "passwd", "signature", "credential", "api_key", "apikey")
_SECRET_QUERY_NAMES = frozenset({"key", "sig", "pwd", "code", "auth", "authorization", "session"})
_SECRET_QUERY_RE = re.compile(
    r"(?i)(^|&)((?:[^&=]*(?:"
    + "|".join(SECRET_QUERY_WORDS)
    + r")[^&=]*|"
    + "|".join(sorted(_SECRET_QUERY_NAMES))
    + r")=)[^&]*"
)


def mask_query_string(query: str) -> str:
    """*query* with the values of secret-looking parameters (``token=``, ``password=``, ...) as ``***``."""
    return _SECRET_QUERY_RE.sub(r"\1\2***", query)


_VERSIONS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}
_AUTHORIZATION, _CONTENT_LENGTH, _USER_AGENT = hdrs.AUTHORIZATION, hdrs.CONTENT_LENGTH, hdrs.USER_AGENT


def gather(
    request: web.BaseRequest,
    response: web.StreamResponse,
    status: int,
    created: int,
    request_time: float,
    handler_elapsed: float | None,
    real_ip: RealIpResolver | None,
) -> AccessRecord:
    """The access record of one request whose response (of *status*, as the caller read it) was
    sent or abandoned.

    The request line, the headers, the connection and the response's headers are read from
    aiohttp's own attributes (its parsed message, its protocol, ``_headers``) when the request is
    aiohttp's ``BaseRequest`` (the public properties run a Python getter each: together they cost more
    than the rest of the gathering), else through the public properties.
    """
    if request.__class__ is web.BaseRequest:
        try:  # aiohttp's own attributes: the public properties cost a Python call each
            message, protocol, sent = request._message, request._protocol, response._headers
        except AttributeError:  # a future aiohttp: the public way
            message, protocol, sent = None, request.protocol, response.headers
    else:  # another request class: the public way
        message, protocol, sent = None, request.protocol, response.headers
    if message is not None:
        method, version, headers = message.method, message.version, message.headers
        query = request.query_string if "?" in message.path else ""
    else:
        method, version, headers = request.method, request.version, request.headers
        query = request.query_string
    replaced: int | None = None
    aborted = False
    if response.__class__ is AbortedResponse:  # failed after it started: the connection was aborted
        aborted = True
    elif protocol is None or protocol.transport is None:  # the client went away before the response
        replaced, status = status, 499
    if real_ip is not None:
        ip = real_ip.resolve(request)
    elif protocol is not None:
        peer = protocol.peername  # kept per connection by aiohttp
        ip = peer[0] if isinstance(peer, tuple) else str(peer or "")
    else:
        ip = request.remote or ""
    user: str | None = None
    authorization = headers.get(_AUTHORIZATION)  # istr keys: a third of the cost of str ones
    if authorization and authorization[:6].lower() == "basic ":
        user = basic_auth_user(authorization)
    received = headers.get(_CONTENT_LENGTH)
    key = (
        status,
        ip,
        method,
        request.path,
        "HTTP/1.1" if version is HttpVersion11 else _version_text(version),
        sent.get(_CONTENT_LENGTH),  # as sent (the content_length property: a third of gather)
        headers.get(_USER_AGENT, ""),
    )
    if replaced is None and not aborted and user is None and not query and received is None:
        return (created, key, handler_elapsed, request_time, None)
    extra = (replaced, aborted, user, query, None if received is None else request.content_length)
    return (created, key, handler_elapsed, request_time, extra)


def _version_text(version: HttpVersion) -> str:
    return _VERSIONS.get(version) or f"HTTP/{version.major}.{version.minor}"
