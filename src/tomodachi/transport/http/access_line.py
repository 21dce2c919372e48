"""One access-log line: gathered cheaply when the response was sent, rendered later.

:func:`gather` reads what the line needs from the request and response into a plain tuple (an
:data:`AccessRecord`); nothing is formatted then. When the lines of an event-loop iteration are
written, :func:`fields_of` turns a record into the documented fields (any logger output, any
processor), and :func:`console_line` / :func:`json_line` render the usual outputs directly: the
same text the console and JSON renderers make from those fields, without building the
intermediate dict (a test compares both ways).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from aiohttp import web
from aiohttp.http import HttpVersion10, HttpVersion11

from tomodachi.logging.renderers import format_timestamp, timestamp_prefix

if TYPE_CHECKING:
    from tomodachi.transport.http.real_ip import RealIpResolver

__all__ = [
    "SECRET_QUERY_WORDS",
    "AbortedResponse",
    "AccessRecord",
    "basic_auth_user",
    "console_line",
    "fields_of",
    "gather",
    "json_fields",
    "json_line",
    "make_record",
    "mask_query_string",
]

LOGGER_NAME = "tomodachi.http.response"

#: What every line shows, in this order: (status_code, remote_ip, request_method, request_path,
#: http_version, response_content_length, user_agent). Most lines repeat one: as a whole it is
#: the key of the remembered middle of a line (see console_line).
LineKey: TypeAlias = tuple[int, str, str, str, str, "int | None", str]
#: The fields most lines leave out: (replaced_status_code, response_aborted, auth_user,
#: query_string (raw, unmasked; "" when none), request_content_length).
LineExtra: TypeAlias = tuple["int | None", bool, "str | None", str, "int | None"]
#: (created, LineKey, handler_elapsed_time (seconds or None), request_time (seconds), LineExtra
#: or None when all of its fields are left out).
AccessRecord: TypeAlias = tuple[float, LineKey, "float | None", float, "LineExtra | None"]


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
    """An :data:`AccessRecord` from its fields by name (what :func:`gather` builds inline)."""
    usual = replaced is None and not aborted and user is None and not query and received is None
    extra = None if usual else (replaced, aborted, user, query, received)
    return (created, (status, ip, method, path, version, sent, agent), elapsed, total, extra)


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


def gather(
    request: web.BaseRequest,
    response: web.StreamResponse,
    status: int,
    created: float,
    request_time: float,
    handler_elapsed: float | None,
    real_ip: RealIpResolver | None,
) -> AccessRecord:
    """The access record of one request whose response (of *status*, as the caller read it) was
    sent or abandoned.

    The request line and headers are read from aiohttp's parsed message when it has one (the
    public properties run a Python getter each on first use: together a third of the cost of an
    access line), else through the public properties.
    """
    replaced: int | None = None
    aborted = False
    protocol = request.protocol
    if response.__class__ is AbortedResponse:  # failed after it started: the connection was aborted
        aborted = True
    elif protocol is None or protocol.transport is None:  # the client went away before the response
        replaced, status = status, 499
    message = getattr(request, "_message", None)
    if message is not None and request.__class__ is web.BaseRequest:
        method, version, headers = message.method, message.version, message.headers
        query = request.query_string if "?" in message.path else ""
    else:  # another request class (or a future aiohttp): the public way
        method, version, headers = request.method, request.version, request.headers
        query = request.query_string
    if real_ip is not None:
        ip = real_ip.resolve(request)
    elif protocol is not None:
        peer = protocol.peername  # kept per connection by aiohttp
        ip = peer[0] if isinstance(peer, tuple) else str(peer or "")
    else:
        ip = request.remote or ""
    user: str | None = None
    authorization = headers.get("Authorization")
    if authorization and authorization[:6].lower() == "basic ":
        user = basic_auth_user(authorization)
    received = headers.get("Content-Length")
    key = (
        status,
        ip,
        method,
        request.path,
        _VERSIONS.get(version) or f"HTTP/{version.major}.{version.minor}",
        response.content_length,
        headers.get("User-Agent", ""),
    )
    if replaced is None and not aborted and user is None and not query and received is None:
        return (created, key, handler_elapsed, request_time, None)
    extra = (replaced, aborted, user, query, None if received is None else request.content_length)
    return (created, key, handler_elapsed, request_time, extra)


def fields_of(record: AccessRecord) -> dict[str, Any]:
    """The access-log fields of *record*, in their documented order (times as ``"0.00135s"``)."""
    return _fields_into({}, record)


def json_fields(record: AccessRecord) -> dict[str, Any]:
    """What the JSON renderer writes for *record*: its four leading keys, then :func:`fields_of`."""
    data = {"timestamp": format_timestamp(record[0]), "logger": LOGGER_NAME, "level": "info", "message": ""}
    return _fields_into(data, record)


def _fields_into(fields: dict[str, Any], record: AccessRecord) -> dict[str, Any]:
    _, (status, ip, method, path, version, sent, agent), elapsed, total, extra = record
    replaced, aborted, user, query, received = _NO_EXTRA if extra is None else extra
    fields["status_code"] = status
    if replaced is not None:
        fields["replaced_status_code"] = replaced
    if aborted:
        fields["response_aborted"] = True
    fields["remote_ip"] = ip
    if user is not None:
        fields["auth_user"] = user
    fields["request_method"] = method
    fields["request_path"] = path
    if query:
        fields["request_query_string"] = mask_query_string(query)
    fields["http_version"] = version
    fields["response_content_length"] = sent
    if received is not None:
        fields["request_content_length"] = received
    fields["user_agent"] = agent
    fields["handler_elapsed_time"] = f"{elapsed:.5f}s" if elapsed is not None else None
    fields["request_time"] = f"{total:.5f}s"
    return fields


_NO_EXTRA: LineExtra = (None, False, None, "", None)

# What the console renderer writes before the fields of an info line with an empty message.
_CONSOLE_HEAD = f" [info     ] {'':<30} [{LOGGER_NAME}] status_code="


def _bare(value: str) -> str:
    """A string as the console renderer shows it: bare unless empty, spaced or unprintable."""
    return value if value and " " not in value and value.isprintable() else repr(value)


#: The middle of recent usual console lines (status code to user agent) by what they show: most
#: requests repeat a client, a route and a status. At most this many, then it starts over.
MIDDLES_LIMIT = 512
_middles: dict[LineKey, str] = {}


def console_line(record: AccessRecord) -> str:
    """The console renderer's line (no colours, no newline) for *record*."""
    created, key, elapsed, total, extra = record
    # format_timestamp(created), inlined (a fifth of the line's cost as a call)
    second = int(created)
    micros = int((created - second) * 1_000_000 + 0.5)
    if micros > 999_999:
        micros = 999_999
    prefix = timestamp_prefix(second)
    if extra is None:  # the usual line
        middle = _middles.get(key)
        if middle is None:
            status, ip, method, path, version, sent, agent = key
            middle = (
                f"{status} remote_ip={_bare(ip)} request_method={_bare(method)} request_path={_bare(path)} "
                f"http_version={version} response_content_length={sent!r} user_agent={_bare(agent)}"
            )
            if len(_middles) >= MIDDLES_LIMIT:
                _middles.clear()
            _middles[key] = middle
        # One %-format for the whole line (the timestamp's "%06dZ" as in format_timestamp).
        if elapsed is None:
            return "%s%06dZ%s%s handler_elapsed_time=None request_time=%.5fs" % (  # noqa: UP031
                prefix, micros, _CONSOLE_HEAD, middle, total
            )  # fmt: skip
        return "%s%06dZ%s%s handler_elapsed_time=%.5fs request_time=%.5fs" % (  # noqa: UP031
            prefix, micros, _CONSOLE_HEAD, middle, elapsed, total
        )  # fmt: skip
    status, ip, method, path, version, sent, agent = key
    replaced, aborted, user, query, received = extra
    shown_elapsed = "None" if elapsed is None else f"{elapsed:.5f}s"
    timestamp = "%s%06dZ" % (prefix, micros)  # noqa: UP031
    line = f"{timestamp}{_CONSOLE_HEAD}{status}"
    if replaced is not None:
        line += f" replaced_status_code={replaced}"
    if aborted:
        line += " response_aborted=True"
    line += f" remote_ip={_bare(ip)}"
    if user is not None:
        line += f" auth_user={_bare(user)}"
    line += f" request_method={_bare(method)} request_path={_bare(path)}"
    if query:
        line += f" request_query_string={_bare(mask_query_string(query))}"
    line += f" http_version={version} response_content_length={sent!r}"
    if received is not None:
        line += f" request_content_length={received!r}"
    return f"{line} user_agent={_bare(agent)} handler_elapsed_time={shown_elapsed} request_time={total:.5f}s"


_JSON_HEAD = f',"logger":"{LOGGER_NAME}","level":"info","message":"",'
#: The JSON middles are kept per encoder (each renderer's own text); for this many encoders.
ENCODERS_LIMIT = 8
_json_middles: dict[Any, dict[LineKey, str]] = {}


def json_line(record: AccessRecord, dumps: Callable[[dict[str, Any]], str]) -> str:
    """The JSON renderer's line for *record*, with its encoder *dumps*; the middle of a usual
    line (status code to user agent) is remembered like the console line's."""
    created, key, elapsed, total, extra = record
    if extra is not None:
        return dumps(json_fields(record))
    middles = _json_middles.get(dumps)  # each encoder's own text
    if middles is None:
        if len(_json_middles) >= ENCODERS_LIMIT:  # encoders of pipelines replaced since
            _json_middles.clear()
        middles = _json_middles[dumps] = {}
    middle = middles.get(key)
    if middle is None:
        status, ip, method, path, version, sent, agent = key
        fields = {
            "status_code": status,
            "remote_ip": ip,
            "request_method": method,
            "request_path": path,
            "http_version": version,
            "response_content_length": sent,
            "user_agent": agent,
        }
        middle = dumps(fields)[1:-1]  # the encoder's own text for these keys, without the braces
        if len(middles) >= MIDDLES_LIMIT:
            middles.clear()
        middles[key] = middle
    # The timestamp and the times are ASCII without anything to escape: written as they are, in
    # one %-format (format_timestamp(created) inlined, as in console_line: as a shared helper it
    # costs 0.7k instructions a line, 2% of the access log).
    second = int(created)
    micros = int((created - second) * 1_000_000 + 0.5)
    if micros > 999_999:
        micros = 999_999
    prefix = timestamp_prefix(second)
    if elapsed is None:
        return '{"timestamp":"%s%06dZ"%s%s,"handler_elapsed_time":null,"request_time":"%.5fs"}' % (  # noqa: UP031
            prefix, micros, _JSON_HEAD, middle, total
        )  # fmt: skip
    return '{"timestamp":"%s%06dZ"%s%s,"handler_elapsed_time":"%.5fs","request_time":"%.5fs"}' % (  # noqa: UP031
        prefix, micros, _JSON_HEAD, middle, elapsed, total
    )  # fmt: skip
