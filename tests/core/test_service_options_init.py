"""``self.options`` in ``__init__``: an ``Options`` object of this instance, as in the original."""

from __future__ import annotations

import warnings
from typing import Any

import aiohttp

import tomodachi
from tomodachi.options import Options
from tomodachi.testing import run_services


async def test_options_can_be_changed_and_read_in_init() -> None:
    seen: dict[str, Any] = {}

    class Svc(tomodachi.Service):
        name = "svc"
        options = tomodachi.Options(http=tomodachi.Options.HTTP(port=31999))

        def __init__(self) -> None:
            seen["type"] = type(self.options)
            seen["exchange"] = self.options.amqp.exchange_name
            self.options.http.port = 0  # a free port, decided in __init__
            self.options.http.server_header = "from-init"

        @tomodachi.http("GET", r"/")
        async def index(self, request: Any) -> str:
            return "ok"

    async with run_services(Svc, options={}) as app:
        async with app.client() as client, client.get("/") as response:
            assert response.status == 200
            assert response.headers["Server"] == "from-init"
        assert app.service.context["_http_port"] != 31999
    assert seen == {"type": Options, "exchange": "amq.topic"}
    # The class's options are not changed by an instance.
    assert Svc.options.http.port == 31999


async def test_dict_assigned_in_init_is_converted() -> None:
    class Svc(tomodachi.Service):
        name = "svc"

        def __init__(self) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self.options = {"http": {"port": 0, "server_header": "dict-in-init"}}  # type: ignore[assignment]  # deprecated dict form
            assert isinstance(self.options, Options)

        @tomodachi.http("GET", r"/")
        async def index(self, request: Any) -> str:
            return "ok"

    async with run_services(Svc, options={}) as app:
        async with aiohttp.ClientSession() as client, client.get(app.url("/")) as response:
            assert response.headers["Server"] == "dict-in-init"


def test_dict_options_are_converted_at_class_creation_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        class Legacy(tomodachi.Service):
            name = "legacy"
            options = {"aws": {"region_name": "eu-west-1"}, "http.port": 4711}  # type: ignore[assignment]  # deprecated dict form

    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert isinstance(Legacy.options, Options)
    assert Legacy.options.aws_sns_sqs.region_name == "eu-west-1"  # the legacy "aws" key
    assert Legacy.options.http.port == 4711


def test_each_instance_has_its_own_options() -> None:
    class Svc(tomodachi.Service):
        name = "svc"
        options = tomodachi.Options(http=tomodachi.Options.HTTP(port=1234))

    first, second = Svc(), Svc()
    first.options.http.port = 1
    assert second.options.http.port == 1234
    assert first.options is not Svc.options


async def test_context_holds_plain_attributes_the_file_path_and_itself() -> None:
    class Svc(tomodachi.Service):
        name = "ctx"
        greeting = "hej"

        def __init__(self) -> None:
            self.counter = 3

        @property
        def expensive(self) -> str:
            raise AssertionError("properties are not evaluated for the context")

        @tomodachi.http("GET", r"/")
        async def index(self, request: Any) -> str:
            return "ok"

    async with run_services(Svc) as app:
        context = app.service.context
        assert context["context"] is context  # self.context["context"]["_service_file_path"] works
        assert context["_service_file_path"] == "tomodachi.testing"
        assert (context["name"], context["greeting"], context["counter"]) == ("ctx", "hej", 3)
        assert isinstance(context["_http_port"], int)
        assert "index" not in context and "expensive" not in context
