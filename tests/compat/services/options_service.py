"""Options the ways the original accepts them: a class-level dict mixing nested sections, dotted
keys and the legacy ``aws`` keys; every access style; a copy of the values is reported."""

import json

import tomodachi


class OptionsService(tomodachi.Service):
    name = "compat_options"
    options = {
        "http": {"port": 0, "content_type": "text/plain; charset=utf-8"},
        "http.keepalive_timeout": 5,
        "aws": {
            "region_name": "eu-north-1",
            "aws_access_key_id": "AKIDLEGACY",
            "aws_secret_access_key": "legacy-secret",
            "endpoint_url": "http://127.0.0.1:4566",
        },
        "aws_sns_sqs.topic_prefix": "prefix-",
        "amqp": {"qos.queue_prefetch_count": 7, "host": "127.0.0.2"},
    }

    @tomodachi.http("GET", r"/")
    async def index(self) -> str:
        return "ok"

    async def _started_service(self) -> None:
        options = self.options
        values = {
            "type": type(options).__name__,
            "isinstance": isinstance(options, tomodachi.Options),
            "http.port": options.http.port,
            "http.keepalive_timeout": [
                options.http.keepalive_timeout,
                options["http.keepalive_timeout"],
                options["http"]["keepalive_timeout"],
                options.get("http.keepalive_timeout"),
            ],
            "http.content_type": options.http.content_type,
            "missing_with_default": options.get("http.no_such_key", "fallback"),
            "aws_sns_sqs.region_name": options.aws_sns_sqs.region_name,
            "aws_sns_sqs.aws_access_key_id": options.aws_sns_sqs.aws_access_key_id,
            "aws_sns_sqs.topic_prefix": options.aws_sns_sqs.topic_prefix,
            "aws_endpoint_urls": [
                options.aws_endpoint_urls.sns,
                options.aws_endpoint_urls.sqs,
                options.aws_endpoint_urls.sts,
            ],
            "amqp.qos.queue_prefetch_count": options.amqp.qos.queue_prefetch_count,
            "amqp.host": options["amqp.host"],
            "asdict_has_dotted_keys": "http.port" in options.asdict(),
        }
        print("COMPAT " + json.dumps({"event": "options", **values}, default=repr), flush=True)
        tomodachi.exit()
