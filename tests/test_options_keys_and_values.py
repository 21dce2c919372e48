"""Options: legacy keys, unknown keys (with suggestions) and the validation of values."""

import pytest

from tomodachi.errors import ConfigurationError, InvalidOptionError, TomodachiError
from tomodachi.options import Options


@pytest.mark.parametrize(
    ("key", "target"),
    [
        ("aws.region_name", "aws_sns_sqs.region_name"),
        ("aws.aws_region_name", "aws_sns_sqs.region_name"),
        ("aws.secret_access_key", "aws_sns_sqs.aws_secret_access_key"),
        ("aws.aws_secret_access_key", "aws_sns_sqs.aws_secret_access_key"),
        ("aws.access_key_id", "aws_sns_sqs.aws_access_key_id"),
        ("aws.aws_access_key_id", "aws_sns_sqs.aws_access_key_id"),
        ("aws.sns_endpoint_url", "aws_endpoint_urls.sns"),
        ("aws.aws_sqs_endpoint_url", "aws_endpoint_urls.sqs"),
        ("aws.endpoint_urls.sts", "aws_endpoint_urls.sts"),
        ("aws.topic_prefix", "aws_sns_sqs.topic_prefix"),
        ("aws.queue_name_prefix", "aws_sns_sqs.queue_name_prefix"),
        ("aws.sns_kms_master_key_id", "aws_sns_sqs.sns_kms_master_key_id"),
        ("aws.aws_sqs_kms_master_key_id", "aws_sns_sqs.sqs_kms_master_key_id"),
        ("aws.queue_policy", "aws_sns_sqs.queue_policy"),
        ("aws.wildcard_queue_policy", "aws_sns_sqs.wildcard_queue_policy"),
        ("aws_sns_sqs.aws_region_name", "aws_sns_sqs.region_name"),
        ("aws_sns_sqs.secret_access_key", "aws_sns_sqs.aws_secret_access_key"),
        ("aws_sns_sqs.access_key_id", "aws_sns_sqs.aws_access_key_id"),
        ("aws_sns_sqs.sqs_endpoint_url", "aws_endpoint_urls.sqs"),
        ("aws_sns_sqs.endpoint_urls.sns", "aws_endpoint_urls.sns"),
        ("aws_sns_sqs.aws_sns_kms_master_key_id", "aws_sns_sqs.sns_kms_master_key_id"),
    ],
)
def test_legacy_keys_one_to_one(key: str, target: str) -> None:
    constructed = Options(**{key: "value-1"})
    assigned = Options()
    assigned[key] = "value-1"
    for options in (constructed, assigned):
        assert options[target] == "value-1"
        assert options[key] == "value-1"
        assert options.get(key) == "value-1"
        assert key in options
        assert key not in options.keys()
        assert options.asdict()[target] == "value-1"


@pytest.mark.parametrize(
    "key",
    [
        "aws.kms_data_key_reuse_period",
        "aws.aws_kms_data_key_reuse_period",
        "aws.aws_sqs_kms_data_key_reuse_period",
        "aws_sns_sqs.kms_data_key_reuse_period",
    ],
)
def test_legacy_kms_data_key_reuse_period(key: str) -> None:
    assert Options(**{key: 300}).aws_sns_sqs.sqs_kms_data_key_reuse_period == 300


@pytest.mark.parametrize(
    "key",
    ["aws.endpoint_url", "aws.aws_endpoint_url", "aws_sns_sqs.endpoint_url", "aws_sns_sqs.aws_endpoint_url"],
)
def test_legacy_endpoint_url_sets_all_three(key: str) -> None:
    options = Options(**{key: "http://localhost:4566"})
    assert options.aws_endpoint_urls.asdict() == dict.fromkeys(("sns", "sqs", "sts"), "http://localhost:4566")


def test_legacy_kms_master_key_sets_both() -> None:
    options = Options(**{"aws.kms_master_key_id": "alias/key"})
    assert options.aws_sns_sqs.sns_kms_master_key_id == "alias/key"
    assert options.aws_sns_sqs.sqs_kms_master_key_id == "alias/key"
    options.aws_sns_sqs.aws_kms_master_key_id = False  # type: ignore[attr-defined]
    assert options["aws_sns_sqs.sns_kms_master_key_id"] is False
    assert options["aws_sns_sqs.sqs_kms_master_key_id"] is False


def test_legacy_nested_aws_dict() -> None:
    options = Options(
        aws={
            "region_name": "eu-west-1",
            "aws_access_key_id": "AKIA",
            "endpoint_url": "http://moto:5000",
            "endpoint_urls": {"sts": "http://sts:1"},
        },
        aws_sns_sqs={"endpoint_urls": {"sqs": "http://sqs:2"}},
    )
    assert options.aws_sns_sqs.region_name == "eu-west-1"
    assert options.aws_sns_sqs.aws_access_key_id == "AKIA"
    assert options.aws_endpoint_urls.asdict() == {
        "sns": "http://moto:5000",
        "sqs": "http://sqs:2",
        "sts": "http://sts:1",
    }


def test_legacy_keys_on_sections() -> None:
    options = Options()
    options.aws_sns_sqs.endpoint_url = "http://a"  # type: ignore[attr-defined]
    assert options.aws_endpoint_urls.sts == "http://a"
    assert options.aws_sns_sqs["sns_endpoint_url"] == "http://a"
    options.http["max_buffer_size"] = "1M"
    assert options.http.client_max_size == 1024 * 1024
    options.http.max_upload_size = 2048  # type: ignore[attr-defined]
    assert options.http.client_max_size == 2048
    assert options.http.max_upload_size == 2048  # type: ignore[attr-defined]
    options["http.keepalive_expiry"] = 10
    assert options.http.keepalive_timeout == 10
    assert "http.keepalive_expiry" not in options.asdict()


def test_legacy_cross_section_key_on_standalone_section() -> None:
    section = Options.AWSSNSSQS(endpoint_url="http://x", region_name="r")
    assert section["endpoint_url"] == "http://x"
    options = Options(aws_sns_sqs=section)
    assert options.aws_endpoint_urls.sns == "http://x"
    assert options.aws_sns_sqs.region_name == "r"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "http.prot",
            "Invalid option 'http.prot': did you mean 'http.port'? Valid keys in 'http': port, host, ",
        ),
        ("htp.port", "Invalid option 'htp.port': did you mean 'http.port'? Valid keys (top level): http, "),
        (
            "amqp.qos.queue_prefetch",
            "did you mean 'amqp.qos.queue_prefetch_count'? Valid keys in 'amqp.qos': ",
        ),
        ("amqp.hots", "did you mean 'amqp.host'?"),
        ("http.port.x", "Invalid option 'http.port.x'"),
        (
            "zzzzzz",
            "Invalid option 'zzzzzz': Valid keys (top level): http, aws_sns_sqs, aws_endpoint_urls, amqp",
        ),
    ],
)
def test_unknown_keys(key: str, message: str) -> None:
    options = Options()
    for action in (
        lambda: options[key],
        lambda: options.__setitem__(key, 1),
        lambda: Options(**{key: 1}),
        lambda: options.get(key),
    ):
        with pytest.raises(InvalidOptionError) as info:
            action()
        assert message in str(info.value)
        assert "\n" not in str(info.value)
        for base in (ConfigurationError, AttributeError, KeyError, ValueError, TomodachiError):
            assert isinstance(info.value, base)


def test_unknown_keys_in_sections_and_attributes() -> None:
    options = Options()
    with pytest.raises(InvalidOptionError, match=r"Invalid option 'http\.prot': did you mean 'http\.port'\?"):
        options.http.prot = 1  # type: ignore[attr-defined]
    with pytest.raises(InvalidOptionError, match=r"Invalid option 'http\.prot'"):
        options.http.prot  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(InvalidOptionError, match=r"'http\.prot'"):
        Options(http={"port": 1, "prot": 2})
    with pytest.raises(InvalidOptionError, match=r"'http\.prot'"):
        Options.HTTP(prot=1)
    with pytest.raises(InvalidOptionError, match=r"'amqp\.qos\.bad'"):
        Options(amqp={"qos": {"bad": 1}})
    with pytest.raises(InvalidOptionError, match=r"'amqp\.qos\.bad'"):
        options.amqp.qos["bad"] = 1
    with pytest.raises(InvalidOptionError, match=r"Invalid option 'foo'"):
        options.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(InvalidOptionError, match=r"'aws\.bogus'"):
        Options(aws={"bogus": 1})
    assert not hasattr(options.http, "prot")
    assert getattr(options.http, "prot", "default") == "default"
    with pytest.raises(KeyError):
        options["nope"]
    with pytest.raises(AttributeError):
        options._nope  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("port", [None, 0, 1, 8080, 65535])
def test_http_port_valid(port: int | None) -> None:
    assert Options(http={"port": port}).http.port == port


@pytest.mark.parametrize("port", [True, False, -1, 65536, "8080", 80.0])
def test_http_port_invalid(port: object) -> None:
    pattern = r"Invalid value for option 'http\.port': .*port number"
    with pytest.raises(ConfigurationError, match=pattern) as info:
        Options(http={"port": port})
    assert "\n" not in str(info.value)
    assert not isinstance(info.value, InvalidOptionError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, 1024),
        (104857600, 104857600),
        ("1024B", 1024),
        ("1024b", 1024),
        ("2048", 2048),
        ("512K", 512 * 1024),
        ("512KB", 512 * 1024),
        ("512kb", 512 * 1024),
        ("100M", 100 * 1024**2),
        ("100MB", 100 * 1024**2),
        ("100mb", 100 * 1024**2),
        (" 10 M ", 10 * 1024**2),
        ("1.5M", 1536 * 1024),
        ("1G", 1024**3),
        ("1GB", 1024**3),
        ("1g", 1024**3),
    ],
)
def test_client_max_size_parsing(value: object, expected: int) -> None:
    options = Options(http={"client_max_size": value})
    assert options.http.client_max_size == expected
    assert isinstance(options.http.client_max_size, int)


@pytest.mark.parametrize(
    "value",
    [1023, "1023B", "1K-", "2G", "1025M", 1024**3 + 1, "", "MB", "abc", "-1M", "1.2.3M", True, None, 1.5e6],
)
def test_client_max_size_invalid(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"Invalid value for option 'http\.client_max_size'"):
        Options(http={"client_max_size": value})


def test_keepalive_requirements_are_checked_by_validate() -> None:
    Options(http={"max_keepalive_time": 30, "max_keepalive_requests": 100}).validate()
    options = Options(http={"keepalive_timeout": 0, "max_keepalive_requests": 100})  # no error yet
    with pytest.raises(ConfigurationError, match=r"'http\.max_keepalive_requests'.*keepalive_timeout"):
        options.validate()
    options = Options(http={"max_keepalive_time": 10})
    options.http.keepalive_timeout = 0
    with pytest.raises(ConfigurationError, match=r"'http\.max_keepalive_time'"):
        options.validate()
    options.http.keepalive_timeout = 5
    options.validate()
    Options(http={"keepalive_timeout": 0}).validate()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.keepalive_timeout", -1),
        ("http.keepalive_timeout", "5"),
        ("http.max_keepalive_time", 0),
        ("http.max_keepalive_requests", 0),
        ("http.max_keepalive_requests", 1.5),
        ("http.termination_grace_period_seconds", -1),
        ("http.termination_grace_period_seconds", "30"),
        ("http.termination_grace_period_seconds", None),
        ("http.access_log", ""),
        ("http.access_log", 1),
        ("http.access_log", None),
        ("http.real_ip_from", "not-an-ip"),
        ("http.real_ip_from", ["10.0.0.0/8", "10.0.0.300"]),
        ("http.real_ip_from", 10),
        ("http.host", 1),
        ("http.reuse_port", "yes"),
        ("http.content_type", None),
        ("amqp.port", 0),
        ("amqp.port", "5672"),
        ("amqp.ssl", 1),
        ("amqp.heartbeat", -1),
        ("amqp.qos.queue_prefetch_count", "100"),
        ("aws_sns_sqs.region_name", 1),
        ("aws_sns_sqs.sns_kms_master_key_id", True),
        ("aws_sns_sqs.sqs_kms_data_key_reuse_period", "300"),
        ("aws_endpoint_urls.sns", 1),
        ("watcher.ignored_dirs", [1]),
    ],
)
def test_invalid_values(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=rf"Invalid value for option '{key}': ") as info:
        Options(**{key: value})
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigurationError):
        Options()[key] = value


def test_value_normalisation() -> None:
    options = Options()
    options.http.real_ip_from = "10.0.0.0/8"  # type: ignore[assignment]
    assert options.http.real_ip_from == ["10.0.0.0/8"]
    options.http.real_ip_from = "127.0.0.1, ::1 192.168.0.0/16"  # type: ignore[assignment]
    assert options.http.real_ip_from == ["127.0.0.1", "::1", "192.168.0.0/16"]
    options.http.real_ip_from = ("10.0.0.1",)  # type: ignore[assignment]
    assert options.http.real_ip_from == ["10.0.0.1"]
    options.http.access_log = "/tmp/access.log"
    assert options.http.access_log == "/tmp/access.log"
    options.http.termination_grace_period_seconds = 2.5
    options.http.keepalive_timeout = 0
    options.aws_sns_sqs.topic_prefix = None  # type: ignore[assignment]
    assert options.aws_sns_sqs.topic_prefix == ""
    options.aws_sns_sqs.sns_kms_master_key_id = ""
    options.watcher.ignored_dirs = "node_modules"  # type: ignore[assignment]
    assert options.watcher.ignored_dirs == ["node_modules"]
    options.amqp.queue_ttl = None
