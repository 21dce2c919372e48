"""Schedules, options, config files, discovery, wrapped handlers, start-up order and logging of
original-style service files (``tomodachi run``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.compat._compat_support import Backend, Corpus, run

ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_scheduled_functions_in_every_form(corpus: Corpus) -> None:
    result = corpus.result("schedule_service.py")
    assert result.returncode == 0, result.describe()
    calls = result.event("calls")["calls"]
    # ~2.3 s of running: every per-second schedule ran at least twice
    for name in ("heartbeat", "heartbeat()", "every_second", "interval=1", "interval='1 seconds'", "failing"):
        assert len(calls.get(name, [])) >= 2, (name, calls)
    assert all(re.fullmatch(ISO_UTC, time) and interval == 1 for time, interval in calls["interval=1"])
    assert all(value == ["1 seconds"] for value in calls["interval='1 seconds'"])
    # docs/schedule.md: a required positional parameter gets invocation_time (the original raised
    # IndexError on every call)
    assert len(calls["positional"]) >= 2 and all(re.fullmatch(ISO_UTC, t) for [t] in calls["positional"])
    assert result.logged(r"scheduled function failed") or result.logged(r"uncaught exception")


def test_options_dict_with_nested_dotted_and_legacy_keys(corpus: Corpus) -> None:
    result = corpus.result("options_service.py")
    assert result.returncode == 0, result.describe()
    options = result.event("options")
    del options["event"]
    assert options == {
        "type": "Options",
        "isinstance": True,
        "http.port": 0,
        "http.keepalive_timeout": [5, 5, 5, 5],
        "http.content_type": "text/plain; charset=utf-8",
        "missing_with_default": "fallback",
        "aws_sns_sqs.region_name": "eu-north-1",
        "aws_sns_sqs.aws_access_key_id": "AKIDLEGACY",
        "aws_sns_sqs.topic_prefix": "prefix-",
        "aws_endpoint_urls": ["http://127.0.0.1:4566"] * 3,  # aws.endpoint_url sets all three
        "amqp.qos.queue_prefetch_count": 7,
        "amqp.host": "127.0.0.2",
        "asdict_has_dotted_keys": True,
    }


def test_options_changed_in_init(corpus: Corpus) -> None:
    result = corpus.result("options_init_service.py")
    assert result.returncode == 0, result.describe()
    writes = result.event("attribute_writes")
    assert writes["port"] != 9700 and writes["option_port"] == 0
    assert writes["server_header"] == "from-init"
    assigned = result.event("dict_assigned")
    assert assigned["port"] != 9700
    assert (assigned["options_type"], assigned["server_header"]) == ("Options", "dict-in-init")


def test_config_file_overrides_attributes_and_options(corpus: Corpus) -> None:
    result = corpus.result("config_service.py -c config.json")
    assert result.returncode == 0, result.describe()
    config = result.event("config")
    assert config["greeting"] == "from-config"
    assert config["settings"] == {"a": 1, "b": 2}  # dict attributes merge
    assert config["tags"] == ["class", "config"]  # list attributes are extended
    assert config["keepalive_timeout"] == 3
    # docs/options.md: options merge key by key (the original reset unmentioned keys to defaults)
    assert (config["server_header"], config["port"]) == ("from-class", 0)


def test_dummy_registry_discovery_and_legacy_attributes(corpus: Corpus) -> None:
    result = corpus.result("discovery_service.py")
    assert result.returncode == 0, result.describe()
    assert result.event("flags")["flags"] == [True, True, True]


def test_aws_sns_registration_publishes_the_service(corpus: Corpus, sns_sqs_backend: Backend) -> None:
    result = corpus.result("discovery_aws_service.py", sns_sqs_backend)
    assert result.returncode == 0, result.describe()
    data = result.event("registration")["data"]
    assert data is not None, result.describe()
    assert data["name"] == "compat_registered" and len(data["uuid"]) == 36
    assert any(endpoint[2:] == ["GET", "^/health/?$"] for endpoint in data["http_endpoints"]), data


def test_handlers_behind_functools_wraps_adapters(corpus: Corpus, sns_sqs_backend: Backend) -> None:
    result = corpus.result("wrapped_handlers_service.py", sns_sqs_backend)
    assert result.returncode == 0, result.describe()
    wrapped = result.event("wrapped")
    # a fixed-signature adapter: the transport injects what the adapter names
    assert wrapped["adapted_event"] == ["compat-adapted", True]
    # a (*args, **kwargs) pass-through around handlers that take what they are given
    assert wrapped["traced_message"] == [True, "compat-traced"]
    assert wrapped["traced"] == ["traced_http", "traced_sqs"]
    assert wrapped["http"] == {
        "/x/4711": [200, "/x/4711 4711 "],
        "/ytest/0": [200, "/ytest/0 test 0"],
        "/z": [200, "/z  "],
        "/traced/17": [200, "traced /traced/17 17"],
    }


@pytest.mark.xfail(
    strict=True,
    reason="deliberate difference (docs/compatibility.md, 'Handlers and middleware'): every "
    "declaration on a method calls the method as the class holds it, the outermost wrapper; two "
    "stacked fixed-signature adapters therefore call each other with arguments they do not take. "
    "The original called each declaration's own function, which also let a decorator placed above "
    "@tomodachi.http (an auth check, say) be bypassed",
)
def test_stacked_adapter_decorators_each_get_their_topic(corpus: Corpus, sns_sqs_backend: Backend) -> None:
    result = corpus.result("wrapped_handlers_service.py", sns_sqs_backend)
    assert result.event("wrapped")["topics"] == ["compat-wrapped", "compat-wrapped-2"]


def test_amqp_consumers_run_during_started_service(corpus: Corpus, amqp_backend: Backend) -> None:
    result = corpus.result("startup_order_amqp_service.py", amqp_backend)
    assert result.returncode == 0, result.describe()
    assert result.event("order")["order"] == ["_start_service", "handler", "_started_service returns"]


def test_sqs_receiving_and_schedules_start_after_started_service(
    corpus: Corpus, sns_sqs_backend: Backend
) -> None:
    result = corpus.result("startup_order_sns_sqs_service.py", sns_sqs_backend)
    assert result.returncode == 0, result.describe()
    order = result.event("order")["order"]
    assert order[:2] == ["_start_service", "_started_service returns"], order
    assert sorted(order[2:]) == ["handler", "scheduled"], order


async def test_json_formatter_file_handler_and_self_log(tmp_path: Path) -> None:
    log_path = tmp_path / "service.log"
    result = await run("logging_service.py", env={"COMPAT_LOG_PATH": str(log_path)})
    assert result.returncode == 0, result.describe()
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    messages = [r.get("message") for r in records]
    for expected in ("_start_service", "_started_service", "_stop_service"):
        assert expected in messages, records
