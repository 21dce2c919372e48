"""One access-log line as text: the documented fields of an :data:`.AccessRecord`, and the usual
outputs' lines straight from records.

:func:`fields_of` turns a record into the documented fields (any logger output, any processor).
:func:`console_lines` / :func:`json_lines` render the lines of one write for the console and JSON
outputs directly: the same text their renderers make from those fields, without building the
intermediate dicts (a test compares both ways).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from tomodachi.logging.renderers import timestamp_prefix
from tomodachi.transport.http.access_line import (
    LOGGER_NAME,
    AccessRecord,
    LineExtra,
    LineKey,
    mask_query_string,
)

__all__ = [
    "ENCODERS_LIMIT",
    "MIDDLES_LIMIT",
    "SECONDS_LIMIT",
    "console_line",
    "console_lines",
    "created_seconds",
    "fields_of",
    "json_fields",
    "json_line",
    "json_lines",
    "seconds_text",
    "timestamp_of",
]


def fields_of(record: AccessRecord) -> dict[str, Any]:
    """The access-log fields of *record*, in their documented order (times as ``"0.00135s"``)."""
    return _fields_into({}, record)


def json_fields(record: AccessRecord) -> dict[str, Any]:
    """What the JSON renderer writes for *record*: its four leading keys, then :func:`fields_of`."""
    data = {"timestamp": timestamp_of(record[0]), "logger": LOGGER_NAME, "level": "info", "message": ""}
    return _fields_into(data, record)


def created_seconds(record: AccessRecord) -> float:
    """When *record* was gathered, in seconds since the epoch (what a log renderer is given)."""
    return record[0] / 1_000_000


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
    fields["response_content_length"] = _length(sent)
    if received is not None:
        fields["request_content_length"] = received
    fields["user_agent"] = agent
    fields["handler_elapsed_time"] = None if elapsed is None else seconds_text(elapsed)
    fields["request_time"] = seconds_text(total)
    return fields


_NO_EXTRA: LineExtra = (None, False, None, "", None)


def _length(sent: str | None) -> int | None:
    """The Content-Length *sent* as a number (None when there was none or it was not one)."""
    try:
        return None if sent is None else int(sent)
    except ValueError:
        return None


# --- numbers as text, without float or padded-int formatting (each costs as much as the rest of
# --- a line's formatting together)

#: "000" to "999".
_D3 = tuple(f"{n:03d}" for n in range(1000))
#: A float's floor as an int: half the cost of int() (a call of the int type).
_floor = math.floor


def seconds_text(seconds: float) -> str:
    """*seconds* as the access log shows a duration: five decimals and ``s`` (``"0.00135s"``),
    rounded half up."""
    units = _floor(seconds * 100000.0 + 0.5)
    return _seconds.get(units) or _seconds_text(units)


#: seconds_text by its 10-microsecond units, for the durations seen lately (most repeat): at
#: most SECONDS_LIMIT of them, then it starts over.
SECONDS_LIMIT = 4096
_seconds: dict[int, str] = {}


def _seconds_text(units: int) -> str:
    """seconds_text of *units* tens of microseconds, remembered in _seconds."""
    if len(_seconds) >= SECONDS_LIMIT:
        _seconds.clear()
    text = _seconds[units] = f"{units // 100000}.{units % 100000:05d}s"
    return text


def _millisecond_stamp(millis: int) -> str:
    """``"YYYY-MM-DDTHH:MM:SS.mmm"`` (UTC) of *millis* since the epoch."""
    return timestamp_prefix(millis // 1000) + _D3[millis % 1000]


def timestamp_of(created: int) -> str:
    """The timestamp the log renderers write for *created* microseconds since the epoch
    (:func:`tomodachi.logging.renderers.format_timestamp` of it in seconds)."""
    millis = created // 1000
    return f"{_millisecond_stamp(millis)}{_D3[created % 1000]}Z"


# What the console renderer writes after the timestamp of an info line with an empty message.
_CONSOLE_HEAD = f"Z [info     ] {'':<30} [{LOGGER_NAME}] status_code="
_TOTAL = " request_time="


def _bare(value: str) -> str:
    """A string as the console renderer shows it: bare unless empty, spaced or unprintable."""
    return value if value and " " not in value and value.isprintable() else repr(value)


#: The middle of recent usual console lines (status code to user agent) by what they show: most
#: requests repeat a client, a route and a status. At most this many, then it starts over.
MIDDLES_LIMIT = 512
_middles: dict[LineKey, str] = {}


def _console_middle(key: LineKey) -> str:
    """The console text of a usual line after the timestamp up to the handler time (from the
    ``Z`` to ``handler_elapsed_time=``), remembered."""
    status, ip, method, path, version, sent, agent = key
    middle = (
        f"{_CONSOLE_HEAD}{status} remote_ip={_bare(ip)} request_method={_bare(method)} "
        f"request_path={_bare(path)} http_version={version} response_content_length={_length(sent)!r} "
        f"user_agent={_bare(agent)} handler_elapsed_time="
    )
    if len(_middles) >= MIDDLES_LIMIT:
        _middles.clear()
    _middles[key] = middle
    return middle


def console_line(record: AccessRecord) -> str:
    """The console renderer's line (no colours, no newline) for *record*."""
    return console_lines((record,))[0]


def console_lines(records: Iterable[AccessRecord]) -> list[str]:
    """The console renderer's lines (no colours, no newlines) for *records*, in their order.

    One call for the lines of a write (a call per line costs a tenth of the line); the
    millisecond part of the timestamp is made once per millisecond, the middle once per
    client, route and status (see :data:`MIDDLES_LIMIT`), the durations' text once per value.
    """
    lines: list[str] = []
    append = lines.append
    middles = _middles
    seconds = _seconds
    last_millis = -1
    stamp = ""
    for record in records:
        created, key, elapsed, total, extra = record
        millis = created // 1000
        if millis != last_millis:  # a new millisecond
            last_millis = millis
            stamp = _millisecond_stamp(millis)
        micros = _D3[created % 1000]
        if extra is not None:
            append(_console_full(f"{stamp}{micros}", record))
            continue
        middle = middles.get(key) or _console_middle(key)
        units = _floor(total * 100000.0 + 0.5)
        total_text = seconds.get(units) or _seconds_text(units)
        if elapsed is None:
            append(f"{stamp}{micros}{middle}None{_TOTAL}{total_text}")
            continue
        units = _floor(elapsed * 100000.0 + 0.5)
        elapsed_text = seconds.get(units) or _seconds_text(units)
        append(f"{stamp}{micros}{middle}{elapsed_text}{_TOTAL}{total_text}")
    return lines


def _console_full(stamp: str, record: AccessRecord) -> str:
    """The console line of a record with any of the rarely-set fields (*stamp*: the timestamp)."""
    _, (status, ip, method, path, version, sent, agent), elapsed, total, extra = record
    replaced, aborted, user, query, received = _NO_EXTRA if extra is None else extra
    shown_elapsed = "None" if elapsed is None else seconds_text(elapsed)
    line = f"{stamp}{_CONSOLE_HEAD}{status}"
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
    line += f" http_version={version} response_content_length={_length(sent)!r}"
    if received is not None:
        line += f" request_content_length={received!r}"
    line += f" user_agent={_bare(agent)} handler_elapsed_time={shown_elapsed}"
    return f"{line} request_time={seconds_text(total)}"


_JSON_HEAD = f'Z","logger":"{LOGGER_NAME}","level":"info","message":"",'
#: The JSON middles are kept per encoder (each renderer's own text); for this many encoders.
ENCODERS_LIMIT = 8
_json_middles: dict[Any, dict[LineKey, str]] = {}


def json_line(record: AccessRecord, dumps: Callable[[dict[str, Any]], str]) -> str:
    """The JSON renderer's line for *record*, with its encoder *dumps*."""
    return json_lines((record,), dumps)[0]


def json_lines(records: Iterable[AccessRecord], dumps: Callable[[dict[str, Any]], str]) -> list[str]:
    """The JSON renderer's lines for *records* with its encoder *dumps*, in their order; made
    like :func:`console_lines` (the middle of a usual line is the encoder's own text)."""
    middles = _json_middles.get(dumps)  # each encoder's own text
    if middles is None:
        if len(_json_middles) >= ENCODERS_LIMIT:  # encoders of pipelines replaced since
            _json_middles.clear()
        middles = _json_middles[dumps] = {}
    lines: list[str] = []
    append = lines.append
    seconds = _seconds
    last_millis = -1
    stamp = ""
    for record in records:
        created, key, elapsed, total, extra = record
        if extra is not None:
            append(dumps(json_fields(record)))
            continue
        millis = created // 1000
        if millis != last_millis:  # a new millisecond
            last_millis = millis
            stamp = _millisecond_stamp(millis)
        micros = _D3[created % 1000]
        middle = middles.get(key) or _json_middle(middles, key, dumps)
        units = _floor(total * 100000.0 + 0.5)
        total_text = seconds.get(units) or _seconds_text(units)
        # The timestamp and the times are ASCII without anything to escape: written as they are.
        if elapsed is None:
            append(f'{{"timestamp":"{stamp}{micros}{middle}null,"request_time":"{total_text}"}}')
            continue
        units = _floor(elapsed * 100000.0 + 0.5)
        elapsed_text = seconds.get(units) or _seconds_text(units)
        append(f'{{"timestamp":"{stamp}{micros}{middle}"{elapsed_text}","request_time":"{total_text}"}}')
    return lines


def _json_middle(middles: dict[LineKey, str], key: LineKey, dumps: Callable[[dict[str, Any]], str]) -> str:
    """The text of a usual line after the timestamp up to the handler time, the fields from the
    status code to the user agent in the encoder's own text; remembered."""
    status, ip, method, path, version, sent, agent = key
    fields = {
        "status_code": status,
        "remote_ip": ip,
        "request_method": method,
        "request_path": path,
        "http_version": version,
        "response_content_length": _length(sent),
        "user_agent": agent,
    }
    middle = f'{_JSON_HEAD}{dumps(fields)[1:-1]},"handler_elapsed_time":'  # without the braces
    if len(middles) >= MIDDLES_LIMIT:
        middles.clear()
    middles[key] = middle
    return middle
