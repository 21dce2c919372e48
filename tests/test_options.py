import copy
import sys
import warnings
from typing import Any

import pytest

import tomodachi
from tomodachi.errors import ConfigurationError, InvalidOptionError
from tomodachi.options import DEFAULT, Options, OptionsInterface, coerce_options, registered_sections

DEFAULTS: dict[str, Any] = {
    "http.port": 9700,
    "http.host": "0.0.0.0",
    "http.reuse_port": False,
    "http.content_type": "text/plain; charset=utf-8",
    "http.charset": "utf-8",
    "http.client_max_size": 104857600,
    "http.termination_grace_period_seconds": 30,
    "http.access_log": True,
    "http.real_ip_from": [],
    "http.real_ip_header": "X-Forwarded-For",
    "http.keepalive_timeout": 75,
    "http.max_keepalive_time": None,
    "http.max_keepalive_requests": None,
    "http.server_header": "tomodachi",
    "http.header_timeout": 20,
    "http.body_timeout": 60,
    "http.max_body_buffer": 512 * 1024 * 1024,
    "aws_sns_sqs.region_name": None,
    "aws_sns_sqs.aws_access_key_id": None,
    "aws_sns_sqs.aws_secret_access_key": None,
    "aws_sns_sqs.topic_prefix": "",
    "aws_sns_sqs.queue_name_prefix": "",
    "aws_sns_sqs.sns_kms_master_key_id": None,
    "aws_sns_sqs.sqs_kms_master_key_id": None,
    "aws_sns_sqs.sqs_kms_data_key_reuse_period": None,
    "aws_sns_sqs.queue_policy": None,
    "aws_sns_sqs.wildcard_queue_policy": None,
    "aws_sns_sqs.broker": "aws",
    "aws_sns_sqs.manage_topology": True,
    "aws_sns_sqs.dead_letter_queues": False,
    "aws_endpoint_urls.sns": None,
    "aws_endpoint_urls.sqs": None,
    "aws_endpoint_urls.sts": None,
    "amqp.host": "127.0.0.1",
    "amqp.port": 5672,
    "amqp.login": "guest",
    "amqp.password": "guest",
    "amqp.exchange_name": "amq.topic",
    "amqp.routing_key_prefix": "",
    "amqp.queue_name_prefix": "",
    "amqp.virtualhost": "/",
    "amqp.ssl": False,
    "amqp.heartbeat": 60,
    "amqp.queue_ttl": 86400,
    "amqp.qos.queue_prefetch_count": 100,
    "amqp.qos.global_prefetch_count": 400,
    "amqp.broker": "rabbitmq",
    "amqp.dead_letter_exchange": None,
    "amqp.max_redeliveries": None,
    "amqp.dead_letter_queues": False,
    "amqp.publish_timeout": 10.0,
    "watcher.ignored_dirs": [],
    "watcher.watched_file_endings": [],
    "retry.max_attempts": 10,
    "retry.initial_delay": 1.0,
    "retry.multiplier": 2.0,
    "retry.max_delay": 300.0,
    "retry.jitter": True,
    "retry.retry_failures": False,
    "retry.after_last_attempt": "dead_letter",
    "ops.health": False,
    "ops.liveness_path": "/health/live",
    "ops.readiness_path": "/health/ready",
    "ops.metrics": False,
    "ops.metrics_path": "/metrics",
    "ops.port": None,
    "ops.host": "0.0.0.0",
    "schedule.cluster": None,
    "schedule.max_clock_skew": 10.0,
    "schedule.postgres_dsn": None,
    "schedule.postgres_table": "tomodachi_schedule_runs",
    "termination_grace_period_seconds": None,
    "max_message_size": 4 * 1024 * 1024,
    "start_retry_seconds": 0,
}


def _builtin(keys: Any) -> list[str]:
    # Sections registered by transports imported earlier in this process (e.g. an example's)
    # come after the built-in keys; they are tested in test_options_sections.py.
    return [key for key in keys if key.partition(".")[0] not in registered_sections()]


def test_defaults() -> None:
    options = Options()
    assert {key: options[key] for key in _builtin(options.asdict())} == DEFAULTS
    assert _builtin(options.asdict()) == list(DEFAULTS)  # order follows the declaration
    assert _builtin(options.keys()) == list(DEFAULTS)
    assert _builtin(options) == list(DEFAULTS)
    assert {key: value for key, value in options.items() if _builtin([key])} == DEFAULTS
    assert len(options) == len(list(options))


def test_sections_and_types() -> None:
    options = Options()
    assert isinstance(options, OptionsInterface)
    assert isinstance(options.http, Options.HTTP)
    assert isinstance(options.aws_sns_sqs, Options.AWSSNSSQS)
    assert isinstance(options.aws_endpoint_urls, Options.AWSEndpointURLs)
    assert isinstance(options.amqp, Options.AMQP)
    assert isinstance(options.amqp.qos, Options.AMQP.QOS)
    assert isinstance(options.watcher, Options.Watcher)
    assert not hasattr(options, "__dict__")
    assert not hasattr(options.http, "__dict__")


def test_mutable_defaults_are_not_shared() -> None:
    first, second = Options(), Options()
    first.watcher.ignored_dirs.append("build")
    assert second.watcher.ignored_dirs == []
    assert Options.Watcher().ignored_dirs == []


def test_read_styles() -> None:
    options = Options(**{"http.port": 1234, "amqp.qos.queue_prefetch_count": 5})
    assert options.http.port == 1234
    assert options["http.port"] == 1234
    assert options["http"]["port"] == 1234
    assert options["http"] is options.http
    assert options.get("http.port") == 1234
    assert options.get("http.nope", "fallback") == "fallback"
    assert options.get("x.y", None) is None
    assert options.amqp.qos.queue_prefetch_count == 5
    assert options["amqp.qos.queue_prefetch_count"] == 5
    assert options["amqp"]["qos"]["queue_prefetch_count"] == 5
    assert options["amqp"]["qos.queue_prefetch_count"] == 5
    assert options.amqp.get("qos.queue_prefetch_count") == 5
    assert "http.port" in options
    assert "amqp.qos" in options
    assert "http.prot" not in options
    assert "port" in options.http


def test_write_styles() -> None:
    options = Options()
    options.http.port = 1
    assert options.http.port == 1
    options["http.port"] = 2
    assert options.http.port == 2
    options["http"]["port"] = 3
    assert options.http.port == 3
    options.amqp.qos.queue_prefetch_count = 7
    options["amqp.qos.global_prefetch_count"] = 8
    options["amqp"]["qos"]["queue_prefetch_count"] += 1
    assert options.amqp.qos.queue_prefetch_count == 8
    assert options.amqp.qos.global_prefetch_count == 8
    options.http = {"host": "127.0.0.1"}  # type: ignore[assignment]  # a dict merges into the section
    assert (options.http.host, options.http.port) == ("127.0.0.1", 3)
    options.update({"http.port": 4}, amqp={"host": "rabbit"})
    assert (options.http.port, options.amqp.host) == (4, "rabbit")


def test_section_replaced_by_instance() -> None:
    options = Options()
    http = Options.HTTP(port=1)
    options.http = http
    assert options.http is http
    assert options["http.port"] == 1
    with pytest.raises(ConfigurationError, match=r"'http'.*Options.HTTP"):
        options["http"] = Options.AMQP()
    with pytest.raises(ConfigurationError, match=r"'http'"):
        options["http"] = 5


def test_construction_styles() -> None:
    assert Options(**{"http.port": 1}).http.port == 1
    assert Options(http={"port": 1}).http.port == 1
    assert Options({"http.port": 1}).http.port == 1
    assert Options(http=Options.HTTP(port=1)).http.port == 1
    mixed = Options(
        http={"port": 1, "keepalive_timeout": 5},
        **{"http.host": "::1", "amqp.qos.queue_prefetch_count": 9},
    )
    assert (mixed.http.port, mixed.http.keepalive_timeout, mixed.http.host) == (1, 5, "::1")
    assert mixed.amqp.qos.queue_prefetch_count == 9
    nested = Options(amqp={"qos.queue_prefetch_count": 1, "qos": {"global_prefetch_count": 2}})
    assert (nested.amqp.qos.queue_prefetch_count, nested.amqp.qos.global_prefetch_count) == (1, 2)
    amqp = Options.AMQP(qos=Options.AMQP.QOS(queue_prefetch_count=3))
    assert Options(amqp=amqp).amqp.qos.queue_prefetch_count == 3
    # The dict form of the original tests: a section dict plus a dotted key of the same section.
    legacy = Options(**{"http": {"port": 31337}, "http.keepalive_timeout": 100})
    assert (legacy.http.port, legacy.http.keepalive_timeout) == (31337, 100)


def test_section_asdict_is_relative() -> None:
    options = Options(amqp={"qos.queue_prefetch_count": 1})
    assert options.amqp.asdict()["qos.queue_prefetch_count"] == 1
    assert options.http.asdict() == {k[5:]: v for k, v in DEFAULTS.items() if k.startswith("http.")}
    assert Options(http=options.http.asdict()).http == options.http


def test_asdict_is_a_copy() -> None:
    options = Options()
    options.asdict()["watcher.ignored_dirs"].append("x")
    assert options.watcher.ignored_dirs == []


def test_repr_tree() -> None:
    text = repr(Options())
    assert str(Options()) == text
    lines = text.splitlines()
    assert lines[0] == "| termination_grace_period_seconds = None"  # top-level keys, then the sections
    assert lines[1] == "| max_message_size = 4194304"
    assert lines[2] == "| start_retry_seconds = 0"
    assert lines[3] == '∴ http <class: "Options.HTTP" -- prefix: "http">:'
    assert lines[4] == "  | port = 9700"
    assert "  | host = '0.0.0.0'" in lines
    assert '∴ aws_sns_sqs <class: "Options.AWSSNSSQS" -- prefix: "aws_sns_sqs">:' in lines
    assert '∴ aws_endpoint_urls <class: "Options.AWSEndpointURLs" -- prefix: "aws_endpoint_urls">:' in lines
    assert '∴ amqp <class: "Options.AMQP" -- prefix: "amqp">:' in lines
    assert '  ∴ qos <class: "Options.AMQP.QOS" -- prefix: "amqp.qos">:' in lines
    assert "    | queue_prefetch_count = 100" in lines
    assert '∴ watcher <class: "Options.Watcher" -- prefix: "watcher">:' in lines
    assert repr(Options.HTTP()).splitlines()[0] == '∴ http <class: "Options.HTTP" -- prefix: "http">:'


def test_repr_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    options = Options(
        amqp={"password": "hunter2"},
        aws_sns_sqs={"aws_secret_access_key": "s3cr3t-key", "aws_access_key_id": "AKIAEXAMPLE"},
    )

    def no_asdict(self: object) -> None:
        raise AssertionError("repr must not use asdict()")

    monkeypatch.setattr(OptionsInterface, "asdict", no_asdict)
    for text in (repr(options), str(options), repr(options.amqp), repr(options.aws_sns_sqs)):
        assert "hunter2" not in text
        assert "s3cr3t-key" not in text
        assert "AKIAEXAMPLE" not in text
    lines = repr(options).splitlines()
    assert "  | password = '***'" in lines
    assert "  | aws_secret_access_key = '***'" in lines
    assert "  | aws_access_key_id = '***'" in lines
    assert "  | aws_access_key_id = None" in repr(Options()).splitlines()
    assert "  | password = '***'" in repr(Options()).splitlines()  # the default is a password too


def test_copy_and_equality() -> None:
    options = Options(http={"port": 1, "real_ip_from": ["10.0.0.1"]}, amqp={"qos.queue_prefetch_count": 2})
    clone = options.copy()
    assert clone == options
    assert clone is not options
    assert clone.http is not options.http
    assert clone.amqp.qos is not options.amqp.qos
    clone.http.real_ip_from.append("10.0.0.2")
    clone.amqp.qos.queue_prefetch_count = 3
    assert options.http.real_ip_from == ["10.0.0.1"]
    assert options.amqp.qos.queue_prefetch_count == 2
    assert clone != options
    assert copy.deepcopy(options) == options
    assert copy.copy(options) == options
    assert Options.HTTP(port=1) == Options.HTTP(port=1)
    assert Options.HTTP(port=1) != Options.HTTP(port=2)
    assert Options() != Options().asdict()
    # The copy keeps legacy keys working across sections.
    clone.aws_sns_sqs.endpoint_url = "http://c"  # type: ignore[attr-defined]
    assert clone.aws_endpoint_urls.sqs == "http://c"
    assert options.aws_endpoint_urls.sqs is None


def test_options_from_options_mapping() -> None:
    options = Options(http={"port": 1})
    assert Options(options) == options


def test_coerce_options() -> None:
    options = Options(http={"port": 1})
    assert coerce_options(options) is options
    fresh = coerce_options(None)
    assert fresh == Options()
    with pytest.warns(DeprecationWarning, match="dict as the 'options' attribute is deprecated") as record:
        converted = coerce_options({"http.port": 31337, "aws": {"region_name": "eu-west-1"}}, stacklevel=1)
    assert record[0].filename == __file__
    assert converted.http.port == 31337
    assert converted.aws_sns_sqs.region_name == "eu-west-1"
    with pytest.warns(DeprecationWarning):
        legacy = coerce_options({"http": {"port": 1}, "http.keepalive_timeout": 100})
    assert (legacy.http.port, legacy.http.keepalive_timeout) == (1, 100)
    for bad in ("http.port=1", 1, ["http.port"], Options.HTTP()):
        with pytest.raises(ConfigurationError, match="Invalid value for 'options' attribute"):
            coerce_options(bad)


def test_coerce_options_stacklevel() -> None:
    def service_setup(value: object) -> Options:
        return coerce_options(value, stacklevel=2)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        service_setup({})
    assert record[0].category is DeprecationWarning
    assert record[0].filename == __file__


def test_default_sentinel() -> None:
    assert repr(DEFAULT) == "DEFAULT"
    assert not DEFAULT
    assert copy.deepcopy(DEFAULT) is DEFAULT
    with pytest.raises(InvalidOptionError):
        Options().get("nope", DEFAULT)  # passing DEFAULT means "no default given"


def test_options_modules_import_only_stdlib() -> None:
    # `import tomodachi.options` must stay cheap: no aiohttp, structlog or other third-party imports.
    import ast
    from pathlib import Path

    import tomodachi.options

    allowed = set(sys.stdlib_module_names) | {"__future__", "tomodachi"}
    files = list(Path(tomodachi.options.__file__).parent.glob("*.py"))
    assert len(files) >= 2
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.partition(".")[0] in allowed, f"{path.name} imports {name}"


def test_update_is_all_or_nothing() -> None:
    options = Options()
    with pytest.raises(InvalidOptionError):
        options.update({"http.port": 1, "http.prot": 2})
    with pytest.raises(ConfigurationError):
        options.amqp.update(host="rabbit", qos={"queue_prefetch_count": -1})
    with pytest.raises(ConfigurationError):
        Options.HTTP().update(port=1, host=2)
    assert options == Options()
    options.amqp.qos.update({"queue_prefetch_count": 1})
    options.aws_sns_sqs.update(endpoint_url="http://e")
    assert (options.amqp.qos.queue_prefetch_count, options.aws_endpoint_urls.sqs) == (1, "http://e")
    with pytest.raises(InvalidOptionError):
        options.http = {"port": 2, "prot": 3}  # type: ignore[assignment]
    assert options.http.port == 9700


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, 30.0),  # neither set: the default of the original's key
        ({"http.termination_grace_period_seconds": 2}, 2.0),  # the original's key still applies
        ({"termination_grace_period_seconds": 1.5}, 1.5),
        # both set: the transport-neutral key wins
        ({"termination_grace_period_seconds": 0, "http.termination_grace_period_seconds": 9}, 0.0),
    ],
)
def test_grace_period_neutral_key_then_http_key(values: dict[str, Any], expected: float) -> None:
    from tomodachi.options import grace_period_of
    from tomodachi.runtime import Runtime

    options = Options(**values)
    assert grace_period_of(options) == expected

    class Svc(tomodachi.Service):
        pass

    service = Svc()
    service.options = options
    assert tomodachi.Transport(service, Runtime()).grace_period == expected  # every transport reads it


def test_grace_period_neutral_key_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="termination_grace_period_seconds"):
        Options(termination_grace_period_seconds=-1)
    assert Options(termination_grace_period_seconds=None).termination_grace_period_seconds is None
