"""The access line rendered straight from its record is the line the console and JSON renderers
make from its fields: the fast path must not change a byte of what users see or parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomodachi.logging.renderers import ConsoleRenderer, JSONRenderer
from tomodachi.transport.http.access_line import (
    AccessRecord,
    console_line,
    fields_of,
    json_fields,
    json_line,
    make_record,
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
    record(created=CREATED + 0.9999996, aborted=True, ip="::1", sent=None, agent="", elapsed=None),
    # values the console shows quoted: spaces, control characters, empty, non-ASCII
    record(ip="", user="a b", path="/with space", query="q=x y", agent="Mozilla/5.0 (X11)", received=0),
    record(path="/caf\u00e9/\x07", agent="bot\t1", elapsed=0.0, total=0.0),
    # a URL with credentials in the path (both ways leave masking to the write)
    record(path="/redis://u:pw@h/"),
]


@pytest.mark.parametrize("record", RECORDS)
def test_console_line_is_what_the_console_renderer_writes(record: AccessRecord) -> None:
    expected = ConsoleRenderer(colors=False).render(
        "tomodachi.http.response", 20, {"event": "", **fields_of(record)}, record[0]
    )
    assert console_line(record) == expected
    # again, from the remembered middle of the line, with other times
    later = with_times(record, 0.25, 1.5)
    expected = ConsoleRenderer(colors=False).render(
        "tomodachi.http.response", 20, {"event": "", **fields_of(later)}, record[0]
    )
    assert console_line(later) == expected


@pytest.mark.parametrize("record", RECORDS)
def test_json_lines_are_what_the_json_renderer_writes(record: AccessRecord) -> None:
    renderer = JSONRenderer()
    for version in (record, with_times(record, None, 1.5)):  # again, with the middle remembered
        event = {"event": "", **fields_of(version)}
        expected = renderer.render("tomodachi.http.response", 20, event, record[0])
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
