"""Secret option keys are never shown: not in errors (whatever the value's type), reprs or logs.

Every secret key of every section (built-in and registered), under its current and legacy names,
is given wrong-typed values through ``Options(...)``, item and attribute assignment, ``update`` and
a ``-c`` config file of a real ``tomodachi run``; the value must appear in no output.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import TIMEOUT, cli_env
from tomodachi import Options
from tomodachi.errors import ConfigurationError, describe_exception, mask_url_credentials
from tomodachi.options import OptionsInterface, checks, option, register_section, subsection
from tomodachi.options._legacy import LEGACY_KEYS
from tomodachi.options.sections import REGISTERED

#: The value given; a secret of this shape must appear nowhere ("98765432", "bytes", ...).
SECRET = 98765432
MARK = "98765432"
WRONG_VALUES: dict[str, Any] = {
    "int": SECRET,
    "bytes": MARK.encode(),
    "dict": {"password": MARK},
    "list": [MARK],
    "float": 98765432.5,
    "bool": True,  # no mark in it, but must not be echoed either ("True")
}


class VaultOptions(OptionsInterface):
    """A registered section with a secret under a custom check that quotes the value."""

    class Auth(OptionsInterface):
        token: str | None = option(None, checks.check_str_or_none, secret=True)

    url: str = option("", checks.check_str)
    api_key: str = option("", lambda key, value: _loud_check(key, value), secret=True)
    auth: Auth = subsection(Auth)


def _loud_check(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a str, not {value!r}")  # a careless check: quotes the value
    return value


@pytest.fixture
def vault_section() -> Iterator[None]:
    register_section("vault", VaultOptions)
    try:
        yield
    finally:
        REGISTERED.pop("vault", None)


def secret_keys(section: type[OptionsInterface], prefix: str = "") -> list[str]:
    """The full keys of the secret fields of *section* and its nested sections."""
    keys: list[str] = []
    for name, field in section._fields.items():
        full = f"{prefix}{name}"
        if field.section is not None:
            keys.extend(secret_keys(field.section, full + "."))
        elif field.secret:
            keys.append(full)
    return keys


def all_secret_keys() -> list[str]:
    keys = secret_keys(Options)
    for name, field in REGISTERED.items():
        assert field.section is not None
        keys.extend(secret_keys(field.section, name + "."))
    return keys


def legacy_names(key: str) -> list[str]:
    return [legacy for legacy, targets in LEGACY_KEYS.items() if key in targets]


def assert_hidden(text: str, value: Any) -> None:
    assert MARK not in text, text
    assert repr(value) not in text, text
    assert "'***'" in text, text


def test_builtin_secret_keys_are_the_documented_ones() -> None:
    assert secret_keys(Options) == [
        "aws_sns_sqs.aws_access_key_id",
        "aws_sns_sqs.aws_secret_access_key",
        "amqp.password",
    ]
    assert "aws.aws_secret_access_key" in legacy_names("aws_sns_sqs.aws_secret_access_key")
    assert "aws.secret_access_key" in legacy_names("aws_sns_sqs.aws_secret_access_key")


def check_error(error: BaseException, value: Any) -> None:
    assert isinstance(error, ConfigurationError)
    assert_hidden(str(error), value)
    assert_hidden(describe_exception(error), value)
    assert error.__context__ is None and error.__cause__ is None  # the check's error is not chained
    assert_hidden("".join(traceback.format_exception(error)), value)
    assert_hidden(repr(error), value)


def attempts(key: str, value: Any) -> list[Callable[[], object]]:
    """Every way to give *value* to *key*: constructor, nested dict, update, item, attribute, legacy."""
    section, _, name = key.rpartition(".")
    nested: dict[str, Any] = {name: value}
    for part in reversed(section.split(".")):
        nested = {part: nested}
    ways: list[Callable[[], object]] = [
        lambda: Options({key: value}),
        lambda: Options(nested),
        lambda: Options(**nested),
        lambda: Options().update({key: value}),
        lambda: Options().__setitem__(key, value),
        lambda: setattr(Options()[section], name, value),
    ]
    for legacy in legacy_names(key):
        ways.append(functools.partial(Options, {legacy: value}))
    return ways


@pytest.mark.usefixtures("vault_section")
@pytest.mark.parametrize("kind", list(WRONG_VALUES))
def test_wrong_typed_secret_never_in_the_error(kind: str) -> None:
    value = WRONG_VALUES[kind]
    keys = all_secret_keys()
    assert "vault.api_key" in keys and "vault.auth.token" in keys
    for key in keys:
        for attempt in attempts(key, value):
            with pytest.raises(ConfigurationError) as info:
                attempt()
            check_error(info.value, value)


def test_the_error_still_says_what_was_expected() -> None:
    with pytest.raises(ConfigurationError) as info:
        Options(amqp={"password": SECRET})
    assert str(info.value) == "Invalid value for option 'amqp.password': '***' (expected a string)"
    with pytest.raises(ConfigurationError) as info:
        Options({"aws.aws_secret_access_key": SECRET})
    assert str(info.value) == (
        "Invalid value for option 'aws_sns_sqs.aws_secret_access_key': '***' (expected a string or None)"
    )
    # A key that is not secret still shows its value.
    with pytest.raises(ConfigurationError, match=r"'amqp\.login': 98765432"):
        Options(amqp={"login": SECRET})


def test_a_url_with_a_password_given_for_a_section_or_key_is_masked() -> None:
    with pytest.raises(ConfigurationError) as info:
        Options(amqp=f"amqp://guest:{MARK}@broker:5672/")
    assert MARK not in str(info.value) and "amqp://guest:***@broker:5672/" in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        Options(aws_endpoint_urls={"sqs": [f"http://u:{MARK}@localhost:4566"]})
    assert MARK not in str(info.value) and "http://u:***@localhost:4566" in str(info.value)


@pytest.mark.usefixtures("vault_section")
def test_a_custom_checks_message_is_replaced_for_a_secret_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        Options(vault={"api_key": SECRET})
    check_error(info.value, SECRET)
    assert "rejected by its check, TypeError" in str(info.value)


class StrictVaultOptions(OptionsInterface):
    api_key: str = option("", checks.check_str, secret=True)
    min_length: int = option(0, checks.int_check(0))

    def _check(self) -> None:
        if len(self.api_key) < self.min_length:  # a careless rule: quotes the secret
            raise ConfigurationError(f"vault.api_key {self.api_key!r} is shorter than {self.min_length}")


def test_a_sections_cross_key_rule_never_shows_the_secret() -> None:
    register_section("strict_vault", StrictVaultOptions)
    try:
        options = Options(strict_vault={"api_key": MARK, "min_length": 20})
        with pytest.raises(ConfigurationError) as info:
            options.validate()
        assert str(info.value) == "vault.api_key '***' is shorter than 20"
        assert info.value.__context__ is None
    finally:
        REGISTERED.pop("strict_vault", None)


@pytest.mark.usefixtures("vault_section")
def test_repr_masks_every_secret_value() -> None:
    options = Options(
        amqp={"password": MARK},
        aws_sns_sqs={"aws_secret_access_key": MARK, "aws_access_key_id": MARK},
        vault={"api_key": MARK, "auth": {"token": MARK}},
    )
    text = repr(options)
    assert MARK not in text
    for name in ("password", "aws_access_key_id", "aws_secret_access_key", "api_key", "token"):
        assert f"| {name} = '***'" in text, text
    assert MARK not in repr(options.amqp) and MARK not in str(options["vault"])


def test_log_lines_mask_secret_keys_and_url_passwords(capsys: pytest.CaptureFixture[str]) -> None:
    from tomodachi.logging import get_logger

    log = get_logger("tomodachi.test.secrets")
    log.warning("connecting", password=MARK, dsn=f"postgresql://app:{MARK}@db:5432/x")
    log.error(f"cannot reach amqp://guest:{MARK}@broker:5672/%2F")
    try:
        raise ConnectionError(f"redis://:{MARK}@cache:6379/0 refused")
    except ConnectionError:
        log.exception("failed")
    logging.getLogger("some.library").error("url %s", f"https://user:{MARK}@example.com/")
    err = capsys.readouterr().err
    assert MARK not in err, err
    assert "postgresql://app:***@db:5432/x" in err
    assert "amqp://guest:***@broker:5672/%2F" in err
    assert "redis://:***@cache:6379/0" in err


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("amqp://guest:p@ss@host:5672/vh", "amqp://guest:***@host:5672/vh"),
        ("postgresql://u:p%40x@db/x?a=b", "postgresql://u:***@db/x?a=b"),
        ("'redis://:pw@h'", "'redis://:***@h'"),
        ("https://ghp_token@github.com/x", "https://***@github.com/x"),
        ('dsn="postgres://u:pw@h" mail me@x.org', 'dsn="postgres://u:***@h" mail me@x.org'),
        ("http://example.com/users/a@b.c and x@y.com", "http://example.com/users/a@b.c and x@y.com"),
        ("no url at all", "no url at all"),
    ],
)
def test_mask_url_credentials(text: str, shown: str) -> None:
    assert mask_url_credentials(text) == shown


def test_describe_exception_masks_url_passwords() -> None:
    try:
        raise OSError(f"could not connect to postgresql://app:{MARK}@db/app")
    except OSError as exc:
        text = describe_exception(exc)
    assert MARK not in text and "postgresql://app:***@db/app" in text


def test_amqp_connection_describe_masks_the_password_in_every_form() -> None:
    from tomodachi.transport.amqp.connection import AmqpConnection, ConnectionParams

    params = ConnectionParams("h", 5672, "guest", "p@ss/w0rd", "/", False, 60)
    connection = AmqpConnection(params)
    for text in ("amqp://guest:p@ss/w0rd@h:5672/", "amqp://guest:p%40ss%2Fw0rd@h:5672/", "bad p@ss/w0rd"):
        shown = connection.describe(Exception(text))
        assert "p@ss" not in shown and "p%40ss" not in shown and "w0rd" not in shown, shown
    assert "p@ss" not in repr(params) and "p@ss" not in repr(connection)


def test_aws_errors_hide_endpoint_passwords_and_the_key_id() -> None:
    from tomodachi.transport.aws_sns_sqs.clients import AwsClients, ClientSettings, describe_error

    settings = ClientSettings.from_options(
        Options(
            aws_sns_sqs={"region_name": "eu-west-1", "aws_access_key_id": "AKIA" + MARK},
            aws_endpoint_urls={"sqs": f"http://user:{MARK}@localhost:4566"},
        )
    )
    assert settings.endpoint("sqs") == "http://user:***@localhost:4566"
    assert MARK not in repr(settings) and "****5432" in repr(settings)
    assert "http://user:***@localhost:4566" in repr(settings)
    assert MARK not in repr(AwsClients(settings))
    assert MARK not in describe_error(OSError(f"Could not connect to http://user:{MARK}@localhost:4566/"))


SERVICE = """
import tomodachi

class Service(tomodachi.Service):
    name = "secrets"

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"
"""


@pytest.mark.parametrize(
    "options",
    [
        {"amqp": {"password": SECRET}},
        {"amqp.password": [MARK]},
        {"aws_sns_sqs": {"aws_secret_access_key": {"k": MARK}}},
        {"aws": {"aws_secret_access_key": SECRET}},
        {"aws.secret_access_key": SECRET},
        {"aws_sns_sqs": {"aws_access_key_id": SECRET}},
    ],
    ids=["amqp-int", "amqp-list", "aws-dict", "legacy-aws-int", "legacy-short", "key-id"],
)
def test_config_file_errors_of_a_real_run_never_show_the_secret(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    service = tmp_path / "service.py"
    service.write_text(SERVICE)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"options": {**options, "http": {"port": 0}}}))
    result = subprocess.run(
        [sys.executable, "-m", "tomodachi", "run", "--loop", "asyncio", "-c", str(config), str(service)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Invalid value for option" in output and "'***'" in output, output
    assert "(from the --config files)" in output, output
    assert MARK not in output, output


@pytest.mark.parametrize("logger", ["console", "json", "python"])
def test_config_file_typo_or_url_never_shows_the_secret(tmp_path: Path, logger: str) -> None:
    service = tmp_path / "service.py"
    service.write_text(SERVICE)
    config = tmp_path / "config.json"
    configs = [
        ({"amqp": {"pasword": MARK}}, "did you mean 'amqp.password'"),  # an unknown key: no value shown
        ({"aws_endpoint_urls": {"sqs": [f"http://u:{MARK}@h:1"]}}, "http://u:***@h:1"),  # a URL password
    ]
    for options, expected in configs:
        config.write_text(json.dumps({"options": options}))
        result = subprocess.run(
            [sys.executable, "-m", "tomodachi", "run", "--logger", logger, "-c", str(config), str(service)],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert expected in output, output
        assert MARK not in output, output


def test_the_banner_never_shows_a_url_password() -> None:
    from tomodachi.banner import render_banner

    text = render_banner(
        ["app.py"], "asyncio", command=f"tomodachi run app.py --dsn postgresql://a:{MARK}@db/x"
    )
    assert MARK not in text and "postgresql://a:***@db/x" in text
