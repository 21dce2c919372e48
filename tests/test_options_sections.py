"""Option sections registered by a transport: tomodachi.options.register_section."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import tomodachi
from tomodachi.errors import ConfigurationError, InvalidOptionError
from tomodachi.options import Options, OptionsInterface, checks, option, register_section, subsection
from tomodachi.options.sections import REGISTERED
from tomodachi.testing import run_services


class RedisOptions(OptionsInterface):
    class Pool(OptionsInterface):
        size: int = option(10, checks.int_check(1))

    url: str = option("redis://localhost:6379", checks.check_str)
    password: str | None = option(None, checks.check_str_or_none, secret=True)
    broker: str = option("redis", checks.choice_check("redis", "memory"))
    pool: Pool = subsection(Pool)


@pytest.fixture(autouse=True)
def _without_the_real_redis_section() -> Iterator[None]:
    """These tests register a throw-away 'redis' section: put the real one (the Redis queue
    transport's, registered when tomodachi.transport.redis is imported) aside meanwhile."""
    real = REGISTERED.pop("redis", None)
    yield
    REGISTERED.pop("redis", None)
    if real is not None:
        REGISTERED["redis"] = real


@pytest.fixture
def redis_section() -> Iterator[None]:
    register_section("redis", RedisOptions)
    yield
    REGISTERED.pop("redis", None)


@pytest.mark.usefixtures("redis_section")
def test_a_registered_section_reads_and_writes_like_a_builtin_one() -> None:
    options = Options(redis={"url": "redis://cache:6379"}, **{"redis.pool.size": 3})
    # Attribute access works at run time; mypy sees only the built-in sections, hence section().
    assert options.redis.url == "redis://cache:6379"  # type: ignore[attr-defined]
    assert options["redis.url"] == "redis://cache:6379"
    assert options["redis"]["pool.size"] == 3
    assert options.section(RedisOptions).pool.size == 3
    assert options.get("redis.broker") == "redis"
    assert "redis.url" in options
    options["redis.broker"] = "memory"
    options.section(RedisOptions).pool.size = 5
    assert options.asdict()["redis.broker"] == "memory"
    assert options.asdict()["redis.pool.size"] == 5
    assert list(options)[-4:] == ["redis.url", "redis.password", "redis.broker", "redis.pool.size"]
    assert RedisOptions._prefix == "redis"
    assert RedisOptions.Pool._prefix == "redis.pool"  # nested prefixes are filled in


@pytest.mark.usefixtures("redis_section")
def test_values_are_checked_and_unknown_keys_suggest_the_right_one() -> None:
    with pytest.raises(ConfigurationError, match=r"Invalid value for option 'redis.broker': 'kafka'"):
        Options(**{"redis.broker": "kafka"})
    with pytest.raises(InvalidOptionError, match=r"Invalid option 'redis.ulr': did you mean 'redis.url'\?"):
        Options(redis={"ulr": "x"})
    with pytest.raises(InvalidOptionError, match=r"did you mean 'redis.url'\?"):
        Options(**{"rediss.url": "x"})
    with pytest.raises(InvalidOptionError, match=r"did you mean 'redis.pool.size'\?"):
        Options()["redis.pool.sise"]
    options = Options()
    with pytest.raises(ConfigurationError):
        options.update({"redis.url": "redis://new", "redis.pool.size": 0})
    assert (
        options.section(RedisOptions).url == "redis://localhost:6379"
    )  # all or nothing, as for built-in keys


@pytest.mark.usefixtures("redis_section")
def test_repr_masks_secrets_and_copies_are_deep() -> None:
    options = Options(redis={"password": "hunter2"})
    lines = repr(options).splitlines()
    assert '∴ redis <class: "RedisOptions" -- prefix: "redis">:' in lines
    assert "  | password = '***'" in lines
    assert "hunter2" not in repr(options)
    copied = options.copy()
    assert copied == options
    copied.section(RedisOptions).pool.size = 2
    assert options.section(RedisOptions).pool.size == 10
    assert copied.section(RedisOptions).password == "hunter2"


def test_an_options_made_before_registration_gets_the_defaults() -> None:
    options = Options()
    with pytest.raises(InvalidOptionError):
        Options(redis={"url": "x"})  # unknown until a transport registers it
    register_section("redis", RedisOptions)
    try:
        assert options.section(RedisOptions).url == "redis://localhost:6379"
        assert options.section(RedisOptions).broker == "redis"
    finally:
        REGISTERED.pop("redis", None)


@pytest.mark.usefixtures("redis_section")
def test_registration_rules() -> None:
    register_section("redis", RedisOptions)  # again: nothing happens

    class Other(OptionsInterface):
        url: str = option("x", checks.check_str)

    with pytest.raises(ConfigurationError, match="already registered by"):
        register_section("redis", Other)
    for name in ("http", "amqp", "aws", "get", "_x", "a.b", "section"):
        with pytest.raises(ConfigurationError):
            register_section(name, Other)
    with pytest.raises(ConfigurationError, match="OptionsInterface subclass"):
        register_section("thing", dict)  # type: ignore[arg-type]  # deliberately wrong
    with pytest.raises(InvalidOptionError, match="not registered"):
        Options().section(Other)


@pytest.mark.usefixtures("redis_section")
async def test_config_options_reach_a_registered_section() -> None:
    seen: dict[str, Any] = {}

    class Service(tomodachi.Service):
        name = "redis-user"
        options = Options(redis={"url": "redis://from-class"})

        async def _start_service(self) -> None:
            seen.update(self.options.section(RedisOptions).asdict())

    # run_services(options=...) applies them like the -c files of `tomodachi run`.
    async with run_services(Service, options={"redis": {"pool": {"size": 4}}}):
        pass
    assert seen["url"] == "redis://from-class"
    assert seen["pool.size"] == 4
