"""The access line rendered straight from its record is the line the console and JSON renderers
make from its fields: the fast path must not change a byte of what users see or parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer
from tomodachi.transport.http import access_render
from tomodachi.transport.http.access_line import AccessRecord, make_record
from tomodachi.transport.http.access_render import (
    SECONDS_LIMIT,
    console_line,
    console_lines,
    created_seconds,
    fields_of,
    json_fields,
    json_line,
    json_lines,
    seconds_text,
)

CREATED = 1764900000.123456

IP = "127.0.0.1"
USUAL = dict(
    created=CREATED, status=200, ip=IP, method="GET", path="/", version="HTTP/1.1", sent=1, agent="w",
    elapsed=1e-5, total=1,
)  # fmt: skip


def record(**changes: Any) -> AccessRecord:
    return make_record(**{**USUAL, **changes})


def with_times(record: AccessRecord, elapsed: float | None, total: float) -> AccessRecord:
    return (record[0], record[1], elapsed, total, record[4])


RECORDS: list[AccessRecord] = [
    record(),
    # every optional field, a secret in the query string, a body
    record(status=499, replaced=201, user="someone", method="POST", query="a=1&token=abc", received=10),
    record(version="HTTP/1.0", elapsed=0.5, total=1.0),
    # aborted while streaming: no content length, no handler time
    record(created=CREATED + 0.876543, aborted=True, ip="::1", sent=None, agent="", elapsed=None),
    # values the console shows quoted: spaces, control characters, empty, non-ASCII
    record(ip="", user="a b", path="/with space", query="q=x y", agent="Mozilla/5.0 (X11)", received=0),
    record(path="/caf\u00e9/\x07", agent="bot\t1", elapsed=0.0, total=0.0),
    # a URL with credentials in the path (both ways leave masking to the write)
    record(path="/redis://u:pw@h/"),
]


@pytest.mark.parametrize("record", RECORDS)
def test_console_line_is_what_the_console_renderer_writes(record: AccessRecord) -> None:
    expected = ConsoleRenderer(colors=False).render(
        "tomodachi.http.response", 20, {"event": "", **fields_of(record)}, created_seconds(record)
    )
    assert console_line(record) == expected
    # again, from the remembered middle of the line, with other times
    later = with_times(record, 0.25, 1.5)
    expected = ConsoleRenderer(colors=False).render(
        "tomodachi.http.response", 20, {"event": "", **fields_of(later)}, created_seconds(record)
    )
    assert console_line(later) == expected


@pytest.mark.parametrize("record", RECORDS)
def test_json_lines_are_what_the_json_renderer_writes(record: AccessRecord) -> None:
    renderer = JSONRenderer()
    for version in (record, with_times(record, None, 1.5)):  # again, with the middle remembered
        event = {"event": "", **fields_of(version)}
        expected = renderer.render("tomodachi.http.response", 20, event, created_seconds(record))
        assert renderer.dumps(json_fields(version)) == expected
        assert json_line(version, renderer.dumps) == expected


def test_fields_mask_secret_query_values_and_keep_the_documented_order() -> None:
    fields = fields_of(RECORDS[1])
    assert RECORDS[1][4] is not None and RECORDS[1][4][3] == "a=1&token=abc"
    assert fields["request_query_string"] == "a=1&token=***"
    assert list(fields) == [
        "status_code",
        "replaced_status_code",
        "remote_ip",
        "auth_user",
        "request_method",
        "request_path",
        "request_query_string",
        "http_version",
        "response_content_length",
        "request_content_length",
        "user_agent",
        "handler_elapsed_time",
        "request_time",
    ]
    assert json.loads(JSONRenderer().dumps(json_fields(RECORDS[3])))["response_aborted"] is True


def test_a_batch_of_lines_is_the_lines_one_by_one_across_milliseconds_and_seconds() -> None:
    # the timestamp's millisecond part is made once per millisecond within a batch
    times = [CREATED, CREATED + 1e-6, CREATED + 0.001, CREATED + 0.876543, CREATED + 0.876544, CREATED + 61]
    batch = [(round(t * 1_000_000), *r[1:]) for t in times for r in RECORDS]
    renderer = JSONRenderer()
    assert console_lines(batch) == [console_line(r) for r in batch]
    assert json_lines(batch, renderer.dumps) == [json_line(r, renderer.dumps) for r in batch]
    firsts = json_lines(batch, renderer.dumps)[:: len(RECORDS)]
    timestamps = [json.loads(line)["timestamp"] for line in firsts]
    assert timestamps == [
        "2025-12-05T02:00:00.123456Z",
        "2025-12-05T02:00:00.123457Z",
        "2025-12-05T02:00:00.124456Z",
        "2025-12-05T02:00:00.999999Z",
        "2025-12-05T02:00:01.000000Z",
        "2025-12-05T02:01:01.123456Z",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0.00000s"), (0.00135, "0.00135s"), (1e-5, "0.00001s"), (4e-6, "0.00000s"), (6e-6, "0.00001s"),
     (0.5, "0.50000s"), (1.0, "1.00000s"), (59.999996, "60.00000s"), (12345.678901, "12345.67890s")],
)  # fmt: skip
def test_durations_show_five_decimals_like_the_original(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text
    line = console_line(with_times(RECORDS[0], seconds, seconds))
    assert line.endswith(f" handler_elapsed_time={text} request_time={text}")


def test_remembered_durations_are_bounded() -> None:
    records = [with_times(RECORDS[0], n / 100000, n / 100000) for n in range(SECONDS_LIMIT + 10)]
    lines = console_lines(records)
    assert lines[-1].endswith(f"request_time={seconds_text((SECONDS_LIMIT + 9) / 100000)}")
    assert len(access_render._seconds) <= SECONDS_LIMIT
