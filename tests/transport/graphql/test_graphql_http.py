"""GraphQL over HTTP on a real socket: queries, mutations, field resolvers, variables, errors,
bad input and limits, introspection and GraphiQL switches, http_middleware and @tomodachi.decorator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from graphql import GraphQLError

import tomodachi
from tomodachi.testing import run_services
from tomodachi.transport.graphql import GraphQLContext

BOOKS = {
    "1": {"id": "1", "title": "Kokoro", "authorId": "a"},
    "2": {"id": "2", "title": "Snow Country", "authorId": "b"},
}
AUTHORS = {"a": {"id": "a", "name": "Natsume Soseki"}, "b": {"id": "b", "name": "Yasunari Kawabata"}}


class Library(tomodachi.Service):
    name = "library"
    graphql_schema = """
        type Query {
            book(id: ID!): Book
            books(titleContains: String): [Book!]!
            whoami: String
            broken: String
            refused: String
            forbidden: String
            hidden: String
        }
        type Mutation { addBook(title: String!, authorId: ID!): Book! }
        type Book { id: ID!  title: String!  author: Author! }
        type Author { id: ID!  name: String!  books: [Book!]! }
        type Subscription { noop: Int }
    """

    def __init__(self) -> None:
        self.shelf = {key: dict(value) for key, value in BOOKS.items()}
        self.checked: list[str] = []

    @tomodachi.graphql_query("book")
    async def book(self, id: str) -> dict[str, Any] | None:
        return self.shelf.get(id)

    @tomodachi.graphql_query
    def books(self, title_contains: str | None = None) -> list[dict[str, Any]]:  # a sync resolver
        return [b for b in self.shelf.values() if title_contains is None or title_contains in b["title"]]

    @tomodachi.graphql_mutation("addBook")
    async def add_book(self, title: str, author_id: str, context: GraphQLContext) -> dict[str, Any]:
        assert context.service is self
        book = {"id": str(len(self.shelf) + 1), "title": title, "authorId": author_id}
        self.shelf[book["id"]] = book
        return book

    @tomodachi.graphql_field("Book", "author")
    async def book_author(self, parent: dict[str, Any]) -> dict[str, Any]:
        return AUTHORS[parent["authorId"]]

    @tomodachi.graphql_field("Author", "books")
    async def author_books(self, parent: dict[str, Any], info: Any) -> list[dict[str, Any]]:
        assert info.field_name == "books"
        return [b for b in self.shelf.values() if b["authorId"] == parent["id"]]

    @tomodachi.graphql_query("broken")
    async def broken(self) -> str:
        raise RuntimeError("database password is hunter2")

    @tomodachi.graphql_query("refused")
    async def refused(self) -> str:
        raise GraphQLError("You may not read this.", extensions={"code": "FORBIDDEN"})

    @tomodachi.graphql_subscription("noop")
    async def noop(self) -> Any:
        yield 1


async def _post(client: aiohttp.ClientSession, query: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    async with client.post("/graphql", json={"query": query, **extra}) as response:
        return response.status, await response.json()


async def test_queries_mutations_field_resolvers_and_variables() -> None:
    async with run_services(Library) as app:
        client = app.client()
        status, body = await _post(client, '{ book(id: "1") { title author { name books { title } } } }')
        assert status == 200
        assert body == {
            "data": {
                "book": {
                    "title": "Kokoro",
                    "author": {"name": "Natsume Soseki", "books": [{"title": "Kokoro"}]},
                }
            }
        }
        # variables, an operation name among several operations, snake_case parameters
        query = """
            query One($id: ID!) { book(id: $id) { title } }
            query Some($part: String) { books(titleContains: $part) { id } }
        """
        status, body = await _post(client, query, variables={"part": "Snow"}, operationName="Some")
        assert (status, body) == (200, {"data": {"books": [{"id": "2"}]}})
        mutation = 'mutation Add($t: String!) { addBook(title: $t, authorId: "b") { id author { name } } }'
        status, body = await _post(client, mutation, variables={"t": "Thousand Cranes"})
        assert (status, body) == (
            200,
            {"data": {"addBook": {"id": "3", "author": {"name": "Yasunari Kawabata"}}}},
        )
        assert app[Library].shelf["3"]["title"] == "Thousand Cranes"  # type: ignore[attr-defined]
        # GET with query parameters (queries only)
        params = {"query": "query($id: ID!) { book(id: $id) { title } }", "variables": '{"id": "2"}'}
        async with client.get("/graphql", params=params) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert await response.json() == {"data": {"book": {"title": "Snow Country"}}}
        async with client.get("/graphql", params={"query": mutation, "variables": '{"t": "x"}'}) as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST"
            assert (await response.json())["errors"][0]["message"] == "Mutations must be sent with POST."
        # the GraphQL-over-HTTP media type, when asked for
        headers = {"Accept": "application/graphql-response+json"}
        async with client.post("/graphql", json={"query": "{ books { id } }"}, headers=headers) as response:
            assert response.content_type == "application/graphql-response+json"


async def test_resolver_errors_follow_the_spec_without_tracebacks() -> None:
    async with run_services(Library) as app:
        client = app.client()
        status, body = await _post(client, '{ broken book(id: "1") { title } }')
        assert status == 200
        assert body["data"] == {"broken": None, "book": {"title": "Kokoro"}}
        assert body["errors"] == [
            {"message": "Internal server error", "locations": [{"line": 1, "column": 3}], "path": ["broken"]}
        ]
        failures = [line for line in app.logs if line["level"] == "error"]
        assert len(failures) == 1
        assert failures[0]["message"] == "uncaught exception in resolver"
        assert failures[0]["handler"] == "broken" and failures[0]["field"] == "Query.broken"
        assert "hunter2" in failures[0]["exception"]  # the log has it, the client does not
        # a GraphQLError is the client's: message and extensions as raised, nothing logged
        status, body = await _post(client, "{ refused }")
        assert body["errors"][0]["message"] == "You may not read this."
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
        assert len([line for line in app.logs if line["level"] == "error"]) == 1


async def test_bad_input_gets_graphql_errors_and_the_server_keeps_serving() -> None:
    options = {"graphql": {"max_depth": 4, "max_complexity": 12, "max_query_size": 300}}
    async with run_services(Library, options=options) as app:
        client = app.client()

        async def error_of(query: str, **extra: Any) -> tuple[int, str, str | None]:
            status, body = await _post(client, query, **extra)
            assert "data" not in body
            (error,) = body["errors"][:1]
            return status, error["message"], error.get("extensions", {}).get("code")

        status, message, code = await error_of("{ book(id: ")
        assert (status, code) == (400, "GRAPHQL_PARSE_FAILED") and message.startswith("Syntax Error:")
        assert await error_of("{ nothing }") == (
            400,
            "Cannot query field 'nothing' on type 'Query'.",
            "GRAPHQL_VALIDATION_FAILED",
        )
        # a missing variable is found when executing: no data, the error names the variable
        status, body = await _post(client, "query($id: ID!) { book(id: $id) { id } }")
        assert (status, body["data"]) == (200, None) and "$id" in body["errors"][0]["message"]
        deep = '{ book(id: "1") { author { books { author { books { id } } } } } }'
        assert await error_of(deep) == (
            400,
            "Query is too deep: the operation has a depth of 6, the limit is 4.",
            "QUERY_TOO_DEEP",
        )
        # fragments count at each use; aliases too
        wide = (
            "fragment F on Book { id title } { "
            + " ".join(f'b{i}: book(id: "1") {{ ...F }}' for i in range(5))
            + " }"
        )
        assert await error_of(wide) == (
            400,
            "Query is too complex: the operation selects 15 fields, the limit is 12.",
            "QUERY_TOO_COMPLEX",
        )
        big = "{ books { id } }" + " " * 300
        assert await error_of(big) == (
            400,
            f"Query is too large: {len(big)} characters, the limit is 300.",
            "QUERY_TOO_LARGE",
        )
        assert (await error_of("subscription { noop }"))[0] == 400
        assert await error_of("{ books { id } }", variables=[1]) == (
            400,
            "Variables must be a JSON object.",
            "BAD_REQUEST",
        )
        for raw, content_type, expected in (
            (b"{not json", "application/json", (400, "The body is not valid JSON.")),
            (
                b'[{"query": "{ books { id } }"}]',
                "application/json",
                (400, "Batched requests are not supported."),
            ),
            (
                b"{ books { id } }",
                "application/graphql",
                (415, "The body must be JSON (Content-Type: application/json)."),
            ),
            (b'{"query": 5}', "application/json", (400, "Must provide a query string.")),
        ):
            async with client.post("/graphql", data=raw, headers={"Content-Type": content_type}) as response:
                assert (response.status, (await response.json())["errors"][0]["message"]) == expected
        async with client.get("/graphql") as response:  # not a browser: no GraphiQL page
            assert response.status == 400
            assert (await response.json())["errors"][0]["message"] == "Must provide a query string."
        # still serving
        assert await _post(client, "{ books { id } }") == (
            200,
            {"data": {"books": [{"id": "1"}, {"id": "2"}]}},
        )
        assert [line for line in app.logs if line["level"] == "error"] == []


async def test_request_bodies_over_http_client_max_size_answer_413() -> None:
    async with run_services(Library, options={"http.client_max_size": 2048}) as app:
        client = app.client()
        query = "{ books { id } }" + " " * 4096
        async with client.post("/graphql", json={"query": query}) as response:
            assert response.status == 413
        assert (await _post(client, "{ books { id } }"))[0] == 200


INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.mark.parametrize(
    ("options", "introspection", "graphiql"),
    [
        ({}, True, True),  # not production: both on
        ({"graphql": {"introspection": False, "graphiql": False}}, False, False),
        ({"graphql": {"introspection": True, "graphiql": False}}, True, False),
    ],
)
async def test_introspection_and_graphiql_switches(
    options: dict[str, Any], introspection: bool, graphiql: bool
) -> None:
    async with run_services(Library, options=options) as app:
        client = app.client()
        status, body = await _post(client, INTROSPECTION)
        if introspection:
            assert (status, body) == (200, {"data": {"__schema": {"queryType": {"name": "Query"}}}})
        else:
            assert status == 400
            assert "introspection" in body["errors"][0]["message"].lower()
        assert (await _post(client, "{ books { __typename } }"))[0] == 200  # __typename is always fine
        async with client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"}) as response:
            if graphiql:
                assert response.status == 200
                assert response.content_type == "text/html"
                page = await response.text()
                assert "GraphiQL: library" in page and "createFetcher" in page
            else:
                assert response.status == 400
                assert response.content_type == "application/json"


async def test_the_path_is_an_option_and_http_routes_live_next_to_it() -> None:
    class Both(Library):
        name = "both"

        @tomodachi.http("GET", r"/health")
        async def health(self) -> str:
            return "ok"

    async with run_services(Both, options={"graphql.path": "/api/graphql"}) as app:
        client = app.client()
        async with client.post("/api/graphql", json={"query": "{ books { id } }"}) as response:
            assert response.status == 200
        async with client.post("/graphql", json={"query": "{ books { id } }"}) as response:
            assert response.status == 404
        async with client.get("/health") as response:
            assert await response.text() == "ok"


# -- http_middleware and @tomodachi.decorator ----------------------------------------------------


async def authenticate(func: Callable[..., Awaitable[Any]], service: Any, request: Any) -> Any:
    token = request.headers.get("Authorization")
    if token is None:
        return 401, "missing token"  # short-circuit: an HTTP answer, nothing executes
    return await func(user=token.removeprefix("Bearer "))


@tomodachi.decorator
async def admins_only(self: Any, **kwargs: Any) -> None:
    self.checked.append(kwargs.get("user", "?"))
    if kwargs.get("user") != "admin":
        raise GraphQLError("Admins only.", extensions={"code": "FORBIDDEN"})


@tomodachi.decorator
async def hide_from_guests(self: Any, **kwargs: Any) -> Any:
    if kwargs.get("user") == "guest":
        return "(hidden)"  # returned instead of the resolver's value
    return None


class Guarded(Library):
    name = "guarded"
    http_middleware = [authenticate]

    @tomodachi.graphql_query("whoami")
    async def whoami(self, user: str, request: Any) -> str:
        return f"{user} via {request.method}"

    @tomodachi.graphql_query("forbidden")
    @admins_only
    async def forbidden(self, user: str) -> str:
        return f"secret for {user}"

    @tomodachi.graphql_query("hidden")
    @hide_from_guests
    async def hidden(self, user: str) -> str:
        return "visible"


async def test_http_middleware_and_decorator_checks_apply() -> None:
    async with run_services(Guarded) as app:
        client = app.client()
        async with client.post("/graphql", json={"query": "{ whoami }"}) as response:
            assert (response.status, await response.text()) == (401, "missing token")

        async def ask(user: str, query: str) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {user}"}
            async with client.post("/graphql", json={"query": query}, headers=headers) as response:
                assert response.status == 200
                result: dict[str, Any] = await response.json()
                return result

        assert await ask("ann", "{ whoami }") == {"data": {"whoami": "ann via POST"}}
        body = await ask("ann", "{ forbidden }")
        assert body["data"] == {"forbidden": None}
        assert body["errors"][0]["message"] == "Admins only."
        assert await ask("admin", "{ forbidden }") == {"data": {"forbidden": "secret for admin"}}
        assert app[Guarded].checked == ["ann", "admin"]  # type: ignore[attr-defined]
        assert await ask("guest", "{ hidden }") == {"data": {"hidden": "(hidden)"}}
        assert await ask("ann", "{ hidden }") == {"data": {"hidden": "visible"}}
        async with client.get(
            "/graphql", params={"query": "{ whoami }"}, headers={"Authorization": "bob"}
        ) as r:
            assert await r.json() == {"data": {"whoami": "bob via GET"}}


async def test_concurrent_requests_share_nothing() -> None:
    async with run_services(Library) as app:
        client = app.client()
        results = await asyncio.gather(
            *(_post(client, f'{{ book(id: "{i % 2 + 1}") {{ id }} }}') for i in range(20))
        )
        assert [body["data"]["book"]["id"] for _, body in results] == [str(i % 2 + 1) for i in range(20)]


async def test_fragments_built_to_explode_are_measured_without_expanding_them() -> None:
    fragments = ["fragment F0 on Query { books { id } }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 40)]
    query = "{ ...F39 }\n" + "\n".join(fragments)  # 2**40 fields if it were expanded
    async with run_services(Library) as app:
        started = asyncio.get_running_loop().time()
        status, body = await _post(app.client(), query)
        assert asyncio.get_running_loop().time() - started < 2
        assert status == 400
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert str(2**40) in body["errors"][0]["message"]
