"""Start-up checks of the GraphQL transport, its options, its lazy import, and Broadcast."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tomodachi.container import StartupError
from tomodachi.options import Options
from tomodachi.testing import run_services
from tomodachi.transport.graphql import Broadcast, BroadcastOverflow, GraphQLOptions

SDL = "type Query { a: String }"
DOCS = Path(__file__).resolve().parents[3] / "docs"


def _service(schema: Any, *resolvers: tuple[str, Any]) -> type[tomodachi.Service]:
    namespace: dict[str, Any] = {"name": "broken-schema", "graphql_schema": schema}
    for attribute, decorator in resolvers:

        async def resolver(self: Any) -> str:
            return "x"

        namespace[attribute] = decorator(resolver)
    return type("Broken", (tomodachi.Service,), namespace)


@pytest.mark.parametrize(
    ("schema", "resolvers", "message"),
    [
        (None, [("a", tomodachi.graphql_query("a"))], "no graphql_schema"),
        ("type Query { a: String", [("a", tomodachi.graphql_query("a"))], "invalid graphql_schema: Syntax"),
        (SDL, [("b", tomodachi.graphql_query("b"))], "type 'Query' has no field 'b'"),
        (SDL, [("a", tomodachi.graphql_mutation("a"))], "the schema has no mutation type"),
        (SDL, [("a", tomodachi.graphql_field("User", "a"))], "no object type 'User'"),
        (
            SDL,
            [("a", tomodachi.graphql_query("a")), ("again", tomodachi.graphql_query("a"))],
            "Query.a is already resolved by 'a'",
        ),
        ("missing.graphql", [("a", tomodachi.graphql_query("a"))], "cannot read graphql_schema file"),
    ],
)
async def test_schema_mistakes_fail_start_up_with_one_line(
    schema: Any, resolvers: list[tuple[str, Any]], message: str
) -> None:
    with pytest.raises(StartupError) as raised:
        async with run_services(_service(schema, *resolvers)):
            pass  # pragma: no cover
    text = str(raised.value)
    assert "\n" not in text and message in text, text
    assert text.startswith("tomodachi.testing: broken-schema: graphql: ") or "@graphql_" in text


async def test_a_schema_file_next_to_the_service_and_bare_decorators(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text("type Query { hello: String! }\n")
    (tmp_path / "service.py").write_text(
        "import tomodachi\n\n"
        "class Service(tomodachi.Service):\n"
        "    name = 'from-file'\n"
        "    graphql_schema = 'schema.graphql'\n\n"
        "    @tomodachi.graphql_query\n"
        "    async def hello(self) -> str:\n"
        "        return 'hi'\n"
    )
    from tomodachi.testing import run_service_files

    async with run_service_files(tmp_path / "service.py") as app:
        async with app.client().post("/graphql", json={"query": "{ hello }"}) as response:
            assert await response.json() == {"data": {"hello": "hi"}}


def test_options_are_checked_and_documented() -> None:
    options = Options(graphql={"path": "/api/graphql", "max_depth": 0})
    section = options.section(GraphQLOptions)
    assert (section.path, section.max_depth) == ("/api/graphql", 0)
    assert (section.introspection, section.graphiql) == (None, None)
    with pytest.raises(tomodachi.ConfigurationError, match=r"Invalid value for option 'graphql\.path'"):
        Options(graphql={"path": "graphql"})
    with pytest.raises(tomodachi.ConfigurationError, match=r"did you mean 'graphql\.max_depth'"):
        Options(graphql={"max_dept": 3})
    # every key has a row in docs/options.md with its default
    text = (DOCS / "options.md").read_text()
    rows = dict(re.findall(r"^\| `(graphql\.[a-z_]+)` \| ([^|]+) \|", text, re.M))
    keys = {key: value for key, value in Options().asdict().items() if key.startswith("graphql.")}
    assert sorted(rows) == sorted(keys)
    for key, default in keys.items():
        assert f"`{default!r}`" in rows[key] or f"`{default}`" in rows[key], (key, rows[key])


def test_import_tomodachi_does_not_import_graphql() -> None:
    code = (
        "import sys, tomodachi\n"
        "assert 'graphql' not in sys.modules\n"
        "tomodachi.graphql_query, tomodachi.graphql_subscription\n"
        "assert 'graphql' not in sys.modules, 'declaring resolvers needs no graphql-core'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_broadcast_fans_out_and_ends_slow_subscribers() -> None:
    events = Broadcast(max_queue=2)
    assert events.publish("t", 0) == 0
    first, second = events.subscribe("t"), events.subscribe("t")
    assert events.publish("t", 1) == 2
    assert await anext(first) == 1 and await anext(second) == 1
    events.publish("t", 2)
    events.publish("t", 3)
    events.publish("t", 4)  # the third waiting value: both fell behind
    with pytest.raises(BroadcastOverflow):
        await anext(first)
    assert events.subscribers("t") == 0
    async with events.subscribe("t") as third:
        waiting = asyncio.ensure_future(anext(third))
        await asyncio.sleep(0)
        events.publish("t", "x")
        assert await waiting == "x"
    assert events.subscribers("t") == 0
    with pytest.raises(StopAsyncIteration):
        await anext(third)
    with pytest.raises(ValueError):
        Broadcast(max_queue=0)
