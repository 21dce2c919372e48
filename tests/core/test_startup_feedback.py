"""Feedback while starting and stopping (issue 15): the handler list and bound addresses, the
progress of a graceful stop, errors printed once and before any banner, parameter names no
value can fill, HTTP methods and decorator keyword typos."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tests._support import ServiceProcess
from tomodachi.container import StartupError
from tomodachi.injection import unfillable_parameters
from tomodachi.testing import run_services

Spawn = Callable[..., ServiceProcess]
Write = Callable[[str, str], Path]


def _warnings(logs: list[dict[str, Any]]) -> list[str]:
    return [str(r["message"]) for r in logs if r.get("level") == "warning" and "parameter" in r]


# -- the handler list and the bound address ---------------------------------------------


class _Listed(tomodachi.Service):
    name = "listed"

    @tomodachi.http("GET", r"/orders/(?P<id>[^/]+)")
    async def order(self, request: Any, id: str) -> str:
        return id

    @tomodachi.amqp("orders.created")
    async def created(self, data: Any) -> None:
        pass

    @tomodachi.schedule(interval=3600)
    async def hourly(self) -> None:
        pass


async def test_start_up_lists_each_handler_once_and_the_bound_address() -> None:
    async with run_services(_Listed) as app:
        listed = [
            (r["kind"], r["route"], r["handler"]) for r in app.logs if r.get("message") == "enabled handler"
        ]
        accepting = next(r for r in app.logs if r.get("message") == "accepting http requests")
    assert listed == [
        ("http", "GET /orders/(?P<id>[^/]+)", "order"),
        ("amqp", "orders.created", "created"),
        ("schedule", "interval 3600", "hourly"),
    ]
    port = accepting["listen_port"]
    assert f"http://0.0.0.0:{port}/" in accepting["bound"].split()
    assert accepting["local_url"] == f"http://127.0.0.1:{port}/"


# -- parameters no value can fill --------------------------------------------------------


class _Typos(tomodachi.Service):
    name = "typos"
    message_envelope = tomodachi.envelope.JsonBase

    @tomodachi.http("GET", r"/items/(?P<item_id>\d+)")
    async def item(self, request: Any, item_idd: str) -> str:
        return item_idd

    @tomodachi.amqp("a.b")
    async def on_message(self, dta: Any, routing_kye: str) -> None:
        pass

    @tomodachi.aws_sns_sqs("topic-a")
    async def on_topic(self, data: Any, topik: str, note: str = "", **rest: Any) -> None:
        pass

    @tomodachi.aws_sns_sqs("topic-b")
    async def on_topic_b(self, data: Any, topik: str, note: str = "") -> None:
        pass

    @tomodachi.amqp("c.d")
    async def fine(self, data: Any, metadata: Any, routing_key: str, extra: str = "x") -> None:
        pass


async def test_a_parameter_no_value_can_fill_is_warned_once_with_the_nearest_name() -> None:
    async with run_services(_Typos) as app:
        warnings = _warnings(app.logs)
    assert warnings == [
        "handler 'item' has a parameter 'item_idd' that no http value fills: did you mean 'item_id'?",
        "handler 'on_message' has a parameter 'dta' that no amqp value fills: did you mean 'data'?",
        "handler 'on_message' has a parameter 'routing_kye' that no amqp value fills: "
        "did you mean 'routing_key'?",
        "handler 'on_topic_b' has a parameter 'topik' that no aws_sns_sqs value fills: did you mean 'topic'?",
    ], warnings


def test_unfillable_parameters_of_a_plain_function() -> None:
    async def handler(request: Any, id: str, nmae: str, page: int = 1) -> None: ...

    assert unfillable_parameters(handler, {"request", "id", "name"}) == [("nmae", "name")]

    async def takes_all(request: Any, zzz: str, **kwargs: Any) -> None: ...

    assert unfillable_parameters(takes_all, {"request"}) == []


class _Mine(tomodachi.Transport):
    kind = "mine"

    def value_names(self, handler: tomodachi.transport.base.Handler) -> set[str]:
        return {"tick", "when"}


class _Custom(tomodachi.Service):
    name = "custom"

    @_Mine.decorator()
    async def on_tick(self, tikc: int, when: str) -> None:
        pass


async def test_a_custom_transport_declares_its_value_names() -> None:
    async with run_services(_Custom) as app:
        assert _warnings(app.logs) == [
            "handler 'on_tick' has a parameter 'tikc' that no mine value fills: did you mean 'tick'?"
        ]


# -- HTTP methods and decorator keywords --------------------------------------------------


async def test_an_unknown_http_method_is_a_start_up_error_with_a_suggestion() -> None:
    class Bad(tomodachi.Service):
        name = "bad"

        @tomodachi.http("GTE", r"/x")
        async def x(self, request: Any) -> str:
            return "x"

    with pytest.raises(
        StartupError, match=r"unknown HTTP method 'GTE' for handler 'x': did you mean 'GET'\?"
    ):
        async with run_services(Bad):
            pass


async def test_custom_and_webdav_methods_declared_explicitly_are_served() -> None:
    class Cache(tomodachi.Service):
        name = "cache"

        @tomodachi.http("PURGE", r"/cache", custom_method=True)
        async def purge(self, request: Any) -> str:
            return "purged"

        @tomodachi.http(["PROPFIND", "patch"], r"/dav")
        async def dav(self, request: Any) -> str:
            return request.method  # type: ignore[no-any-return]

    async with run_services(Cache) as app:
        async with app.client().request("PURGE", "/cache") as response:
            assert (response.status, await response.text()) == (200, "purged")
        async with app.client().request("PROPFIND", "/dav") as response:
            assert (response.status, await response.text()) == (200, "PROPFIND")


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (
            lambda: tomodachi.http("GET", r"/x", ignore_loging=True),  # type: ignore[call-arg]
            "did you mean 'ignore_logging'?",
        ),
        (
            lambda: tomodachi.http_static("static", r"/s", ignore_logs=True),  # type: ignore[call-arg]
            "did you mean 'ignore_logging'?",
        ),
        (
            lambda: tomodachi.http_error(status=404),  # type: ignore[call-arg]
            "did you mean 'status_code'?",
        ),
        (
            lambda: tomodachi.websocket(uri=r"/ws"),  # type: ignore[call-arg]
            "did you mean 'url'?",
        ),
        (
            lambda: tomodachi.daily(immediatly=True),  # type: ignore[call-overload]
            "did you mean 'immediately'?",
        ),
        (
            lambda: tomodachi.schedule(intervall=5),  # type: ignore[call-arg]
            "did you mean 'interval'?",
        ),
        (
            lambda: tomodachi.schedule(interval=5, max_concurent=2),  # type: ignore[call-arg]
            "did you mean 'max_concurrent'?",
        ),
    ],
)
def test_decorator_keyword_typos_get_a_suggestion(declare: Callable[[], Any], message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        declare()


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: tomodachi.amqp("a.b", competeing=True), "'competeing' (did you mean 'competing'?)"),
        (lambda: tomodachi.amqp("a.b", queue_nmae="q"), "'queue_nmae' (did you mean 'queue_name'?)"),
        (
            lambda: tomodachi.aws_sns_sqs("t", visibility_timout=5),
            "'visibility_timout' (did you mean 'visibility_timeout'?)",
        ),
    ],
)
async def test_message_decorator_keyword_typos_fail_start_up(
    declare: Callable[[], Any], message: str
) -> None:
    decorate: Callable[[Any], Any] = declare()

    class Typo(tomodachi.Service):
        name = "typo"
        message_envelope = tomodachi.envelope.JsonBase

        @decorate
        async def handler(self, data: Any) -> None:
            pass

    with pytest.raises(StartupError, match=re.escape(message)):
        async with run_services(Typo):
            pass


async def test_envelope_keywords_the_envelope_names_are_not_typos() -> None:
    class Envelope:
        @staticmethod
        async def build_message(service: Any, topic: str, data: Any, **kwargs: Any) -> str:
            return str(data)

        @staticmethod
        async def parse_message(
            payload: str, competing_mode: str = "", **kwargs: Any
        ) -> tuple[Any, str, float]:
            return {"data": payload}, "id", 0.0

    class Fine(tomodachi.Service):
        name = "fine"
        message_envelope = Envelope

        @tomodachi.amqp("a.b", competing_mode="x")  # close to "competing", but the envelope's own
        async def handler(self, data: Any) -> None:
            pass

    async with run_services(Fine):
        pass


# -- real processes: banner order, errors once, graceful stop progress ----------------------


def test_a_missing_file_is_one_error_and_no_banner(spawn: Spawn) -> None:
    process = spawn("run", "--no-reload", "missing.py")
    assert process.wait() == 1
    assert process.stdout == ""  # no banner
    assert [line for line in process.stderr_lines if "missing.py" in line] == [
        next(line for line in process.stderr_lines if "no such service file: missing.py" in line)
    ]


def test_a_bad_declaration_is_one_error_and_no_banner(spawn: Spawn, write: Write) -> None:
    write(
        "app.py",
        """
        import tomodachi

        class App(tomodachi.Service):
            name = "app"

            @tomodachi.http("GTE", r"/x")
            async def x(self, request):
                return "x"
        """,
    )
    process = spawn("run", "--no-reload", "app.py")
    assert process.wait() == 1
    assert process.stdout == ""
    errors = [line for line in process.stderr_lines if "GTE" in line]
    assert len(errors) == 1 and "did you mean 'GET'?" in errors[0], process.stderr


def test_a_port_clash_is_logged_once(spawn: Spawn, write: Write) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write(
            "app.py",
            f"""
            import tomodachi

            class App(tomodachi.Service):
                name = "app"
                options = {{"http": {{"port": {port}}}}}

                @tomodachi.http("GET", r"/x")
                async def x(self, request):
                    return "x"
            """,
        )
        process = spawn("run", "--no-reload", "--production", "app.py")
        assert process.wait() == 1
    clashes = [line for line in process.stderr_lines if "unable to bind" in line]
    assert len(clashes) == 1 and "address already in use" in clashes[0], process.stderr


async def test_a_graceful_stop_tells_what_is_in_flight_and_how_to_force(spawn: Spawn, write: Write) -> None:
    write(
        "app.py",
        """
        import asyncio
        import sys
        import tomodachi

        class App(tomodachi.Service):
            name = "app"
            options = {"http": {"port": 0}, "termination_grace_period_seconds": 20}

            @tomodachi.http("GET", r"/slow")
            async def slow(self, request):
                print("slow started", file=sys.stderr, flush=True)
                await asyncio.sleep(2.6)
                return "done"
        """,
    )
    process = spawn("run", "--no-reload", "--production", "app.py")
    line = await asyncio.to_thread(process.wait_for_stderr, "accepting http requests")
    port = int(re.search(r"listen_port=(\d+)", line).group(1))  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.to_thread(process.wait_for_stderr, "slow started")
    process.send(signal.SIGINT)
    progress = await asyncio.to_thread(process.wait_for_stderr, "still stopping")
    assert "1 in flight (app/http: 1)" in progress, progress
    assert re.search(r"1[78] s left of the 20 s grace", progress), progress
    assert "press ctrl+c again to force the exit" in progress
    assert b"done" in await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert await asyncio.to_thread(process.wait) == 0


# -- start_retry_seconds: waiting for a broker that is not up yet ---------------------------


class _Flaky(tomodachi.Transport):
    kind = "flaky"
    failures: list[BaseException] = []
    starts = 0

    async def start(self) -> None:
        type(self).starts += 1
        if self.failures:
            raise self.failures.pop(0)


class _FlakyService(tomodachi.Service):
    name = "flaky-service"

    @_Flaky.decorator()
    async def on_tick(self) -> None:
        pass


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> type[_Flaky]:
    import tomodachi.container

    monkeypatch.setattr(tomodachi.container, "START_RETRY_FIRST", 0.01)
    monkeypatch.setattr(_Flaky, "failures", [])
    monkeypatch.setattr(_Flaky, "starts", 0)
    return _Flaky


async def test_a_start_that_cannot_connect_is_retried_until_it_succeeds(flaky: type[_Flaky]) -> None:
    refused = tomodachi.ServiceStartError("Unable to connect [flaky] to 127.0.0.1:1")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    flaky.failures = [refused, TimeoutError()]
    async with run_services(_FlakyService, options={"start_retry_seconds": 5}) as app:
        waits = [r for r in app.logs if "cannot start yet" in str(r.get("message"))]
        assert flaky.starts == 3
        assert len(waits) == 2 and waits[0]["level"] == "warning", waits
        assert (
            "flaky cannot start yet (Unable to connect [flaky] to 127.0.0.1:1); retrying in"
            in waits[0]["message"]
        )
        assert "s left of start_retry_seconds" in waits[0]["message"]
        assert any(r.get("message") == "transport started after waiting for its broker" for r in app.logs)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, ConnectionRefusedError(111, "Connection refused")),  # off by default: fails at once
        ({"start_retry_seconds": 5}, tomodachi.ServiceStartError("access refused")),  # not a connection error
    ],
)
async def test_a_start_is_not_retried_when_off_or_not_a_connection_error(
    flaky: type[_Flaky], options: dict[str, Any], error: BaseException
) -> None:
    flaky.failures = [error]
    with pytest.raises(StartupError):
        async with run_services(_FlakyService, options=options):
            pass
    assert flaky.starts == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_amqp_waits_for_an_unreachable_broker_until_the_deadline(json_logs: Any) -> None:
    class Consumer(tomodachi.Service):
        name = "consumer"
        options = tomodachi.Options(
            amqp={"host": "127.0.0.1", "port": _closed_port()}, start_retry_seconds=1.2
        )

        @tomodachi.amqp("orders.created")
        async def created(self, data: Any) -> None:
            pass

    started = asyncio.get_running_loop().time()
    with pytest.raises(StartupError, match=r"Unable to connect \[amqp\]") as info:
        async with run_services(Consumer, message_broker=None, capture_logs=False):
            pass
    elapsed = asyncio.get_running_loop().time() - started
    assert 1.0 <= elapsed < 8, elapsed
    assert "Unable to connect [amqp]" in str(info.value)
    waits = [r["message"] for r in json_logs() if "cannot start yet" in r["message"]]
    assert len(waits) >= 2 and all(
        w.startswith("amqp cannot start yet (Unable to connect [amqp]") for w in waits
    )


async def test_aws_sns_sqs_waits_for_an_unreachable_endpoint_until_the_deadline(json_logs: Any) -> None:
    pytest.importorskip("aiobotocore")
    url = f"http://127.0.0.1:{_closed_port()}"

    class Consumer(tomodachi.Service):
        name = "consumer"
        options = tomodachi.Options(
            aws_sns_sqs={"region_name": "eu-west-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"},
            aws_endpoint_urls={"sns": url, "sqs": url},
            start_retry_seconds=3.0,  # botocore's own connection retries take about 1 s per attempt
        )

        @tomodachi.aws_sns_sqs("orders-created")
        async def created(self, data: Any) -> None:
            pass

    with pytest.raises(StartupError, match="cannot reach"):
        async with run_services(Consumer, message_broker=None, capture_logs=False):
            pass
    waits = [r["message"] for r in json_logs() if "cannot start yet" in r["message"]]
    assert waits and all(w.startswith("aws_sns_sqs cannot start yet (cannot reach") for w in waits), waits
