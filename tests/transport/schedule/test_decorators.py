"""The decorators: names on ``tomodachi``, bare and called forms, declarations only."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tomodachi
from tomodachi.entrypoint import entrypoints_of
from tomodachi.transport import schedule as schedule_package
from tomodachi.transport.schedule import ScheduleDeclaration, ScheduleTransport

SRC = str(Path(__file__).resolve().parents[3] / "src")


def declared(args: tuple[Any, ...]) -> dict[str, Any]:
    """The arguments of the one declaration in an entrypoint's *args*."""
    [declaration] = args
    assert isinstance(declaration, ScheduleDeclaration)
    return dataclasses.asdict(declaration)


def test_public_names() -> None:
    for name in (
        "schedule",
        "scheduler",
        "heartbeat",
        "every_second",
        "minutely",
        "hourly",
        "daily",
        "monthly",
    ):
        assert getattr(tomodachi, name) is getattr(schedule_package, name)
        assert name in tomodachi.__all__
    assert tomodachi.scheduler is tomodachi.schedule
    assert tomodachi.every_second is tomodachi.heartbeat


def test_importing_tomodachi_does_not_import_the_scheduler() -> None:
    code = "import sys, tomodachi; print('tomodachi.transport.schedule' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": SRC}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


async def _handler(self: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("decorator", "interval"),
    [
        (tomodachi.heartbeat, 1),
        (tomodachi.every_second, 1),
        (tomodachi.minutely, "minutely"),
        (tomodachi.hourly, "hourly"),
        (tomodachi.daily, "daily"),
        (tomodachi.monthly, "monthly"),
    ],
)
def test_alias_decorators_bare_and_called(decorator: Any, interval: Any) -> None:
    async def bare(self: Any) -> None:
        pass

    async def called(self: Any) -> None:
        pass

    assert decorator(bare) is bare
    assert decorator()(called) is called
    for func in (bare, called):
        [entrypoint] = entrypoints_of(func)
        assert entrypoint.transport is ScheduleTransport
        assert declared(entrypoint.args) == {
            "interval": interval,
            "timestamp": None,
            "timezone": None,
            "immediately": False,
            "max_concurrent": 1,
            "cluster": None,
        }

    async def options(self: Any) -> None:
        pass

    decorator(timezone="UTC", immediately=True, max_concurrent=2)(options)
    [entrypoint] = entrypoints_of(options)
    [declaration] = entrypoint.args
    assert declaration.immediately is True and declaration.max_concurrent == 2


def test_schedule_declares_its_arguments_and_stacks() -> None:
    class Svc(tomodachi.Service):
        @tomodachi.schedule(interval="5 minutes", immediately=True)
        @tomodachi.scheduler(timestamp="08:00", timezone="Europe/Stockholm")
        @tomodachi.schedule("*/5 * * * *", None, "UTC", False, max_concurrent=3)
        async def job(self) -> str:
            return "ran"

    assert [declared(e.args) for e in entrypoints_of(Svc.__dict__["job"])] == [
        {
            "interval": "*/5 * * * *",
            "timestamp": None,
            "timezone": "UTC",
            "immediately": False,
            "max_concurrent": 3,
            "cluster": None,
        },
        {
            "interval": None,
            "timestamp": "08:00",
            "timezone": "Europe/Stockholm",
            "immediately": False,
            "max_concurrent": 1,
            "cluster": None,
        },
        {
            "interval": "5 minutes",
            "timestamp": None,
            "timezone": None,
            "immediately": True,
            "max_concurrent": 1,
            "cluster": None,
        },
    ]


async def test_decorated_methods_stay_callable() -> None:
    class Svc(tomodachi.Service):
        @tomodachi.hourly
        async def job(self, interval: Any = "unset") -> str:
            return f"ran {interval}"

    assert await Svc().job() == "ran unset"


def test_schedule_without_arguments_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"@schedule needs arguments"):

        class Svc(tomodachi.Service):
            @tomodachi.schedule  # type: ignore[arg-type]
            async def job(self) -> None:  # type: ignore[misc]
                pass
